"""Store a webhook event as a Delivery (deduplicated), commit, then enqueue its id.

The Delivery row is the source of truth: if the enqueue fails, the row is marked `received` and the
sweeper sends it later, so a broker outage never loses a ticket.

This is the hot path of every webhook. On SQLite (the embedded default) the row goes in through the
process's plain sqlite3 connection: one autocommitted INSERT ... ON CONFLICT DO NOTHING, ~40 µs where
SQLAlchemy's Core path cost ~115 µs. Other databases use one compiled Core INSERT.
"""
from __future__ import annotations

import hashlib
import sqlite3
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import structlog
from sqlalchemy import DateTime, Engine, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.db import raw_sqlite, sqlite_file
from app.models import Delivery, DeliveryStatus, utcnow

log = structlog.get_logger("intake")

Enqueue = Callable[[int], None]

# On the table, not the mapped class: an ORM-enabled insert goes through the unit-of-work bulk path.
_TABLE = Delivery.__table__
_INSERT = insert(_TABLE).returning(_TABLE.c.id)
_KEY = (_TABLE.c.provider, _TABLE.c.account_id, _TABLE.c.dedupe_key)
# How long a webhook waits for a locked SQLite database before answering 503. Under the helpdesk's ~10 s
# webhook timeout, so the sender sees the 503 and retries (the engine's 30 s default would outlast it).
INTAKE_BUSY_TIMEOUT_MS = 4000


@dataclass(frozen=True)
class IncomingEvent:
    provider: str
    account_id: str
    ticket_id: str
    event_kind: str
    dedupe_key: str
    invocation_id: str
    body: bytes

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True)
class Accepted:
    delivery_id: int
    created: bool  # False: a duplicate of a delivery we already have
    queued: bool


def accept(sessions: sessionmaker[Session], event: IncomingEvent, enqueue: Enqueue) -> Accepted:
    """Store the event (or find the delivery it duplicates), commit, then enqueue a new delivery's id."""
    engine = sessions.kw["bind"]
    path = _sqlite_path(engine)
    row = _row(event, utcnow())
    if path:
        delivery_id, created = _store_sqlite(path, row)
    else:
        delivery_id, created = _store(engine, row)
    if not created:
        return Accepted(delivery_id, created=False, queued=False)
    try:
        enqueue(delivery_id)
    except Exception as exc:  # broker down: the row is committed, the sweeper will send it
        log.warning("intake.enqueue_failed", delivery_id=delivery_id, error=str(exc)[:200])
        with sessions() as session:  # stored but not enqueued: the sweeper sends `received` rows ~2 s later
            session.execute(update(Delivery).where(Delivery.id == delivery_id).values(status=DeliveryStatus.RECEIVED))
            session.commit()
        return Accepted(delivery_id, created=True, queued=False)
    return Accepted(delivery_id, created=True, queued=True)


_SQLITE_PATHS: weakref.WeakKeyDictionary[Engine, str | None] = weakref.WeakKeyDictionary()


def _sqlite_path(engine: Engine) -> str | None:
    # Rendering the engine's URL took longer than the INSERT's own Python work: once per engine.
    try:
        return _SQLITE_PATHS[engine]
    except KeyError:
        path = _SQLITE_PATHS[engine] = sqlite_file(str(engine.url))
        return path


def _row(event: IncomingEvent, now: datetime) -> dict:
    return {
        "provider": event.provider, "account_id": event.account_id, "dedupe_key": event.dedupe_key[:200],
        "invocation_id": event.invocation_id[:100], "ticket_id": event.ticket_id,
        "event_kind": event.event_kind[:40], "body_hash": event.body_hash, "received_at": now,
        "status": DeliveryStatus.QUEUED, "attempts": 0, "enqueued_at": now, "error": "",
    }


def _store(engine: Engine, row: dict) -> tuple[int, bool]:
    with engine.connect() as connection:
        try:
            delivery_id = connection.execute(_INSERT, row).scalar_one()
            connection.commit()
            return delivery_id, True
        except IntegrityError:
            connection.rollback()
            existing = connection.scalar(select(_TABLE.c.id).where(*(column == row[column.name] for column in _KEY)))
            if existing is None:  # the constraint fired on something else: let the caller answer 5xx
                raise
            return existing, False


# The same INSERT as `_INSERT`, as SQL text for the plain sqlite3 connection; values go through the
# columns' SQLAlchemy bind processors so the rows read back exactly as if the ORM had written them.
_COLUMNS = [c.name for c in _TABLE.c if c.name in _row(IncomingEvent("", "", "", "", "", "", b""), datetime(2000, 1, 1))]
_SQLITE_INSERT = (
    f"INSERT INTO {_TABLE.name} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT DO NOTHING"
)
_SQLITE_FIND = f"SELECT id FROM {_TABLE.name} WHERE {' AND '.join(f'{c.name} = ?' for c in _KEY)}"
_DIALECT = sqlite.dialect()


def datetime_text(value: datetime | None) -> str | None:
    """A naive UTC datetime as SQLAlchemy stores it in SQLite ("2026-12-02 06:01:02.000123"), ~10x faster
    than its bind processor."""
    return None if value is None else value.isoformat(" ", "microseconds")


def _bind(name: str) -> Callable | None:
    if isinstance(_TABLE.c[name].type, DateTime):
        return datetime_text
    return _TABLE.c[name].type.dialect_impl(_DIALECT).bind_processor(_DIALECT)


_BIND = [(name, _bind(name)) for name in _COLUMNS]


def _store_sqlite(path: str, row: dict) -> tuple[int, bool]:
    """One autocommitted INSERT ... ON CONFLICT DO NOTHING on a plain sqlite3 connection (~40 µs).

    A single statement without RETURNING runs to completion inside one C call: SQLite takes its write
    lock, inserts, commits and lets go while this thread has released the GIL, so other processes never
    queue behind a thread that is waiting for its GIL back (the cross-process file lock did exactly that).
    The per-process lock only keeps this process's threads off the shared connection one at a time.
    """
    values = [bind(row[name]) if bind else row[name] for name, bind in _BIND]
    try:
        connection, lock = raw_sqlite(path)
        with lock:
            cursor = _execute_when_free(connection, _SQLITE_INSERT, values)
            if cursor.rowcount == 1:
                return cursor.lastrowid, True
            # A duplicate: the unique (provider, account, dedupe key) row exists and is committed.
            existing = connection.execute(_SQLITE_FIND, [row[c.name] for c in _KEY]).fetchone()
    except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full, unreadable file
        raise OperationalError(_SQLITE_INSERT, None, exc) from exc
    if existing is None:
        raise IntegrityError(_SQLITE_INSERT, None, Exception("conflict without a matching delivery"))
    return existing[0], False


def _execute_when_free(connection: sqlite3.Connection, sql: str, values: list) -> sqlite3.Cursor:
    """Retry a write that found the database locked every 100 µs, up to INTAKE_BUSY_TIMEOUT_MS.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between attempts, while another process's
    write holds the lock for ~30 µs: under concurrent webhooks those sleeps, not the writes, made the
    latency tail and idled the server's threads.
    """
    deadline = 0.0
    while True:
        try:
            return connection.execute(sql, values)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            now = time.monotonic()
            deadline = deadline or now + INTAKE_BUSY_TIMEOUT_MS / 1000
            if now >= deadline:
                raise
            time.sleep(0.0001)
