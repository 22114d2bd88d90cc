"""The gateway's own tables: accounts, refresh tokens, revoked access tokens, the
audit trail of state-changing requests, and the public verification read model
with its log of checks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class AuditEntry(Base):
    """Who asked for what change, when, from where, and the answer."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str | None] = mapped_column(String(30))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(64), index=True)


class Account(Base):
    """A person or organisation that logs in. The password is an argon2 hash."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    tax_id: Mapped[str | None] = mapped_column(String(8), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    deactivated_at: Mapped[datetime | None]


class RefreshToken(Base):
    """A refresh token, stored as its SHA-256 (the token itself is never kept)."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class RevokedToken(Base):
    """An access token revoked before its expiry (logout), by its jti."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class VerificationEntry(Base):
    """The public verification read model (ADR-014): one row per permit in the
    register, kept current by the permits service's events. ``sequence`` is the
    last applied event's, so a replayed or late event never undoes a newer one."""

    __tablename__ = "verification_entries"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date]
    valid_until: Mapped[date]
    ends_on: Mapped[date | None]
    employer_name: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(120))
    holder_birth_date: Mapped[date]
    sequence: Mapped[int] = mapped_column(BigInteger)


class VerificationCheck(Base):
    """One public check answered from the read model: when, which permit, the
    client's address, the answer (written in batches; ADR-014)."""

    __tablename__ = "verification_checks"
    __table_args__ = (Index("ix_verification_checks_client_at", "client", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    permit_number: Mapped[str | None] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    client: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
