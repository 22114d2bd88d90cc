"""notifications tables: who to tell about a case, the notices and webhooks owed, and
every delivery with its attempts (the delivery log)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class CaseContacts(Base):
    """Contact details and languages per application, learnt from application_submitted."""

    __tablename__ = "case_contacts"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    employer_email: Mapped[str] = mapped_column(String(254))
    worker_email: Mapped[str] = mapped_column(String(254))
    worker_name: Mapped[str] = mapped_column(String(200))
    employer_name: Mapped[str | None] = mapped_column(String(200))
    employer_phone: Mapped[str | None] = mapped_column(String(16))
    employer_language: Mapped[str] = mapped_column(String(5), server_default="en")
    worker_phone: Mapped[str | None] = mapped_column(String(16))
    worker_language: Mapped[str] = mapped_column(String(5), server_default="en")


class HeldEvent(Base):
    """An event that calls for notices to people whose contacts are not known yet
    (its application_submitted has not arrived: queues drain independently)."""

    __tablename__ = "held_events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    envelope: Mapped[dict[str, Any]]
    held_at: Mapped[datetime]


class WebhookEndpoint(Base):
    """An agency's registered endpoint: events it wants, signed with its own secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list[str]]
    active: Mapped[bool]
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class Delivery(Base):
    """One notice (or webhook call) to one recipient on one channel: the delivery log.

    At most one per (event, channel, recipient): ``recipient_key`` is the role
    (employer, worker) for people and the endpoint id for webhooks.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel", "recipient_key", name="uq_deliveries_once"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(100))
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    recipient_role: Mapped[str] = mapped_column(String(20))
    recipient_key: Mapped[str] = mapped_column(String(36))
    recipient: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(5), server_default="en")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
