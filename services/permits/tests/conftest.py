"""Shared by the permits integration tests (``kit`` fixture): approvals with
signed attestations, envelopes, and reading what the service committed."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from permits.models import MESSAGING
from wpis_common.db import create_db_engine
from wpis_common.signing import document_fingerprint, sign


def approval(
    private_key: Any,
    application_id: str | None = None,
    passport_number: str = "Z1234567",
    start: date | None = None,
    days: int = 200,
) -> dict[str, Any]:
    application_id = application_id or str(uuid.uuid4())
    start = start or date.today() + timedelta(days=10)
    now = datetime.now(UTC)
    payload = {
        "attestation_id": str(uuid.uuid4()),
        "issuer": "wpis.identity_gateway",
        "verification_id": str(uuid.uuid4()),
        "application_id": application_id,
        "subject": "token",
        "document_type": "passport",
        "document_country": "IND",
        "document_fingerprint": document_fingerprint("IND", passport_number),
        "outcome": "verified",
        "checked_at": now.isoformat(),
        "expires_at": (now + timedelta(days=30)).isoformat(),
    }
    return {
        "application_id": application_id,
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": "Ravi",
            "surname": "Kumar",
            "date_of_birth": "1990-04-12",
            "sex": "M",
            "nationality": "IND",
            "email": "ravi@example.org",
            "passport": {
                "number": passport_number,
                "issuing_country": "IND",
                "expiry_date": "2031-01-01",
            },
        },
        "job": {
            "title": "Welder",
            "isco_code": "7212",
            "region": "AM-ER",
            "monthly_salary": 450000,
            "currency": "AMD",
        },
        "contract": {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=days)).isoformat(),
        },
        "submitted_at": now.isoformat(),
        "decided_by": "officer",
        "decided_at": now.isoformat(),
        "attestation": sign(private_key, payload),
    }


def envelope(event_type: str, data: dict, producer: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": producer,
        "sequence": 1,
        "data": data,
    }


def committed_events(database_url: str, *types: str) -> list[tuple[str, dict]]:
    """(event_type, data) of every event the service wrote to its outbox, in order."""
    engine = create_db_engine(database_url, pool_size=1)
    outbox = MESSAGING.outbox
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(outbox.c.event_type, outbox.c.data).order_by(outbox.c.id)
            ).all()
    finally:
        engine.dispose()
    return [(row.event_type, row.data) for row in rows if not types or row.event_type in types]


@pytest.fixture
def kit() -> ModuleType:
    """These helpers (test modules cannot import each other under importlib mode)."""
    return sys.modules[__name__]
