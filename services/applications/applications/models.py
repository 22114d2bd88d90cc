"""The applications service's own tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(40), index=True)
    employer_tax_id: Mapped[str] = mapped_column(String(20), index=True)
    employer: Mapped[dict[str, Any]]
    worker: Mapped[dict[str, Any]]
    job: Mapped[dict[str, Any]]
    contract: Mapped[dict[str, Any]]
    identity_verification_id: Mapped[str | None] = mapped_column(String(36))
    identity_outcome: Mapped[str | None] = mapped_column(String(40))
    identity_reason: Mapped[str | None] = mapped_column(Text)
    identity_checked_at: Mapped[datetime | None]
    attestation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decision: Mapped[str | None] = mapped_column(String(20))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    permit_number: Mapped[str | None] = mapped_column(String(40), index=True)
    contract_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # W2: kinds, listing and search columns (denormalised from the JSON above).
    kind: Mapped[str] = mapped_column(String(20), server_default="new")
    referenced_permit: Mapped[str | None] = mapped_column(String(40))
    worker_search: Mapped[str | None] = mapped_column(String(400))
    passport_number: Mapped[str | None] = mapped_column(String(20), index=True)
    nationality: Mapped[str | None] = mapped_column(String(3))
    vacancy_reference: Mapped[str | None] = mapped_column(String(60))
    # labour-market test
    lmt_required: Mapped[bool] = mapped_column(Boolean, server_default=false())
    exemption: Mapped[str | None] = mapped_column(String(60))
    exemption_claim: Mapped[str | None] = mapped_column(String(40))
    lmt_request_id: Mapped[str | None] = mapped_column(String(60))
    lmt_outcome: Mapped[str | None] = mapped_column(String(20))
    lmt_reason: Mapped[str | None] = mapped_column(Text)
    lmt_requested_at: Mapped[datetime | None]
    lmt_due_at: Mapped[datetime | None]
    lmt_answered_at: Mapped[datetime | None]
    # the state fee
    fee_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    fee_currency: Mapped[str] = mapped_column(String(3), server_default="AMD")
    fee_reference: Mapped[str | None] = mapped_column(String(40))
    fee_paid_at: Mapped[datetime | None]
    # work for officers and the statutory clock
    reason_code: Mapped[str | None] = mapped_column(String(40))
    correction_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    assigned_to: Mapped[str | None] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    clock_paused_at: Mapped[datetime | None]
    deadline_warned_at: Mapped[datetime | None]
    overdue_flagged_at: Mapped[datetime | None]

    history: Mapped[list[StatusChange]] = relationship(
        order_by="StatusChange.id", cascade="all, delete-orphan"
    )
    documents: Mapped[list[Document]] = relationship(
        order_by="Document.uploaded_at", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # Listing: newest first, keyset-paginated on (created_at, id), under filters.
        Index("ix_applications_created", "created_at", "id"),
        Index("ix_applications_status_created", "status", "created_at", "id"),
        Index("ix_applications_assigned_created", "assigned_to", "created_at", "id"),
        Index("ix_applications_employer_created", "employer_tax_id", "created_at", "id"),
        Index("ix_applications_nationality_created", "nationality", "created_at", "id"),
        Index("ix_applications_kind_created", "kind", "created_at", "id"),
        Index("ix_applications_status_due", "status", "due_at"),
        Index("ix_applications_submitted", "submitted_at"),
        # One payment pays one case.
        UniqueConstraint("fee_reference", name="uq_applications_fee_reference"),
    )


class StatusChange(Base):
    """An immutable entry in a case's history: who moved it, from where, to where, why."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    role: Mapped[str | None] = mapped_column(String(40))


class Document(Base):
    """A file attached to a case. The bytes live in the document store (on disk
    under DOCUMENTS_ROOT), under a key that holds no client-supplied text."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_role: Mapped[str] = mapped_column(String(40))
    uploaded_at: Mapped[datetime]
