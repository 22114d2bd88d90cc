"""Re-checks: read the IDMS identity events feed and tell WPIS what changed.

The gateway polls ``GET /v1/events?after=<cursor>`` (the GovStack pattern: the
event carries only the fact; the subscriber holds its own cursor, so nothing is
missed while either side is down). Each event is applied in one transaction
that also moves the cursor past it, so it is turned into
``identity_status_changed`` exactly once, even with several gateway instances.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from identity_gateway import domain
from identity_gateway.adapter import IdmsAdapter, IdmsUnavailable
from identity_gateway.models import CheckAuditEntry, IdmsFeedCursor, Verification
from wpis_common.db import UnitOfWork
from wpis_common.envelope import utc_now

log = logging.getLogger(__name__)
FEED = "idms"
UowFactory = Callable[[], UnitOfWork]


def poll_identity_events(uow_factory: UowFactory, idms: IdmsAdapter, batch: int = 100) -> int:
    """Apply the events after the cursor; returns how many were applied. An unreachable
    IDMS is logged and tried again at the next poll."""
    after = _cursor(uow_factory)
    try:
        page = idms.identity_events(after, batch)
    except IdmsUnavailable as error:
        log.warning("identity events feed unavailable: %s", error.detail)
        return 0
    applied = 0
    for event in page.events:
        with uow_factory() as uow:
            if not _advance_cursor(uow, event.sequence):
                continue  # another instance applied it
            apply_event(uow, event)
            applied += 1
    return applied


def apply_event(uow: UnitOfWork, event: domain.IdentityEvent) -> list[dict[str, str]]:
    person_documents = _documents_of_person(uow, event.person_token)
    candidates = domain.event_candidates(event, person_documents)
    verified = _verified_among(uow, set(candidates))
    changes = domain.status_changes(event, candidates, verified)
    for change in changes:
        uow.emit("identity_status_changed", change)
    uow.session.add(
        CheckAuditEntry(
            at=utc_now(),
            action="identity_event",
            requested_by="idms",
            purpose="re-check of verified documents",
            outcome=event.change,
            detail=f"idms event {event.event_id} (sequence {event.sequence}): "
            f"{len(changes)} verified document(s) concerned",
        )
    )
    log.info(
        "identity event sequence=%d change=%s subjects=%d",
        event.sequence,
        event.change,
        len(changes),
    )
    return changes


def _documents_of_person(uow: UnitOfWork, person_token: str | None) -> dict[str, str]:
    if not person_token:
        return {}
    rows = uow.session.execute(
        select(Verification.document_fingerprint, Verification.document_country).where(
            Verification.person_token == person_token
        )
    )
    return {fingerprint: country for fingerprint, country in rows}


def _verified_among(uow: UnitOfWork, fingerprints: set[str]) -> set[str]:
    if not fingerprints:
        return set()
    return set(
        uow.session.scalars(
            select(Verification.document_fingerprint).where(
                Verification.document_fingerprint.in_(fingerprints),
                Verification.outcome == domain.Outcome.VERIFIED.value,
            )
        )
    )


def _cursor(uow_factory: UowFactory) -> int:
    with uow_factory() as uow:
        cursor = uow.session.get(IdmsFeedCursor, FEED)
        if cursor is not None:
            return cursor.last_sequence
    try:
        with uow_factory() as uow:
            uow.session.add(IdmsFeedCursor(feed=FEED, last_sequence=0, updated_at=utc_now()))
    except IntegrityError:
        pass  # created by another instance meanwhile
    return 0


def _advance_cursor(uow: UnitOfWork, sequence: int) -> bool:
    """Move the cursor to ``sequence`` if it is behind; False when it already is there.
    The conditional UPDATE takes the row's write lock, so two instances cannot both apply."""
    moved = uow.session.execute(
        update(IdmsFeedCursor)
        .where(IdmsFeedCursor.feed == FEED, IdmsFeedCursor.last_sequence < sequence)
        .values(last_sequence=sequence, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1
