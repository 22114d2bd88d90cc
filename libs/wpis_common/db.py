"""Engines and the unit of work.

A unit of work is one transaction: the state change and the events it emits
(outbox rows) commit together or not at all. Writes are flushed only at
commit (no autoflush), so no lock is held while a worker waits on I/O; on
SQLite that matters because its busy wait would block the eventlet hub.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from wpis_common.envelope import EventCatalog, new_event_id, utc_now
from wpis_common.tables import MessagingTables

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000
# ADR-013: FULL fsyncs every commit (survives a power loss); NORMAL, in WAL mode,
# survives any process crash and fsyncs at checkpoints only. FULL unless told.
SQLITE_SYNCHRONOUS_ENV = "WPIS_SQLITE_SYNCHRONOUS"
SQLITE_SYNCHRONOUS_LEVELS = ("NORMAL", "FULL", "EXTRA")


def create_db_engine(url: str, pool_size: int = 15) -> Engine:
    """An engine for SQLite (WAL, foreign keys) or PostgreSQL (psycopg 3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "postgresql":
        _make_psycopg_cooperative()
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _make_psycopg_cooperative() -> None:
    """Make psycopg 3 wait on its socket through Python's (green) ``select``.

    With psycopg_binary installed psycopg picks ``wait_c``, which polls in C and
    blocks the whole eventlet hub (psycopg only detects gevent's patching).
    """
    import psycopg.waiting
    from eventlet import patcher

    if patcher.is_monkey_patched("select"):
        psycopg.waiting.wait = psycopg.waiting.wait_select


def sqlite_synchronous() -> str:
    """The ``PRAGMA synchronous`` level for SQLite: FULL unless the environment says."""
    level = os.environ.get(SQLITE_SYNCHRONOUS_ENV, "").strip().upper() or "FULL"
    if level not in SQLITE_SYNCHRONOUS_LEVELS:
        raise RuntimeError(
            f"{SQLITE_SYNCHRONOUS_ENV}={level!r}: use one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)}"
        )
    return level


def _sqlite_engine(url: str, database: str | None) -> Engine:
    synchronous = sqlite_synchronous()
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, autoflush=False, expire_on_commit=False)


class UnitOfWork:
    """``with db.unit_of_work() as uow:`` commits on success, rolls back on error."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        tables: MessagingTables,
        producer: str,
        catalog: EventCatalog,
        on_events_committed: Callable[[], None] = lambda: None,
    ):
        self._session_factory = session_factory
        self.tables = tables
        self.producer = producer
        self._catalog = catalog
        self._on_events_committed = on_events_committed
        self._emitted: list[dict[str, Any]] = []
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()

    def emit(self, event_type: str, data: dict[str, Any]) -> str:
        """Record an event to publish once this unit of work commits; returns its id."""
        spec = self._catalog.spec(event_type)
        event_id = new_event_id()
        self._emitted.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "schema_version": spec.version,
                "producer": self.producer,
                "occurred_at": utc_now(),
                "data": spec.serialize(data),
            }
        )
        return event_id

    def commit(self) -> None:
        if self._emitted:
            self.session.execute(insert(self.tables.outbox), self._emitted)
        self.session.commit()
        if self._emitted:
            self._emitted = []
            self._on_events_committed()

    @property
    def emitted_types(self) -> list[str]:
        return [row["event_type"] for row in self._emitted]
