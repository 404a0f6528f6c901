"""The store: shipped data as revision 1, revisions, rollback, atomic and serialised writes,
restarts, editors, the command line, and a last screen that keeps any stored value from breaking a
page.

The tests that take ``app``, ``atlas`` or ``db_url`` run twice: on SQLite and on a real PostgreSQL
server started for the test session (tests/pg.py).
"""

import math
import re
import threading
import time

import pytest
from sqlalchemy import insert, select, text

from pg import pg_database, pg_server  # noqa: F401  (pg_server: the session's PostgreSQL fixture)
from webapp.store.db import SHIPPED_BY, Store, StoreError, editors, revisions, values_table

PASSWORD = "correct-horse"
BACKENDS = ("sqlite", "postgresql")


def make_app(path, **extra):
    """An app on the SQLite file ``path`` (or on ``path`` itself when it is a database URL)."""
    from webapp import create_app

    url = str(path) if "://" in str(path) else f"sqlite:///{path}"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test", **extra})
    if not app.extensions["store"].editor_exists("anna"):
        app.extensions["store"].add_editor("anna", PASSWORD)
    return app


def csrf(client, path="/data"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, name="anna", password=PASSWORD):
    """Sign in through the form; returns the new session's CSRF token."""
    r = client.post(
        "/login", data={"name": name, "password": password, "csrf_token": csrf(client, "/login")}
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    return csrf(client)


def csv_bytes(*rows, header="town,year,source,mono_output_share,mono_employment_share"):
    return ("\n".join([header, *rows]) + "\n").encode()


def new_database(backend: str, request, folder) -> str:
    """The URL of a new, empty database: a SQLite file in ``folder`` or one on the PostgreSQL
    server."""
    if backend == "postgresql":
        return pg_database(request.getfixturevalue("pg_server"))
    return f"sqlite:///{folder / 'atlas.sqlite3'}"


@pytest.fixture(scope="module", params=BACKENDS)
def app(request, tmp_path_factory):
    app = make_app(new_database(request.param, request, tmp_path_factory.mktemp("store")))
    yield app
    app.extensions["store"].dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A new, empty database on each backend."""
    return new_database(request.param, request, tmp_path)


@pytest.fixture()
def atlas(app):
    atlas = app.extensions["atlas"]
    yield atlas
    atlas.rollback(1, editor="test cleanup")


def test_shipped_data_are_revision_one(app, root):
    store = app.extensions["store"]
    first = store.revisions()[-1]
    assert (first.id, first.kind, first.editor) == (1, "shipped", SHIPPED_BY)
    from scoring.pipeline import Sources

    # the shipped statistics and curated values (the reserve rule's raw-material value for every
    # town)
    src = Sources.load()
    shipped = sum(len(v) for table in (src.statistics, src.curated) for v in table.values())
    rows = store.values(1)
    assert len(rows) == shipped == first.changes
    assert {r["entered_by"] for r in rows} == {SHIPPED_BY}
    temirtau = {r["input"]: r for r in rows if r["town_id"] == "temirtau"}
    assert (
        temirtau["mono_output_share"]["value"] == 82
        and "Table 2" in temirtau["mono_output_share"]["source"]
    )
    assert {j["town_id"] for j in store.judgments()} == {"balkhash", "karazhal", "temirtau"}
    assert (
        store.migrate() == 7
    )  # idempotent (2: jobs, 3: identity, 4: plain job rows, 5: sessions, 6: estimates, 7: facts)


def test_scores_from_the_store_equal_the_shipped_pipeline(app):
    from scoring.pipeline import Pipeline

    shipped = Pipeline().run()
    stored = app.extensions["atlas"].results()
    for a, b in zip(shipped["towns"], stored["towns"]):
        assert (
            a["indices"] == b["indices"]
            and a["scenario"]["recommended"] == b["scenario"]["recommended"]
        ), a["id"]
        assert (a.get("expert") or {}).get("scenarios") == (b.get("expert") or {}).get("scenarios")


def test_import_is_a_revision_and_rollback_restores(atlas):
    store = atlas.store
    head = store.head()
    rev, rows = atlas.import_file(
        csv_bytes("Рудный,2023,Akimat report,70,30"), "s.csv", editor="anna"
    )
    assert rev == head + 1 and len(rows) == 2
    rudny = atlas.results()["towns"]
    rudny = next(t for t in rudny if t["id"] == "rudny")
    assert rudny["scenario"]["completeness"] == "3/6"
    assert rudny["provenance"]["mono_output_share"] | {} == {
        "value": 70.0,
        "status": "sourced",
        "unit": "%",
        "source": "Akimat report",
        "period": "2023",
    }
    changes = store.changes(rev)
    assert {(c["input"], c["value"], c["old_value"], c["entered_by"]) for c in changes} == {
        ("mono_output_share", 70.0, None, "anna"),
        ("mono_employment_share", 30.0, None, "anna"),
    }
    back = atlas.rollback(head, editor="anna")
    assert back == rev + 1 and store.revision(back).rollback_to == head
    assert sorted(map(_key, store.values())) == sorted(map(_key, store.values(head)))
    assert all(c["removed"] for c in store.changes(back))
    rudny = next(t for t in atlas.results()["towns"] if t["id"] == "rudny")
    assert rudny["scenario"]["completeness"] == "2/6"
    with pytest.raises(StoreError, match="does not exist"):
        atlas.rollback(999, editor="anna")


def _key(r):
    return (r["town_id"], r["input"], r["period"], r["value"], r["source"], r["status"])


def test_later_period_wins_and_rollback_of_a_change(atlas):
    store = atlas.store
    atlas.import_file(csv_bytes("rudny,2023,a,70,30"), "a.csv", editor="anna")
    mid = store.head()
    atlas.import_file(csv_bytes("rudny,2021,old,10,10"), "b.csv", editor="anna")
    rudny = next(t for t in atlas.results()["towns"] if t["id"] == "rudny")
    assert (
        rudny["inputs"]["mono_output_share"] == 70
    )  # 2023 is later than 2021, whatever the order of entry
    atlas.import_file(csv_bytes("rudny,2023,corrected,71,30"), "c.csv", editor="anna")
    changed = {
        (c["input"], c["old_value"], c["value"])
        for c in store.changes(store.head())
        if c["changed"]
    }
    assert changed == {
        ("mono_output_share", 70, 71),
        ("mono_employment_share", 30, 30),
    }  # the latter: new source
    atlas.rollback(mid, editor="anna")
    now = {(r["input"], r["period"]): r["value"] for r in store.values() if r["town_id"] == "rudny"}
    assert now[("mono_output_share", "2023")] == 70 and ("mono_output_share", "2021") not in now


def test_exception_mid_apply_leaves_the_previous_state(atlas, monkeypatch):
    store = atlas.store
    before, head = sorted(map(_key, store.values())), store.head()
    real = Store._insert_values

    def half_then_fail(self, conn, revision, rows, editor):
        real(self, conn, revision, rows[:1], editor)
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "_insert_values", half_then_fail)
    with pytest.raises(RuntimeError):
        atlas.import_file(csv_bytes("rudny,2023,a,70,30"), "a.csv", editor="anna")
    monkeypatch.undo()
    assert store.head() == head and sorted(map(_key, store.values())) == before
    with store.read() as conn:
        assert conn.execute(select(revisions.c.id).where(revisions.c.id > head)).first() is None


def test_eight_concurrent_imports_each_whole_as_one_revision(atlas):
    store = atlas.store
    head = store.head()
    towns = [
        "rudny",
        "ekibastuz",
        "zhezkazgan",
        "satpayev",
        "kentau",
        "stepnogorsk",
        "lisakovsk",
        "aksu",
    ]
    barrier, errors = threading.Barrier(8), []

    def work(i, town):
        try:
            barrier.wait()
            atlas.import_file(
                csv_bytes(*[f"{town},{2000 + k},file {i},{i + 1},{k}" for k in range(20)]),
                f"f{i}.csv",
                editor=f"e{i}",
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, t)) for i, t in enumerate(towns)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    new = [r for r in store.revisions() if r.id > head]
    assert sorted(r.id for r in new) == list(range(head + 1, head + 9))
    for r in new:
        rows = store.changes(r.id)
        i = int(r.filename[1:-4])
        assert len(rows) == 40 and {x["town_id"] for x in rows} == {towns[i]}, r
        assert {x["entered_by"] for x in rows} == {f"e{i}"} and {
            x["value"] for x in rows if x["input"] == "mono_output_share"
        } == {i + 1}


def test_writers_in_separate_connections_are_serialised(db_url):
    """Eight stores on one database (as eight processes would be): each write lands whole as its own
    revision."""
    url = db_url
    first = Store(url)
    first.migrate()
    first.dispose()
    stores, barrier, errors = [Store(url) for _ in range(8)], threading.Barrier(8), []

    def work(i):
        try:
            barrier.wait()
            stores[i].apply(
                [
                    {
                        "town_id": "rudny",
                        "input": "mono_output_share",
                        "value": float(i),
                        "period": str(2000 + k),
                        "unit": "%",
                        "source": f"s{i}",
                        "note": "",
                    }
                    for k in range(50)
                ],
                editor=f"e{i}",
                filename=f"{i}",
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    revs = stores[0].revisions()
    assert sorted(r.id for r in revs) == list(range(1, 9)) and all(r.changes == 50 for r in revs)
    for r in revs:
        assert {(c["value"], c["entered_by"]) for c in stores[0].changes(r.id)} == {
            (float(r.filename), f"e{r.filename}")
        }
    [s.dispose() for s in stores]


def test_data_survive_a_restart(db_url):
    db = db_url
    first = make_app(db)
    rev, _ = first.extensions["atlas"].import_file(
        csv_bytes("rudny,2023,doc,70,30"), "s.csv", editor="anna"
    )
    first.extensions["store"].dispose()
    again = make_app(db)  # a new create_app on the same DATABASE_URL: migrated, not seeded twice
    store = again.extensions["store"]
    assert store.head() == rev and [r.kind for r in store.revisions()] == ["import", "shipped"]
    assert store.check_editor("anna", PASSWORD)
    rudny = next(t for t in again.extensions["atlas"].results()["towns"] if t["id"] == "rudny")
    assert rudny["inputs"]["mono_output_share"] == 70
    client = again.test_client()
    sign_in(client)  # the secret key came from the config; sessions work on the new app
    store.dispose()


def test_editors_hashed_and_checked(app):
    store = app.extensions["store"]
    with store.read() as conn:
        stored = conn.execute(
            select(editors.c.password_hash).where(editors.c.name == "anna")
        ).scalar_one()
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    assert store.check_editor("anna", PASSWORD) and not store.check_editor("anna", "wrong-pass")
    assert not store.check_editor("nobody", PASSWORD)
    with pytest.raises(StoreError, match="already exists"):
        store.add_editor("anna", "another-pass")
    with pytest.raises(StoreError, match="at least 12"):
        store.add_editor("bob", "short")
    with pytest.raises(StoreError, match="editor name"):
        store.add_editor("bad name", "long-enough-pass")


def test_cli_create_editor_import_export(tmp_path):
    app = make_app(tmp_path / "cli.sqlite3")
    runner = app.test_cli_runner()
    r = runner.invoke(args=["create-editor", "boris", "--password", "steppe-wind-42"])
    assert r.exit_code == 0 and app.extensions["store"].check_editor("boris", "steppe-wind-42")
    r = runner.invoke(args=["create-editor", "vera"], input="balkhash-lake-1\nbalkhash-lake-1\n")
    assert r.exit_code == 0 and app.extensions["store"].check_editor("vera", "balkhash-lake-1")
    again = runner.invoke(args=["create-editor", "vera", "--password", "balkhash-lake-2"])
    assert again.exit_code != 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes("Rudny,2023,doc,150,30", "Atlantis,2023,doc,1 000,30"))
    head = app.extensions["store"].head()
    r = runner.invoke(args=["import-stats", str(bad)])
    assert r.exit_code == 1
    out = r.output
    assert (
        "bad.csv, row 2, column 'mono_output_share': value '150': out of range; allowed: 0 to"
        " 100 (%)" in out
    )
    assert (
        "row 3, column 'town': value 'Atlantis'" in out
        and "value '1 000': not a plain number" in out
    )
    assert app.extensions["store"].head() == head
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes("Rudny,2023,doc,70,30"))
    r = runner.invoke(args=["import-stats", str(good), "--editor", "boris"])
    assert r.exit_code == 0 and f"revision {head + 1}" in r.output
    assert app.extensions["store"].changes(head + 1)[0]["entered_by"] == "boris (command line)"
    out_csv = tmp_path / "out.csv"
    assert runner.invoke(args=["export-stats", str(out_csv)]).exit_code == 0
    text_ = out_csv.read_text()
    assert (
        text_.startswith("town,year,source,note,mono_output_share")
        and "rudny,2023,doc,,70,30," in text_
    )
    # the export is importable as it is, and changes no value
    r = runner.invoke(args=["import-stats", str(out_csv)])
    assert r.exit_code == 0, r.output
    out2 = tmp_path / "out2.csv"
    runner.invoke(args=["export-stats", str(out2)])
    assert out2.read_text() == text_


def _raw_insert(store, rows):
    with store.write() as conn:
        rev = conn.execute(
            insert(revisions).values(
                created_at="2026-01-01T00:00:00Z",
                editor="raw sql",
                kind="import",
                summary="",
                filename="",
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(values_table),
            [
                {
                    "revision_id": rev,
                    "period": "2030",
                    "status": "sourced",
                    "unit": "",
                    "source": "raw",
                    "note": "",
                    "removed": False,
                    "entered_by": "raw sql",
                    "entered_at": "2026-01-01T00:00:00Z",
                }
                | r
                for r in rows
            ],
        )


def _finite(obj) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_finite(v) for v in obj)
    return True


def test_bad_stored_values_are_errors_on_the_town_not_a_500(app, atlas):
    store = atlas.store
    _raw_insert(
        store,
        [
            {"town_id": "rudny", "input": "mono_output_share", "value": 150.0},
            {"town_id": "rudny", "input": "mono_employment_share", "value": float("inf")},
            {"town_id": "ekibastuz", "input": "econ_industrial_output", "value": 1e300},
            {"town_id": "ekibastuz", "input": "econ_profitable_share", "value": float("-inf")},
            {"town_id": "satpayev", "input": "inv_projects_done", "value": 50.0},
            {"town_id": "satpayev", "input": "inv_projects_done_total", "value": 10.0},
            {"town_id": "kentau", "input": "demo_natural_growth", "value": -80.0},
            {"town_id": "kentau", "input": "demo_active_share", "value": 20.0},
            {"town_id": "kentau", "input": "inv_jobs_created_total", "value": 0.0},
            {"town_id": "atlantis", "input": "mono_output_share", "value": 5.0},
            {"town_id": "rudny", "input": "aggl_in_fua", "value": 100.0},
        ],
    )
    res = atlas.results()
    towns = {t["id"]: t for t in res["towns"]}
    assert _finite([t["indices"] for t in res["towns"]])
    assert any(
        "mono_output_share: stored value 150.0 is out of range" in e
        for e in towns["rudny"]["data_errors"]
    )
    assert any("is not finite" in e for e in towns["rudny"]["data_errors"])
    assert towns["rudny"]["provenance"]["mono_output_share"]["status"] == "missing"
    assert "rejected" in towns["rudny"]["provenance"]["mono_output_share"]["source"]
    assert towns["ekibastuz"]["inputs"]["econ_industrial_output"] is None
    assert any("above its total" in e for e in towns["satpayev"]["data_errors"])
    assert (
        towns["kentau"]["indices"]["demographic"] is None
        and towns["kentau"]["inputs"]["inv_jobs_created_total"] is None
    )
    client = app.test_client()
    for path in (
        "/",
        "/town/rudny",
        "/town/kentau",
        "/data",
        "/api/towns",
        "/api/statistics",
        "/history",
        "/api/export.csv",
        "/api/statistics/export.csv",
    ):
        assert client.get(path).status_code == 200, path
    assert "stored value 150.0" in client.get("/data").get_data(as_text=True)


def test_any_stored_numbers_score_finite():
    """Property: whatever numbers are stored for Rudny, scoring stays finite and never raises."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scoring.method import load_method
    from webapp.store.stats_io import importable, screen
    from scoring.pipeline import Pipeline

    method = load_method()
    names = importable(method)
    pipe = Pipeline()
    towns = {t for t in pipe.spatial.layers.towns["id"]}
    numbers = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**12), 10**12), st.none()
    )

    @settings(max_examples=40, deadline=None)
    @given(st.dictionaries(st.sampled_from(names), numbers, min_size=1))
    def check(values):
        rows = [
            {
                "town_id": "rudny",
                "input": k,
                "value": v,
                "period": "2024",
                "status": "sourced",
                "unit": "",
                "source": "x",
                "note": "",
            }
            for k, v in values.items()
        ]
        stats, curated, _ = screen(rows, method, towns)
        from scoring.atlas import build_atlas
        from geo.params import default_params

        derivation = pipe.spatial.derive(default_params())
        atlas = build_atlas(derivation, method, statistics=stats, curated=curated)
        assert _finite([t["indices"] for t in atlas["towns"]])

    check()


def test_sqlite_is_the_default_in_the_instance_folder(tmp_path):
    from webapp.model import database_url
    from flask import Flask

    app = Flask("x", instance_path=str(tmp_path / "inst"))
    assert database_url(app) == "sqlite:///" + str(tmp_path / "inst" / "atlas.sqlite3")
    app.config["DATABASE_URL"] = "postgresql://u@h/db"
    assert database_url(app) == "postgresql://u@h/db"
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    assert store.migrate() == 7 and store.head() == 0
    with store.read() as conn:
        assert conn.execute(text("select version from schema_version")).scalar_one() == 7


def test_a_version_1_database_gains_the_jobs_table(db_url):
    """A store made before the jobs table (schema 1) is migrated in place, its data kept; the jobs
    table ends with plain rows (run, started), without the owner and heartbeat of migration 2."""
    from sqlalchemy import inspect

    from webapp.store.db import MIGRATIONS, schema_version

    old = Store(db_url)
    with old.write() as conn:
        schema_version.create(conn)
        conn.execute(insert(schema_version).values(version=1))
        MIGRATIONS[0][1](conn)
        # a revision and a value as version 1 wrote them (Store.apply writes today's columns)
        conn.execute(
            text(
                "INSERT INTO revisions (id, created_at, editor, kind, summary, filename) "
                "VALUES (1, '2026-01-01T00:00:00Z', 'anna', 'import', '1 value(s) imported', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO input_values (revision_id, town_id, input, period, value, status,"
                " unit, source, note, removed, entered_by, entered_at) VALUES (1, 'kentau',"
                " 'mono_output_share', '', 50.0, 'sourced', '', '', '', FALSE, 'anna',"
                " '2026-01-01T00:00:00Z')"
            )
        )
    old.dispose()
    store = Store(db_url)
    assert store.migrate() == 7 and store.head() == 1
    assert store.job_row("robustness") is None
    with store.read() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
    assert columns == {"name", "state", "result", "run", "started", "seq"}
    rev = store.revision(1)  # a revision from before migration 7: no facts, its summary as stored
    assert (rev.facts, rev.summary, rev.changes) == ({}, "1 value(s) imported", 1)
    assert store.values()[0]["value"] == 50.0
    assert re.fullmatch(r"[0-9a-f]{32}", store.identity())  # migration 3 gave it an identity
    store.dispose()


def test_a_job_is_a_row_written_when_it_starts_and_ends(db_url):
    store = Store(db_url)
    store.migrate()
    assert store.job_start("j", {"state": "running"}, run="a", max_s=60)
    assert not store.job_start("j", {"state": "running"}, run="b", max_s=60)  # running: not twice
    assert not store.job_write("j", {"state": "done"}, run="b")  # not this run's row: refused
    assert store.job_write("j", {"state": "running", "progress": 0.5}, run="a")
    assert store.job_write("j", {"state": "done"}, run="a", result={"x": [1, 2]})
    row = store.job_row("j")
    assert row["state"] == {"state": "done"} and row["result"] == {"x": [1, 2]}
    assert row["run"] == "a"
    assert "result" not in store.job_row(
        "j", seq=row["seq"]
    )  # unchanged: the large result is not read again
    assert store.job_start("j", {"state": "running"}, run="b", max_s=60)  # done: may start again
    assert store.job_row("j")["result"] is None  # a new run has no result yet
    assert store.job_start("j", {"state": "running"}, run="c", max_s=0)  # running longer than max_s
    assert not store.job_write("j", {"state": "done"}, run="b")  # the run taken over cannot write
    store.dispose()


def test_a_job_running_past_its_longest_run_is_reported_failed(db_url, monkeypatch):
    """No heartbeat: a row still running max_s after its start is failed; the job may start
    again."""
    from webapp.store import db as store_module
    from webapp.store.db import JobBoard

    store = Store(db_url)
    store.migrate()
    board, other = JobBoard(store, "j", max_s=600), JobBoard(store, "j", max_s=600)
    assert board.claim({"state": "running", "name": "x"})
    assert other.status()[0] == {"state": "running", "name": "x"}
    assert not other.claim({"state": "running"})
    clock = time.time() + 601  # ten minutes and a second later: the process that ran it is gone
    monkeypatch.setattr(store_module.time, "time", lambda: clock)
    state, _ = other.status()
    assert state["state"] == "failed" and "did not finish within 10 minutes" in state["message"]
    assert other.claim({"state": "running", "name": "y"})
    assert not board.finish({"state": "done"})  # the first run's late end: not over the second
    assert other.finish({"state": "done", "name": "y"}) and board.status()[0]["name"] == "y"
    store.dispose()
