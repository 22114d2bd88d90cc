"""The permits service's events that keep the public verification read model
current (gateway/verification.py, ADR-014): one thin handler per event type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway import verification
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork
from wpis_common.envelope import Envelope


def _feed(event_type: str) -> Callable:
    def handler(self: Any, event: Envelope, uow: UnitOfWork) -> None:
        verification.apply_event(uow.session, event)

    handler.__name__ = handler.__qualname__ = f"verification_on_{event_type}"
    return consume_event("permits", event_type)(handler)


class VerificationFeed:
    db: Any

    verification_on_permit_issued = _feed("permit_issued")
    verification_on_permit_extended = _feed("permit_extended")
    verification_on_permit_amended = _feed("permit_amended")
    verification_on_permit_suspended = _feed("permit_suspended")
    verification_on_permit_reinstated = _feed("permit_reinstated")
    verification_on_permit_revoked = _feed("permit_revoked")
    verification_on_permit_cancelled = _feed("permit_cancelled")
    verification_on_permit_expired = _feed("permit_expired")
