"""The contract register's tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    permit_number: Mapped[str] = mapped_column(String(20), unique=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(20))
    employer_tax_id: Mapped[str] = mapped_column(String(20), index=True)
    employer_name: Mapped[str] = mapped_column(String(200))
    worker: Mapped[dict[str, Any]]
    job: Mapped[dict[str, Any]]
    start_date: Mapped[date]
    end_date: Mapped[date]
    registered_until: Mapped[date]
    registered_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
