"""Ready-made handlers. A handler is ``handler(event, tx)``: ``tx`` is the open
SQLite transaction that will also record the event as handled, so anything
written through it commits exactly once with that record."""

from __future__ import annotations

import json
import sqlite3
import sys

from agency_subscriber.subscriber import Event


def record(event: Event, tx: sqlite3.Connection) -> None:
    """Keep every event in a ``received`` table of the state file (an archive)."""
    tx.execute(
        "CREATE TABLE IF NOT EXISTS received (event_id TEXT PRIMARY KEY, producer TEXT NOT NULL, "
        "sequence INTEGER NOT NULL, event_type TEXT NOT NULL, body TEXT NOT NULL)"
    )
    tx.execute(
        "INSERT INTO received (event_id, producer, sequence, event_type, body) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            event.event_id,
            event.producer,
            event.sequence,
            event.event_type,
            json.dumps(event.as_message()),
        ),
    )


def print_json(event: Event, tx: sqlite3.Connection) -> None:
    """Print each event as one JSON line (at least once: a crash after the print
    and before the commit prints it again on restart)."""
    print(json.dumps(event.as_message()), file=sys.stdout, flush=True)
