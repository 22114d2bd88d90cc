"""Events end to end: replay over HTTP, every published event valid against its
committed JSON Schema, and the dead-letter plumbing in place."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import jsonschema
import pytest
import requests

from wpis_common import dlq
from wpis_common.event_docs import DOCS_DIR
from wpis_common.replay import PRODUCERS
from wpis_common.suite import Suite
from wpis_common.testing import auth_headers, wait_for
from wpis_common.topology import service_names

pytestmark = pytest.mark.e2e


def application(passport: str = "Z1234567") -> dict:
    start = date.today() + timedelta(days=45)
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
            "passport": {"number": passport, "issuing_country": "IND", "expiry_date": "2031-01-01"},
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


def api(suite: Suite, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


def replay(suite: Suite, producer: str, after: int = 0, limit: int = 1000) -> dict:
    response = requests.get(
        api(suite, "/events"),
        params={"producer": producer, "after": after, "limit": limit},
        timeout=10,
        headers=auth_headers(suite, "agency"),
    )
    assert response.status_code == 200, response.text
    return response.json()


def whole_log(suite: Suite, producer: str) -> list[dict]:
    events, after = [], 0
    while page := replay(suite, producer, after, 200)["events"]:
        events += page
        after = page[-1]["sequence"]
    return events


def status_of(suite: Suite, application_id: str) -> str:
    return requests.get(
        api(suite, f"/applications/{application_id}"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    ).json()["status"]


@pytest.fixture(scope="module")
def a_day_of_work(suite: Suite) -> dict[str, str]:
    """One approved case (permit and contract) and one refused by the identity check."""
    approved = requests.post(
        api(suite, "/applications"),
        json=application(),
        timeout=10,
        headers=auth_headers(suite, "ararat"),
    ).json()
    refused = requests.post(
        api(suite, "/applications"),
        json=application("N0000000"),
        timeout=10,
        headers=auth_headers(suite, "ararat"),
    ).json()
    wait_for(lambda: status_of(suite, approved["id"]) == "in_review", timeout=30, what="review")
    decision = requests.post(
        api(suite, f"/applications/{approved['id']}/decision"),
        json={"decision": "approve", "reason": "documents in order"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert decision.status_code == 200, decision.text
    wait_for(lambda: status_of(suite, approved["id"]) == "permit_issued", timeout=30, what="permit")
    wait_for(lambda: status_of(suite, refused["id"]) == "rejected", timeout=30, what="refusal")
    wait_for(
        lambda: any(
            e["event_type"] == "contract_registered" for e in whole_log(suite, "contracts")
        ),
        timeout=30,
        what="the contract registered",
    )
    return {"approved": approved["id"], "refused": refused["id"]}


def test_replay_returns_each_producers_log_in_sequence_order(suite: Suite, a_day_of_work):
    everything = replay(suite, "applications")
    sequences = [event["sequence"] for event in everything["events"]]
    assert sequences == list(range(1, len(sequences) + 1))  # gap-free, in order
    assert everything["next_after"] == sequences[-1]
    assert {e["event_type"] for e in everything["events"]} >= {
        "application_submitted",
        "application_approved",
        "application_rejected",
    }

    page = replay(suite, "applications", after=1, limit=2)
    assert [e["sequence"] for e in page["events"]] == [2, 3]
    assert page["next_after"] == 3
    assert page["events"] == everything["events"][1:3]

    [issued] = [e for e in whole_log(suite, "permits") if e["event_type"] == "permit_issued"]
    assert issued["data"]["application_id"] == a_day_of_work["approved"]
    assert issued["producer"] == "permits"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"producer": "nobody"}, "producer"),
        ({}, "producer"),
        ({"producer": "permits", "after": "-1"}, "after"),
        ({"producer": "permits", "after": "ten"}, "after"),
        ({"producer": "permits", "limit": "0"}, "limit"),
        ({"producer": "permits", "limit": "100000"}, "limit"),
    ],
)
def test_replay_refuses_bad_queries_with_the_field_and_reason(suite: Suite, params, field):
    response = requests.get(
        api(suite, "/events"), params=params, timeout=10, headers=auth_headers(suite, "agency")
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid_request"
    assert list(body["errors"]) == [field]
    assert body["errors"][field][0]


def committed_schema(event: dict) -> dict:
    path = (
        DOCS_DIR
        / "schemas"
        / event["producer"]
        / f"{event['event_type']}.v{event['schema_version']}.json"
    )
    assert Path(path).exists(), f"no committed schema for {path.name}: run make events-docs"
    return json.loads(path.read_text())


def test_every_event_the_run_published_is_valid_against_its_json_schema(
    suite: Suite, a_day_of_work
):
    published = [event for producer in PRODUCERS for event in whole_log(suite, producer)]
    assert {e["event_type"] for e in published} >= {
        "application_submitted",
        "identity_verified",
        "identity_rejected",
        "application_approved",
        "application_rejected",
        "permit_issued",
        "contract_registered",
    }
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for event in published:
        schema = committed_schema(event)
        errors = list(
            jsonschema.Draft202012Validator(schema, format_checker=checker).iter_errors(event)
        )
        assert errors == [], f"{event['producer']}/{event['event_type']}: {errors[0].message}"


def test_every_consuming_service_has_an_empty_parking_queue(suite: Suite, a_day_of_work):
    counts = dlq.parked_counts(suite.amqp_uri, service_names())
    consuming = {name for name, count in counts.items() if count is not None}
    assert consuming >= {"applications", "identity_gateway", "permits", "contracts"}
    assert {name: counts[name] for name in consuming} == dict.fromkeys(consuming, 0)
