"""identity_gateway tables: verification records with no more personal data than needed.

The applicant's demographics are kept only while a check is pending (to retry
it) and erased when it completes; the document is kept as a fingerprint. The
audit log of checks is append-only: the ORM refuses to change or delete its
rows, and database triggers (migration 0002) refuse it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, Text, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class Verification(Base):
    __tablename__ = "verifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending | completed
    outcome: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    idms_codes: Mapped[list[str] | None] = mapped_column(JSON)
    mismatched_fields: Mapped[list[str] | None] = mapped_column(JSON)
    person_token: Mapped[str | None] = mapped_column(String(64), index=True)
    document_country: Mapped[str] = mapped_column(String(3))
    document_fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    pending_query: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    # Deferred because the IDMS is down: later checks queue behind this one.
    waiting_for_idms: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # A worker holds a check while it asks the IDMS, so no other asks at the same time.
    lease_until: Mapped[datetime | None]
    transaction_id: Mapped[str | None] = mapped_column(String(36))
    idms_latency_ms: Mapped[float | None] = mapped_column(Float)
    attestation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    deferred_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class CheckAuditEntry(Base):
    """One line of the append-only audit log: who asked for which check and why,
    every call to the IDMS, and every identity event acted on."""

    __tablename__ = "check_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(30))
    verification_id: Mapped[str | None] = mapped_column(String(36), index=True)
    application_id: Mapped[str | None] = mapped_column(String(36), index=True)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(40))
    transaction_id: Mapped[str | None] = mapped_column(String(36))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str | None] = mapped_column(Text)


class IdmsFeedCursor(Base):
    """How far the gateway has read the IDMS identity events feed."""

    __tablename__ = "idms_feed_cursor"

    feed: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class AppendOnlyViolation(Exception):
    """Something tried to change or delete an audit entry."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for instance in (*session.dirty, *session.deleted):
        if isinstance(instance, CheckAuditEntry):
            raise AppendOnlyViolation("the identity check audit log is append-only")
