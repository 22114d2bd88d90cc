"""The subscriber's own state, in one SQLite file: how far it got in each
producer's log, and which event ids it has handled.

A handler runs inside the same SQLite transaction that records the event as
handled and moves the position, so what the handler writes to this database
commits together with "done" or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    producer TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS handled (
    event_id TEXT PRIMARY KEY,
    producer TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    handled_at TEXT NOT NULL
);
"""


class Store:
    def __init__(self, path: str | Path):
        self.path = str(path)
        # One subscriber uses it at a time, possibly from a thread of its own.
        self.connection = sqlite3.connect(
            self.path, isolation_level=None, timeout=30, check_same_thread=False
        )
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.executescript(SCHEMA)

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def position(self, producer: str) -> int:
        row = self.connection.execute(
            "SELECT last_sequence FROM positions WHERE producer = ?", (producer,)
        ).fetchone()
        return row[0] if row else 0

    def handled(self, event_id: str) -> bool:
        row = self.connection.execute(
            "SELECT 1 FROM handled WHERE event_id = ?", (event_id,)
        ).fetchone()
        return row is not None

    @staticmethod
    def advance(tx: sqlite3.Connection, producer: str, sequence: int) -> None:
        """Move the position forward (never back)."""
        tx.execute(
            "INSERT INTO positions (producer, last_sequence) VALUES (?, ?) "
            "ON CONFLICT (producer) DO UPDATE SET last_sequence = "
            "MAX(last_sequence, excluded.last_sequence)",
            (producer, sequence),
        )

    @staticmethod
    def mark_handled(
        tx: sqlite3.Connection, event_id: str, producer: str, sequence: int, event_type: str
    ) -> None:
        tx.execute(
            "INSERT INTO handled (event_id, producer, sequence, event_type, handled_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (event_id, producer, sequence, event_type, datetime.now(UTC).isoformat()),
        )
