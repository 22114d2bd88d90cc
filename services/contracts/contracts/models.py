"""The contract register's tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class Contract(Base):
    """A registered employment contract. ``job`` holds the current terms
    (title, isco_code, region, monthly_salary, currency); ``permit_coverage``
    what the permit covers (job_title, isco_code, region)."""

    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    permit_number: Mapped[str] = mapped_column(String(20), unique=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(20))
    employer_tax_id: Mapped[str] = mapped_column(String(20), index=True)
    employer_name: Mapped[str] = mapped_column(String(200))
    worker: Mapped[dict[str, Any]]
    job: Mapped[dict[str, Any]]
    weekly_hours: Mapped[int] = mapped_column(Integer, default=40)
    permit_coverage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    permit_mismatches: Mapped[list[Any]] = mapped_column(JSON, default=list)
    start_date: Mapped[date]
    end_date: Mapped[date]
    registered_until: Mapped[date]
    registered_at: Mapped[datetime]
    employment_ended_on: Mapped[date | None]
    terminated_on: Mapped[date | None]
    termination_reason: Mapped[str | None] = mapped_column(Text)
    terminated_by: Mapped[str | None] = mapped_column(String(20))
    reported_at: Mapped[datetime | None]
    reported_late: Mapped[bool | None]
    report_due_on: Mapped[date | None]
    report_overdue_at: Mapped[datetime | None] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # Optimistic locking: an UPDATE only applies to the version it read, so two
    # amendments racing on one contract cannot both commit.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class ContractVersion(Base):
    """One entry per change of a contract: what changed, who, why, and the terms after."""

    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("contract_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    version: Mapped[int]
    change: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict[str, Any]]
    terms: Mapped[dict[str, Any]]
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
