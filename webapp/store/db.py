"""The embedded database: input values with every revision, expert judgments, editor accounts.

SQLite through SQLAlchemy by default (``DATABASE_URL`` may name PostgreSQL). The schema is created
and migrated on start by ``Store.migrate`` (a numbered list of migrations and a ``schema_version``
table: a small, self-running equivalent of Alembic), so ``make run`` needs no extra step.

Values are never updated or deleted: each change is a new revision that adds rows. The value of a
town's input for a period is the row of the latest revision for that key (a row with ``removed`` set
withdraws it). Every write is one transaction, serialised (``BEGIN IMMEDIATE`` on SQLite, a table
lock an advisory lock on PostgreSQL), so concurrent imports each land whole as their own revision.

Background jobs (a network import, a robustness run) keep their state in the ``jobs`` table, so that
every server process, on any machine, sees it: one row per job, written in a write transaction when
the job starts (so a job started in one process is not started again in another), with its progress,
and when it ends. A ``running`` row older than the job's longest run (``JOB_MAX_S``) is reported as
failed (``JobBoard``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import StaticPool
from werkzeug.security import check_password_hash, generate_password_hash

SHIPPED_BY = "shipped data"
PG_LOCK_KEY = 7310010  # the advisory lock that serialises writers on PostgreSQL
NAME_RE = re.compile(r"[\w.@-]{1,80}")
MIN_PASSWORD = 12  # OWASP ASVS 4.0, 2.1.1
COMMON_PASSWORDS = Path(__file__).resolve().parents[2] / "data/security/common_passwords.txt"
SESSION_MAX_S = 12 * 3600.0  # a sign-in lasts at most this long
SIGNIN_WINDOW_S = 15 * 60.0  # failed sign-ins are counted over this window
SIGNIN_MAX_PER_NAME = 5  # failures per name in the window, then that name waits
SIGNIN_MAX_PER_CLIENT = 20  # failures per client address in the window, then that client waits
YEAR_RE = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d|21\d\d)(?!\d)")

metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
editors = Table(
    "editors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)  # migration 5
revisions = Table(
    "revisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("editor", String(120), nullable=False),
    Column("kind", String(20), nullable=False),  # shipped | import | rollback | judgment
    Column("summary", Text, nullable=False, default=""),
    Column("filename", String(255), nullable=False, default=""),
    Column("rollback_to", Integer, nullable=True),
    # migration 7 (issue 23): what the revision did as data (JSON: counts, the revision restored,
    # the town of a judgment), said in the reader's language at display time; "" in older rows
    Column("facts", Text, nullable=False, server_default=""),
)
values_table = Table(
    "input_values",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision_id", Integer, ForeignKey("revisions.id"), nullable=False),
    Column("town_id", String(40), nullable=False),
    Column("input", String(60), nullable=False),
    Column("period", String(60), nullable=False, default=""),
    Column("value", Float, nullable=True),
    Column("status", String(10), nullable=False),  # sourced | derived | missing
    Column("unit", String(60), nullable=False, default=""),
    Column("source", Text, nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    Column("removed", Boolean, nullable=False, default=False),
    Column("entered_by", String(120), nullable=False),
    Column("entered_at", String(32), nullable=False),
    # migration 6 (issue 22): a row of status 'estimate' holds an interval, not a value
    Column("low", Float, nullable=True),
    Column("high", Float, nullable=True),
    Column("most_likely", Float, nullable=True),
    Column("coverage", Float, nullable=True),
    Column("method", Text, nullable=False, server_default=""),
    Index("ix_values_key", "town_id", "input", "period", "revision_id"),
)
ESTIMATE = "estimate"  # the status of an interval estimate's row
ESTIMATE_FIELDS = ("low", "high", "most_likely", "coverage", "method")
judgments = Table(
    "judgments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision_id", Integer, ForeignKey("revisions.id"), nullable=False),
    Column("town_id", String(40), nullable=False),
    Column("scenarios", String(200), nullable=False),  # '|'-separated scenario ids
    Column("author", String(300), nullable=False),
    Column("date", String(40), nullable=False),
    Column("rationale", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("entered_by", String(120), nullable=False),
    Column("entered_at", String(32), nullable=False),
    Column("withdrawn_revision", Integer, nullable=True),
    Column("withdrawn_by", String(120), nullable=True),
    Column("withdrawn_at", String(32), nullable=True),
    Column("withdrawn_reason", Text, nullable=True),
)


jobs = Table(
    "jobs",
    metadata,
    Column("name", String(60), primary_key=True),  # network-import | robustness
    Column("state", Text, nullable=False),  # JSON: {"state": ..., ...} as the status API answers
    Column(
        "result", Text, nullable=True
    ),  # JSON: a finished job's result (large; read when it changed)
    Column("run", String(32), nullable=False, default=""),  # the run that wrote it (random token)
    Column("started", Float, nullable=False, default=0.0),  # unix time the run started
    Column("seq", Integer, nullable=False, default=0),
)  # bumped by every write


def _v1(conn: Connection) -> None:
    """The first tables (input_values without the estimate columns of migration 6) (editors as they
    were then: without ``disabled``, added by migration 5)."""
    old = MetaData()
    Table(
        "editors",
        old,
        Column("id", Integer, primary_key=True),
        Column("name", String(80), nullable=False, unique=True),
        Column("password_hash", String(255), nullable=False),
        Column("created_at", String(32), nullable=False),
    )
    Table(  # as it was then: without ``facts`` (migration 7)
        "revisions",
        old,
        Column("id", Integer, primary_key=True),
        Column("created_at", String(32), nullable=False),
        Column("editor", String(120), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("summary", Text, nullable=False, default=""),
        Column("filename", String(255), nullable=False, default=""),
        Column("rollback_to", Integer, nullable=True),
    )
    Table(
        "input_values",
        old,
        Column("id", Integer, primary_key=True),
        Column("revision_id", Integer, ForeignKey("revisions.id"), nullable=False),
        Column("town_id", String(40), nullable=False),
        Column("input", String(60), nullable=False),
        Column("period", String(60), nullable=False, default=""),
        Column("value", Float, nullable=True),
        Column("status", String(10), nullable=False),
        Column("unit", String(60), nullable=False, default=""),
        Column("source", Text, nullable=False, default=""),
        Column("note", Text, nullable=False, default=""),
        Column("removed", Boolean, nullable=False, default=False),
        Column("entered_by", String(120), nullable=False),
        Column("entered_at", String(32), nullable=False),
        Index("ix_values_key", "town_id", "input", "period", "revision_id"),
    )
    old.create_all(conn)
    metadata.create_all(conn, tables=[judgments])


def _v2(conn: Connection) -> None:
    """The jobs table as it was made then (owner and heartbeat; replaced by migration 4)."""
    old = MetaData()
    Table(
        "jobs",
        old,
        Column("name", String(60), primary_key=True),
        Column("state", Text, nullable=False),
        Column("result", Text, nullable=True),
        Column("owner", String(200), nullable=False, default=""),
        Column("heartbeat", Float, nullable=False, default=0.0),
        Column("seq", Integer, nullable=False, default=0),
    )
    old.create_all(conn)


store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)


def _v3(conn: Connection) -> None:
    """The store's identity: a random id made once per database (a new, reset or replaced database
    has another; a restored copy keeps it), so that what was rendered from one database is never
    taken for another's answer at the same revision number (webapp.shared)."""
    metadata.create_all(conn, tables=[store_meta])
    conn.execute(insert(store_meta).values(key="store_id", value=uuid.uuid4().hex))


def _v4(conn: Connection) -> None:
    """A job is a plain row written when it starts and when it ends: the owner and heartbeat columns
    go (the table is made anew: its rows are the state of jobs, not data)."""
    conn.execute(text("DROP TABLE jobs"))
    jobs.create(conn)


editor_sessions = Table(
    "editor_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie's token
    Column("editor_id", Integer, ForeignKey("editors.id"), nullable=False),
    Column("created", Float, nullable=False),
)  # unix time of the sign-in
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False),  # the name tried (known or not)
    Column("client", String(64), nullable=False),  # the client's address
    Column("at", Float, nullable=False),
    Index("ix_signin_failures_name", "name", "at"),
    Index("ix_signin_failures_client", "client", "at"),
)


def _v5(conn: Connection) -> None:
    """Sessions kept in the store (so sign-out, removal, disabling and a new password end them), a
    ``disabled`` mark on editors and the failed sign-ins that throttle guessing."""
    conn.execute(text("ALTER TABLE editors ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE"))
    metadata.create_all(conn, tables=[editor_sessions, signin_failures])


def _v6(conn: Connection) -> None:
    """Interval estimates (issue 22) as value rows of status 'estimate': low, high, most_likely,
    coverage and method (one ALTER each: SQLite adds one column per statement)."""
    for name in ("low", "high", "most_likely", "coverage"):
        conn.execute(text(f"ALTER TABLE input_values ADD COLUMN {name} FLOAT"))
    conn.execute(text("ALTER TABLE input_values ADD COLUMN method TEXT NOT NULL DEFAULT ''"))


def _v7(conn: Connection) -> None:
    """What a revision did as data (``facts``, JSON), so that pages say it in their language
    (issue 23); older revisions keep their English ``summary`` and no facts."""
    conn.execute(text("ALTER TABLE revisions ADD COLUMN facts TEXT NOT NULL DEFAULT ''"))


# (version, function); append, never edit
MIGRATIONS = ((1, _v1), (2, _v2), (3, _v3), (4, _v4), (5, _v5), (6, _v6), (7, _v7))
JOB_MAX_S = 3600.0  # a job still running this long after its start is reported failed


class StoreError(ValueError):
    """A change the store refuses (unknown revision, bad editor name or password, ...)."""


@dataclass(frozen=True)
class Revision:
    id: int
    created_at: str
    editor: str
    kind: str
    summary: str
    filename: str
    rollback_to: int | None
    # what it did as data (``revision_facts``): {} for a revision stored before migration 7
    facts: dict | None = None
    changes: int = 0
    estimates: int = 0  # of the changes, rows of interval estimates


def now() -> str:
    """UTC time as ISO text (portable across SQLite and PostgreSQL)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def period_year(period: str) -> int:
    """The latest year named in a period ('2023', 'published 2025'); -1 when none."""
    years = [int(y) for y in YEAR_RE.findall(period or "")]
    return max(years) if years else -1


def _sqlite_setup(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, begin transactions; writes take the lock at BEGIN
    (IMMEDIATE)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN"
        )


def _private_sqlite_file(url: str) -> None:
    """A SQLite database file is made (or kept) readable by its owner only (0600): it holds the
    editors' password hashes.

    SQLite gives its journal files the same mode.
    """
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    try:
        os.chmod(path, 0o600)
    except PermissionError:  # another user's file: left as its owner set it
        pass


class Store:
    """Revisions of input values, expert judgments and editors in one database."""

    def __init__(self, url: str):
        sqlite = url.startswith("sqlite")
        if sqlite:
            _private_sqlite_file(url)
        options = (
            {"poolclass": StaticPool}
            if sqlite and ":memory:" in url or url in ("sqlite://", "sqlite:///")
            else {}
        )
        self.engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30} if sqlite else {},
            **options,
        )
        if sqlite:
            _sqlite_setup(self.engine)
        self._lock = threading.Lock()  # one writer per process; the database serialises processes
        self._identity: str | None = None

    # ---- transactions and schema -----------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One serialised write transaction: committed whole on success, rolled back on any
        exception."""
        with self._lock, self.engine.connect().execution_options(write=True) as conn, conn.begin():
            if (
                conn.dialect.name == "postgresql"
            ):  # one writer at a time across processes, until commit
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self) -> int:
        """Create or upgrade the schema to the latest migration; returns the schema version."""
        with self.write() as conn:
            if not inspect(conn).has_table("schema_version"):
                schema_version.create(conn)
                conn.execute(insert(schema_version).values(version=0))
            version = conn.execute(select(schema_version.c.version)).scalar_one()
            for number, step in MIGRATIONS:
                if number > version:
                    step(conn)
                    conn.execute(update(schema_version).values(version=number))
                    version = number
        return version

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- revisions -------------------------------------------------------------------------------
    def head(self) -> int:
        """The latest revision id (0 when the store is empty).

        Asked before every answer (a data change made by any process drops the caches), so on SQLite
        it is one plain statement on a pooled connection (about 50 us, against some 400 us through a
        SQLAlchemy transaction); a single SELECT reads one consistent state either way.
        """
        if self.engine.dialect.name != "sqlite":
            with self.read() as conn:
                return conn.execute(select(func.max(revisions.c.id))).scalar() or 0
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                cur.execute("SELECT max(id) FROM revisions")
                return cur.fetchone()[0] or 0
            finally:
                cur.close()
        finally:
            raw.close()

    def identity(self) -> str:
        """The database's id (made by migration 3; kept per Store: read once)."""
        if self._identity is None:
            with self.read() as conn:
                self._identity = (
                    conn.execute(
                        select(store_meta.c.value).where(store_meta.c.key == "store_id")
                    ).scalar()
                    or ""
                )
        return self._identity

    def revision_stamp(self, revision: int) -> tuple:
        """What tells revision ``revision`` from another one numbered alike (in a copy of this
        database restored and then changed otherwise): its time, author, kind and file; () when
        there is none."""
        with self.read() as conn:
            row = conn.execute(
                select(
                    revisions.c.created_at,
                    revisions.c.editor,
                    revisions.c.kind,
                    revisions.c.filename,
                    revisions.c.summary,
                ).where(revisions.c.id == revision)
            ).first()
        return tuple(row) if row else ()

    def _new_revision(
        self,
        conn: Connection,
        *,
        editor: str,
        kind: str,
        summary: str = "",
        filename: str = "",
        rollback_to: int | None = None,
        facts: dict | None = None,
    ) -> int:
        return conn.execute(
            insert(revisions).values(
                created_at=now(),
                editor=editor,
                kind=kind,
                summary=summary,
                filename=filename,
                rollback_to=rollback_to,
                facts=json.dumps(facts, ensure_ascii=False) if facts else "",
            )
        ).inserted_primary_key[0]

    def _insert_values(
        self, conn: Connection, revision: int, rows: list[dict], editor: str
    ) -> None:
        """Add value rows to ``revision`` (tests replace this to fail half-way)."""
        stamp = now()

        def row(r: dict) -> dict:
            out = {
                "revision_id": revision,
                "town_id": r["town_id"],
                "input": r["input"],
                "period": r.get("period") or "",
                "value": r.get("value"),
                "status": r.get("status") or "sourced",
                "unit": r.get("unit") or "",
                "source": r.get("source") or "",
                "note": r.get("note") or "",
                "removed": bool(r.get("removed")),
                "entered_by": editor,
                "entered_at": stamp,
            }
            if out["status"] == ESTIMATE:  # value rows leave the estimate columns to the database
                out |= {f: r.get(f) for f in ESTIMATE_FIELDS} | {"method": r.get("method") or ""}
            return out

        for kind in (False, True):  # one statement per set of columns
            part = [row(r) for r in rows if ((r.get("status") or "") == ESTIMATE) == kind]
            if part:
                conn.execute(insert(values_table), part)

    def apply(
        self,
        rows: Iterable[dict],
        *,
        editor: str,
        kind: str = "import",
        summary: str = "",
        filename: str = "",
    ) -> int:
        """Store ``rows`` (town_id, input, value, unit, period, source, note[, status]) as one new
        revision."""
        rows = list(rows)
        estimates = sum((r.get("status") or "") == ESTIMATE for r in rows)
        facts = {"values": len(rows) - estimates, "estimates": estimates}
        with self.write() as conn:
            rev = self._new_revision(
                conn, editor=editor, kind=kind, summary=summary, filename=filename, facts=facts
            )
            self._insert_values(conn, rev, rows, editor)
        return rev

    def seed(self, rows: Iterable[dict], experts: Iterable[dict]) -> bool:
        """Load the shipped values and judgments as revision 1 when the store is empty; True when it
        did."""
        with self.write() as conn:
            if conn.execute(select(func.count()).select_from(revisions)).scalar():
                return False
            files = ["data/statistics.csv", "data/curated.csv", "data/expert_judgments.csv"]
            rev = self._new_revision(
                conn,
                editor=SHIPPED_BY,
                kind="shipped",
                summary=", ".join(files),
                facts={"files": files},
            )
            self._insert_values(conn, rev, list(rows), SHIPPED_BY)
            for j in experts:
                self._insert_judgment(conn, rev, j, SHIPPED_BY)
        return True

    def revisions(self) -> list[Revision]:
        """Every revision, newest first, with the number of rows it added (values and estimates) and
        of estimate rows among them."""
        is_est = (values_table.c.status == ESTIMATE).cast(Integer)
        counts = (
            select(values_table.c.revision_id, func.count().label("n"), func.sum(is_est).label("e"))
            .group_by(values_table.c.revision_id)
            .subquery()
        )
        q = (
            select(revisions, func.coalesce(counts.c.n, 0), func.coalesce(counts.c.e, 0))
            .outerjoin(counts, counts.c.revision_id == revisions.c.id)
            .order_by(revisions.c.id.desc())
        )
        with self.read() as conn:
            return [
                Revision(*r[:7], json.loads(r[7]) if r[7] else {}, *r[8:]) for r in conn.execute(q)
            ]

    def revision(self, rev: int) -> Revision:
        found = [r for r in self.revisions() if r.id == rev]
        if not found:
            raise StoreError(f"revision {rev} does not exist")
        return found[0]

    def _rows(self, conn: Connection, upto: int | None = None) -> dict[tuple, dict]:
        """(town_id, input, period, is estimate) -> the latest row at revision ``upto`` (removed
        rows included).

        A value and an estimate of the same input and period are kept apart: neither
        replaces the other (scoring uses the estimate only where the value is missing).
        """
        q = select(values_table).order_by(values_table.c.revision_id, values_table.c.id)
        if upto is not None:
            q = q.where(values_table.c.revision_id <= upto)
        return {
            _key(r.town_id, r.input, r.period, r.status): dict(r._mapping) for r in conn.execute(q)
        }

    def values(self, upto: int | None = None) -> list[dict]:
        """Every stored value (all periods) at revision ``upto`` (default: now), removed ones and
        estimates left out."""
        with self.read() as conn:
            return [
                r
                for r in self._rows(conn, upto).values()
                if not r["removed"] and r["status"] != ESTIMATE
            ]

    def estimates(self, upto: int | None = None) -> list[dict]:
        """One interval estimate per town and input at revision ``upto``: of the latest period (then
        the latest revision); removed ones left out."""
        with self.read() as conn:
            rows = [
                r
                for r in self._rows(conn, upto).values()
                if not r["removed"] and r["status"] == ESTIMATE
            ]
        best: dict[tuple, dict] = {}
        for r in rows:
            key, rank = (r["town_id"], r["input"]), (period_year(r["period"]), r["revision_id"])
            if key not in best or rank > (
                period_year(best[key]["period"]),
                best[key]["revision_id"],
            ):
                best[key] = r
        return sorted(best.values(), key=lambda r: (r["town_id"], r["input"]))

    def current(self, upto: int | None = None) -> list[dict]:
        """One value per town and input: the latest period with a value (then the latest
        revision)."""
        best: dict[tuple, dict] = {}
        for r in self.values(upto):
            key = (r["town_id"], r["input"])
            rank = (
                r["value"] is not None and r["status"] != "missing",
                period_year(r["period"]),
                r["revision_id"],
            )
            if key not in best or rank > best[key]["_rank"]:
                best[key] = r | {"_rank": rank}
        return [{k: v for k, v in r.items() if k != "_rank"} for r in best.values()]

    def changes(self, rev: int) -> list[dict]:
        """What revision ``rev`` changed: its rows, each with the value it replaced (None when
        new)."""
        self.revision(rev)
        with self.read() as conn:
            before = self._rows(conn, rev - 1)
            rows = conn.execute(
                select(values_table)
                .where(values_table.c.revision_id == rev)
                .order_by(values_table.c.town_id, values_table.c.input)
            ).all()
        out = []
        for r in rows:
            old = before.get(_key(r.town_id, r.input, r.period, r.status))
            old = None if old is None or old["removed"] else old
            fields = ("value", "source", "status", *ESTIMATE_FIELDS)
            out.append(
                dict(r._mapping)
                | {
                    "old_value": old["value"] if old else None,
                    "old_source": old["source"] if old else None,
                    "old_low": old["low"] if old else None,
                    "old_high": old["high"] if old else None,
                    "estimate": r.status == ESTIMATE,
                    "changed": (
                        old is None or r.removed or any(old[f] != getattr(r, f) for f in fields)
                    ),
                }
            )
        return out

    def rollback(self, to: int, *, editor: str) -> int:
        """Make the values what they were at revision ``to``, as a new revision; returns its id."""
        with self.write() as conn:
            head = conn.execute(select(func.max(revisions.c.id))).scalar() or 0
            if not 1 <= to <= head:
                raise StoreError(f"revision {to} does not exist (1 to {head})")
            then, current = self._rows(conn, to), self._rows(conn)
            rows = []
            for key, row in current.items():
                old = then.get(key)
                if old is None or old["removed"]:
                    if not row["removed"]:
                        rows.append(row | {"removed": True})
                elif row["removed"] or any(
                    row[f] != old[f]
                    for f in ("value", "status", "unit", "source", "note", *ESTIMATE_FIELDS)
                ):
                    rows.append(old | {"removed": False})
            rev = self._new_revision(
                conn,
                editor=editor,
                kind="rollback",
                rollback_to=to,
                summary=f"values as at revision {to}",
                facts={"to": to, "values": len(rows)},
            )
            self._insert_values(conn, rev, rows, editor)
        return rev

    # ---- expert judgments ------------------------------------------------------------------------
    def _insert_judgment(self, conn: Connection, rev: int, j: dict, editor: str) -> int:
        return conn.execute(
            insert(judgments).values(
                revision_id=rev,
                town_id=j["town_id"],
                scenarios="|".join(j["scenarios"]),
                author=j["author"],
                date=j["date"],
                rationale=j["rationale"],
                source=j["source"],
                entered_by=editor,
                entered_at=now(),
            )
        ).inserted_primary_key[0]

    def record_judgment(self, j: dict, *, editor: str) -> int:
        """Record an expert judgment (town_id, scenarios, author, date, rationale, source); returns
        its id."""
        with self.write() as conn:
            rev = self._new_revision(
                conn,
                editor=editor,
                kind="judgment",
                summary=f"judgment recorded: {j['town_id']} {'+'.join(j['scenarios'])}",
                facts={"judgment": "recorded", "town": j["town_id"], "scenarios": j["scenarios"]},
            )
            return self._insert_judgment(conn, rev, j, editor)

    def withdraw_judgment(self, jid: int, *, editor: str, reason: str) -> None:
        """Withdraw a judgment (it stays listed, marked withdrawn, with who, when and why)."""
        with self.write() as conn:
            row = conn.execute(select(judgments).where(judgments.c.id == jid)).first()
            if row is None or row.withdrawn_revision is not None:
                raise StoreError(f"judgment {jid} does not exist or is already withdrawn")
            rev = self._new_revision(
                conn,
                editor=editor,
                kind="judgment",
                summary=f"judgment {jid} withdrawn: {row.town_id}",
                facts={"judgment": "withdrawn", "id": jid, "town": row.town_id},
            )
            conn.execute(
                update(judgments)
                .where(judgments.c.id == jid)
                .values(
                    withdrawn_revision=rev,
                    withdrawn_by=editor,
                    withdrawn_at=now(),
                    withdrawn_reason=reason,
                )
            )

    def judgments(self, *, active_only: bool = False) -> list[dict]:
        """Judgments, newest first; each with scenarios as a list and ``active``."""
        q = select(judgments).order_by(judgments.c.id.desc())
        if active_only:
            q = q.where(judgments.c.withdrawn_revision.is_(None))
        with self.read() as conn:
            return [
                dict(r._mapping)
                | {
                    "scenarios": r.scenarios.split("|"),
                    "active": r.withdrawn_revision is None,
                }
                for r in conn.execute(q)
            ]

    # ---- editors ---------------------------------------------------------------------------------
    def add_editor(self, name: str, password: str) -> None:
        """A new editor account (the password stored hashed; ``password_problem`` says what is
        refused)."""
        if not NAME_RE.fullmatch(name or ""):
            raise StoreError("an editor name is 1-80 letters, digits or . _ @ -")
        problem = password_problem(name, password)
        if problem:
            raise StoreError(problem)
        with self.write() as conn:
            if conn.execute(select(editors.c.id).where(editors.c.name == name)).first():
                raise StoreError(f"editor '{name}' already exists")
            conn.execute(
                insert(editors).values(
                    name=name,
                    password_hash=generate_password_hash(password),
                    created_at=now(),
                    disabled=False,
                )
            )

    def _editor_id(self, conn: Connection, name: str) -> int:
        found = conn.execute(select(editors.c.id).where(editors.c.name == name)).scalar()
        if found is None:
            raise StoreError(f"editor '{name}' does not exist")
        return found

    def set_password(self, name: str, password: str) -> None:
        """A new password for ``name``; every session of that editor ends."""
        problem = password_problem(name, password)
        if problem:
            raise StoreError(problem)
        with self.write() as conn:
            eid = self._editor_id(conn, name)
            conn.execute(
                update(editors)
                .where(editors.c.id == eid)
                .values(password_hash=generate_password_hash(password))
            )
            conn.execute(delete(editor_sessions).where(editor_sessions.c.editor_id == eid))

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        """Disable (or enable again) ``name``: no sign-in while disabled; their sessions end."""
        with self.write() as conn:
            eid = self._editor_id(conn, name)
            conn.execute(update(editors).where(editors.c.id == eid).values(disabled=disabled))
            conn.execute(delete(editor_sessions).where(editor_sessions.c.editor_id == eid))

    def remove_editor(self, name: str) -> None:
        """Remove the account ``name`` and end its sessions (what they entered stays, named)."""
        with self.write() as conn:
            eid = self._editor_id(conn, name)
            conn.execute(delete(editor_sessions).where(editor_sessions.c.editor_id == eid))
            conn.execute(delete(editors).where(editors.c.id == eid))

    def check_editor(self, name: str, password: str) -> bool:
        """True when ``name`` is an enabled editor and ``password`` is theirs.

        One password hash is checked whether or not the name exists, so the time taken does not
        tell.
        """
        with self.read() as conn:
            row = conn.execute(
                select(editors.c.password_hash, editors.c.disabled).where(editors.c.name == name)
            ).first()
        stored = row.password_hash if row is not None else _dummy_hash()
        matches = check_password_hash(stored, password or "")
        return row is not None and not row.disabled and matches

    def editor_exists(self, name: str) -> bool:
        with self.read() as conn:
            return (
                conn.execute(select(editors.c.id).where(editors.c.name == name)).first() is not None
            )

    # ---- sessions and sign-in throttling ---------------------------------------------------
    def open_session(self, name: str) -> str:
        """A new session of editor ``name``; returns its token (kept in the cookie; the store keeps
        only its hash)."""
        token = secrets.token_urlsafe(32)
        with self.write() as conn:
            eid = self._editor_id(conn, name)
            expired = editor_sessions.c.created < time.time() - SESSION_MAX_S
            conn.execute(delete(editor_sessions).where(expired))
            conn.execute(
                insert(editor_sessions).values(
                    token_hash=_token_hash(token), editor_id=eid, created=time.time()
                )
            )
        return token

    def session_editor(self, token: str | None) -> str | None:
        """The editor of session ``token`` while it lasts and the editor is enabled; else None."""
        if not token:
            return None
        sessions = editor_sessions.c
        q = (
            select(editors.c.name)
            .join(editor_sessions, sessions.editor_id == editors.c.id)
            .where(
                sessions.token_hash == _token_hash(token),
                editors.c.disabled.is_(False),
                sessions.created > time.time() - SESSION_MAX_S,
            )
        )
        with self.read() as conn:
            return conn.execute(q).scalar()

    def end_session(self, token: str | None) -> None:
        """Sign-out: session ``token`` ends (its cookie, even a saved copy, signs in no more)."""
        if token:
            with self.write() as conn:
                mine = editor_sessions.c.token_hash == _token_hash(token)
                conn.execute(delete(editor_sessions).where(mine))

    def signin_wait(self, name: str, client: str) -> float:
        """Seconds before ``name`` may try to sign in from ``client`` again (0: now): after
        ``SIGNIN_MAX_PER_NAME`` failures for the name or ``SIGNIN_MAX_PER_CLIENT`` from the client
        within ``SIGNIN_WINDOW_S``, until the oldest of them leaves the window."""
        since = time.time() - SIGNIN_WINDOW_S
        waits = [0.0]
        with self.read() as conn:
            for column, key, limit in (
                (signin_failures.c.name, name, SIGNIN_MAX_PER_NAME),
                (signin_failures.c.client, client, SIGNIN_MAX_PER_CLIENT),
            ):
                at = signin_failures.c.at
                q = select(at).where(column == key, at > since).order_by(at.desc()).limit(limit)
                times = conn.execute(q).scalars().all()
                if len(times) >= limit:
                    waits.append(times[-1] - since)
        return max(waits)

    def record_signin(self, name: str, client: str, *, ok: bool) -> None:
        """Count a failed sign-in (or, on success, forget the name's failures)."""
        with self.write() as conn:
            old = signin_failures.c.at < time.time() - SIGNIN_WINDOW_S
            conn.execute(delete(signin_failures).where(old))
            if ok:
                conn.execute(delete(signin_failures).where(signin_failures.c.name == name))
            else:
                conn.execute(
                    insert(signin_failures).values(
                        name=name[:80], client=client[:64], at=time.time()
                    )
                )

    # ---- background jobs (shared by every process) -----------------------------------------------
    def job_row(self, name: str, *, seq: int | None = None) -> dict | None:
        """A job's row: state (dict), run, started, seq and, unless it is still ``seq``, result."""
        with self.read() as conn:
            row = conn.execute(
                select(jobs.c.state, jobs.c.run, jobs.c.started, jobs.c.seq).where(
                    jobs.c.name == name
                )
            ).first()
            if row is None:
                return None
            out = {
                "state": json.loads(row.state),
                "run": row.run,
                "started": row.started,
                "seq": row.seq,
            }
            if seq != row.seq:
                raw = conn.execute(select(jobs.c.result).where(jobs.c.name == name)).scalar()
                out["result"] = None if raw is None else json.loads(raw)
            return out

    def job_start(self, name: str, state: dict, *, run: str, max_s: float) -> bool:
        """Write the row of a job that starts as ``run``; False (nothing written) while another run
        of it is ``running`` and started less than ``max_s`` seconds ago."""
        with self.write() as conn:
            row = conn.execute(
                select(jobs.c.state, jobs.c.started, jobs.c.seq).where(jobs.c.name == name)
            ).first()
            if (
                row is not None
                and json.loads(row.state).get("state") == "running"
                and time.time() - row.started < max_s
            ):
                return False
            values = {
                "state": json.dumps(state, ensure_ascii=False),
                "result": None,
                "run": run,
                "started": time.time(),
            }
            if row is None:
                conn.execute(insert(jobs).values(name=name, seq=1, **values))
            else:
                conn.execute(
                    update(jobs).where(jobs.c.name == name).values(seq=row.seq + 1, **values)
                )
        return True

    def job_write(self, name: str, state: dict, *, run: str, result=None) -> bool:
        """Write the state (and, when given, the result) of the job's run ``run``; False when the
        row is another run's (this one was reported failed and the job started again)."""
        values = {"state": json.dumps(state, ensure_ascii=False), "seq": jobs.c.seq + 1}
        if result is not None:
            values["result"] = json.dumps(result, ensure_ascii=False)
        with self.write() as conn:
            mine = (jobs.c.name == name) & (jobs.c.run == run)
            done = conn.execute(update(jobs).where(mine).values(**values))
            return done.rowcount == 1


def _key(town_id: str, name: str, period: str, status: str) -> tuple[str, str, str, bool]:
    """The key a row replaces the rows of: town, input, period and whether it is an estimate."""
    return town_id, name, period, status == ESTIMATE


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made like an editor's: checked when a name is unknown."""
    return generate_password_hash(secrets.token_urlsafe(16))


@functools.cache
def common_passwords() -> frozenset[str]:
    """The list of common passwords (data/security/common_passwords.txt), lower-cased."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def password_problem(name: str, password: str) -> str | None:
    """Why ``password`` is refused for editor ``name`` (None when it is accepted): shorter than
    ``MIN_PASSWORD``, one of the common passwords, the name itself or one character repeated."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters"
    if password.lower() in common_passwords():
        return (
            "this password is one of the most common ones "
            "(data/security/common_passwords.txt); choose another"
        )
    if password.lower() == (name or "").lower() or len(set(password)) == 1:
        return "a password must not be the editor's name nor one character repeated"
    return None


class JobBoard:
    """One named background job (a network import, a robustness run): a row in the store, read by
    every process.

    ``claim(state)`` writes the row when the job starts (refused while another run of it runs);
    ``update`` writes its progress and ``finish`` its end. Nothing else keeps it: no heartbeat, no
    process probe. A run still ``running`` ``max_s`` seconds after its start is reported failed (its
    server process stopped without finishing) and may be started again.
    """

    def __init__(
        self, store: Store, name: str, *, failed: str = "failed", max_s: float = JOB_MAX_S
    ):
        self.store, self.name, self.failed, self.max_s = store, name, failed, max_s
        self._lock = threading.Lock()
        self._run: str | None = None  # while this process runs the job: the run's token
        self._result_seq, self._result = (
            None,
            None,
        )  # the last result read (large: read once per change)

    def status(self) -> tuple[dict, object]:
        """(state dict, result or None); ``{"state": "idle"}`` when the job never ran."""
        with self._lock:
            seq = self._result_seq
        row = self.store.job_row(self.name, seq=seq)
        if row is None:
            return {"state": "idle"}, None
        state = row["state"]
        if state.get("state") == "running" and time.time() - row["started"] >= self.max_s:
            minutes = f"{self.max_s / 60:g}"
            message = (
                f"the job did not finish within {minutes} minutes of its start (its server "
                "process stopped without finishing); start it again"
            )
            state = state | {
                "state": self.failed,
                "finished": now(),
                "ended": row["started"] + self.max_s,
                "message": message,
            }
        with self._lock:
            if "result" in row:
                self._result_seq, self._result = row["seq"], row["result"]
            return state, self._result

    def claim(self, state: dict) -> bool:
        """Start the job in this process (``state`` should say running); False when another runs
        it."""
        run = uuid.uuid4().hex
        if not self.store.job_start(self.name, state, run=run, max_s=self.max_s):
            return False
        with self._lock:
            self._run = run
        return True

    def update(self, state: dict, result=None) -> bool:
        """This run's progress (state only) or, with ``result``, its outcome."""
        with self._lock:
            run = self._run
        return run is not None and self.store.job_write(self.name, state, run=run, result=result)

    def finish(self, state: dict, result=None) -> bool:
        """This run's last write."""
        done = self.update(state, result)
        with self._lock:
            self._run = None
        return done
