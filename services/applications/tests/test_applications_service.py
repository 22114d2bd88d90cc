"""applications in a real Nameko container on a real RabbitMQ vhost."""

from __future__ import annotations

import pytest
from kombu import Connection, Queue
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from applications.service import ApplicationsService
from wpis_common.errors import Conflict, InvalidInput
from wpis_common.outbox import event_exchange
from wpis_common.testing import wait_for

pytestmark = pytest.mark.integration


def valid_payload() -> dict:
    return {
        "employer": {
            "tax_id": "02563412",
            "name": "Ararat Build LLC",
            "email": "hr@ararat.example",
        },
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
        "contract": {"start_date": "2027-01-15", "end_date": "2027-12-31"},
    }


@pytest.fixture
def container(container_factory, rabbit_config, make_database, callers):
    url = make_database("applications")
    config = {"DATABASE_URL": url, "OUTBOX_POLL_INTERVAL": 0.2, **callers.config}
    container = container_factory(ApplicationsService, config)
    container.start()
    container.callers = callers
    return container


def hook(container, method: str, role: str = "decision_officer"):
    """An entrypoint called by a caller of ``role`` (an employer for filing)."""
    role = "employer" if method == "submit" else role
    return entrypoint_hook(container, method, context_data=container.callers.context(role))


@pytest.fixture
def events_queue(rabbit_config, amqp_uri):
    """A queue bound to every applications event, standing in for a subscriber."""
    queue = Queue(
        "test-applications-events",
        exchange=event_exchange("applications"),
        routing_key="#",
        durable=False,
        auto_delete=False,
    )
    with Connection(amqp_uri) as connection:
        queue(connection.default_channel).declare()
        yield connection, queue


def drain(connection, queue) -> list[dict]:
    messages = []
    bound = queue(connection.default_channel)
    while (message := bound.get(no_ack=True)) is not None:
        messages.append(message.payload)
    return messages


def test_submit_stores_case_and_publishes_envelope(container, events_queue):
    with hook(container, "submit") as submit:
        created = submit(valid_payload())
    assert created["status"] == "identity_check_pending"
    with hook(container, "get") as get:
        assert get(created["id"])["worker"]["passport"]["number"] == "Z1234567"

    connection, queue = events_queue
    received: list[dict] = []

    def all_three() -> bool:
        received.extend(drain(connection, queue))
        return len(received) >= 3

    wait_for(all_three, what="the submission's events")
    by_type = {envelope["event_type"]: envelope for envelope in received}
    envelope = by_type["application_submitted"]
    assert envelope["producer"] == "applications"
    assert envelope["data"]["application_id"] == created["id"]
    assert envelope["data"]["kind"] == "new"
    assert envelope["data"]["due_at"]
    assert sorted(e["sequence"] for e in received) == [1, 2, 3]
    moves = [
        (e["data"]["from_status"], e["data"]["to_status"], e["data"]["role"])
        for e in sorted(received, key=lambda e: e["sequence"])
        if e["event_type"] == "application_status_changed"
    ]
    assert moves == [
        ("draft", "submitted", "employer"),
        ("submitted", "identity_check_pending", "system"),
    ]


def test_invalid_submission_is_refused_with_field_errors_and_stores_nothing(container):
    payload = valid_payload()
    payload["worker"]["passport"]["number"] = "bad number!"
    del payload["job"]["isco_code"]
    with hook(container, "submit") as submit, pytest.raises(InvalidInput) as raised:
        submit(payload)
    errors = raised.value.details["errors"]
    assert errors["worker.passport.number"] == ["must be 5-20 capital letters or digits"]
    assert errors["job.isco_code"] == ["Missing data for required field."]
    with hook(container, "list") as list_:
        assert list_() == []


def test_approving_before_identity_is_verified_is_a_conflict(container):
    with hook(container, "submit") as submit:
        created = submit(valid_payload())
    with hook(container, "decide") as decide, pytest.raises(Conflict) as raised:
        decide(created["id"], {"decision": "approve"})
    assert raised.value.details["status"] == "identity_check_pending"
    with hook(container, "get") as get:
        assert get(created["id"])["status"] == "identity_check_pending"


def test_identity_verified_event_moves_case_to_review_once(container):
    with hook(container, "submit") as submit:
        created = submit(valid_payload())
    envelope = {
        "event_id": "6f1c1f44-5ad0-4c36-9a55-2a8d3f7f0001",
        "event_type": "identity_verified",
        "schema_version": 1,
        "occurred_at": "2026-12-01T10:00:00+00:00",
        "producer": "identity_gateway",
        "sequence": 1,
        "data": {
            "application_id": created["id"],
            "verification_id": "6f1c1f44-5ad0-4c36-9a55-2a8d3f7f0002",
            "outcome": "verified",
            "attestation": {"payload": {}, "signature": "x", "key_id": "k"},
        },
    }
    from nameko.standalone.events import event_dispatcher

    dispatch = event_dispatcher()
    for _ in range(2):  # the same event twice: applied once
        with entrypoint_waiter(container, "on_identity_verified"):
            dispatch("identity_gateway", "identity_verified", envelope)
    with hook(container, "get") as get:
        case = get(created["id"])
    assert case["status"] == "in_review"
    assert [h["to_status"] for h in case["history"]] == [
        "draft",
        "submitted",
        "identity_check_pending",
        "labour_market_test_pending",
        "in_review",
    ]
    assert case["history"][-1]["reason"] == "exempt: not_required_by_configuration"
    assert case["labour_market_test"]["exemption"] == "not_required_by_configuration"
