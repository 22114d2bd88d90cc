"""The simulated SMS gateway's API, through werkzeug's test client."""

from __future__ import annotations

import pytest
from sms_gateway.app import SmsGatewayApp, Store, segments
from werkzeug.test import Client

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def client() -> Client:
    return Client(SmsGatewayApp(Store(), KEY))


def send(client: Client, body: dict, headers: dict | None = None):
    return client.post("/v1/messages", json=body, headers=AUTH if headers is None else headers)


def test_accepted_message_is_listed_with_its_segments(client):
    sent = send(client, {"to": "+37491234567", "text": "Permit issued", "reference": "d-1"})
    assert sent.status_code == 202
    assert sent.json["status"] == "accepted"
    assert sent.json["segments"] == 1
    listed = client.get("/v1/messages", query_string={"to": "+37491234567"}, headers=AUTH)
    assert [m["text"] for m in listed.json["messages"]] == ["Permit issued"]
    assert client.get("/v1/messages", query_string={"to": "+1555"}, headers=AUTH).json == {
        "messages": []
    }


def test_same_reference_is_accepted_once(client):
    first = send(client, {"to": "+37491234567", "text": "one", "reference": "d-1"})
    again = send(client, {"to": "+37491234567", "text": "one", "reference": "d-1"})
    assert again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert len(client.get("/v1/messages", headers=AUTH).json["messages"]) == 1


def test_wrong_key_is_refused_and_stores_nothing(client):
    refused = send(client, {"to": "+37491234567", "text": "x"}, {"Authorization": "Bearer no"})
    assert refused.status_code == 401
    assert client.get("/v1/messages", headers=AUTH).json["messages"] == []


def test_invalid_fields_are_named(client):
    answer = send(client, {"to": "091234567", "text": " ", "sender": ""})
    assert answer.status_code == 400
    assert set(answer.json["errors"]) == {"to", "text", "sender"}
    malformed = client.post("/v1/messages", data=b"{", headers=AUTH)
    assert malformed.status_code == 400
    assert client.get("/v1/messages", headers=AUTH).json["messages"] == []


def test_planned_faults_fail_the_next_sends_then_clear(client):
    planned = client.post("/_simulator/faults", json={"fail_next": 2, "status": 503})
    assert planned.status_code == 200
    body = {"to": "+37491234567", "text": "x"}
    assert [send(client, body).status_code for _ in range(3)] == [503, 503, 202]
    assert client.post("/_simulator/faults", json={"fail_next": -1}).status_code == 400


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a" * 160, 1), ("a" * 161, 2), ("Ա" * 70, 1), ("Ж" * 71, 2), ("a" * 306, 2)],
)
def test_segments_follow_gsm7_and_ucs2_limits(text, expected):
    assert segments(text) == expected


def test_health_and_unknown_path(client):
    assert client.get("/health").json == {"status": "ok"}
    assert client.get("/nope").status_code == 404
