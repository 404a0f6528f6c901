"""Slow clients cannot starve the app (issue 24, H2): `python -m webapp.serve` (what `make run`
starts) puts nginx in front of gunicorn; 50 sockets that trickle their headers hold no app thread,
and a probe keeps answering.

With PROXY=off gunicorn's 2 x 4 threads are taken by 8 such sockets (the audit).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from webapp.proxy import free_port, nginx

ROOT = Path(__file__).resolve().parent.parent
SLOW = 50


def start(tmp_path, **env):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.serve"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ
        | {
            "PORT": str(port),
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "SERVER": "gunicorn",
            "WORKERS": "2",
            "THREADS": "4",
            **env,
        },
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/params", timeout=2).read()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read())
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not answer within 90 s")


def probe(port: int) -> float:
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/params", timeout=5) as r:
        assert r.status == 200
    return time.monotonic() - t0


@pytest.mark.skipif(
    nginx() is None, reason="nginx is installed by make install (Debian's nginx-light)"
)
def test_fifty_slow_clients_while_a_probe_keeps_answering(tmp_path):
    proc, port = start(tmp_path)
    sockets = []
    try:
        for _ in range(SLOW):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /api/params HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends its headers
            sockets.append(s)
        times = []
        for _ in range(6):
            for s in sockets:
                s.sendall(b"X-a: b\r\n")  # a header line now and then: still within the time limit
            times.append(probe(port))
            time.sleep(0.5)
        assert max(times) < 2.0, times
    finally:
        for s in sockets:
            s.close()
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()
    left = subprocess.run(
        ["pgrep", "-f", "atlas-nginx"], capture_output=True, text=True
    ).stdout.split()
    assert left == []  # nginx stopped with the server
