"""permits in a real container: the no-attestation, no-permit invariant is
enforced here, whatever upstream says, and issuing is idempotent."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from permits import domain
from permits.service import PermitsService
from wpis_common.errors import NotFound
from wpis_common.signing import document_fingerprint, generate_key_pair, load_private_key, sign

pytestmark = pytest.mark.integration


@pytest.fixture
def keys(tmp_path):
    private_path, public_path, _ = generate_key_pair(tmp_path / "keys")
    return load_private_key(private_path), public_path


@pytest.fixture
def container(container_factory, rabbit_config, make_database, keys, callers):
    _, public_path = keys
    config = {"DATABASE_URL": make_database("permits"), "ATTESTATION_PUBLIC_KEY": str(public_path),
              **callers.config}  # fmt: skip
    container = container_factory(PermitsService, config)
    container.start()
    container.callers = callers
    return container


def hook(container, method: str):
    return entrypoint_hook(container, method, context_data=container.callers.context("auditor"))


def approval(private_key, case_id: str, **attestation_changes) -> dict:
    start = date.today() + timedelta(days=10)
    now = datetime.now(UTC)
    payload = {
        "attestation_id": str(uuid.uuid4()),
        "issuer": "wpis.identity_gateway",
        "verification_id": str(uuid.uuid4()),
        "application_id": case_id,
        "subject": "token",
        "document_type": "passport",
        "document_country": "IND",
        "document_fingerprint": document_fingerprint("IND", "Z1234567"),
        "outcome": "verified",
        "checked_at": now.isoformat(),
        "expires_at": (now + timedelta(days=30)).isoformat(),
        **attestation_changes,
    }
    return {
        "application_id": case_id,
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": "Ravi",
            "surname": "Kumar",
            "date_of_birth": "1990-04-12",
            "sex": "M",
            "nationality": "IND",
            "email": "ravi@example.org",
            "passport": {
                "number": "Z1234567",
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
            "end_date": (start + timedelta(days=200)).isoformat(),
        },
        "submitted_at": now.isoformat(),
        "decided_by": "officer",
        "decided_at": now.isoformat(),
        "attestation": sign(private_key, payload),
    }


def envelope(data: dict) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "application_approved",
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "applications",
        "sequence": 1,
        "data": data,
    }


def deliver(container, body: dict) -> None:
    with entrypoint_waiter(container, "on_application_approved"):
        event_dispatcher()("applications", "application_approved", body)


def test_valid_attestation_gives_one_permit_even_when_approval_arrives_twice(container, keys):
    private_key, _ = keys
    application_id = str(uuid.uuid4())
    data = approval(private_key, application_id)
    deliver(container, envelope(data))
    deliver(container, envelope(data))  # a second approval event for the same case

    number = domain.permit_number(date.today().year, 1)
    with hook(container, "get") as get:
        permit = get(number)
    assert permit["application_id"] == application_id
    assert permit["valid_from"] == data["contract"]["start_date"]
    with hook(container, "get") as get, pytest.raises(NotFound):
        get(domain.permit_number(date.today().year, 2))


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"outcome": "data_mismatch"}, id="not-verified"),
        pytest.param(
            {"document_fingerprint": document_fingerprint("IND", "X999")}, id="other-passport"
        ),
        pytest.param({"expires_at": "2020-01-01T00:00:00+00:00"}, id="expired"),
        pytest.param({"application_id": "someone-else"}, id="other-application"),
    ],
)
def test_no_valid_attestation_no_permit(container, keys, tamper):
    private_key, _ = keys
    data = approval(private_key, str(uuid.uuid4()), **tamper)
    deliver(container, envelope(data))
    with hook(container, "get") as get, pytest.raises(NotFound):
        get(domain.permit_number(date.today().year, 1))


def test_forged_signature_gives_no_permit(container, keys):
    private_key, _ = keys
    data = approval(private_key, str(uuid.uuid4()))
    data["attestation"]["payload"]["subject"] = "someone else"  # signed payload altered
    deliver(container, envelope(data))
    with entrypoint_hook(container, "verify") as verify:
        verdict = verify(domain.permit_number(date.today().year, 1))
    assert verdict["valid"] is False
    assert verdict["result"] == "unknown"
