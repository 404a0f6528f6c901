"""A throw-away PostgreSQL server for the tests (issue 20): Debian's ``postgresql`` package
(installed by ``make test``), a cluster made by ``initdb`` in a temporary folder, listening on a
unix socket in that folder only (no TCP port), started once per test session and removed at its end.
As root, the server runs as the ``postgres`` user (PostgreSQL refuses to run as root).

``pg_server`` is the session fixture; ``pg_database(server)`` makes a new, empty database and
returns its SQLAlchemy URL (``postgresql+psycopg://...``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

PG_USER = "atlas"
PORT = 5432  # names the socket file (.s.PGSQL.5432) inside the cluster's own folder: no clash


class NoPostgres(RuntimeError):
    """The PostgreSQL server programs are not installed (``make test`` installs them)."""


@dataclass(frozen=True)
class PgServer:
    folder: Path
    socket_dir: Path

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3, over the unix socket)."""
        return f"postgresql+psycopg://{PG_USER}@/{database}?host={self.socket_dir}&port={PORT}"


def _major(initdb: str) -> int:
    name = Path(initdb).parent.parent.name
    return int(name) if name.isdigit() else 0


def bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major)
    if not found:
        raise NoPostgres("no /usr/lib/postgresql/*/bin/initdb: `make test` installs postgresql")
    return Path(found[-1]).parent


def _as_server_user() -> dict:
    """Subprocess options: as root, run as ``postgres``; otherwise as ourselves."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid}


def start() -> PgServer:
    """Initdb a new cluster in a temporary folder and start it (waits until it is ready)."""
    programs, options = bin_dir(), _as_server_user()
    # as root, in /tmp: the postgres user must reach it (TMPDIR may be a folder only root opens)
    folder = Path(tempfile.mkdtemp(prefix="atlas-pg-", dir="/tmp" if options else None))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if options:
        entry = pwd.getpwnam("postgres")
        for path in (folder, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    run = dict(check=True, capture_output=True, text=True, **options)
    subprocess.run(
        [
            str(programs / "initdb"),
            "-D",
            str(data),
            "-U",
            PG_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        **run,
    )
    settings = f"-c listen_addresses='' -k {sockets} -p {PORT} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [
            str(programs / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            settings,
            "start",
        ],
        **run,
    )
    return PgServer(folder, sockets)


def stop(server: PgServer) -> None:
    """Stop the server (fast: open connections are ended) and remove its folder."""
    try:
        subprocess.run(
            [
                str(bin_dir() / "pg_ctl"),
                "-D",
                str(server.folder / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
            **_as_server_user(),
        )
    finally:
        shutil.rmtree(server.folder, ignore_errors=True)


def pg_database(server: PgServer) -> str:
    """A new, empty database on ``server``; returns its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(
        host=str(server.socket_dir), port=PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the test session (skipped, saying why, where none is installed;
    under CI, which runs `make test` and so installs it, a missing server is a failure)."""
    try:
        server = start()
    except NoPostgres as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"PostgreSQL did not start: {exc.cmd}\n{exc.stdout}\n{exc.stderr}"
        ) from exc
    try:
        yield server
    finally:
        stop(server)
