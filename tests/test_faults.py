"""Faults: the server process is SIGKILLed in the middle of an import and of a recompute, then
started again; it must come back with the previous or the new state, never a broken one.

The server runs as a subprocess on loopback (port 0) on a SQLite store in a temporary folder. A
test-only fault hook in the launcher makes the process stop at the chosen point (inside the import's
transaction, after its commit, inside a recompute) and say so on stdout, so the kill lands exactly
there.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OLD = "town,source,year,mono_output_share,mono_employment_share\nRudny,old report,2022,70,30\n"
NEW = "town,source,year,mono_output_share,mono_employment_share\nRudny,new report,2023,40,20\n"
LAUNCHER = r"""
import os, sys, threading, time
from werkzeug.serving import make_server
import scoring.pipeline
import webapp.store.db
from webapp import create_app

fault = os.environ.get("FAULT", "")

def stop_here():
    sys.stdout.write("FAULT\n")  # one write: never run into the PORT line of the main thread
    sys.stdout.flush()
    time.sleep(600)

if fault == "recompute":
    real_run = scoring.pipeline.Pipeline.run
    def run(self, params=None, **kw):
        if params is not None and params.near_km == 777:
            stop_here()
        return real_run(self, params, **kw)
    scoring.pipeline.Pipeline.run = run
if fault == "inside_transaction":  # the values are inserted, the transaction not committed
    real_insert = webapp.store.db.Store._insert_values
    def insert(self, conn, revision, rows, editor):
        real_insert(self, conn, revision, rows, editor)
        stop_here()
    webapp.store.db.Store._insert_values = insert
if fault == "after_commit":  # the revision is committed; no answer sent, memory not updated
    real_apply = webapp.store.db.Store.apply
    def apply(self, *a, **kw):
        rev = real_apply(self, *a, **kw)
        stop_here()
        return rev
    webapp.store.db.Store.apply = apply
app = create_app({"DATABASE_URL": "sqlite:///" + sys.argv[1], "SECRET_KEY": "test"})
if os.environ.get("IMPORT"):  # the import an editor would send, run in the server process
    atlas = app.extensions["atlas"]
    def send():
        atlas.import_file(os.environ["IMPORT"].encode(), "x.csv", editor="anna")
    threading.Thread(target=send, daemon=True).start()
srv = make_server("127.0.0.1", 0, app, threaded=True)
sys.stdout.write(f"PORT {srv.server_port}\n")
sys.stdout.flush()
srv.serve_forever()
"""


class Server:
    """One server subprocess on loopback; ``kill`` is SIGKILL (no clean-up runs)."""

    def __init__(self, db: Path, fault: str = "", imports: str = ""):
        env = dict(os.environ, FAULT=fault, IMPORT=imports, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(db)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.url, self.faulted = None, False
        while self.url is None:  # the import thread may report its fault before or after the port
            line = self.proc.stdout.readline()
            assert line, "server did not start"
            if line.strip() == "FAULT":
                self.faulted = True
            elif line.startswith("PORT"):
                self.url = f"http://127.0.0.1:{line.split()[1]}"
            else:
                raise AssertionError(f"server did not start: {line!r}")

    def request(
        self, path: str, *, data: bytes | None = None, ctype: str = "application/json"
    ) -> tuple[int, bytes]:
        req = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": ctype} if data else {}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str) -> dict:
        status, body = self.request(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def wait_for_fault(self) -> None:
        """Wait until the process reports the fault point, then SIGKILL it."""
        if not self.faulted:
            assert self.proc.stdout.readline().strip() == "FAULT"
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        self.kill()
        self.proc.stdout.close()


@pytest.fixture()
def servers():
    started = []

    def start(db, fault="", imports=""):
        started.append(Server(db, fault, imports))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def send_ignoring_errors(server: Server, path: str, body: dict) -> None:
    try:
        server.request(path, data=json.dumps(body).encode())
    except (urllib.error.URLError, ConnectionError, OSError):
        pass  # the connection dies with the process


def rudny_share(server: Server):
    return server.json("/api/towns/rudny")["properties"]["inputs"]["mono_output_share"]


def assert_whole_state(server: Server, db: Path) -> None:
    """Not broken: pages and API answer, no note of a corrupt store, no database set aside."""
    status, html = server.request("/")
    assert status == 200 and b'id="data-note"' not in html
    assert not list(db.parent.glob("*.corrupt"))
    revs = server.json("/api/statistics/revisions")["revisions"]
    assert [r["id"] for r in revs] == sorted((r["id"] for r in revs), reverse=True)


@pytest.mark.parametrize(
    "fault,expected,revisions", [("inside_transaction", 70, 2), ("after_commit", 40, 3)]
)
def test_kill_during_import_keeps_previous_or_new_state(
    servers, tmp_path, fault, expected, revisions
):
    db = tmp_path / "atlas.sqlite3"
    first = servers(db, imports=OLD)
    for _ in range(100):  # the import runs beside the server: wait until it is stored
        if rudny_share(first) == 70:
            break
        threading.Event().wait(0.1)
    assert rudny_share(first) == 70
    first.stop()
    faulty = servers(db, fault, imports=NEW)
    faulty.wait_for_fault()
    again = servers(db)
    assert (
        rudny_share(again) == expected
    )  # inside the transaction: the previous state; after commit: the new
    assert len(again.json("/api/statistics/revisions")["revisions"]) == revisions
    assert_whole_state(again, db)


def test_kill_during_recompute_restarts_with_the_stored_state(servers, tmp_path):
    db = tmp_path / "atlas.sqlite3"
    first = servers(db, "recompute", imports=OLD)
    for _ in range(100):
        if rudny_share(first) == 70:
            break
        threading.Event().wait(0.1)
    th = threading.Thread(
        target=send_ignoring_errors, args=(first, "/api/recompute", {"near_km": 777}), daemon=True
    )
    th.start()
    first.wait_for_fault()
    th.join(30)
    again = servers(db)
    assert rudny_share(again) == 70
    assert_whole_state(again, db)
    status, body = again.request("/api/recompute", data=json.dumps({"near_km": 777}).encode())
    assert status == 200 and json.loads(body)["parameters"]["spatial"]["near_km"] == 777
