"""What an IDMS answer means, what an attestation says, and the adapter's wire format."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from identity_gateway.adapter import IdentityQuery, auth_request, parse_auth_response, parse_feed
from identity_gateway.domain import (
    ALL_CHECKS,
    CheckResult,
    IdentityEvent,
    IdmsAnswer,
    IdmsError,
    Outcome,
    attestation_payload,
    checks_performed,
    event_candidates,
    interpret,
    next_attempt_delay,
    status_changes,
    stop_draining,
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


@pytest.mark.parametrize(
    ("result", "checks"),
    [
        (CheckResult(Outcome.VERIFIED, "ok"), list(ALL_CHECKS)),
        (CheckResult(Outcome.ENTRY_BAN, "ban"), list(ALL_CHECKS)),
        (CheckResult(Outcome.NOT_FOUND, "nf"), ["consent", "document_exists"]),
        (CheckResult(Outcome.CONSENT_MISSING, "c"), ["consent"]),
    ],
)
def test_checks_performed_follow_where_the_idms_stopped(result, checks):
    assert checks_performed(result) == checks


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (CheckResult(Outcome.VERIFIED, "identity verified against the national register"),
         "verified"),
        (CheckResult(Outcome.DOCUMENT_INVALID, "the travel document is reported stolen"),
         "document_invalid"),
    ],
)  # fmt: skip
def test_attestation_payload_names_the_document_by_hash_only(result, outcome):
    issued_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    payload = attestation_payload(
        attestation_id="att-1",
        verification_id="ver-1",
        application_id="app-1",
        issuing_country="ind",
        document_number="z1234567",
        result=result,
        issued_at=issued_at,
        ttl=timedelta(days=30),
    )
    fingerprint = document_fingerprint("IND", "Z1234567")
    assert payload == {
        "attestation_id": "att-1",
        "issuer": "wpis.identity_gateway",
        "verification_id": "ver-1",
        "application_id": "app-1",
        "subject": fingerprint,
        "subject_type": "document_fingerprint",
        "document_type": "passport",
        "document_country": "IND",
        "document_fingerprint": fingerprint,
        "outcome": outcome,
        "reason": result.reason,
        "checks_performed": list(ALL_CHECKS),
        "issued_at": "2026-12-01T10:00:00+00:00",
        "expires_at": "2026-12-31T10:00:00+00:00",
    }
    assert "1234567" not in str(payload)


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


def test_parse_feed_reads_document_and_person_events():
    page = parse_feed(
        {
            "events": [
                {"sequence": 4, "eventId": "e4", "eventType": "document_stolen",
                 "occurredAt": "2026-12-01T10:00:00.000Z", "personToken": "t1",
                 "document": {"individualId": "Z1", "individualIdType": "PASSPORT",
                              "issuingCountry": "IND"}},
                {"sequence": 5, "eventId": "e5", "eventType": "person_deceased",
                 "occurredAt": "2026-12-01T11:00:00.000Z", "personToken": "t2",
                 "document": None},
            ],
            "lastSequence": 9,
        }
    )  # fmt: skip
    assert page.last_sequence == 9
    assert page.events[0] == IdentityEvent(
        4, "e4", "document_stolen", "2026-12-01T10:00:00.000Z", "t1", "IND", "Z1"
    )
    assert page.events[1].document_number is None


@pytest.mark.parametrize("body", [[], {"events": [{}], "lastSequence": 1}, {"events": []}])
def test_unreadable_feed_raises(body):
    with pytest.raises((TypeError, KeyError, ValueError)):
        parse_feed(body)


# -- queue and re-checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "stop"),
    [
        (IdmsAnswer(False, unavailable=True, idms_down=True), True),
        (IdmsAnswer(False, unavailable=True, idms_down=False), False),
        (IdmsAnswer(True, person_token="t"), False),
        (failed(BAN), False),
    ],
)
def test_only_an_idms_that_is_down_stops_the_queue(answer, stop):
    assert stop_draining(answer) is stop


STOLEN_EVENT = IdentityEvent(7, "e7", "document_stolen", "2026-12-01T10:00:00Z", "tok", "ind",
                             "z1234567")  # fmt: skip
RAVI_FP = document_fingerprint("IND", "Z1234567")
OTHER_FP = document_fingerprint("IND", "X7654321")


def test_a_document_event_concerns_that_document_only_if_it_was_verified():
    candidates = event_candidates(STOLEN_EVENT, {OTHER_FP: "IND"})
    assert candidates == {RAVI_FP: "IND"}
    assert status_changes(STOLEN_EVENT, candidates, {RAVI_FP}) == [
        {
            "subject": RAVI_FP,
            "document_country": "IND",
            "change": "document_stolen",
            "reported_at": "2026-12-01T10:00:00Z",
        }
    ]
    assert status_changes(STOLEN_EVENT, candidates, {OTHER_FP}) == []


def test_a_person_event_concerns_every_verified_document_of_that_person():
    died = IdentityEvent(8, "e8", "person_deceased", "2026-12-02T10:00:00Z", "tok")
    documents = {RAVI_FP: "IND", OTHER_FP: "NPL"}
    changes = status_changes(died, event_candidates(died, documents), {RAVI_FP, OTHER_FP})
    assert {(c["subject"], c["document_country"], c["change"]) for c in changes} == {
        (RAVI_FP, "IND", "person_deceased"),
        (OTHER_FP, "NPL", "person_deceased"),
    }


def test_an_unknown_kind_of_event_concerns_nothing():
    odd = IdentityEvent(9, "e9", "address_changed", "2026-12-02T10:00:00Z", "tok", "IND", "Z1")
    assert event_candidates(odd, {RAVI_FP: "IND"}) == {}
