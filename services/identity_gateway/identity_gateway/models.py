"""identity_gateway tables: verification records with no more personal data than needed.

The applicant's demographics are kept only while a check is pending (to retry
it) and erased when it completes; the document is kept as a fingerprint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wpis_common.tables import UTCDateTime, messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


MESSAGING = messaging_tables(Base.metadata)


class Verification(Base):
    __tablename__ = "verifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending | completed
    outcome: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    mismatched_fields: Mapped[list[str] | None] = mapped_column(JSON)
    person_token: Mapped[str | None] = mapped_column(String(64))
    document_country: Mapped[str] = mapped_column(String(3))
    document_fingerprint: Mapped[str] = mapped_column(String(64))
    pending_query: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    attestation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
