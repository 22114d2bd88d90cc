"""Attestations made the way the identity gateway makes them, attacked, and judged by
the permits service in a real Nameko container: each bad one is refused with
``permit_issuance_refused`` and its reason; key rotation keeps old ones valid."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import select

from identity_gateway.domain import CheckResult, Outcome, attestation_payload
from permits.models import MESSAGING
from permits.service import PermitsService
from wpis_common.db import create_db_engine
from wpis_common.signing import generate_key_pair, key_id, load_private_key, sign
from wpis_common.testing import wait_for

pytestmark = pytest.mark.integration

VERIFIED = CheckResult(Outcome.VERIFIED, "identity verified against the national register")


@pytest.fixture
def key_dirs(tmp_path):
    """Two generations of attestation keys: the old one and the one rotated in."""
    old, new = tmp_path / "keys-2026", tmp_path / "keys-2027"
    generate_key_pair(old)
    generate_key_pair(new)
    return old, new


@pytest.fixture
def container(container_factory, rabbit_config, make_database, key_dirs, tmp_path):
    old, new = key_dirs
    config = {
        "DATABASE_URL": make_database("permits"),
        # the single-key setting and the key ring add up: both generations are accepted
        "ATTESTATION_PUBLIC_KEY": str(old / "identity_signing_key.pub.pem"),
        "ATTESTATION_PUBLIC_KEYS": str(new),
        "CREDENTIAL_SIGNING_KEY": str(tmp_path / "permits_signing_key.pem"),
        "EXPIRY_CHECK_INTERVAL": 3600,
    }
    container = container_factory(PermitsService, config)
    container.start()
    return container


def signer(directory):
    return load_private_key(directory / "identity_signing_key.pem")


def attestation(key, application_id: str, number: str = "Z1234567", **payload_changes) -> dict:
    payload = attestation_payload(
        attestation_id=str(uuid.uuid4()),
        verification_id=str(uuid.uuid4()),
        application_id=application_id,
        issuing_country="IND",
        document_number=number,
        result=VERIFIED,
        issued_at=datetime.now(UTC),
        ttl=timedelta(days=30),
    )
    return sign(key, {**payload, **payload_changes})


def approval(application_id: str, signed: dict) -> dict:
    start = date.today() + timedelta(days=10)
    now = datetime.now(UTC).isoformat()
    return {
        "application_id": application_id,
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12",
            "sex": "M", "nationality": "IND", "email": "ravi@example.org",
            "passport": {"number": "Z1234567", "issuing_country": "IND",
                         "expiry_date": "2031-01-01"},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=200)).isoformat()},
        "submitted_at": now, "decided_by": "officer", "decided_at": now,
        "attestation": signed,
    }  # fmt: skip


def deliver(container, data: dict) -> None:
    body = {
        "event_id": str(uuid.uuid4()),
        "event_type": "application_approved",
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "applications",
        "sequence": 1,
        "data": data,
    }
    with entrypoint_waiter(container, "on_application_approved"):
        event_dispatcher()("applications", "application_approved", body)


def outcome_for(container, application_id: str) -> tuple[str, dict]:
    """The event permits committed for an application: issued or refused."""
    engine = create_db_engine(container.config["DATABASE_URL"], pool_size=1)
    outbox = MESSAGING.outbox

    def committed() -> tuple[str, dict] | None:
        with engine.connect() as connection:
            rows = connection.execute(select(outbox.c.event_type, outbox.c.data)).all()
        mine = [
            (row.event_type, row.data)
            for row in rows
            if row.event_type in ("permit_issued", "permit_issuance_refused")
            and row.data["application_id"] == application_id
        ]
        return mine[0] if mine else None

    try:
        return wait_for(committed, timeout=5, what="permits to decide")
    finally:
        engine.dispose()


def forged_signature(keys, application_id: str) -> dict:
    signed = attestation(signer(keys[0]), application_id)
    forged = copy.deepcopy(signed)
    forged["payload"]["document_fingerprint"] = forged["payload"]["subject"] = "0" * 64
    return forged


def stranger_key(keys, application_id: str) -> dict:
    return attestation(Ed25519PrivateKey.generate(), application_id)


def key_id_swapped(keys, application_id: str) -> dict:
    """Signed with the old key but claiming the rotated key's id: a known id, a bad signature."""
    rotated_id = key_id(signer(keys[1]).public_key())
    return {**attestation(signer(keys[0]), application_id), "key_id": rotated_id}


ATTACKS = {
    "forged-signature": (
        forged_signature,
        "the identity attestation's signature is not valid",
    ),
    "expired": (
        lambda keys, app: attestation(
            signer(keys[0]), app, expires_at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        ),
        "the identity attestation has expired",
    ),
    "another-passport": (
        lambda keys, app: attestation(signer(keys[0]), app, number="Z7654321"),
        "the identity attestation names another travel document",
    ),
    "unknown-key-id": (
        stranger_key,
        "the identity attestation's key id is not one this service knows",
    ),
    "key-id-swapped": (
        key_id_swapped,
        "the identity attestation's signature is not valid",
    ),
    "failed-check": (
        lambda keys, app: attestation(signer(keys[0]), app, outcome="entry_ban"),
        "the identity attestation does not say verified",
    ),
    "another-application": (
        lambda keys, app: attestation(signer(keys[0]), str(uuid.uuid4())),
        "the identity attestation is for another application",
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacked_attestation_is_refused_with_the_reason(container, key_dirs, attack):
    make, reason = ATTACKS[attack]
    application_id = str(uuid.uuid4())

    deliver(container, approval(application_id, make(key_dirs, application_id)))

    event_type, data = outcome_for(container, application_id)
    assert (event_type, data["reason"]) == ("permit_issuance_refused", reason)


@pytest.mark.parametrize("generation", [0, 1], ids=["old-key", "rotated-key"])
def test_attestations_of_either_key_generation_are_accepted(container, key_dirs, generation):
    application_id = str(uuid.uuid4())
    signed = attestation(signer(key_dirs[generation]), application_id)

    deliver(container, approval(application_id, signed))

    event_type, data = outcome_for(container, application_id)
    assert event_type == "permit_issued"
    assert data["holder"]["passport_number"] == "Z1234567"
