"""Several server processes share one store: the network-import state and the robustness run are
seen by every app instance, a job is never started twice, and a job whose process ended is reported
failed once its longest run (``max_s``) has passed: a job is a plain row, with no heartbeat and no
process probe.

Two app instances in this process stand for two worker processes (they share nothing in memory but
the database file and the networks folder); the crash tests use a real second process.
"""

import io
import subprocess
import sys
import threading
import time

import pytest

from geo.netimport import list_versions
from test_netimport import write_pbf
from test_store import make_app, sign_in
from test_versions import NODES, WAYS
from webapp.pages import networks
from webapp import robust
from webapp.robust import Runner
from webapp.store.db import JobBoard, Store

CLAIM_AND_HANG = """
import sys, time
from webapp.store.db import JobBoard, Store
board = JobBoard(Store(sys.argv[1]), sys.argv[2], failed=sys.argv[3], max_s=float(sys.argv[4]))
assert board.claim({"state": "running", "progress": 0.0, "revision": 1})
print("claimed", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tiny_root):
    """Two app instances over one database and one networks folder."""
    base = tmp_path_factory.mktemp("shared")
    db, nets = base / "atlas.sqlite3", base / "nets"
    nets.mkdir()
    apps = [
        make_app(db, DATA_DIR=str(tiny_root), NETWORKS_ROOT=str(nets), NETWORK_IMPORT_WAIT=0.2)
        for _ in range(2)
    ]
    return apps, db, nets


def _wait(predicate, seconds=60.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_an_import_started_in_one_instance_is_seen_and_not_duplicated_in_the_other(
    shared, tmp_path, monkeypatch
):
    (one, two), _, nets = shared
    release = threading.Event()
    real = networks.import_network

    def slow(path, progress=None):
        release.wait(60)
        return real(path, progress=progress)

    monkeypatch.setattr(networks, "import_network", slow)
    a, b = one.test_client(), two.test_client()
    pbf = write_pbf(tmp_path / "shared.osm.pbf", NODES, WAYS)
    r = a.post(
        "/networks",
        data={
            "csrf_token": sign_in(a),
            "name": "shared",
            "file": (io.BytesIO(pbf.read_bytes()), "shared.osm.pbf"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 202, r.get_data(as_text=True)
    seen = b.get("/api/networks/import-status").get_json()
    assert (seen["state"], seen["name"], seen["file"]) == ("running", "shared", "shared.osm.pbf")
    second = b.post(
        "/networks",
        data={
            "csrf_token": sign_in(b),
            "name": "other",
            "file": (io.BytesIO(pbf.read_bytes()), "other.osm.pbf"),
        },
        content_type="multipart/form-data",
    )
    assert second.status_code == 409  # the other instance's import runs: not a second one
    release.set()
    assert _wait(lambda: b.get("/api/networks/import-status").get_json()["state"] == "done")
    done = b.get("/api/networks/import-status").get_json()
    assert done["name"] == "shared" and "edges" in done["message"]
    assert [v["name"] for v in list_versions(nets)] == ["shared"]
    assert '<option value="shared"' in b.get("/").get_data(
        as_text=True
    )  # the other instance lists it


def test_a_robustness_run_is_shared(shared):
    (one, two), _, _ = shared
    runners = []
    for app in (one, two):
        runners.append(
            app.extensions.setdefault("robustness", Runner(app.extensions["atlas"], draws=12))
        )
        runners[-1].draws = 12
    with one.app_context():
        first = runners[0].status()
    assert first["state"] == "running"
    with two.app_context():
        other = runners[1].status()  # sees the run of the first instance; starts none of its own
    assert other["state"] in ("running", "done") and other["revision"] == first["revision"]
    assert runners[1].board._run is None
    with two.app_context():
        assert _wait(lambda: runners[1].status(start=False)["state"] == "done")
        got = two.test_client().get("/api/robustness").get_json()
    with one.app_context():
        mine = one.test_client().get("/api/robustness").get_json()
    assert got["state"] == mine["state"] == "done"
    assert got["result"] == mine["result"] and got["result"]["draws"] == 12
    assert set(got["result"]["towns"]) == set(one.extensions["atlas"].metas)


def _claim_in_a_process(url: str, name: str, failed: str, max_s: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_HANG, url, name, failed, str(max_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "claimed"
    return proc


def _end(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_a_job_whose_process_was_killed_is_reported_failed(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    Store(url).migrate()
    board = JobBoard(Store(url), "network-import", max_s=3.0)
    proc = _claim_in_a_process(url, "network-import", "failed", 3.0)
    try:
        assert board.status()[0]["state"] == "running"
        assert not board.claim({"state": "running"})  # the other process runs it: not started twice
    finally:
        _end(proc)
    assert board.status()[0]["state"] == "running"  # no process probe: the row says running
    assert _wait(lambda: board.status()[0]["state"] == "failed", 10)  # until 3 s after its start
    state, _ = board.status()
    assert "stopped without finishing" in state["message"]
    assert board.claim({"state": "running"})  # and it may be started again
    board.finish({"state": "done"})


def test_a_killed_robustness_run_is_an_error_then_restarts(shared, monkeypatch):
    (one, _), db, _ = shared
    monkeypatch.setattr(robust, "MAX_RUN_S", 3.0)
    runner = Runner(one.extensions["atlas"], draws=12)
    proc = _claim_in_a_process(f"sqlite:///{db}", "robustness", "error", 3.0)
    with one.app_context():
        try:
            assert runner.status()["state"] == "running" and runner.board._run is None
        finally:
            _end(proc)
        assert _wait(lambda: runner.status()["state"] == "error", 10)
        state = runner.status()
        assert state["state"] == "error" and "stopped without finishing" in state["message"]
        assert runner.status()["state"] == "error"  # reported, not retried at once
        assert runner.board._run is None
        monkeypatch.setattr(robust, "RETRY_S", 0.0)
        assert runner.status()["state"] == "running"  # then started again
        assert runner.board._run is not None
        assert _wait(lambda: runner.status(start=False)["state"] == "done")
