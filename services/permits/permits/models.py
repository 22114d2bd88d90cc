"""The permit register's tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class Permit(Base):
    __tablename__ = "permits"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    holder: Mapped[dict[str, Any]]
    employer: Mapped[dict[str, Any]]
    job: Mapped[dict[str, Any]]
    contract_terms: Mapped[dict[str, Any]]
    valid_from: Mapped[date]
    valid_until: Mapped[date]
    attestation_id: Mapped[str] = mapped_column(String(36))
    verification_token: Mapped[str] = mapped_column(String(43), unique=True)
    issued_at: Mapped[datetime]
    # sha256 of the holder's travel document (country:number), as identity events name it
    document_fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    passport_expiry: Mapped[date | None]
    # from this day a cancelled or revoked permit is no longer valid
    ends_on: Mapped[date | None]
    flagged_at: Mapped[datetime | None]
    flag_reason: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    # Concurrent changes to one permit: the second one's UPDATE matches no row.
    __mapper_args__ = {"version_id_col": version}


class PermitCounter(Base):
    """The last sequence number handed out in a year (gap-free numbering)."""

    __tablename__ = "permit_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer)


class PermitStatusChange(Base):
    __tablename__ = "permit_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    permit_number: Mapped[str] = mapped_column(String(20), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(20), server_default="issue")
    details: Mapped[dict[str, Any] | None]


class VerificationLogEntry(Base):
    """One public verification: when, which permit, from where, and the answer."""

    __tablename__ = "verification_log"
    __table_args__ = (Index("ix_verification_log_client_at", "client", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    permit_number: Mapped[str | None] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    client: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(20))
