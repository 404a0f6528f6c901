"""Nginx in front of gunicorn (``make run``): slow clients cannot hold the app's threads.

gunicorn's threads each hold a connection while its request trickles in, so eight slow sockets could
take every thread (issue 24, H2). nginx, a well-kept event-driven server from Debian's packages,
reads each request whole (headers and body, with time limits) before it passes it on, and takes the
answer whole, so a worker thread is busy only while the app computes. gunicorn listens on a loopback
port of its own; nginx on HOST:PORT. Without nginx (``PROXY=off`` or not installed) gunicorn listens
itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HEADER_TIMEOUT_S = 10  # a request's headers must arrive within this
BODY_TIMEOUT_S = 60  # between two reads of a body (an upload may be large but must keep moving)


def nginx() -> str | None:
    """The nginx program, when installed and not turned off by ``PROXY=off``."""
    return None if os.environ.get("PROXY", "").lower() == "off" else shutil.which("nginx")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def config(*, host: str, port: int, upstream: int, folder: Path, upload_mb: int) -> str:
    """nginx.conf: buffer whole requests and answers, time limits for slow clients, pass to
    gunicorn."""
    user = "root root;" if os.geteuid() == 0 else ""
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"""{"user " + user if user else ""}
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  server_tokens off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  client_header_timeout {HEADER_TIMEOUT_S}s;
  client_body_timeout {BODY_TIMEOUT_S}s;
  send_timeout 60s;
  keepalive_timeout 15s;
  client_max_body_size {upload_mb + 16}m;
  upstream app {{ server 127.0.0.1:{upstream}; }}
  server {{
    listen {listen};
    location / {{
      proxy_pass http://app;
      proxy_set_header Connection close;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_request_buffering on;
      proxy_buffering on;
      proxy_read_timeout 600s;
    }}
  }}
}}
"""


class Proxy:
    """One nginx process in front of ``upstream`` (started when gunicorn is ready, stopped at its
    exit)."""

    def __init__(self, program: str, *, host: str, port: int, upstream: int, upload_mb: int):
        self.folder = Path(tempfile.mkdtemp(prefix="atlas-nginx-"))
        (self.folder / "nginx.conf").write_text(
            config(host=host, port=port, upstream=upstream, folder=self.folder, upload_mb=upload_mb)
        )
        self.program, self.host, self.port = program, host, port
        self.process: subprocess.Popen | None = None

    def start(self, wait_s: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                self.program,
                "-c",
                str(self.folder / "nginx.conf"),
                "-e",
                str(self.folder / "error.log"),
            ],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (
                    (self.folder / "error.log").read_text(errors="replace")
                    if (self.folder / "error.log").exists()
                    else ""
                )
                raise RuntimeError(
                    f"nginx did not start (exit {self.process.returncode}): {log[-500:]}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.host}:{self.port} within {wait_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
