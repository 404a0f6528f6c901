"""Past one machine (issue 20): two app servers (``python -m webapp.serve``, waitress) on two ports,
each with its own instance folder, share nothing but one PostgreSQL ``DATABASE_URL`` (and the secret
key, as servers behind one load balancer do).

A statistics import through one is served by the other on its next request, and an editor signed in
through one is signed in on the other.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from pg import pg_database, pg_server  # noqa: F401  (pg_server: the session's PostgreSQL fixture)
from webapp.store.db import Store

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """One app server process and an HTTP client with its own cookies."""

    def __init__(self, url: str, instance_dir: Path, secret: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("INSTANCE_DIR", "NETWORKS_ROOT")}
        env |= {
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SERVER": "waitress",
            "THREADS": "2",
            "DATABASE_URL": url,
            "INSTANCE_DIR": str(instance_dir),
            "SECRET_KEY": secret,
            "PYTHONPATH": str(ROOT),
        }
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.serve"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self.log.seek(0)
                tail = self.log.read()[-3000:]
                raise RuntimeError(f"server exited {self.proc.returncode}: {tail!r}")
            try:
                if self.get("/api/statistics")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"server on port {self.port} not ready in {timeout} s")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        req = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def json(self, path: str) -> dict:
        status, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def sign_in(self, name: str, password: str) -> str:
        """Sign in through the form; returns the session's CSRF token."""
        page = self.get("/login")[1].decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"name": name, "password": password, "csrf_token": token})
        status, _ = self.request(
            "POST", "/login", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert status == 200, status  # the redirect to the map, followed
        return self.csrf()

    def csrf(self) -> str:
        page = self.get("/data")[1].decode()
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture()
def two_instances(pg_server, tmp_path):  # noqa: F811 - the fixture imported above
    url = pg_database(pg_server)
    store = Store(url)  # the operator's step: the schema and an editor, made once for every server
    store.migrate()
    store.add_editor("anna", PASSWORD)
    store.dispose()
    secret = "one-key-for-every-server"
    servers = [Instance(url, tmp_path / f"machine-{i}", secret) for i in (1, 2)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _rudny(instance: Instance) -> dict:
    return instance.json("/api/towns/rudny")["properties"]


def test_an_import_through_one_server_is_served_by_the_other(two_instances):
    one, two = two_instances
    before = _rudny(two)  # the second server has computed (and cached) Rudny's answer
    head = two.json("/api/statistics")["revision"]
    assert head == one.json("/api/statistics")["revision"] >= 1  # seeded once, by the first
    token = one.sign_in("anna", PASSWORD)
    csv = (
        "town,year,source,mono_output_share,mono_employment_share\nrudny,2025,Akimat report,71,29\n"
    )
    status, body = one.request(
        "POST", "/api/statistics", csv.encode(), {"Content-Type": "text/csv", "X-CSRF-Token": token}
    )
    assert status == 200, body[:500]
    assert json.loads(body)["revision"] == head + 1
    after = _rudny(two)  # the other server's very next request
    assert after["inputs"]["mono_output_share"] == 71 != before["inputs"]["mono_output_share"]
    assert after["provenance"]["mono_output_share"]["source"] == "Akimat report"
    assert two.json("/api/statistics")["revision"] == head + 1
    # the session made by the first server is valid on the second (one secret key, one database)
    two.opener = one.opener
    assert 'name="csrf_token"' in two.get("/data")[1].decode()
    status, body = two.request("DELETE", "/api/statistics", None, {"X-CSRF-Token": token})
    assert status == 200, body[:300]
    assert _rudny(one)["inputs"]["mono_output_share"] == before["inputs"]["mono_output_share"]
