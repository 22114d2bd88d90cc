"""Contract termination end to end: real processes, real HTTP, real RabbitMQ.

An application becomes a permit and a contract; the employer amends and then
terminates the contract over the API; contracts publishes ``contract_terminated``,
permits cancels the permit (``permit_cancelled``); an outside agency listening with
plain pika sees both, in that order; and the public check then says the permit is
not valid because it was cancelled."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pika
import pytest
import requests

from wpis_common.suite import Suite
from wpis_common.testing import auth_headers, wait_for

pytestmark = pytest.mark.e2e

AGENCY_QUEUE = "agency.labour-inspectorate.contract-events"
TAX_ID = "02563412"


def application(start: date) -> dict:
    return {
        "employer": {"tax_id": TAX_ID, "name": "Ararat Build LLC", "email": "hr@ararat.example"},
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
    """An outside subscriber: plain pika, one durable queue bound to two exchanges."""

    def __init__(self, amqp_uri: str):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.queue_declare(AGENCY_QUEUE, durable=True)
        for exchange, routing_key in [
            ("contracts.events", "contract_terminated"),
            ("permits.events", "permit_cancelled"),
        ]:
            self.channel.exchange_declare(exchange, passive=True)
            self.channel.queue_bind(AGENCY_QUEUE, exchange, routing_key=routing_key)
        self.received: list[dict] = []

    def drain(self) -> list[dict]:
        while True:
            method, _properties, body = self.channel.basic_get(AGENCY_QUEUE, auto_ack=True)
            if method is None:
                return self.received
            self.received.append(json.loads(body))

    def wait_for_types(self, *event_types: str) -> list[dict]:
        def arrived() -> list[dict] | None:
            seen = [e for e in self.drain() if e["event_type"] in event_types]
            return seen if len(seen) >= len(event_types) else None

        return wait_for(arrived, timeout=30, what=f"{event_types} at the agency")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="module")
def agency(suite: Suite):
    subscriber = Agency(suite.amqp_uri)
    yield subscriber
    subscriber.close()


def api(suite: Suite, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


def issued_permit_and_contract(suite: Suite) -> tuple[str, str]:
    """File an application, let the identity check pass, approve: (permit, contract)."""
    created = requests.post(
        api(suite, "/applications"),
        json=application(date.today()),
        timeout=10,
        headers=auth_headers(suite, "ararat"),
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]

    def case_in(*statuses: str):
        def probe() -> dict | None:
            case = requests.get(
                api(suite, f"/applications/{case_id}"),
                timeout=10,
                headers=auth_headers(suite, "officer"),
            ).json()
            return (
                case
                if case["status"] in statuses
                and (case["status"] != "permit_issued" or case.get("contract_id"))
                else None
            )

        return probe

    wait_for(case_in("in_review"), timeout=30, what="identity check")
    decision = requests.post(
        api(suite, f"/applications/{case_id}/decision"),
        json={"decision": "approve"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert decision.status_code == 200, decision.text
    case = wait_for(case_in("permit_issued"), timeout=30, what="permit and contract")
    return case["permit_number"], case["contract_id"]


def history_of(suite: Suite, contract_id: str) -> list[dict]:
    response = requests.get(
        api(suite, f"/contracts/{contract_id}/history"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_terminating_a_contract_cancels_its_permit_and_agencies_see_both_in_order(
    suite: Suite, agency: Agency
):
    number, contract_id = issued_permit_and_contract(suite)

    amended = requests.patch(
        api(suite, f"/contracts/{contract_id}/amend"),
        json={"monthly_salary": 480000, "reason": "annual raise"},
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["version"] == 2

    terminated_on = date.today().isoformat()
    response = requests.post(
        api(suite, f"/contracts/{contract_id}/terminate"),
        json={"terminated_on": terminated_on, "reason": "resigned", "terminated_by": "employer"},
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "terminated"
    assert response.json()["reported_at"]

    terminated, cancelled = agency.wait_for_types("contract_terminated", "permit_cancelled")
    assert terminated["event_type"] == "contract_terminated"  # the cause comes first
    assert terminated["producer"] == "contracts"
    assert terminated["data"]["contract_id"] == contract_id
    assert terminated["data"]["permit_number"] == number
    assert terminated["data"]["employer_tax_id"] == TAX_ID
    assert terminated["data"]["terminated_on"] == terminated_on
    assert terminated["data"]["terminated_by"] == "employer"
    assert cancelled["event_type"] == "permit_cancelled"
    assert cancelled["producer"] == "permits"
    assert cancelled["data"]["permit_number"] == number
    assert cancelled["data"]["application_id"] == terminated["data"]["application_id"]
    assert cancelled["data"]["cancelled_on"] == terminated_on

    def verdict() -> dict | None:  # the gateway's read model follows the events (ADR-014)
        answer = requests.get(api(suite, f"/verify/{number}"), timeout=10).json()
        return answer if answer["reason"] == "cancelled" else None

    assert wait_for(verdict, timeout=10, interval=0.2, what="the cancellation")["valid"] is False

    assert [h["change"] for h in history_of(suite, contract_id)] == [
        "registered",
        "amended",
        "terminated",
    ]


def test_bad_contract_requests_get_clear_errors_and_change_nothing(suite: Suite):
    _number, contract_id = issued_permit_and_contract(suite)
    terminate_url = api(suite, f"/contracts/{contract_id}/terminate")
    amend_url = api(suite, f"/contracts/{contract_id}/amend")

    malformed = requests.post(
        terminate_url,
        data=b'{"reason": ',
        timeout=10,
        headers={**auth_headers(suite, "supervisor"), "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_request"

    invalid = requests.post(
        terminate_url,
        json={"terminated_on": "someday", "reason": "", "terminated_by": "the cat"},
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert invalid.status_code == 422
    assert set(invalid.json()["errors"]) == {"terminated_on", "reason", "terminated_by"}

    too_low = requests.post(
        amend_url,
        json={"monthly_salary": 70000, "reason": "cut"},
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert too_low.status_code == 422
    assert "below the minimum wage" in too_low.json()["errors"]["monthly_salary"][0]
    not_a_unit_group = requests.patch(
        amend_url,
        json={"isco_code": "7210", "reason": "x"},
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert not_a_unit_group.status_code == 422
    assert not_a_unit_group.json()["errors"] == {"isco_code": ["7210 is not an ISCO-08 unit group"]}

    contract = requests.get(
        api(suite, f"/contracts/{contract_id}"), timeout=10, headers=auth_headers(suite, "officer")
    ).json()
    assert (contract["status"], contract["version"]) == ("registered", 1)
    assert contract["job"]["monthly_salary"] == 450000
    assert len(history_of(suite, contract_id)) == 1

    assert (
        requests.get(
            api(suite, "/contracts/no-such-contract/history"),
            timeout=10,
            headers=auth_headers(suite, "officer"),
        ).status_code
        == 404
    )
    assert (
        requests.get(
            api(suite, "/employers/ABC/contracts"),
            timeout=10,
            headers=auth_headers(suite, "officer"),
        ).status_code
        == 422
    )
    listed = requests.get(
        api(suite, f"/employers/{TAX_ID}/contracts"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    ).json()
    assert contract_id in {c["id"] for c in listed}

    done = requests.post(
        terminate_url,
        json={"terminated_on": date.today().isoformat(), "reason": "x", "terminated_by": "officer"},
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert done.status_code == 200, done.text
    again = requests.post(
        terminate_url,
        json={"terminated_on": date.today().isoformat(), "reason": "x", "terminated_by": "officer"},
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"]["status"] == "terminated"
    late_amend = requests.patch(
        amend_url,
        json={"monthly_salary": 500000, "reason": "x"},
        timeout=10,
        headers=auth_headers(suite, "supervisor"),
    )
    assert late_amend.status_code == 409
    assert late_amend.json()["error"]["details"]["allowed_actions"] == []
