"""notifications tables: who to tell about a case, and every notice sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class CaseContacts(Base):
    """Contact details per application, learnt from application_submitted."""

    __tablename__ = "case_contacts"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    employer_email: Mapped[str] = mapped_column(String(254))
    worker_email: Mapped[str] = mapped_column(String(254))
    worker_name: Mapped[str] = mapped_column(String(200))


class Delivery(Base):
    """One notice to one recipient: the delivery log."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("event_id", "recipient_role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(100))
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    recipient_role: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
