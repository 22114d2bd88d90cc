"""Tests of the WSGI app through werkzeug's test client, on an in-memory seeded store."""

from __future__ import annotations

import copy
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from national_idms.app import IdmsApp, RequestLogMiddleware
from national_idms.store import Store, load_seed

PARTNER_KEY = "test-partner-key"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
UNKNOWN_PASSPORT = "N0000000"
SEED = load_seed()


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(":memory:")
    store.seed_if_empty(NOW.date())
    yield store
    store.close()


@pytest.fixture
def client(store: Store) -> Client:
    return Client(IdmsApp(store, PARTNER_KEY, clock=lambda: NOW))


def seeded(number: str) -> dict[str, Any]:
    return next(p for p in SEED if p["documents"][0]["number"] == number)


def auth_body(number: str = "Z1234567", **demographic_overrides: str) -> dict[str, Any]:
    """A well-formed auth request for a seeded passport, with the register's demographics."""
    person = seeded(number) if number != UNKNOWN_PASSPORT else seeded("Z1234567")
    document = person["documents"][0]
    demographics = {
        "givenNames": person["given_names"],
        "surname": person["surname"],
        "dateOfBirth": person["date_of_birth"],
        "sex": person["sex"],
        "nationality": person["nationality"],
    }
    demographics.update(demographic_overrides)
    return {
        "id": "wpis.identity.auth",
        "version": "1.0",
        "transactionID": str(uuid.uuid4()),
        "requestTime": "2026-12-01T10:00:00Z",
        "consent": True,
        "individualId": number,
        "individualIdType": "PASSPORT",
        "issuingCountry": document["issuing_country"],
        "requestedAuth": {"demo": True},
        "request": {"demographics": demographics},
    }


def post_auth(client: Client, body: Any, key: str | None = PARTNER_KEY) -> TestResponse:
    headers = {"X-Partner-Key": key} if key is not None else {}
    return client.post("/v1/auth", json=body, headers=headers)


def error_codes(response: TestResponse) -> list[str]:
    return [error["errorCode"] for error in response.get_json()["errors"]]


def new_person(**overrides: Any) -> dict[str, Any]:
    person: dict[str, Any] = {
        "given_names": "Ana",
        "surname": "Lima",
        "date_of_birth": "1994-02-03",
        "sex": "F",
        "nationality": "BRA",
        "documents": [
            {
                "type": "passport",
                "number": "FZ123456",
                "issuing_country": "BRA",
                "expiry_date": "2033-04-05",
                "status": "valid",
            }
        ],
        "entry_ban": False,
    }
    person.update(overrides)
    return person


# --- /v1/auth: outcomes --------------------------------------------------------------------


def test_verified_ravi_kumar(client: Client) -> None:
    body = auth_body()
    response = post_auth(client, body)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data["id"] == "wpis.identity.auth"
    assert data["version"] == "1.0"
    assert data["transactionID"] == body["transactionID"]
    assert data["responseTime"] == "2026-12-01T10:00:00.000Z"
    assert data["response"]["authStatus"] is True
    assert re.fullmatch(r"[0-9a-f]{32}", data["response"]["personToken"])
    assert data["errors"] == []


def test_person_token_is_stable_and_not_the_internal_id(client: Client, store: Store) -> None:
    first = post_auth(client, auth_body()).get_json()["response"]["personToken"]
    second = post_auth(client, auth_body()).get_json()["response"]["personToken"]
    person_id = seeded("Z1234567")["person_id"]
    assert first == second
    assert person_id.replace("-", "") not in first
    other_partner = Client(IdmsApp(store, "other-key", clock=lambda: NOW))
    third = post_auth(other_partner, auth_body(), key="other-key").get_json()
    assert third["response"]["personToken"] != first


def test_expired_passport(client: Client) -> None:
    data = post_auth(client, auth_body("A07654321")).get_json()
    assert data["response"]["authStatus"] is False
    assert "personToken" in data["response"]
    assert data["errors"] == [{"errorCode": "IDMS-DOC-002", "errorMessage": "document has expired"}]


@pytest.mark.parametrize(
    ("number", "status"),
    [("L4455667", "lost"), ("BS7654321", "stolen"), ("AB9876541", "revoked")],
)
def test_invalid_passport_status(client: Client, number: str, status: str) -> None:
    data = post_auth(client, auth_body(number)).get_json()
    assert data["response"]["authStatus"] is False
    [error] = data["errors"]
    assert error["errorCode"] == "IDMS-DOC-003"
    assert error["documentStatus"] == status
    assert status in error["errorMessage"]


def test_entry_ban(client: Client) -> None:
    data = post_auth(client, auth_body("18AB12345")).get_json()
    assert data["response"]["authStatus"] is False
    assert error_codes_of(data) == ["IDMS-BAN-001"]


def test_demographic_mismatch_names_fields(client: Client) -> None:
    body = auth_body(surname="Kumari", dateOfBirth="1990-04-21")
    data = post_auth(client, body).get_json()
    assert data["response"]["authStatus"] is False
    assert "personToken" in data["response"]
    [error] = data["errors"]
    assert error["errorCode"] == "IDMS-DEM-001"
    assert error["fields"] == ["surname", "dateOfBirth"]
    assert "Kumar" not in error["errorMessage"]


def test_unknown_document(client: Client) -> None:
    data = post_auth(client, auth_body(UNKNOWN_PASSPORT)).get_json()
    assert data["response"] == {"authStatus": False}
    assert error_codes_of(data) == ["IDMS-DOC-001"]


def test_known_number_with_other_issuing_country_is_not_found(client: Client) -> None:
    body = auth_body()
    body["issuingCountry"] = "NPL"
    assert error_codes(post_auth(client, body)) == ["IDMS-DOC-001"]


@pytest.mark.parametrize("consent", [False, None])
def test_consent_false_or_missing_checks_nothing_else(client: Client, consent: bool | None) -> None:
    body = auth_body(UNKNOWN_PASSPORT)
    if consent is None:
        del body["consent"]
    else:
        body["consent"] = consent
    data = post_auth(client, body).get_json()
    assert data["response"] == {"authStatus": False}
    assert error_codes_of(data) == ["IDMS-CON-001"]


def test_several_errors_at_once(client: Client) -> None:
    person = new_person(entry_ban=True)
    person["documents"][0].update(status="stolen", expiry_date="2026-11-30")
    assert client.post("/admin/persons", json=person).status_code == 201
    body = auth_body()
    body.update(individualId="FZ123456", issuingCountry="bra")
    body["request"]["demographics"] = {
        "givenNames": "ANA",
        "surname": "Lima",
        "dateOfBirth": "1994-02-03",
        "sex": "M",
        "nationality": "bra",
    }
    data = post_auth(client, body).get_json()
    assert error_codes_of(data) == ["IDMS-DEM-001", "IDMS-DOC-003", "IDMS-DOC-002", "IDMS-BAN-001"]
    assert data["errors"][0]["fields"] == ["sex"]


def test_diacritics_and_hyphens_match(client: Client) -> None:
    body = auth_body("PAA123456", givenNames="Jose Maria", surname="NUNEZ")
    assert post_auth(client, body).get_json()["response"]["authStatus"] is True


@pytest.mark.parametrize(
    "number", ["C1234567", "P1234567A", "PA0123456", "K12345678", "751234567", "PX1234567"]
)
def test_other_seeded_valid_persons_verify(client: Client, number: str) -> None:
    assert post_auth(client, auth_body(number)).get_json()["response"]["authStatus"] is True


# --- /v1/auth: rejected requests -----------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_bad_partner_key(client: Client, key: str | None) -> None:
    response = post_auth(client, auth_body(), key=key)
    assert response.status_code == 401
    assert response.get_json() == {
        "errors": [{"errorCode": "IDMS-AUT-001", "errorMessage": "invalid partner key"}]
    }


def test_malformed_json(client: Client) -> None:
    response = client.post("/v1/auth", data="{not json", headers={"X-Partner-Key": PARTNER_KEY})
    assert response.status_code == 400
    assert error_codes(response) == ["IDMS-REQ-001"]


def test_missing_and_invalid_fields_are_listed(client: Client) -> None:
    body = auth_body()
    del body["transactionID"]
    del body["request"]["demographics"]["surname"]
    body["request"]["demographics"]["dateOfBirth"] = "12/04/1990"
    response = post_auth(client, body)
    assert response.status_code == 400
    fields = [error["fields"][0] for error in response.get_json()["errors"]]
    assert fields == [
        "transactionID",
        "request.demographics.surname",
        "request.demographics.dateOfBirth",
    ]
    assert set(error_codes(response)) == {"IDMS-REQ-002"}


def test_body_must_be_an_object(client: Client) -> None:
    response = post_auth(client, ["not", "an", "object"])
    assert response.status_code == 400
    assert error_codes(response) == ["IDMS-REQ-002"]


# --- admin ---------------------------------------------------------------------------------


def test_create_get_and_patch_person(client: Client) -> None:
    created = client.post("/admin/persons", json=new_person())
    assert created.status_code == 201
    person_id = created.get_json()["person_id"]
    assert uuid.UUID(person_id)

    fetched = client.get(f"/admin/persons/{person_id}")
    assert fetched.status_code == 200
    assert fetched.get_json() == {"person_id": person_id, **new_person(), "deceased": False}

    body = auth_body()
    body.update(individualId="FZ123456", issuingCountry="BRA")
    body["request"]["demographics"] = {
        "givenNames": "Ana",
        "surname": "Lima",
        "dateOfBirth": "1994-02-03",
        "sex": "F",
        "nationality": "BRA",
    }
    assert post_auth(client, body).get_json()["response"]["authStatus"] is True

    banned = client.patch(f"/admin/persons/{person_id}", json={"entry_ban": True})
    assert banned.status_code == 200
    assert banned.get_json()["entry_ban"] is True
    assert error_codes(post_auth(client, body)) == ["IDMS-BAN-001"]

    change = {"number": "fz123456", "issuing_country": "bra", "status": "stolen"}
    stolen = client.patch(
        f"/admin/persons/{person_id}", json={"documents": [change], "entry_ban": False}
    )
    assert stolen.status_code == 200
    assert stolen.get_json()["documents"][0]["status"] == "stolen"
    assert stolen.get_json()["entry_ban"] is False
    assert error_codes(post_auth(client, body)) == ["IDMS-DOC-003"]


def test_get_and_patch_unknown_person(client: Client) -> None:
    missing = str(uuid.uuid4())
    assert client.get(f"/admin/persons/{missing}").status_code == 404
    response = client.patch(f"/admin/persons/{missing}", json={"entry_ban": True})
    assert response.status_code == 404
    assert error_codes(response) == ["IDMS-HTTP-404"]


def test_patch_document_the_person_does_not_hold(client: Client) -> None:
    person_id = seeded("Z1234567")["person_id"]
    change = {"number": "A07654321", "issuing_country": "NGA", "status": "lost"}
    response = client.patch(f"/admin/persons/{person_id}", json={"documents": [change]})
    assert response.status_code == 400
    assert response.get_json() == {
        "errors": {"documents[0]": ["this person holds no such document"]}
    }
    okafor = client.get(f"/admin/persons/{seeded('A07654321')['person_id']}").get_json()
    assert okafor["documents"][0]["status"] == "valid"


@pytest.mark.parametrize(
    "patch",
    [{}, {"entry_ban": "yes"}, {"documents": []}, {"nickname": "x"}],
)
def test_patch_validation(client: Client, patch: dict[str, Any]) -> None:
    person_id = seeded("Z1234567")["person_id"]
    assert client.patch(f"/admin/persons/{person_id}", json=patch).status_code == 400


def test_create_validation_lists_every_bad_field(client: Client) -> None:
    person = new_person(date_of_birth="1994-02-30", sex="male", nationality="Brazil")
    del person["surname"]
    person["documents"][0].update(status="misplaced", expiry_date="soon", type="visa")
    response = client.post("/admin/persons", json=person)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "surname": ["is required"],
        "date_of_birth": ["must be a valid date in the form YYYY-MM-DD"],
        "sex": ["must be one of: M, F, X"],
        "nationality": ["must be an ISO 3166-1 alpha-3 country code"],
        "documents[0].type": ["must be one of: passport"],
        "documents[0].expiry_date": ["must be a valid date in the form YYYY-MM-DD"],
        "documents[0].status": ["must be one of: valid, lost, stolen, revoked"],
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"documents": []}, "documents"),
        ({"documents": None}, "documents"),
        ({"date_of_birth": "2027-01-01"}, "date_of_birth"),
        ({"entry_ban": "no"}, "entry_ban"),
        ({"extra": 1}, "extra"),
    ],
)
def test_create_validation_single_field(
    client: Client, overrides: dict[str, Any], field: str
) -> None:
    response = client.post("/admin/persons", json=new_person(**overrides))
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == [field]


def test_create_rejects_malformed_json(client: Client) -> None:
    response = client.post("/admin/persons", data="[", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"errors": {"body": ["is not valid JSON"]}}


def test_duplicate_document_is_409(client: Client) -> None:
    person = new_person()
    person["documents"][0].update(number="z1234567", issuing_country="ind")
    response = client.post("/admin/persons", json=person)
    assert response.status_code == 409
    assert list(response.get_json()["errors"]) == ["documents[0]"]
    assert client.get("/health").get_json()["persons"] == len(SEED)


def test_rejected_create_stores_nothing(client: Client) -> None:
    person = new_person()
    fresh = copy.deepcopy(person["documents"][0])
    duplicate = {**fresh, "number": "Z1234567", "issuing_country": "IND"}
    person["documents"] = [fresh, duplicate]
    response = client.post("/admin/persons", json=person)
    assert response.status_code == 409
    assert list(response.get_json()["errors"]) == ["documents[1]"]
    assert client.get("/health").get_json()["persons"] == len(SEED)
    # The fresh document was not half-written: registering it alone now succeeds.
    assert client.post("/admin/persons", json=new_person()).status_code == 201


def test_same_document_twice_in_one_request_is_400(client: Client) -> None:
    person = new_person()
    person["documents"] = person["documents"] * 2
    response = client.post("/admin/persons", json=person)
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["documents[1]"]


# --- misc ----------------------------------------------------------------------------------


def test_health(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "persons": len(SEED)}


def test_unknown_path_is_json_404(client: Client) -> None:
    response = client.get("/v2/nothing")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert error_codes(response) == ["IDMS-HTTP-404"]


def test_wrong_method_is_json_405(client: Client) -> None:
    response = client.get("/v1/auth")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.headers["Allow"] == "POST"
    assert error_codes(response) == ["IDMS-HTTP-405"]
    assert client.delete("/admin/persons/x").status_code == 405


def test_request_log_has_no_personal_data(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    app = RequestLogMiddleware(IdmsApp(store, PARTNER_KEY, clock=lambda: NOW))
    with caplog.at_level(logging.INFO, logger="national_idms"):
        post_auth(Client(app), auth_body())
    [record] = [r for r in caplog.records if r.name == "national_idms"]
    assert re.fullmatch(r"POST /v1/auth 200 \d+\.\dms", record.getMessage())
    for personal in ("Ravi", "Kumar", "Z1234567", "1990-04-12"):
        assert personal not in caplog.text


def test_seeded_register_matches_the_documented_cases() -> None:
    by_status = {p["documents"][0]["status"] for p in SEED}
    assert by_status == {"valid", "lost", "stolen", "revoked"}
    assert any(p["entry_ban"] for p in SEED)
    assert any(date.fromisoformat(p["documents"][0]["expiry_date"]).year == 2025 for p in SEED)
    assert all(p["documents"][0]["number"] != UNKNOWN_PASSPORT for p in SEED)


def error_codes_of(data: dict[str, Any]) -> list[str]:
    return [error["errorCode"] for error in data["errors"]]


def test_oversized_body_is_json_413(client: Client) -> None:
    response = client.post("/admin/persons", data="x" * (65 * 1024))
    assert response.status_code == 413
    assert error_codes(response) == ["IDMS-HTTP-413"]
