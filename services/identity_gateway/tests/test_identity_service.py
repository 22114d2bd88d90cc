"""identity_gateway in a real Nameko container, talking to the real IDMS simulator:
checks and their attestations, the queue while the IDMS is down, re-checks from
the identity events feed, the audit log and the RPC that lists an application's checks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from identity_gateway.models import MESSAGING, AppendOnlyViolation, CheckAuditEntry, Verification
from identity_gateway.service import IdentityGatewayService
from national_idms.testing import AdminClient
from wpis_common.db import create_db_engine
from wpis_common.errors import InvalidInput
from wpis_common.signing import KeyRing, document_fingerprint, generate_key_pair, load_public_key
from wpis_common.testing import wait_for

pytestmark = pytest.mark.integration

PARTNER_KEY = "identity-gateway-test-key"


@pytest.fixture
def keys(tmp_path):
    private_path, public_path, _ = generate_key_pair(tmp_path / "keys")
    return private_path, KeyRing.of([load_public_key(public_path)])


@pytest.fixture
def database(make_database):
    return make_database("identity_gateway")


@pytest.fixture
def container(container_factory, rabbit_config, database, keys, idms: AdminClient):
    private_path, _ = keys
    config = {
        "DATABASE_URL": database,
        "IDMS_URL": idms.base_url,
        "IDMS_PARTNER_KEY": PARTNER_KEY,
        "IDMS_CONNECT_TIMEOUT": 0.5,
        "IDMS_READ_TIMEOUT": 1.0,
        "IDMS_BACKOFF_INITIAL": 0.01,
        "IDMS_BACKOFF_MAX": 0.05,
        "IDMS_BREAKER_FAIL_MAX": 3,
        "IDMS_BREAKER_RESET_TIMEOUT": 0.3,
        "IDMS_EVENTS_POLL_INTERVAL": 0.2,
        "ATTESTATION_PRIVATE_KEY": str(private_path),
        "RETRY_INTERVAL": 0.2,
        "RETRY_MAX_BACKOFF": 0.4,
        "OUTBOX_POLL_INTERVAL": 0.2,
    }
    container = container_factory(IdentityGatewayService, config)
    container.start()
    return container


def worker(number: str = "Z1234567", **changes: str) -> dict:
    return {
        "given_names": "Ravi",
        "surname": "Kumar",
        "date_of_birth": "1990-04-12",
        "sex": "M",
        "nationality": "IND",
        "email": "ravi@example.org",
        "passport": {"number": number, "issuing_country": "IND", "expiry_date": "2031-01-01"},
        **changes,
    }


def submit(container, applicant: dict, application_id: str | None = None) -> str:
    application_id = application_id or str(uuid.uuid4())
    body = {
        "event_id": str(uuid.uuid4()),
        "event_type": "application_submitted",
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "applications",
        "sequence": 1,
        "data": {
            "application_id": application_id,
            "employer": {"tax_id": "02563412", "name": "Ararat Build LLC"},
            "worker": applicant,
        },
    }
    with entrypoint_waiter(container, "on_application_submitted"):
        event_dispatcher()("applications", "application_submitted", body)
    return application_id


def events(database: str, *types: str) -> list[tuple[str, dict]]:
    engine = create_db_engine(database, pool_size=1)
    outbox = MESSAGING.outbox
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(outbox.c.event_type, outbox.c.data).order_by(outbox.c.id)
            ).all()
    finally:
        engine.dispose()
    return [(row.event_type, row.data) for row in rows if row.event_type in types]


def checks_of(container, application_id: str) -> list[dict]:
    with entrypoint_hook(container, "checks_for_application") as list_checks:
        return list_checks(application_id)["checks"]


def completed(container, application_id: str) -> dict | None:
    checks = checks_of(container, application_id)
    return checks[0] if checks and checks[0]["status"] == "completed" else None


def new_person(idms: AdminClient, given_names: str = "Karen", surname: str = "Hakobyan") -> str:
    number = f"T{uuid.uuid4().hex[:8].upper()}"
    idms.create_person(
        {
            "given_names": given_names,
            "surname": surname,
            "date_of_birth": "1990-04-12",
            "sex": "M",
            "nationality": "IND",
            "documents": [{"type": "passport", "number": number, "issuing_country": "IND",
                           "expiry_date": "2033-01-01", "status": "valid"}],
        }
    )  # fmt: skip
    return number


def test_verified_check_is_attested_audited_and_keeps_no_personal_data(container, database, keys):
    _, ring = keys
    application_id = submit(container, worker())

    check = wait_for(lambda: completed(container, application_id), what="check completed")

    assert check["outcome"] == "verified"
    assert check["subject"] == document_fingerprint("IND", "Z1234567")
    assert uuid.UUID(check["transaction_id"]) and check["idms_latency_ms"] > 0
    [(_, data)] = events(database, "identity_verified")
    attestation = data["attestation"]
    assert ring.verify(attestation)
    assert attestation == check["attestation"]
    payload = attestation["payload"]
    assert (payload["outcome"], payload["application_id"]) == ("verified", application_id)
    assert payload["checks_performed"][-1] == "entry_ban"
    assert payload["issued_at"] < payload["expires_at"]

    actions = [entry["action"] for entry in check["audit"]]
    assert actions == ["check_requested", "idms_called", "check_completed"]
    assert {entry["requested_by"] for entry in check["audit"]} == {
        "applications for employer 02563412"
    }
    assert all(application_id in entry["purpose"] for entry in check["audit"])
    assert check["audit"][1]["transaction_id"] == check["transaction_id"]
    stored = _stored_verification(database, application_id)
    assert stored.pending_query is None
    assert "Kumar" not in str(check) and "Z1234567" not in str(check)


def test_failed_check_is_attested_too(container, database, keys):
    _, ring = keys
    stolen = worker("BS7654321", given_names="Mohammad", surname="Rahman",
                    date_of_birth="1988-02-14", nationality="BGD")  # fmt: skip
    stolen["passport"]["issuing_country"] = "BGD"
    application_id = submit(container, stolen)

    check = wait_for(lambda: completed(container, application_id), what="check completed")

    assert (check["outcome"], check["idms_codes"]) == ("document_invalid", ["IDMS-DOC-003"])
    [(_, data)] = events(database, "identity_rejected")
    assert data["reason"] == "the travel document is reported stolen"
    assert ring.verify(data["attestation"])
    assert data["attestation"]["payload"]["outcome"] == "document_invalid"


def test_while_the_idms_is_down_checks_wait_in_order_and_complete_once(
    container, database, idms: AdminClient
):
    idms.set_fault(status=503)
    before = idms.requests_received()
    applications = [submit(container, worker()) for _ in range(4)]

    def all_deferred() -> bool:
        deferred = {
            data["application_id"] for _, data in events(database, "identity_check_deferred")
        }
        return deferred >= set(applications)

    wait_for(all_deferred, timeout=10, what="every check deferred")
    for application_id in applications:
        [check] = checks_of(container, application_id)
        assert check["status"] == "pending"
        assert check["reason"].startswith("the national identity register is unavailable")
    wait_for(lambda: idms.requests_received() - before >= 3, what="the breaker to open")
    # the breaker is open: the IDMS hears one trial call per reset timeout, not a flood
    assert idms.requests_received() - before < 10

    idms.clear_fault()
    finished = [
        wait_for(lambda a=a: completed(container, a), timeout=15, what="check completed")
        for a in applications
    ]

    assert [check["outcome"] for check in finished] == ["verified"] * 4
    completed_at = [check["completed_at"] for check in finished]
    assert completed_at == sorted(completed_at)  # in the order they were asked for
    verified = [data["application_id"] for _, data in events(database, "identity_verified")]
    assert verified == applications  # each once, in order


def test_a_repeated_request_does_not_start_a_second_check(container, database):
    application_id = submit(container, worker())
    submit(container, worker(), application_id)

    wait_for(lambda: completed(container, application_id), what="check completed")
    assert len(checks_of(container, application_id)) == 1
    assert len(events(database, "identity_verified")) == 1


def test_identity_events_become_status_changes_for_verified_documents_only(
    container, database, idms: AdminClient
):
    number = new_person(idms)
    application_id = submit(container, worker(number, given_names="Karen", surname="Hakobyan"))
    wait_for(lambda: completed(container, application_id), what="check completed")
    unchecked = new_person(idms, "Lilit", "Sargsyan")

    idms.report("document_stolen", unchecked, "IND")  # never verified here: nothing to say
    idms.report("document_stolen", number, "IND")
    idms.report("person_deceased", number, "IND")

    def changes() -> list[dict] | None:
        found = [data for _, data in events(database, "identity_status_changed")]
        return found if len(found) >= 2 else None

    found = wait_for(changes, timeout=10, what="identity_status_changed")
    subject = document_fingerprint("IND", number)
    assert [(c["subject"], c["document_country"], c["change"]) for c in found] == [
        (subject, "IND", "document_stolen"),
        (subject, "IND", "person_deceased"),
    ]
    assert set(found[0]) == {"subject", "document_country", "change", "reported_at"}
    with Session(create_db_engine(database, pool_size=1)) as session:
        logged = session.scalars(
            select(CheckAuditEntry.outcome).where(CheckAuditEntry.action == "identity_event")
        ).all()
    assert logged[-3:] == ["document_stolen", "document_stolen", "person_deceased"]


def test_checks_for_application_validates_its_input(container):
    with entrypoint_hook(container, "checks_for_application") as list_checks:
        with pytest.raises(InvalidInput) as refused:
            list_checks("not-a-uuid")
        unknown = str(uuid.uuid4())
        assert list_checks(unknown) == {"application_id": unknown, "checks": []}
    assert refused.value.details["errors"] == {"application_id": ["must be a UUID"]}


def test_the_audit_log_is_append_only(container, database):
    application_id = submit(container, worker())
    wait_for(lambda: completed(container, application_id), what="check completed")
    engine = create_db_engine(database, pool_size=1)
    try:
        for statement in ("UPDATE check_audit SET action = 'forged'", "DELETE FROM check_audit"):
            with engine.begin() as connection, pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
        with Session(engine) as session:
            entry = session.scalars(select(CheckAuditEntry)).first()
            entry.detail = "rewritten"
            with pytest.raises(AppendOnlyViolation):
                session.flush()
        with engine.connect() as connection:
            count = connection.execute(text("SELECT COUNT(*) FROM check_audit")).scalar()
        assert count >= 3
    finally:
        engine.dispose()


def _stored_verification(database: str, application_id: str) -> Verification:
    engine = create_db_engine(database, pool_size=1)
    try:
        with Session(engine) as session:
            return session.scalars(
                select(Verification).where(Verification.application_id == application_id)
            ).one()
    finally:
        engine.dispose()
