"""What an IDMS answer means, what an attestation says, and the adapter's wire format."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from identity_gateway.adapter import (
    HttpIdmsAdapter,
    IdentityQuery,
    auth_request,
    parse_auth_response,
)
from identity_gateway.domain import (
    CheckResult,
    IdmsAnswer,
    IdmsError,
    Outcome,
    attestation_payload,
    interpret,
    next_attempt_delay,
)
from wpis_common.signing import document_fingerprint

CON = IdmsError("IDMS-CON-001", "consent missing")
NOT_FOUND = IdmsError("IDMS-DOC-001", "document not found")
EXPIRED = IdmsError("IDMS-DOC-002", "document expired")
STOLEN = IdmsError("IDMS-DOC-003", "document is invalid", document_status="stolen")
MISMATCH = IdmsError("IDMS-DEM-001", "mismatch", fields=("surname", "dateOfBirth"))
BAN = IdmsError("IDMS-BAN-001", "entry ban")


def failed(*errors: IdmsError) -> IdmsAnswer:
    return IdmsAnswer(auth_status=False, person_token="tok", errors=errors)


# -- interpret -------------------------------------------------------------------


def test_successful_answer_is_verified():
    result = interpret(IdmsAnswer(auth_status=True, person_token="tok"))
    assert result == CheckResult(
        Outcome.VERIFIED, "identity verified against the national register"
    )
    assert result.is_final


@pytest.mark.parametrize(
    ("error", "outcome", "reason"),
    [
        (CON, Outcome.CONSENT_MISSING, "the applicant's consent to the check is missing"),
        (NOT_FOUND, Outcome.NOT_FOUND, "the travel document is not in the national register"),
        (EXPIRED, Outcome.DOCUMENT_EXPIRED, "the travel document has expired"),
        (BAN, Outcome.ENTRY_BAN, "the person is on the entry-ban list"),
    ],
)
def test_each_error_code_gives_its_outcome(error, outcome, reason):
    result = interpret(failed(error))
    assert (result.outcome, result.reason) == (outcome, reason)
    assert result.mismatched_fields == ()
    assert result.is_final


@pytest.mark.parametrize("status", ["lost", "stolen", "revoked"])
def test_invalid_document_reason_names_its_status(status):
    error = IdmsError("IDMS-DOC-003", "document is invalid", document_status=status)
    result = interpret(failed(error))
    assert result.outcome == Outcome.DOCUMENT_INVALID
    assert result.reason == f"the travel document is reported {status}"


def test_invalid_document_without_status_says_invalid():
    result = interpret(failed(IdmsError("IDMS-DOC-003", "document is invalid")))
    assert result.reason == "the travel document is reported invalid"


def test_demographic_mismatch_names_the_fields():
    result = interpret(failed(MISMATCH))
    assert result.outcome == Outcome.DATA_MISMATCH
    assert result.mismatched_fields == ("surname", "dateOfBirth")
    assert (
        result.reason == "the applicant's data does not match the register (surname, dateOfBirth)"
    )


def test_demographic_mismatch_without_fields_says_unspecified():
    result = interpret(failed(IdmsError("IDMS-DEM-001", "mismatch")))
    assert result.reason.endswith("(unspecified)")
    assert result.mismatched_fields == ()


@pytest.mark.parametrize(
    ("errors", "outcome"),
    [
        ((MISMATCH, BAN), Outcome.ENTRY_BAN),
        ((STOLEN, BAN), Outcome.ENTRY_BAN),
        ((EXPIRED, BAN), Outcome.ENTRY_BAN),
        ((MISMATCH, STOLEN), Outcome.DOCUMENT_INVALID),
        ((EXPIRED, STOLEN), Outcome.DOCUMENT_INVALID),
        ((EXPIRED, MISMATCH), Outcome.DATA_MISMATCH),
        ((CON, EXPIRED), Outcome.DOCUMENT_EXPIRED),
        ((EXPIRED, MISMATCH, STOLEN, BAN), Outcome.ENTRY_BAN),
    ],
)
def test_most_serious_error_names_the_outcome_whatever_the_order(errors, outcome):
    assert interpret(failed(*errors)).outcome == outcome
    assert interpret(failed(*reversed(errors))).outcome == outcome


def test_errors_win_over_a_true_auth_status():
    assert interpret(IdmsAnswer(auth_status=True, errors=(BAN,))).outcome == Outcome.ENTRY_BAN


@pytest.mark.parametrize(
    "answer",
    [
        IdmsAnswer(auth_status=False, unavailable=True, detail="ConnectTimeout"),
        IdmsAnswer(auth_status=True, unavailable=True),
        IdmsAnswer(auth_status=True, person_token="tok", unavailable=True),
        IdmsAnswer(auth_status=False, errors=(BAN, STOLEN), unavailable=True),
    ],
)
def test_unavailable_is_never_a_refusal_nor_a_verification(answer):
    result = interpret(answer)
    assert result.outcome == Outcome.UNAVAILABLE
    assert not result.is_final
    assert "retried" in result.reason


@pytest.mark.parametrize(
    ("errors", "codes"),
    [
        ((IdmsError("IDMS-XYZ-999", "?"),), "IDMS-XYZ-999"),
        ((IdmsError("IDMS-B", "?"), IdmsError("IDMS-A", "?")), "IDMS-A, IDMS-B"),
        ((), "none"),
    ],
)
def test_unrecognised_failure_is_unavailable_not_a_refusal(errors, codes):
    result = interpret(failed(*errors))
    assert result.outcome == Outcome.UNAVAILABLE
    assert not result.is_final
    assert result.reason == f"unrecognised IDMS answer (codes: {codes})"


def test_known_code_beside_an_unknown_one_still_decides():
    unknown = IdmsError("IDMS-NEW-042", "?")
    assert interpret(failed(unknown, EXPIRED)).outcome == Outcome.DOCUMENT_EXPIRED


# -- attestation ------------------------------------------------------------------


def test_attestation_payload_says_what_was_checked_and_until_when():
    checked_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    payload = attestation_payload(
        attestation_id="att-1",
        verification_id="ver-1",
        application_id="app-1",
        person_token="tok",
        issuing_country="ind",
        document_number="z1234567",
        checked_at=checked_at,
        ttl=timedelta(days=30),
    )
    assert payload == {
        "attestation_id": "att-1",
        "issuer": "wpis.identity_gateway",
        "verification_id": "ver-1",
        "application_id": "app-1",
        "subject": "tok",
        "document_type": "passport",
        "document_country": "IND",
        "document_fingerprint": document_fingerprint("IND", "Z1234567"),
        "outcome": "verified",
        "checked_at": "2026-12-01T10:00:00+00:00",
        "expires_at": "2026-12-31T10:00:00+00:00",
    }
    assert "Z1234567" not in str(payload).upper()


# -- retry backoff ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(0, 30.0), (1, 30.0), (2, 60.0), (3, 120.0), (4, 240.0), (5, 480.0), (6, 600.0), (50, 600.0)],
)
def test_backoff_doubles_from_base_and_is_capped(attempts, delay):
    assert next_attempt_delay(attempts, base_seconds=30, max_seconds=600) == delay


def test_backoff_is_a_float():
    assert isinstance(next_attempt_delay(2, base_seconds=1, max_seconds=10), float)


# -- adapter: wire format -------------------------------------------------------------

QUERY = IdentityQuery(
    given_names="Ravi",
    surname="Kumar",
    date_of_birth="1990-04-12",
    sex="M",
    nationality="IND",
    passport_number="Z1234567",
    issuing_country="IND",
)


def test_auth_request_has_the_idms_shape():
    transaction_id = str(uuid.uuid4())
    body = auth_request(transaction_id, QUERY)
    request_time = body.pop("requestTime")
    assert body == {
        "id": "wpis.identity.auth",
        "version": "1.0",
        "transactionID": transaction_id,
        "consent": True,
        "individualId": "Z1234567",
        "individualIdType": "PASSPORT",
        "issuingCountry": "IND",
        "requestedAuth": {"demo": True},
        "request": {
            "demographics": {
                "givenNames": "Ravi",
                "surname": "Kumar",
                "dateOfBirth": "1990-04-12",
                "sex": "M",
                "nationality": "IND",
            }
        },
    }
    assert request_time.endswith("Z")
    sent = datetime.fromisoformat(request_time)
    assert sent.tzinfo is not None
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)


def test_parse_success_body():
    answer = parse_auth_response(
        {
            "id": "wpis.identity.auth",
            "version": "1.0",
            "transactionID": "0b6f9a1e-1c1e-4e43-9d4b-2c5a1f2d3e4f",
            "responseTime": "2026-12-01T10:00:00.123Z",
            "response": {"authStatus": True, "personToken": "f74948ba40864f01724d2ccd3a03f2f6"},
            "errors": [],
        }
    )
    assert answer == IdmsAnswer(auth_status=True, person_token="f74948ba40864f01724d2ccd3a03f2f6")
    assert interpret(answer).outcome == Outcome.VERIFIED


def test_parse_failure_body_keeps_codes_fields_and_document_status():
    answer = parse_auth_response(
        {
            "id": "wpis.identity.auth",
            "version": "1.0",
            "transactionID": "0b6f9a1e-1c1e-4e43-9d4b-2c5a1f2d3e4f",
            "responseTime": "2026-12-01T10:00:00.123Z",
            "response": {"authStatus": False, "personToken": "abc"},
            "errors": [
                {
                    "errorCode": "IDMS-DEM-001",
                    "errorMessage": "demographic data do not match the register",
                    "fields": ["surname"],
                },
                {
                    "errorCode": "IDMS-DOC-003",
                    "errorMessage": "document is invalid: reported stolen",
                    "documentStatus": "stolen",
                },
            ],
        }
    )
    assert answer.auth_status is False
    assert answer.person_token == "abc"
    assert not answer.unavailable
    assert answer.errors == (
        IdmsError("IDMS-DEM-001", "demographic data do not match the register", ("surname",)),
        IdmsError("IDMS-DOC-003", "document is invalid: reported stolen", (), "stolen"),
    )
    assert interpret(answer).reason == "the travel document is reported stolen"


def test_parse_not_found_body_has_no_person_token():
    answer = parse_auth_response(
        {"response": {"authStatus": False}, "errors": [{"errorCode": "IDMS-DOC-001"}]}
    )
    assert answer.person_token is None
    assert answer.errors == (IdmsError("IDMS-DOC-001", ""),)


@pytest.mark.parametrize(
    "body",
    [{}, {"response": {}}, {"response": None}, {"response": {"authStatus": False}, "errors": [{}]}],
)
def test_unreadable_body_raises_an_error_the_adapter_treats_as_unavailable(body):
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_auth_response(body)


class FakeResponse:
    def __init__(self, status_code: int, body):
        self.status_code = status_code
        self._body = body

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class FakeSession:
    def __init__(self, outcome):
        self.outcome = outcome
        self.calls = []

    def post(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def adapter_answering(outcome) -> tuple[HttpIdmsAdapter, FakeSession]:
    adapter = HttpIdmsAdapter("http://idms.invalid/", "key", 1.0, 2.0)
    adapter._session = FakeSession(outcome)
    return adapter, adapter._session


def test_adapter_posts_to_v1_auth_with_partner_key_and_timeouts():
    ok = FakeResponse(200, {"response": {"authStatus": True, "personToken": "t"}, "errors": []})
    adapter, session = adapter_answering(ok)
    assert adapter.authenticate(QUERY, "test") == IdmsAnswer(True, person_token="t")
    ((url, kwargs),) = session.calls
    assert url == "http://idms.invalid/v1/auth"
    assert kwargs["headers"] == {"X-Partner-Key": "key"}
    assert kwargs["timeout"] == (1.0, 2.0)
    assert kwargs["json"]["individualId"] == "Z1234567"


@pytest.mark.parametrize(
    "outcome",
    [
        requests.ConnectionError("refused"),
        requests.Timeout("slow"),
        FakeResponse(500, {"errors": [{"errorCode": "IDMS-HTTP-500"}]}),
        FakeResponse(401, {"errors": [{"errorCode": "IDMS-AUT-001"}]}),
        FakeResponse(200, ValueError("not JSON")),
        FakeResponse(200, {"errors": []}),
    ],
)
def test_adapter_failure_to_get_an_answer_is_unavailable(outcome):
    adapter, _ = adapter_answering(outcome)
    answer = adapter.authenticate(QUERY, "test")
    assert answer.unavailable
    assert interpret(answer).outcome == Outcome.UNAVAILABLE


@pytest.mark.parametrize("body", [[], "ok", 42])
def test_adapter_non_object_answer_is_unavailable(body):
    adapter, _ = adapter_answering(FakeResponse(200, body))
    assert adapter.authenticate(QUERY, "test").unavailable
