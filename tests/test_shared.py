"""Rendered answers shared by worker processes (webapp.shared): what one process rendered another serves
without rendering, only for the same code, data and stored state; the folder is bounded and a damaged
file is a miss."""
from __future__ import annotations

import os
import re

import pytest

from webapp import create_app, serve
from webapp.http import render
from webapp.shared import SUFFIX, SharedRendered, fingerprint

NONCE = re.compile(r'nonce="[^"]*"')


def make_app(tmp_path, db="atlas.sqlite3", **config):
    """A "worker": its own app on the shared database and rendered folder (as gunicorn's forks have)."""
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / db}", "SECRET_KEY": "test", **config})
    svc = app.extensions["atlas"]
    svc.shared = SharedRendered(tmp_path / "rendered")
    svc.fingerprint = fingerprint(app)
    return app


def get(app, url):
    r = app.test_client().get(url)
    assert r.status_code == 200, url
    return NONCE.sub("", r.get_data(as_text=True))


def files(tmp_path):
    return sorted((tmp_path / "rendered").glob(f"*/*{SUFFIX}"))


def test_what_one_process_rendered_the_other_serves_without_rendering(tmp_path):
    a, b = make_app(tmp_path), make_app(tmp_path)
    page = get(a, "/?lang=ru&near_km=150")
    payload = a.test_client().post("/api/recompute", json={"near_km": 150}).get_json()
    assert len(files(tmp_path)) >= 3  # the page, its popups and layers, the payload
    # Folium names its elements at random: the same page, byte for byte, can only be the one read back
    assert get(b, "/?lang=ru&near_km=150") == page
    assert b.test_client().post("/api/recompute", json={"near_km": 150}).get_json() == payload
    svc = b.extensions["atlas"]
    assert svc.shared.hits >= 2 and svc.shared.writes == 0
    assert not svc._cache  # no result computed in b: both answers came from the folder


def test_a_stored_change_is_not_answered_from_the_folder(tmp_path):
    a, b = make_app(tmp_path), make_app(tmp_path)
    before = get(a, "/?lang=en")
    a.extensions["store"].apply([{"town_id": "kentau", "input": "mono_output_share", "value": 50.0}],
                                editor="anna", filename="kentau.csv")
    after = get(b, "/?lang=en")  # b sees the new head revision: renders
    assert "kentau.csv" in after and "kentau.csv" not in before
    assert b.extensions["atlas"].shared.writes >= 1


def test_another_fingerprint_misses(tmp_path):
    a = make_app(tmp_path)
    get(a, "/?lang=kk")
    b = make_app(tmp_path)
    b.extensions["atlas"].fingerprint = "code changed"
    get(b, "/?lang=kk")
    assert b.extensions["atlas"].shared.hits == 0


def test_no_sharing_with_a_data_note(tmp_path):
    a = make_app(tmp_path)
    a.extensions["atlas"].data_note = "the stored database was unreadable"
    get(a, "/?lang=en")
    assert files(tmp_path) == []


def test_not_saved_when_the_state_moved_while_rendering(tmp_path):
    app = make_app(tmp_path)
    svc, store = app.extensions["atlas"], app.extensions["store"]

    def build():
        store.apply([{"town_id": "kentau", "input": "mono_output_share", "value": 51.0}], editor="anna")
        svc.snapshot()
        return render("rendered from the old state", "text/plain")

    with app.app_context():
        svc.rendered(("test", 1), build)
    assert files(tmp_path) == []


def kentau_share(app, url="/api/towns?lang=en"):
    body = app.test_client().get(url).get_json()
    town = next(f for f in body["features"] if f["id"] == "kentau")
    return town["properties"]["inputs"]["mono_output_share"]


def test_another_database_at_the_same_revision_number_is_not_answered_from_the_folder(tmp_path, monkeypatch):
    """A reset, replaced or restored database reaches revision numbers another one had, and may have
    revisions stamped alike (same second, editor and file): only the database's identity tells them."""
    import webapp.store

    monkeypatch.setattr(webapp.store, "now", lambda: "2026-11-30T00:00:00Z")
    a, b = make_app(tmp_path, "a.sqlite3"), make_app(tmp_path, "b.sqlite3")
    for app, value in ((a, 50.0), (b, 5.0)):
        app.extensions["store"].apply([{"town_id": "kentau", "input": "mono_output_share", "value": value}],
                                      editor="anna", filename="stats.csv")
    sa, sb = a.extensions["store"], b.extensions["store"]
    assert sa.head() == sb.head() == 2 and sa.revision_stamp(2) == sb.revision_stamp(2)
    assert kentau_share(a) == 50.0
    assert kentau_share(b) == 5.0
    assert b.extensions["atlas"].shared.hits == 0


CHANGE = [{"town_id": "kentau", "input": "mono_output_share", "value": 99.0},
          {"town_id": "kentau", "input": "mono_employment_share", "value": 99.0}]  # its popup changes


@pytest.mark.parametrize("editor", [False, True], ids=["visitor", "signed-in editor"])
def test_a_change_while_a_page_renders_leaves_nothing_stale(tmp_path, monkeypatch, editor):
    """Another process stores a revision after the page's result was computed and before its popups are
    rendered: nothing rendered from the old result is kept under the new revision (a signed-in editor's
    page is rendered without the cache, its popups with it)."""
    from test_store import sign_in
    from webapp import views

    a, other = make_app(tmp_path), make_app(tmp_path)
    fresh = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'atlas.sqlite3'}", "SECRET_KEY": "t"})
    before = fresh.test_client().get("/api/popups?lang=en").get_json()["kentau"]
    client = a.test_client()
    if editor:
        a.extensions["store"].add_editor("anna", "a-long-password")
        sign_in(client, "anna", "a-long-password")
    real, done = views.display_once, []

    def display_once(*args, **kwargs):
        if not done:
            done.append(other.extensions["store"].apply(CHANGE, editor="x", filename="late.csv"))
        return real(*args, **kwargs)
    monkeypatch.setattr(views, "display_once", display_once)
    assert client.get("/?lang=en").status_code == 200
    monkeypatch.setattr(views, "display_once", real)
    assert done and files(tmp_path) == []  # rendered from the old revision: not kept for anyone
    fresh = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'atlas.sqlite3'}", "SECRET_KEY": "t"})
    after = fresh.test_client().get("/api/popups?lang=en").get_json()["kentau"]
    assert after != before  # the change shows in the popup: the comparisons below can fail
    for app in (a, make_app(tmp_path)):  # this process (memory) and a third one (the folder)
        assert app.test_client().get("/api/popups?lang=en").get_json()["kentau"] == after
        assert kentau_share(app) == 99.0


def test_a_result_is_kept_under_the_generation_of_its_own_data(tmp_path, monkeypatch):
    """A revision stored between reading the snapshot and keeping the result (another thread moved both):
    the result is not kept under the new generation with the old data."""
    a, other = make_app(tmp_path), make_app(tmp_path)
    svc = a.extensions["atlas"]
    real = type(svc).snapshot
    moved = []

    def snapshot(self):
        old = real(self)
        if not moved and self is svc:  # another thread stores a change and refreshes, after this read
            moved.append(other.extensions["store"].apply(CHANGE, editor="x"))
            real(self)
        return old
    monkeypatch.setattr(type(svc), "snapshot", snapshot)
    with a.app_context():
        svc.results()
    monkeypatch.setattr(type(svc), "snapshot", real)
    assert kentau_share(a) == 99.0
    assert kentau_share(make_app(tmp_path)) == 99.0


def test_a_first_page_read_while_the_state_moves_is_not_kept(tmp_path, monkeypatch):
    a = make_app(tmp_path)
    assert serve.warm(a) == "rendered"
    b, other = make_app(tmp_path), make_app(tmp_path)
    shared = b.extensions["atlas"].shared = SharedRendered(tmp_path / "rendered")
    real = type(shared).get

    def get(self, name):
        hit = real(self, name)
        other.extensions["store"].apply(CHANGE, editor="x", filename="late.csv")
        b.extensions["atlas"].snapshot()
        return hit
    monkeypatch.setattr(type(shared), "get", get)
    assert serve.load_first_page(b, "en") is False
    monkeypatch.setattr(type(shared), "get", real)
    assert "late.csv" in get_page(b)


def get_page(app):
    return get(app, "/?lang=en")


def test_pages_for_invalid_queries_are_not_written(tmp_path):
    """Anyone can send many invalid queries: their pages (the default result, with the errors said) are
    not written; what they render inside for the default parameters is, once."""
    a = make_app(tmp_path)
    client = a.test_client()
    client.get("/?lang=en")
    client.get("/town/kentau?lang=en")
    valid = len(files(tmp_path))
    for i in range(4):
        assert client.get(f"/town/kentau?lang=en&near_km=abc&junk={i}").status_code == 200
        assert client.get(f"/?lang=en&near_km=abc&junk={i}").status_code == 200
    assert len(files(tmp_path)) == valid


def test_a_script_root_sent_by_a_client_stays_in_its_answers(tmp_path):
    """gunicorn takes SCRIPT_NAME from a trusted (loopback) client: its URLs must not reach other requests."""
    a, b = make_app(tmp_path), make_app(tmp_path)
    evil = a.test_client().get("/?lang=en&near_km=77", environ_overrides={"SCRIPT_NAME": "/evil"})
    assert evil.status_code == 200 and "/evil/" in evil.get_data(as_text=True)
    for app in (a, b):
        assert "/evil" not in get(app, "/?lang=en&near_km=77")


def test_an_editors_page_is_never_shared(tmp_path):
    from test_store import PASSWORD, sign_in

    a = make_app(tmp_path)
    a.extensions["store"].add_editor("zhanar", PASSWORD)
    client = a.test_client()
    sign_in(client, "zhanar")
    assert "zhanar" in client.get("/?lang=en").get_data(as_text=True)
    shared = a.extensions["atlas"].shared
    assert files(tmp_path) and not any(b"zhanar" in shared.get(f"{p.parent.name}/{p.name}").body() for p in files(tmp_path))


def test_a_new_network_version_is_another_state(tmp_path):
    networks = tmp_path / "networks"
    networks.mkdir()
    a = make_app(tmp_path, NETWORKS_ROOT=str(networks))
    get(a, "/?lang=en")
    (networks / "v2").mkdir()  # another process saved a version: the folder's stamp moved
    b = make_app(tmp_path, NETWORKS_ROOT=str(networks))
    get(b, "/?lang=en")
    assert b.extensions["atlas"].shared.hits == 0


def test_with_a_data_note_nothing_is_read_from_the_folder(tmp_path):
    get(make_app(tmp_path), "/?lang=en")
    b = make_app(tmp_path)
    b.extensions["atlas"].data_note = "the stored database was unreadable"
    get(b, "/?lang=en")
    assert b.extensions["atlas"].shared.hits == 0


def test_bytes_that_do_not_match_their_etag_are_a_miss(tmp_path):
    import marshal
    import zlib

    shared = SharedRendered(tmp_path / "rendered")
    name = shared.name("fp", (1, 0), ("k",))
    shared.put(name, render("the right answer " * 100, "text/plain"))
    fmt, _, mimetype, etag = marshal.loads((tmp_path / "rendered" / name).read_bytes())
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    other = c.compress(b"another answer " * 100) + c.flush(zlib.Z_SYNC_FLUSH)
    (tmp_path / "rendered" / name).write_bytes(marshal.dumps((fmt, (other,), mimetype, etag)))
    assert shared.get(name) is None


def test_the_folder_is_pruned_as_it_is_written(tmp_path):
    shared = SharedRendered(tmp_path / "rendered", max_bytes=80_000)
    for i in range(40):
        shared.put(shared.name("fp", (1, 0), ("k", i)), render(os.urandom(5000), "application/octet-stream"))
    total = sum(p.stat().st_size for p in files(tmp_path))
    assert total <= 80_000 * 1.2  # pruned whenever an eighth of it was written (one process)


def test_start_up_sweeps_other_fingerprints_and_left_temporary_files(tmp_path):
    shared = SharedRendered(tmp_path / "rendered")
    old, new = shared.name("old-code", (1, 0), ("k",)), shared.name("new-code", (1, 0), ("k",))
    for name in (old, new):
        shared.put(name, render("x" * 3000, "text/plain"))
    tmp = (tmp_path / "rendered" / new).with_name("left.rendered.123.tmp")
    tmp.write_bytes(b"half")
    os.utime(tmp, ns=(0, 0))
    legacy = tmp_path / "rendered" / "0123abcd.rendered"  # an earlier layout: answers at the top
    legacy.write_bytes(b"x" * 100)
    shared.sweep("new-code")
    assert shared.get(new) is not None and shared.get(old) is None and not tmp.exists() and not legacy.exists()


def test_damaged_file_is_a_miss_and_removed(tmp_path):
    shared = SharedRendered(tmp_path / "rendered")
    name = shared.name("fp", (1, 0), ("k",))
    assert shared.put(name, render("x" * 2000, "text/plain"))
    assert shared.get(name).body() == b"x" * 2000
    (tmp_path / "rendered" / name).write_bytes(b"\x00garbage")
    assert shared.get(name) is None
    assert not (tmp_path / "rendered" / name).exists()


def test_the_folder_is_bounded_oldest_read_first_out(tmp_path):
    shared = SharedRendered(tmp_path / "rendered", max_bytes=60_000)  # each file about 10 kB
    names = [shared.name("fp", (1, 0), ("k", i)) for i in range(12)]
    for i, name in enumerate(names):
        shared.put(name, render(os.urandom(5000), "application/octet-stream"))
        os.utime(tmp_path / "rendered" / name, ns=(i * 10**9, i * 10**9))
        if i == 2:
            assert shared.get(names[0]) is not None  # read recently: kept
    total = shared.prune()
    assert total <= 60_000
    assert shared.get(names[0]) is not None and shared.get(names[1]) is None
    assert shared.get(names[-1]) is not None


def test_start_up_shares_the_first_page(tmp_path):
    """serve.warm: the folder (RENDERED_DIR) set and the fingerprint computed before the first page."""
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'atlas.sqlite3'}",
                      "SECRET_KEY": "test", "RENDERED_DIR": str(tmp_path / "rendered")})
    svc = app.extensions["atlas"]
    assert svc.shared is None
    assert serve.warm(app) == "rendered"
    assert svc.fingerprint == fingerprint(app) and svc.shared.folder == tmp_path / "rendered"
    assert len(files(tmp_path)) >= 3


def test_after_listening_the_answers_of_other_fingerprints_are_removed(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'atlas.sqlite3'}",
                      "SECRET_KEY": "test", "RENDERED_DIR": str(tmp_path / "rendered")})
    assert serve.warm(app) == "rendered"
    svc = app.extensions["atlas"]
    old = svc.shared.name("the code before a change", (1,), ("k",))
    svc.shared.put(old, render("x" * 3000, "text/plain"))
    assert (tmp_path / "rendered" / old).exists()
    serve.warm_rest(app).join(60)
    assert not (tmp_path / "rendered" / old).parent.exists()
    assert (tmp_path / "rendered" / serve.first_page_name(app, "en")).exists()


def test_a_restarted_server_serves_what_it_rendered_before(tmp_path):
    """``python -m webapp.serve`` (gunicorn workers): a page for new parameters, asked again after a
    restart with nothing changed, is the same bytes (Folium's random element ids included)."""
    import http.client

    from benchmarks.load import free_port, spawn, stop

    def fetch() -> str:
        port = free_port()
        proc, _ = spawn(port, env_extra={"INSTANCE_DIR": str(tmp_path / "instance")})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/?lang=ru&near_km=123")
            resp = conn.getresponse()
            assert resp.status == 200
            return NONCE.sub("", resp.read().decode())
        finally:
            conn.close()
            stop(proc)

    first = fetch()
    assert len(list((tmp_path / "instance" / "rendered").glob(f"*/*{SUFFIX}"))) >= 3
    assert fetch() == first and "near_km=123" in first
