"""Replay: a producer's published events after a sequence number, in order.

The outbox, once numbered, is the producer's event log (ADR-004): every
event a service ever committed stays there with its gap-free ``sequence``.
A service that publishes events inherits :class:`EventLog` and so answers the
``events_after`` RPC, which the gateway exposes as
``GET /api/v1/events?producer=<service>&after=<sequence>&limit=<n>``; a
subscriber that was down replays what it missed from its last sequence, then
follows live.

Import the module, not the class, in a service module (``from wpis_common
import replay`` ... ``class PermitsService(replay.EventLog)``): ``nameko run``
would try to run any class with entrypoints found in the module's namespace.
"""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc
from sqlalchemy import select

from wpis_common.db import UnitOfWork
from wpis_common.errors import EXPECTED_ERRORS, InvalidInput
from wpis_common.outbox import envelope_from_row

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SEQUENCE = 2**63 - 1  # a BIGINT: a larger ``after`` overflowed the query (a 502)
# The services that publish events (and so answer ``events_after``).
PRODUCERS = ("applications", "identity_gateway", "permits", "contracts", "notifications")


def validate_page(after: Any, limit: Any) -> tuple[int, int]:
    """0 <= ``after`` <= MAX_SEQUENCE and 1 <= ``limit`` <= MAX_LIMIT as ints, or InvalidInput."""
    errors: dict[str, list[str]] = {}
    parsed_after = _whole_number(after)
    if parsed_after is None or not 0 <= parsed_after <= MAX_SEQUENCE:
        errors["after"] = [f"must be a whole number from 0 to {MAX_SEQUENCE} (a sequence number)"]
    parsed_limit = _whole_number(limit)
    if parsed_limit is None or not 1 <= parsed_limit <= MAX_LIMIT:
        errors["limit"] = [f"must be a whole number from 1 to {MAX_LIMIT}"]
    if errors:
        raise InvalidInput(errors)
    assert parsed_after is not None and parsed_limit is not None
    return parsed_after, parsed_limit


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def events_after(uow: UnitOfWork, after: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` numbered events with ``sequence > after``, in sequence order.

    Numbered events are committed facts; the relay may not have confirmed the
    last few yet, and a subscriber sees those live too (it deduplicates by
    ``event_id``).
    """
    outbox = uow.tables.outbox
    rows = uow.session.execute(
        select(outbox)
        .where(outbox.c.sequence.is_not(None), outbox.c.sequence > after)
        .order_by(outbox.c.sequence)
        .limit(limit)
    ).all()
    return [envelope_from_row(row).to_message() for row in rows]


def page(producer: str, after: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The HTTP answer: the events, and the ``after`` to ask with next."""
    return {
        "producer": producer,
        "after": after,
        "events": events,
        "next_after": events[-1]["sequence"] if events else after,
    }


class EventLog:
    """Mixin for a service with a ``db`` (:class:`~wpis_common.dependencies.Database`):
    the ``events_after`` RPC over its outbox."""

    db: Any

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def events_after(self, after: Any = 0, limit: Any = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        """This service's events with ``sequence > after``, oldest first, at most ``limit``."""
        after, limit = validate_page(after, limit)
        with self.db.unit_of_work() as uow:
            return events_after(uow, after, limit)
