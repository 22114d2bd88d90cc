"""The one-window flow end to end: real processes, real HTTP, real RabbitMQ,
the identity check through the real HTTP adapter against the IDMS simulator,
and an outside agency listening with plain pika."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta

import pika
import pytest
import requests

from wpis_common.suite import Suite
from wpis_common.testing import auth_headers, wait_for

pytestmark = pytest.mark.e2e

AGENCY_QUEUE = "agency.police.permit-events"


def ravi_kumar(start: date | None = None) -> dict:
    start = start or date.today() + timedelta(days=45)
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
        "contract": {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=300)).isoformat(),
        },
    }


class Agency:
    """An outside subscriber: plain pika, its own durable queue, no Nameko."""

    def __init__(self, amqp_uri: str):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        # Passive: the exchange belongs to WPIS; declaring it with other
        # arguments would fail with PRECONDITION_FAILED.
        self.channel.exchange_declare("permits.events", passive=True)
        self.channel.queue_declare(AGENCY_QUEUE, durable=True)
        self.channel.queue_bind(AGENCY_QUEUE, "permits.events", routing_key="permit_issued")

    def next_message(self) -> tuple[pika.BasicProperties, dict] | None:
        method, properties, body = self.channel.basic_get(AGENCY_QUEUE, auto_ack=True)
        if method is None:
            return None
        return properties, json.loads(body)

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="module")
def agency(suite: Suite):
    subscriber = Agency(suite.amqp_uri)
    yield subscriber
    subscriber.close()


def api(suite: Suite, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


def get_application(suite: Suite, application_id: str) -> dict:
    response = requests.get(
        api(suite, f"/applications/{application_id}"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_status(suite: Suite, application_id: str, *statuses: str) -> dict:
    def reached() -> dict | None:
        case = get_application(suite, application_id)
        return case if case["status"] in statuses else None

    return wait_for(reached, timeout=30, what=f"application to reach {statuses}")


def decide(suite: Suite, application_id: str, decision: str) -> requests.Response:
    url = api(suite, f"/applications/{application_id}/decision")
    return requests.post(
        url, json={"decision": decision}, timeout=10, headers=auth_headers(suite, "officer")
    )


def submit(suite: Suite, payload: dict) -> dict:
    response = requests.post(
        api(suite, "/applications"), json=payload, timeout=10, headers=auth_headers(suite, "ararat")
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_application_becomes_permit_and_contract_and_agency_is_told(suite: Suite, agency: Agency):
    created = submit(suite, ravi_kumar())
    assert created["status"] == "identity_check_pending"

    in_review = wait_for_status(suite, created["id"], "in_review")
    assert in_review["identity"]["outcome"] == "verified"

    decision = requests.post(
        api(suite, f"/applications/{created['id']}/decision"),
        json={"decision": "approve", "reason": "documents in order", "officer": "officer.anna"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert decision.status_code == 200, decision.text
    assert decision.json()["status"] == "approved"

    def issued_with_contract() -> dict | None:
        case = get_application(suite, created["id"])
        return case if case["status"] == "permit_issued" and case["contract_id"] else None

    issued = wait_for(issued_with_contract, timeout=30, what="permit and contract")
    number = issued["permit_number"]

    permit = requests.get(
        api(suite, f"/permits/{number}"), timeout=10, headers=auth_headers(suite, "officer")
    ).json()
    assert permit["application_id"] == created["id"]
    assert permit["holder"]["passport_number"] == "Z1234567"
    assert permit["valid_from"] == ravi_kumar()["contract"]["start_date"]

    contract = requests.get(
        api(suite, f"/contracts/{issued['contract_id']}"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    ).json()
    assert contract["permit_number"] == number
    assert contract["employer_tax_id"] == "02563412"

    properties, envelope = wait_for(agency.next_message, timeout=20, what="permit_issued at agency")
    assert envelope["event_type"] == "permit_issued"
    assert envelope["producer"] == "permits"
    assert envelope["schema_version"] == 1
    assert isinstance(envelope["sequence"], int) and envelope["sequence"] >= 1
    assert uuid.UUID(envelope["event_id"]).version == 4
    assert datetime.fromisoformat(envelope["occurred_at"]).utcoffset() == timedelta(0)
    assert envelope["data"]["permit_number"] == number
    assert properties.message_id == envelope["event_id"]
    assert properties.content_type == "application/json"
    assert properties.delivery_mode == 2

    notices = wait_for(
        lambda: [
            n
            for n in requests.get(
                api(suite, f"/applications/{created['id']}/notifications"),
                timeout=10,
                headers=auth_headers(suite, "officer"),
            ).json()
            if n["template"] == "permit_issued"
        ],
        what="permit notices",
    )
    assert {n["recipient"] for n in notices} == {"hr@ararat.example", "ravi@example.org"}


def test_public_verification_reveals_validity_and_employer_only(suite: Suite):
    created = submit(suite, ravi_kumar(start=date.today()))
    wait_for_status(suite, created["id"], "in_review")
    requests.post(
        api(suite, f"/applications/{created['id']}/decision"),
        json={"decision": "approve"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    number = wait_for_status(suite, created["id"], "permit_issued")["permit_number"]

    verdict = requests.get(api(suite, f"/verify/{number}"), timeout=10).json()
    assert verdict["valid"] is True
    assert verdict["employer_name"] == "Ararat Build LLC"
    assert not {"holder", "worker", "passport_number", "date_of_birth"} & set(verdict)

    mistyped = number[:-1] + ("A" if number[-1] != "A" else "B")
    assert requests.get(api(suite, f"/verify/{mistyped}"), timeout=10).json()["valid"] is False


def test_unknown_passport_is_refused_with_the_identity_reason(suite: Suite):
    payload = ravi_kumar()
    payload["worker"]["passport"]["number"] = "N0000000"
    created = submit(suite, payload)
    refused = wait_for_status(suite, created["id"], "rejected")
    assert refused["identity"]["outcome"] == "not_found"
    assert "not_found" in refused["decision_reason"]

    approve = requests.post(
        api(suite, f"/applications/{created['id']}/decision"),
        json={"decision": "approve"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert approve.status_code == 409
    assert approve.json()["error"]["details"]["status"] == "rejected"


def count_applications(suite: Suite) -> int:
    return len(
        requests.get(
            api(suite, "/applications"),
            params={"limit": 500},
            timeout=10,
            headers=auth_headers(suite, "officer"),
        ).json()
    )


def test_bad_requests_get_clear_errors_and_store_nothing(suite: Suite):
    before = count_applications(suite)

    malformed = requests.post(
        api(suite, "/applications"),
        data=b'{"employer": ',
        headers={**auth_headers(suite, "ararat"), "Content-Type": "application/json"},
        timeout=10,
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_request"

    payload = ravi_kumar()
    payload["worker"]["passport"]["expiry_date"] = "2020-01-01"
    payload["job"]["region"] = "Mars"
    invalid = requests.post(
        api(suite, "/applications"), json=payload, timeout=10, headers=auth_headers(suite, "ararat")
    )
    assert invalid.status_code == 422
    errors = invalid.json()["errors"]
    assert "job.region" in errors
    assert count_applications(suite) == before

    expired = ravi_kumar()
    expired["worker"]["passport"]["expiry_date"] = "2020-01-01"
    refused = requests.post(
        api(suite, "/applications"), json=expired, timeout=10, headers=auth_headers(suite, "ararat")
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"worker.passport.expiry_date": ["the passport has expired"]}

    unknown = requests.get(
        api(suite, f"/applications/{uuid.uuid4()}"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert unknown.status_code == 404
    assert count_applications(suite) == before


def test_health(suite: Suite):
    response = requests.get(f"{suite.gateway_url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "broker": "reachable"}
