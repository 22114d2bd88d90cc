"""The case workflow in a real Nameko container on a real RabbitMQ vhost, with the
clock and the state systems (agency, payments, permits) replaced by fakes: the
deadline timer is driven by moving the clock and calling ``tick`` (no waiting)."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter, replace_dependencies

from applications.documents import DocumentStore
from applications.errors import Forbidden
from applications.service import ApplicationsService
from wpis_common.caller import Unauthenticated
from wpis_common.errors import Conflict, InvalidInput, NotFound
from wpis_common.outbox import event_exchange
from wpis_common.testing import Callers, wait_for

pytestmark = pytest.mark.integration

EMPLOYER = {"role": "employer", "actor": "02563412"}
OFFICER = {"role": "decision_officer", "actor": "officer.anna"}
PDF = b"%PDF-1.7\n" + b"x" * 100
LIMIT = 2048


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


class FakeAgency:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: dict[str, dict] = {}

    def request_test(self, request: dict) -> str:
        self.requests.append(request)
        return f"LMT-{len(self.requests)}"

    def answer(self, request_id: str) -> dict:
        return self.answers.get(request_id, {"status": "pending", "reason": None})


class FakePayments:
    def __init__(self) -> None:
        self.ledger: dict[str, dict] = {}

    def confirmation(self, reference: str) -> dict:
        return self.ledger.get(reference, {"status": "unknown"})


class FakeStateServices:
    def __init__(self) -> None:
        self.agency = FakeAgency()
        self.payments = FakePayments()


def payload(**top) -> dict:
    case = {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC",
                     "email": "hr@ararat.example"},
        "worker": {
            "given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12", "sex": "M",
            "nationality": "IND", "email": "ravi@example.org",
            "passport": {"number": "Z1234567", "issuing_country": "IND",
                         "expiry_date": "2031-01-01"},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": "2027-01-15", "end_date": "2027-12-31"},
    }  # fmt: skip
    return {**copy.deepcopy(case), **top}


@pytest.fixture
def world(container_factory, rabbit_config, make_database, tmp_path, callers):
    config = {
        **callers.config,
        "DATABASE_URL": make_database("applications"),
        "OUTBOX_POLL_INTERVAL": 0.2,
        "TIMER_INTERVAL": 3600,  # the test calls tick itself
        "DOCUMENTS_ROOT": str(tmp_path / "documents"),
        "DOCUMENT_MAX_BYTES": LIMIT,
        "DOCUMENTS_REQUIRED": True,
        "CHECKLIST_NEW": "passport_copy,contract_draft",
        "FEE_REQUIRED": True,
        "LMT_REQUIRED": True,
        "LMT_EXEMPT_ISCO_CODES": "1120",
        "LMT_WORKING_DAYS": 15,
        "LMT_DEFAULT_OUTCOME": "consent",
        "DEADLINE_DAYS_NEW": 30,
        "DEADLINE_WARNING_DAYS": 5,
    }
    container = container_factory(ApplicationsService, config)
    clock, state = FakeClock(), FakeStateServices()
    permits = replace_dependencies(container, "permits", clock=clock, state=state)
    container.start()

    class World:
        pass

    world = World()
    world.container, world.clock, world.state, world.permits = container, clock, state, permits
    world.callers = callers
    world.store = DocumentStore(config["DOCUMENTS_ROOT"])
    return world


@pytest.fixture
def events(rabbit_config, amqp_uri):
    queue = Queue(
        "test-applications-workflow-events",
        exchange=event_exchange("applications"),
        routing_key="#",
        durable=False,
        auto_delete=False,
    )
    with Connection(amqp_uri) as connection:
        queue(connection.default_channel).declare()
        seen: list[dict] = []

        def of_type(event_type: str, count: int = 1) -> list[dict]:
            def arrived() -> list[dict] | None:
                bound = queue(connection.default_channel)
                while (message := bound.get(no_ack=True)) is not None:
                    seen.append(message.payload)
                matching = [e for e in seen if e["event_type"] == event_type]
                return matching if len(matching) >= count else None

            return wait_for(arrived, timeout=10, what=f"{count} {event_type}")

        of_type.seen = seen
        yield of_type


# Who calls when a test names nobody (the roles the service assumed before accounts).
DEFAULT_ROLES = {"submit": "employer", "submit_draft": "employer", "resubmit": "employer",
                 "withdraw": "employer", "pay_fee": "employer", "add_document": "employer",
                 "close": "supervisor", "assign": "supervisor"}  # fmt: skip


def call(world, method: str, *args):
    """Call an entrypoint; a trailing ``{"role": ..., "actor": ...}`` names the caller (its
    access token goes in the worker context; an employer's actor is its tax id)."""
    who: dict = {}
    if args and isinstance(args[-1], dict) and args[-1] and set(args[-1]) <= {"role", "actor"}:
        *args, who = args
    role = who.get("role") or DEFAULT_ROLES.get(method, "decision_officer")
    actor = who.get("actor")
    if role == "employer":
        context = world.callers.context(role, "ararat", actor or Callers.EMPLOYER_TAX_ID)
    else:
        context = world.callers.context(role, actor or role)
    with entrypoint_hook(world.container, method, context_data=context) as entrypoint:
        return entrypoint(*args)


def upload(world, application_id: str, document_type: str, content: bytes = PDF, **extra):
    body = {"document_type": document_type, "filename": f"{document_type}.pdf",
            "content": base64.b64encode(content).decode(), **extra}  # fmt: skip
    return call(world, "add_document", application_id, body, EMPLOYER)


def identity_verified(world, application_id: str) -> None:
    envelope = {
        "event_id": f"00000000-0000-4000-8000-{application_id[-12:]}",
        "event_type": "identity_verified",
        "schema_version": 1,
        "occurred_at": "2026-12-01T10:00:00+00:00",
        "producer": "identity_gateway",
        "sequence": 1,
        "data": {
            "application_id": application_id,
            "verification_id": "6f1c1f44-5ad0-4c36-9a55-2a8d3f7f0002",
            "outcome": "verified",
            "attestation": {"payload": {}, "signature": "x", "key_id": "k"},
        },
    }
    with entrypoint_waiter(world.container, "on_identity_verified"):
        event_dispatcher()("identity_gateway", "identity_verified", envelope)


def filed_and_submitted(world, **top) -> dict:
    draft = call(world, "submit", payload(draft=True, **top), EMPLOYER)
    upload(world, draft["id"], "passport_copy")
    upload(world, draft["id"], "contract_draft")
    return call(world, "submit_draft", draft["id"], EMPLOYER)


# -- documents -------------------------------------------------------------------------


def test_missing_documents_block_submission_with_the_list(world):
    draft = call(world, "submit", payload(draft=True), EMPLOYER)
    assert draft["status"] == "draft"
    upload(world, draft["id"], "contract_draft")
    with pytest.raises(Conflict) as refused:
        call(world, "submit_draft", draft["id"], EMPLOYER)
    assert refused.value.details["missing_documents"] == ["passport_copy"]
    assert call(world, "get", draft["id"], OFFICER)["status"] == "draft"


def test_upload_records_sha256_and_only_viewers_may_read_it(world):
    draft = call(world, "submit", payload(draft=True), EMPLOYER)
    stored = upload(world, draft["id"], "passport_copy", content_type="application/pdf")
    assert stored["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (stored["size"], stored["media_type"]) == (len(PDF), "application/pdf")
    document = call(world, "document", draft["id"], stored["id"], OFFICER)
    assert base64.b64decode(document["content"]) == PDF
    for role in ("auditor",):
        with pytest.raises(Forbidden):
            call(world, "document", draft["id"], stored["id"], {"role": role})
        with pytest.raises(Forbidden):
            call(world, "documents_of", draft["id"], {"role": role})
    with pytest.raises(NotFound):  # another employer does not learn the case exists
        call(
            world, "document", draft["id"], stored["id"], {"role": "employer", "actor": "99999999"}
        )


@pytest.mark.parametrize(
    ("content", "declared", "field_error"),
    [
        (b"%PDF-" + b"x" * LIMIT, "application/pdf", "the limit is 2048 bytes"),
        (b"MZ\x90\x00" + b"x" * 100, "application/x-msdownload", "the file type is not allowed"),
        (b"<html><script>", "text/html", "the file type is not allowed"),
    ],
)
def test_oversized_or_forbidden_upload_is_refused_and_stores_nothing(
    world, content, declared, field_error
):
    draft = call(world, "submit", payload(draft=True), EMPLOYER)
    with pytest.raises(InvalidInput) as refused:
        upload(world, draft["id"], "passport_copy", content, content_type=declared)
    assert field_error in refused.value.details["errors"]["file"][0]
    assert world.store.count() == 0
    assert call(world, "documents_of", draft["id"], OFFICER) == []


# -- the labour-market test, the fee, the statutory clock ----------------------------------


def test_labour_market_test_consent_then_fee_then_approval(world, events):
    case = filed_and_submitted(world)
    assert case["labour_market_test"]["required"] is True
    identity_verified(world, case["id"])
    assert call(world, "get", case["id"], OFFICER)["status"] == "labour_market_test_pending"

    assert call(world, "tick")["asked"] == 1
    assert world.state.agency.requests[0]["isco_code"] == "7212"
    requested = events("labour_market_test_requested")[0]["data"]
    # 15 working days from Tue 1 Dec 2026, skipping weekends and 31 Dec / 1-2 Jan? only
    # configured holidays count: none here, so Tue 22 Dec 2026.
    assert requested["due_at"].startswith("2026-12-22")

    world.state.agency.answers["LMT-1"] = {"status": "consent", "reason": "no local candidate"}
    assert call(world, "tick")["answered"] == 1
    assert call(world, "get", case["id"], OFFICER)["status"] == "in_review"

    with pytest.raises(Conflict) as unpaid:
        call(world, "decide", case["id"], {"decision": "approve"}, OFFICER)
    assert unpaid.value.details["blockers"] == ["the state fee has not been paid"]

    world.state.payments.ledger["TRX-0001"] = {"status": "confirmed", "amount": 105000,
                                            "currency": "AMD"}  # fmt: skip
    paid = call(world, "pay_fee", case["id"], {"reference": "TRX-0001"}, EMPLOYER)
    assert paid["fee"]["reference"] == "TRX-0001"
    approved = call(world, "decide", case["id"], {"decision": "approve"}, OFFICER)
    assert approved["status"] == "approved"
    event = events("application_approved")[0]["data"]
    assert (event["kind"], event["fee_reference"], event["exemption"]) == ("new", "TRX-0001", None)


def test_silent_agency_gets_the_default_outcome_when_its_deadline_passes(world, events):
    case = filed_and_submitted(world)
    identity_verified(world, case["id"])
    call(world, "tick")
    world.clock.advance(days=22)  # past the end of the 15th working day (22 Dec)
    assert call(world, "tick")["defaulted"] == 1
    settled = call(world, "get", case["id"], OFFICER)
    assert settled["status"] == "in_review"
    assert settled["labour_market_test"]["outcome"] == "consent"
    completed = events("labour_market_test_completed")[0]["data"]
    assert completed["decided_by"] == "deadline"


def test_exempt_profession_skips_the_labour_market_test(world):
    job = payload()["job"] | {"isco_code": "1120", "title": "Managing director"}
    case = filed_and_submitted(world, job=job)
    assert case["labour_market_test"]["exemption"] == "listed_profession"
    identity_verified(world, case["id"])
    assert call(world, "get", case["id"], OFFICER)["status"] == "in_review"
    assert world.state.agency.requests == []


def test_overdue_case_is_flagged_by_the_timer_when_the_clock_moves(world, events):
    case = filed_and_submitted(world)
    due = datetime.fromisoformat(case["due_at"])
    assert due == world.clock.now() + timedelta(days=30)

    world.clock.advance(days=24)
    assert call(world, "tick")["signalled"] == 0
    world.clock.advance(days=1)  # five days left
    assert call(world, "tick")["signalled"] == 1
    assert events("application_deadline_approaching")[0]["data"]["application_id"] == case["id"]
    assert call(world, "tick")["signalled"] == 0  # announced once

    world.clock.advance(days=5, seconds=1)
    assert call(world, "tick")["signalled"] == 1
    overdue = events("application_overdue")[0]["data"]
    assert (overdue["application_id"], overdue["status"]) == (case["id"], "identity_check_pending")
    assert call(world, "tick")["signalled"] == 0
    listed = call(world, "search", {"overdue": True}, OFFICER)["items"]
    assert [item["id"] for item in listed] == [case["id"]]
    assert call(world, "get", case["id"], OFFICER)["overdue"] is True


def test_send_back_stops_the_clock_until_resubmission(world, events):
    job = payload()["job"] | {"isco_code": "1120"}
    case = filed_and_submitted(world, job=job)
    identity_verified(world, case["id"])
    returned = call(world, "send_back", case["id"],
                    {"reason": "salary below the contract", "fix": ["job.monthly_salary"]},
                    OFFICER)  # fmt: skip
    assert returned["status"] == "returned_for_correction"
    assert events("application_returned")[0]["data"]["fix"] == ["job.monthly_salary"]
    world.clock.advance(days=10)
    corrected = call(
        world,
        "resubmit",
        case["id"],
        {"job": job | {"monthly_salary": 500000}, "note": "fixed"},
        EMPLOYER,
    )
    assert corrected["status"] == "in_review"
    assert corrected["job"]["monthly_salary"] == 500000
    original_due = datetime.fromisoformat(case["due_at"])
    assert datetime.fromisoformat(corrected["due_at"]) == original_due + timedelta(days=10)


# -- kinds referencing a permit ----------------------------------------------------------


def test_extension_of_a_permit_that_is_not_valid_is_refused_and_stores_nothing(world):
    world.permits.verify.return_value = {
        "number": "WP-2026-000001-K", "valid": False, "reason": "the permit was revoked",
    }  # fmt: skip
    with pytest.raises(Conflict) as refused:
        call(world, "submit", payload(kind="extension", permit_number="WP-2026-000001-K"),
             EMPLOYER)  # fmt: skip
    assert refused.value.message == (
        "permit WP-2026-000001-K cannot be extended: the permit was revoked"
    )
    assert call(world, "search", {}, OFFICER)["items"] == []


def test_amendment_of_a_valid_permit_is_filed_without_a_labour_market_test(world):
    world.permits.verify.return_value = {"number": "WP-2026-000001-K", "valid": True}
    case = call(world, "submit", payload(kind="amendment", permit_number="WP-2026-000001-K",
                                         draft=True), EMPLOYER)  # fmt: skip
    assert (case["kind"], case["referenced_permit"]) == ("amendment", "WP-2026-000001-K")
    assert case["labour_market_test"]["exemption"] == "not_required_for_amendment"
    world.permits.verify.assert_called_once_with("WP-2026-000001-K")


# -- who may do what ----------------------------------------------------------------------------


def test_roles_are_checked_and_illegal_transitions_change_nothing(world):
    case = filed_and_submitted(world)
    with pytest.raises(Forbidden):  # an employer cannot file for another tax id
        call(world, "submit", payload(), {"role": "employer", "actor": "11111111"})
    with pytest.raises(Unauthenticated):  # a token with a role outside the list
        call(world, "get", case["id"], {"role": "wizard"})
    with pytest.raises(Forbidden):  # the agency has no access to applications
        call(world, "get", case["id"], {"role": "agency"})
    with pytest.raises(NotFound):  # another employer: not found, not forbidden
        call(world, "get", case["id"], {"role": "employer", "actor": "11111111"})
    with pytest.raises(Conflict) as illegal:
        call(world, "decide", case["id"], {"decision": "approve"}, OFFICER)
    assert illegal.value.details["status"] == "identity_check_pending"
    assert illegal.value.details["allowed_actions_any_role"] == ["identity_verified",
        "identity_rejected", "identity_deferred", "withdraw"]  # fmt: skip
    before = call(world, "history", case["id"], OFFICER)
    with pytest.raises(Forbidden):
        call(world, "withdraw", case["id"], {}, OFFICER)
    assert call(world, "history", case["id"], OFFICER) == before


def test_assignment_queue_and_pool(world):
    first, second = filed_and_submitted(world), filed_and_submitted(world)
    anna = {"role": "decision_officer", "actor": "anna"}
    call(world, "assign", first["id"], {"officer": "anna"}, anna)  # takes it from the pool
    with pytest.raises(Forbidden):  # but cannot hand it to someone else
        call(world, "assign", second["id"], {"officer": "bob"}, anna)
    call(world, "assign", second["id"], {"officer": "bob"}, {"role": "supervisor"})
    queue = call(world, "search", {"assigned_to": "anna"}, OFFICER)["items"]
    assert [item["id"] for item in queue] == [first["id"]]
    call(world, "assign", first["id"], {"officer": None}, {"role": "supervisor"})
    pool = call(world, "search", {"assigned_to": "none"}, OFFICER)["items"]
    assert [item["id"] for item in pool] == [first["id"]]
    assert call(world, "history", first["id"], OFFICER)[-1]["action"] == "assign"
