"""The identity events feed, admin reports, fault injection and request counters."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from national_idms import auth
from national_idms.app import IdmsApp
from national_idms.store import Store, load_seed

PARTNER_KEY = "test-partner-key"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SEED = {person["documents"][0]["number"]: person for person in load_seed()}
RAVI = SEED["Z1234567"]
KEY = {"X-Partner-Key": PARTNER_KEY}


@pytest.fixture
def client() -> Iterator[Client]:
    store = Store(":memory:")
    store.seed_if_empty(NOW.date())
    yield Client(IdmsApp(store, PARTNER_KEY, clock=lambda: NOW))
    store.close()


def report(client: Client, kind: str, number: str = "Z1234567", country: str = "IND") -> Any:
    body = {"report": kind, "document": {"number": number, "issuing_country": country}}
    return client.post("/admin/reports", json=body)


def feed(client: Client, after: int = 0, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/events", query_string={"after": after, **params}, headers=KEY)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def auth_codes(client: Client, person: dict[str, Any] = RAVI) -> list[str]:
    document = person["documents"][0]
    body = {
        "id": "wpis.identity.auth",
        "version": "1.0",
        "transactionID": str(uuid.uuid4()),
        "requestTime": "2026-12-01T10:00:00Z",
        "consent": True,
        "individualId": document["number"],
        "individualIdType": "PASSPORT",
        "issuingCountry": document["issuing_country"],
        "requestedAuth": {"demo": True},
        "request": {
            "demographics": {
                "givenNames": person["given_names"],
                "surname": person["surname"],
                "dateOfBirth": person["date_of_birth"],
                "sex": person["sex"],
                "nationality": person["nationality"],
            }
        },
    }
    response = client.post("/v1/auth", json=body, headers=KEY)
    return [error["errorCode"] for error in response.get_json()["errors"]]


def test_feed_is_empty_for_a_fresh_register(client: Client) -> None:
    assert feed(client) == {"events": [], "lastSequence": 0}


def test_stolen_report_changes_the_register_and_is_published(client: Client) -> None:
    created = report(client, "document_stolen", "z1234567", "ind")

    assert created.status_code == 201
    assert created.get_json()["event_type"] == "document_stolen"
    assert created.get_json()["person"]["documents"][0]["status"] == "stolen"
    assert auth_codes(client) == ["IDMS-DOC-003"]
    [event] = feed(client)["events"]
    assert event == {
        "sequence": 1,
        "eventId": created.get_json()["event_id"],
        "eventType": "document_stolen",
        "occurredAt": "2026-12-01T10:00:00.000Z",
        "personToken": auth.person_token(PARTNER_KEY, RAVI["person_id"]),
        "document": {"individualId": "Z1234567", "individualIdType": "PASSPORT",
                     "issuingCountry": "IND"},
    }  # fmt: skip


def test_person_reports_carry_no_document_and_take_effect(client: Client) -> None:
    assert report(client, "entry_ban_added").status_code == 201
    assert auth_codes(client) == ["IDMS-BAN-001"]
    died = report(client, "person_deceased", "PA0123456", "NPL")
    assert died.status_code == 201
    assert died.get_json()["person"]["deceased"] is True
    assert died.get_json()["person"]["documents"][0]["status"] == "revoked"
    assert auth_codes(client, SEED["PA0123456"]) == ["IDMS-DOC-003"]

    events = feed(client)["events"]
    assert [(e["eventType"], e["document"]) for e in events] == [
        ("entry_ban_added", None),
        ("person_deceased", None),
    ]
    sita = auth.person_token(PARTNER_KEY, SEED["PA0123456"]["person_id"])
    assert events[1]["personToken"] == sita


def test_feed_pages_in_order_from_a_cursor(client: Client) -> None:
    for number, country in (("Z1234567", "IND"), ("PAA123456", "ESP"), ("C1234567", "VNM")):
        report(client, "document_lost", number, country)

    first = feed(client, after=0, limit=2)
    assert [e["sequence"] for e in first["events"]] == [1, 2]
    assert first["lastSequence"] == 3
    rest = feed(client, after=2, limit=2)
    assert [e["document"]["individualId"] for e in rest["events"]] == ["C1234567"]
    assert feed(client, after=3)["events"] == []


def test_patch_publishes_new_losses_and_bans_only(client: Client) -> None:
    person_id = RAVI["person_id"]
    stolen = {"number": "Z1234567", "issuing_country": "IND", "status": "stolen"}
    client.patch(f"/admin/persons/{person_id}", json={"documents": [stolen], "entry_ban": True})
    client.patch(f"/admin/persons/{person_id}", json={"documents": [stolen]})  # no change
    valid = {**stolen, "status": "valid"}
    client.patch(f"/admin/persons/{person_id}", json={"documents": [valid], "entry_ban": False})

    kinds = [event["eventType"] for event in feed(client)["events"]]
    assert kinds == ["entry_ban_added", "document_stolen"]


@pytest.mark.parametrize(
    ("body", "status", "errors"),
    [
        (
            {
                "report": "document_eaten",
                "document": {"number": "Z1234567", "issuing_country": "IND"},
            },
            400,
            ["report"],
        ),
        ({"report": "document_stolen"}, 400, ["document"]),
        (
            {"report": "document_stolen", "document": {"number": "Z-1"}},
            400,
            ["document.issuing_country", "document.number"],
        ),
        (
            {
                "report": "document_stolen",
                "document": {"number": "N0000000", "issuing_country": "IND"},
            },
            404,
            ["document"],
        ),
    ],
)
def test_bad_reports_are_refused_and_change_nothing(
    client: Client, body: dict[str, Any], status: int, errors: list[str]
) -> None:
    response = client.post("/admin/reports", json=body)
    assert response.status_code == status
    assert sorted(response.get_json()["errors"]) == errors
    assert feed(client)["events"] == []
    assert auth_codes(client) == []


def test_feed_needs_the_partner_key_and_valid_paging(client: Client) -> None:
    assert client.get("/v1/events").status_code == 401
    response = client.get("/v1/events?after=-1&limit=0", headers=KEY)
    assert response.status_code == 400
    fields = sorted(error["fields"][0] for error in response.get_json()["errors"])
    assert fields == ["after", "limit"]


def test_injected_faults_fail_a_number_of_calls_and_are_counted(client: Client) -> None:
    response = client.put("/admin/faults", json={"status": 503, "count": 2})
    assert response.get_json()["fault"] == {"status": 503, "delay_ms": 0, "remaining": 2}

    statuses = [client.get("/v1/events", headers=KEY).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert auth_codes(client) == []
    assert client.get("/admin/stats").get_json() == {
        "requests": {"events": 3, "auth": 1},
        "fault": None,
    }


def test_fault_until_cleared_and_bad_fault_bodies(client: Client) -> None:
    client.put("/admin/faults", json={"status": 500})
    assert client.get("/v1/events", headers=KEY).status_code == 500
    client.delete("/admin/faults")
    assert client.get("/v1/events", headers=KEY).status_code == 200
    bad = client.put("/admin/faults", json={"status": 99, "delay_ms": "x", "other": 1})
    assert bad.status_code == 400
    assert sorted(bad.get_json()["errors"]) == ["delay_ms", "other", "status"]


def test_a_register_file_from_before_the_events_feed_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE persons (person_id TEXT PRIMARY KEY, given_names TEXT NOT NULL, "
        "surname TEXT NOT NULL, date_of_birth TEXT NOT NULL, sex TEXT NOT NULL, "
        "nationality TEXT NOT NULL, entry_ban INTEGER NOT NULL DEFAULT 0);"
    )
    old.close()
    store = Store(str(path))
    try:
        assert store.seed_if_empty(NOW.date()) == len(SEED)
        assert store.get_person(RAVI["person_id"]).deceased is False
    finally:
        store.close()
