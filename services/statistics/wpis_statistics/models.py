"""The read model's tables.

Three layers: what the figures know of each entity (``stat_applications``,
``stat_permits`` and ``stat_permit_changes``, ``stat_identity_checks``,
``stat_contracts``: no names, no document numbers); the facts derived from
them (``stat_facts``: one row per contribution of an entity to a measure);
and the pre-aggregated counts the queries read (``stat_cells``: per measure
and month, the total, each dimension alone and each pair of dimensions).
``stat_published`` keeps the open-data months once published (frozen).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables

CODE = 12  # room for every dimension code ("unknown", "AM-ER", "65+", "366")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, date: Date}


MESSAGING = messaging_tables(Base.metadata)


class StatApplication(Base):
    __tablename__ = "stat_applications"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(CODE), default="unknown")
    nationality: Mapped[str | None] = mapped_column(String(CODE))
    sex: Mapped[str | None] = mapped_column(String(CODE))
    date_of_birth: Mapped[date | None]
    isco_major: Mapped[str | None] = mapped_column(String(CODE))
    region: Mapped[str | None] = mapped_column(String(CODE))
    nace_section: Mapped[str | None] = mapped_column(String(CODE))
    submitted_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    withdrawn_at: Mapped[datetime | None]


class StatPermit(Base):
    __tablename__ = "stat_permits"

    permit_number: Mapped[str] = mapped_column(String(40), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    nationality: Mapped[str] = mapped_column(String(CODE))
    sex: Mapped[str] = mapped_column(String(CODE))
    date_of_birth: Mapped[date | None]
    isco_major: Mapped[str] = mapped_column(String(CODE))
    region: Mapped[str] = mapped_column(String(CODE))
    issued_at: Mapped[datetime]
    valid_from: Mapped[date]
    valid_until: Mapped[date]


class StatPermitChange(Base):
    """A permit lifecycle event; kept by event id, so it may arrive before the permit."""

    __tablename__ = "stat_permit_changes"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    permit_number: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    on_date: Mapped[date | None]
    reason_code: Mapped[str] = mapped_column(String(40), default="")


class StatIdentityCheck(Base):
    __tablename__ = "stat_identity_checks"

    verification_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    completed_at: Mapped[datetime | None]
    first_deferred_at: Mapped[datetime | None]


class StatContract(Base):
    __tablename__ = "stat_contracts"

    contract_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    permit_number: Mapped[str] = mapped_column(String(40), index=True)
    application_id: Mapped[str | None] = mapped_column(String(36))
    nace_section: Mapped[str | None] = mapped_column(String(CODE))
    registered_at: Mapped[datetime | None]
    terminated_at: Mapped[datetime | None]
    terminated_by: Mapped[str | None] = mapped_column(String(40))


class StatFact(Base):
    __tablename__ = "stat_facts"
    __table_args__ = (Index("ix_stat_facts_measure_day", "measure", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(60), index=True)
    measure: Mapped[str] = mapped_column(String(40))
    day: Mapped[date]
    month: Mapped[str] = mapped_column(String(7))
    nationality: Mapped[str] = mapped_column(String(CODE))
    sex: Mapped[str] = mapped_column(String(CODE))
    age_band: Mapped[str] = mapped_column(String(CODE))
    isco_major: Mapped[str] = mapped_column(String(CODE))
    nace_section: Mapped[str] = mapped_column(String(CODE))
    region: Mapped[str] = mapped_column(String(CODE))
    kind: Mapped[str] = mapped_column(String(CODE))
    outcome: Mapped[str] = mapped_column(String(40))
    reason_code: Mapped[str] = mapped_column(String(40))
    decision_days: Mapped[str] = mapped_column(String(CODE))
    within_deadline: Mapped[str] = mapped_column(String(CODE))


class StatCell(Base):
    """A pre-aggregated count: ``n`` facts of ``measure`` in ``month`` with
    dim_a = val_a and dim_b = val_b ("" where the level has fewer dimensions)."""

    __tablename__ = "stat_cells"

    measure: Mapped[str] = mapped_column(String(40), primary_key=True)
    dim_a: Mapped[str] = mapped_column(String(20), primary_key=True)
    dim_b: Mapped[str] = mapped_column(String(20), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    val_a: Mapped[str] = mapped_column(String(40), primary_key=True)
    val_b: Mapped[str] = mapped_column(String(40), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class StatPublished(Base):
    """An open-data month as first published; later exports repeat it unchanged."""

    __tablename__ = "stat_published"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer)
    rows: Mapped[list[Any]] = mapped_column(JSON)
    published_at: Mapped[datetime]
