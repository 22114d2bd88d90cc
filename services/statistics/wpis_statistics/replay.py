"""Rebuild: empty the read model and replay every producer's event log.

Each producer serves its published events in sequence order through the
replay RPC ``events_after(after, limit)`` (docs/statistics.md). The events go
through the same appliers as live ones; facts and cells are then derived in
bulk. Because figures depend only on the entities' final state, the rebuilt
model answers every query exactly as the live one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table, delete, insert
from sqlalchemy.orm import Session

from wpis_common.envelope import Envelope, utc_now
from wpis_statistics.models import (
    StatApplication,
    StatCell,
    StatContract,
    StatFact,
    StatIdentityCheck,
    StatPermit,
    StatPermitChange,
)
from wpis_statistics.projection import (
    APPLIERS,
    ProjectionSettings,
    apply_to_entities,
    rebuild_cells,
    refresh_facts,
)

# fetch(producer, after, limit) -> that producer's envelopes with sequence > after
Fetch = Callable[[str, int, int], list[dict[str, Any]]]
READ_MODEL = (
    StatCell,
    StatFact,
    StatPermitChange,
    StatContract,
    StatIdentityCheck,
    StatPermit,
    StatApplication,
)


def consumer_name(service: str, event_type: str) -> str:
    """The inbox name of the live handler of ``event_type`` (``on_<event_type>``)."""
    return f"{service}.on_{event_type}"


def clear(session: Session, inbox: Table) -> None:
    for model in READ_MODEL:
        session.execute(delete(model))
    session.execute(delete(inbox))


def rebuild(
    session: Session,
    inbox: Table,
    fetch: Fetch,
    producers: Iterable[str],
    settings: ProjectionSettings,
    service: str = "statistics",
    page_size: int = 500,
) -> dict[str, Any]:
    """Empty the read model and replay; the caller's transaction makes it atomic."""
    clear(session, inbox)
    dirty: set[str] = set()
    applied: Counter = Counter()
    for producer in producers:
        after = 0
        while True:
            page = fetch(producer, after, page_size)
            seen = _apply_page(session, inbox, page, service, dirty)
            applied[producer] += seen
            if not page or len(page) < page_size:
                break
            after = max(int(body["sequence"]) for body in page)
    for count, key in enumerate(sorted(dirty), 1):
        refresh_facts(session, key, settings)
        if count % 1000 == 0:
            session.flush()
            session.expunge_all()
    cells = rebuild_cells(session)
    return {"events": dict(applied), "entities": len(dirty), "cells": cells}


def _apply_page(
    session: Session, inbox: Table, page: list[dict[str, Any]], service: str, dirty: set[str]
) -> int:
    inbox_rows: dict[str, dict[str, Any]] = {}
    for body in page:
        event = Envelope.parse(body)
        if (event.producer, event.event_type) not in APPLIERS:
            continue
        consumer = consumer_name(service, event.event_type)
        if (consumer, event.event_id) in inbox_rows:
            continue
        dirty |= apply_to_entities(session, event)
        inbox_rows[(consumer, event.event_id)] = {
            "consumer": consumer,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "applied_at": utc_now(),
        }
    if inbox_rows:
        session.execute(insert(inbox), list(inbox_rows.values()))
    session.flush()
    session.expunge_all()
    return len(inbox_rows)
