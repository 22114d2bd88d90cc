"""The agency simulator's API, in process (werkzeug's test client)."""

from __future__ import annotations

import pytest
from employment_agency.app import AgencyApp, Register, Rules
from werkzeug.test import Client

REQUEST = {"application_id": "a-1", "employer_tax_id": "02563412", "isco_code": "7212",
           "region": "AM-ER"}  # fmt: skip


def client(answer_after: float = 0.0) -> Client:
    rules = Rules(answer_after=answer_after, local_candidates=frozenset({"8153"}),
                  silent=frozenset({"9999"}))  # fmt: skip
    return Client(AgencyApp(Register(rules)))


def ask(api: Client, **changes) -> dict:
    response = api.post("/v1/labour-market-tests", json={**REQUEST, **changes})
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize(
    ("isco", "status"), [("7212", "consent"), ("8153", "refusal"), ("9999", "pending")]
)
def test_the_agency_answers_by_its_rules(isco, status):
    api = client()
    request_id = ask(api, isco_code=isco, application_id=f"a-{isco}")["request_id"]
    answer = api.get(f"/v1/labour-market-tests/{request_id}").get_json()
    assert answer["status"] == status


def test_nothing_is_answered_before_the_delay():
    api = client(answer_after=60)
    request_id = ask(api)["request_id"]
    assert api.get(f"/v1/labour-market-tests/{request_id}").get_json()["status"] == "pending"


def test_asking_again_for_the_same_application_gives_the_same_request():
    api = client()
    first = api.post("/v1/labour-market-tests", json=REQUEST)
    again = api.post("/v1/labour-market-tests", json=REQUEST)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["request_id"] == again.get_json()["request_id"]


def test_an_officer_answers_by_hand():
    api = client(answer_after=60)
    request_id = ask(api)["request_id"]
    answer = api.post(
        f"/v1/labour-market-tests/{request_id}/answer",
        json={"outcome": "refusal", "reason": "a local welder applied"},
    ).get_json()
    assert (answer["status"], answer["answered_by"]) == ("refusal", "officer")
    bad = api.post(f"/v1/labour-market-tests/{request_id}/answer", json={"outcome": "maybe"})
    assert bad.status_code == 422


def test_bad_requests_get_field_errors_and_unknown_ids_404():
    api = client()
    missing = api.post("/v1/labour-market-tests", json={"application_id": "x"})
    assert missing.status_code == 422
    assert set(missing.get_json()["errors"]) == {"employer_tax_id", "isco_code", "region"}
    assert api.post("/v1/labour-market-tests", data=b"{").status_code == 422
    assert api.get("/v1/labour-market-tests/LMT-NOPE").status_code == 404
    assert api.get("/health").get_json()["status"] == "ok"
