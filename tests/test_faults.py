"""Faults: the server process is SIGKILLed in the middle of an upload and of a recompute, then started
again; it must come back with the previous or the new state, never a broken one.

The server runs as a subprocess on loopback (port 0). A test-only fault hook in the launcher makes the
process stop at the chosen point (after the temporary file is fsynced but before os.replace, after
os.replace, inside a recompute) and say so on stdout, so the kill lands exactly there.
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
OLD = "town,source,period,mono_output_share,mono_employment_share\nRudny,old report,2022,70,30\n"
NEW = "town,source,period,mono_output_share,mono_employment_share\nRudny,new report,2023,40,20\n"
LAUNCHER = r"""
import os, sys, time
from werkzeug.serving import make_server
import scoring.pipeline
from webapp import create_app

fault = os.environ.get("FAULT", "")

def stop_here():
    print("FAULT", flush=True)
    time.sleep(600)

if fault == "recompute":
    real_run = scoring.pipeline.Pipeline.run
    def run(self, params=None, **kw):
        if params is not None and params.near_km == 777:
            stop_here()
        return real_run(self, params, **kw)
    scoring.pipeline.Pipeline.run = run
app = create_app({"UPLOAD_DIR": sys.argv[1]})
if fault == "before_replace":  # the temporary file is written and fsynced; the stored file not yet replaced
    real_fsync = os.fsync
    os.fsync = lambda fd: (real_fsync(fd), stop_here())
if fault == "after_replace":  # the new file is in place; memory not yet updated, no answer sent
    real_replace = os.replace
    os.replace = lambda a, b: (real_replace(a, b), stop_here())
srv = make_server("127.0.0.1", 0, app, threaded=True)
print("PORT", srv.server_port, flush=True)
srv.serve_forever()
"""


class Server:
    """One server subprocess on loopback; ``kill`` is SIGKILL (no clean-up runs)."""

    def __init__(self, upload_dir: Path, fault: str = ""):
        env = dict(os.environ, FAULT=fault, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(upload_dir)], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT"), f"server did not start: {line!r}"
        self.url = f"http://127.0.0.1:{line.split()[1]}"

    def request(self, path: str, *, data: bytes | None = None, ctype: str = "application/json",
                method: str | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": ctype} if data is not None else {})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str) -> dict:
        status, body = self.request(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def kill_at_fault(self, path: str, data: bytes, ctype: str) -> None:
        """Send a request in a thread, wait until the process reports the fault point, then SIGKILL it."""
        th = threading.Thread(target=self._send_ignoring_errors, args=(path, data, ctype), daemon=True)
        th.start()
        assert self.proc.stdout.readline().strip() == "FAULT"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        th.join(30)

    def _send_ignoring_errors(self, path, data, ctype):
        try:
            self.request(path, data=data, ctype=ctype)
        except (urllib.error.URLError, ConnectionError, OSError):
            pass  # the connection dies with the process

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.proc.stdout.close()


@pytest.fixture()
def servers():
    started = []

    def start(upload_dir, fault=""):
        started.append(Server(upload_dir, fault))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def rudny_share(server: Server):
    return server.json("/api/towns/rudny")["properties"]["inputs"]["mono_output_share"]


def assert_whole_state(server: Server, upload_dir: Path) -> None:
    """Not broken: pages and API answer, no note of a corrupt file, memory equals what is on disk."""
    status, html = server.request("/")
    assert status == 200 and b'id="upload-note"' not in html
    assert not list(upload_dir.glob("*.corrupt"))
    stored = upload_dir / "statistics_upload.csv"
    assert (server.json("/api/statistics")["file"] is None) == (not stored.exists())
    assert stored.read_text(encoding="utf-8") in (OLD, NEW)


@pytest.mark.parametrize("fault,expected", [("before_replace", 70), ("after_replace", 40)])
def test_kill_during_upload_keeps_previous_or_new_state(servers, tmp_path, fault, expected):
    first = servers(tmp_path)
    assert first.request("/api/statistics", data=OLD.encode(), ctype="text/csv")[0] == 200
    assert rudny_share(first) == 70
    first.stop()
    faulty = servers(tmp_path, fault)
    faulty.kill_at_fault("/api/statistics", NEW.encode(), "text/csv")
    again = servers(tmp_path)
    assert rudny_share(again) == expected  # before os.replace: the previous file; after: the new one
    assert_whole_state(again, tmp_path)
    assert again.request("/api/statistics", data=NEW.encode(), ctype="text/csv")[0] == 200  # and it goes on
    assert rudny_share(again) == 40


def test_kill_during_recompute_restarts_with_the_stored_state(servers, tmp_path):
    first = servers(tmp_path, "recompute")
    assert first.request("/api/statistics", data=OLD.encode(), ctype="text/csv")[0] == 200
    first.kill_at_fault("/api/recompute", json.dumps({"near_km": 777}).encode(), "application/json")
    again = servers(tmp_path)
    assert rudny_share(again) == 70
    assert_whole_state(again, tmp_path)
    status, body = again.request("/api/recompute", data=json.dumps({"near_km": 777}).encode())
    assert status == 200 and json.loads(body)["parameters"]["spatial"]["near_km"] == 777
