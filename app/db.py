"""Database engine and sessions: SQLite by default (WAL, busy timeout), Postgres via DATABASE_URL."""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            # WAL lets the web process write deliveries while workers read and write outcomes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


@lru_cache(maxsize=8)
def _sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=make_engine(url), expire_on_commit=False)


def session_factory(url: str) -> sessionmaker[Session]:
    return _sessionmaker(url)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    session = _sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_local_locks: dict[str, threading.Lock] = {}


@contextmanager
def _sqlite_write_lock(path: str) -> Iterator[None]:
    # One writer at a time across threads (a mutex) and processes (flock). Waiters wake as soon as the
    # holder is done, where SQLite's own busy handler sleeps 1, 2, 5 ... 100 ms between retries: under
    # concurrent webhooks that back-off, not the write itself, dominated the intake latency.
    mutex = _local_locks.setdefault(path, threading.Lock())
    with mutex:
        fd = os.open(path + ".writelock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def write_lock(url: str):  # noqa: ANN201
    """Serialize short write transactions on SQLite; a no-op on Postgres (it has row locks)."""
    if url.startswith("sqlite") and "///" in url and not url.endswith(":memory:"):
        return _sqlite_write_lock(url.split("///", 1)[-1])
    return nullcontext()
