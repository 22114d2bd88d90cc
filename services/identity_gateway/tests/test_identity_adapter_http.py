"""The real HTTP adapter against the real IDMS simulator process: every outcome
code, name matching across scripts, retries for transient failures only, the
circuit breaker, and the identity events feed."""

from __future__ import annotations

import time
import uuid

import pytest

from identity_gateway.adapter import REQUESTS_SENT, IdentityQuery, IdmsUnavailable
from identity_gateway.domain import Outcome, interpret
from national_idms.testing import AdminClient

pytestmark = pytest.mark.integration


def query(
    given_names: str,
    surname: str,
    date_of_birth: str,
    sex: str,
    nationality: str,
    number: str,
    country: str | None = None,
) -> IdentityQuery:
    return IdentityQuery(
        given_names, surname, date_of_birth, sex, nationality, number, country or nationality
    )


RAVI = query("Ravi", "Kumar", "1990-04-12", "M", "IND", "Z1234567")
SERGEI = query("Sergei", "Ivanov", "1991-12-01", "M", "RUS", "751234567")
ANAHIT = query("Anahit", "Petrosyan", "1994-08-30", "F", "RUS", "754321987")
DMITRIY = query("Dmitriy", "Sergeyev", "1986-03-08", "M", "UKR", "FA123456")


def variant(base: IdentityQuery, **changes: str) -> IdentityQuery:
    return IdentityQuery(**{**vars(base), **changes})


@pytest.mark.parametrize(
    ("sent", "outcome", "reason"),
    [
        (RAVI, Outcome.VERIFIED, "identity verified against the national register"),
        (
            variant(RAVI, passport_number="N0000000"),
            Outcome.NOT_FOUND,
            "the travel document is not in the national register",
        ),
        (
            variant(RAVI, surname="Kumari", date_of_birth="1990-04-21"),
            Outcome.DATA_MISMATCH,
            "the applicant's data does not match the register (surname, dateOfBirth)",
        ),
        (
            query("Chinedu", "Okafor", "1985-07-23", "M", "NGA", "A07654321"),
            Outcome.DOCUMENT_EXPIRED,
            "the travel document has expired",
        ),
        (
            query("Priya", "Sharma", "1992-11-03", "F", "IND", "L4455667"),
            Outcome.DOCUMENT_INVALID,
            "the travel document is reported lost",
        ),
        (
            query("Mohammad", "Rahman", "1988-02-14", "M", "BGD", "BS7654321"),
            Outcome.DOCUMENT_INVALID,
            "the travel document is reported stolen",
        ),
        (
            query("Imran", "Qureshi", "1979-09-09", "M", "PAK", "AB9876541"),
            Outcome.DOCUMENT_INVALID,
            "the travel document is reported revoked",
        ),
        (
            query("Lucas", "Moreau", "1983-08-19", "M", "FRA", "18AB12345"),
            Outcome.ENTRY_BAN,
            "the person is on the entry-ban list",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_every_outcome_code_through_the_real_adapter(adapter, sent, outcome, reason):
    answer = adapter.authenticate(sent, purpose="test")
    result = interpret(answer)

    assert (result.outcome, result.reason) == (outcome, reason)
    assert uuid.UUID(answer.transaction_id)
    assert answer.latency_ms is not None and answer.latency_ms > 0
    assert answer.calls == 1
    assert (answer.person_token is None) == (outcome == Outcome.NOT_FOUND)


def test_unavailable_when_nothing_listens(adapter_for, closed_port_url):
    adapter = adapter_for(closed_port_url)
    answer = adapter.authenticate(RAVI, purpose="test")

    assert interpret(answer).outcome == Outcome.UNAVAILABLE
    assert answer.idms_down and answer.detail == "ConnectionError"
    assert answer.calls == 3  # a refused connection is transient: retried


@pytest.mark.parametrize(
    ("given_names", "surname"),
    [
        ("Сергей", "Иванов"),  # Cyrillic script
        ("Sergey", "Ivanov"),  # another transliteration
        ("SERGEI", "IWANOW"),  # German transliteration, capitals
    ],
)
def test_same_person_in_cyrillic_or_another_transliteration_is_verified(
    adapter, given_names, surname
):
    sent = variant(SERGEI, given_names=given_names, surname=surname)
    assert interpret(adapter.authenticate(sent, "test")).outcome == Outcome.VERIFIED


@pytest.mark.parametrize(
    ("base", "given_names", "surname"),
    [
        (ANAHIT, "Անահիտ", "Պետրոսյան"),  # Armenian script
        (ANAHIT, "anahit", "Petrossian"),  # French-style transliteration
        (ANAHIT, "Anahit", "Petrosjan"),
        (DMITRIY, "Дмитрий", "Сергеев"),
        (DMITRIY, "Dmitry", "Sergeev"),
    ],
)
def test_same_person_in_armenian_or_cyrillic_script_is_verified(
    adapter, base, given_names, surname
):
    sent = variant(base, given_names=given_names, surname=surname)
    assert interpret(adapter.authenticate(sent, "test")).outcome == Outcome.VERIFIED


@pytest.mark.parametrize(
    ("base", "given_names", "surname", "fields"),
    [
        (SERGEI, "Сергей", "Иванова", ("surname",)),  # a woman's surname: another person
        (SERGEI, "Sergio", "Ivanov", ("givenNames",)),
        (ANAHIT, "Անահիտ", "Պետրոսովա", ("surname",)),
        (ANAHIT, "Anna", "Petrosyan", ("givenNames",)),
        (DMITRIY, "Dmitriy Aleksandrovich", "Sergeyev", ("givenNames",)),
    ],
)
def test_a_different_person_is_refused_whatever_the_script(
    adapter, base, given_names, surname, fields
):
    sent = variant(base, given_names=given_names, surname=surname)
    result = interpret(adapter.authenticate(sent, "test"))
    assert result.outcome == Outcome.DATA_MISMATCH
    assert result.mismatched_fields == fields


# -- retries and the breaker ------------------------------------------------------------


def test_transient_failures_are_retried_and_then_verified(adapter, idms: AdminClient):
    idms.set_fault(status=503, count=2)
    before = idms.requests_received()

    answer = adapter.authenticate(RAVI, "test")

    assert interpret(answer).outcome == Outcome.VERIFIED
    assert answer.calls == 3
    assert idms.requests_received() - before == 3


@pytest.mark.parametrize("status", [502, 504, 429])
def test_other_transient_statuses_are_retried(adapter, idms: AdminClient, status):
    idms.set_fault(status=status, count=1)
    answer = adapter.authenticate(RAVI, "test")
    assert (interpret(answer).outcome, answer.calls) == (Outcome.VERIFIED, 2)


def test_a_server_error_is_not_retried_and_is_unavailable(adapter, idms: AdminClient):
    idms.set_fault(status=500, count=1)
    answer = adapter.authenticate(RAVI, "test")
    assert interpret(answer).outcome == Outcome.UNAVAILABLE
    assert (answer.calls, answer.detail, answer.idms_down) == (1, "HTTP 500", True)


def test_a_refused_partner_key_is_not_retried_and_does_not_mean_the_idms_is_down(adapter_for):
    adapter = adapter_for(partner_key="wrong")
    answer = adapter.authenticate(RAVI, "test")
    assert interpret(answer).outcome == Outcome.UNAVAILABLE
    assert (answer.calls, answer.detail, answer.idms_down) == (1, "HTTP 401", False)


def test_a_slow_idms_times_out_as_unavailable(adapter_for, idms: AdminClient):
    adapter = adapter_for(read_timeout=0.2, attempts=2)
    idms.set_fault(status=200, delay_ms=600)
    answer = adapter.authenticate(RAVI, "test")
    assert interpret(answer).outcome == Outcome.UNAVAILABLE
    assert (answer.detail, answer.calls) == ("ReadTimeout", 2)


def test_breaker_opens_and_spares_the_idms_then_closes_when_it_is_back(adapter_for, idms):
    adapter = adapter_for(breaker_fail_max=3, breaker_reset_timeout=0.5)
    idms.set_fault(status=503)
    before = idms.requests_received()
    sent = {state: REQUESTS_SENT.labels("auth", state) for state in ("open", "half_open")}
    sent_before = {state: metric._value.get() for state, metric in sent.items()}

    answers = [adapter.authenticate(RAVI, "test") for _ in range(10)]

    assert all(interpret(answer).outcome == Outcome.UNAVAILABLE for answer in answers)
    assert idms.requests_received() - before == 3  # then the breaker opened
    assert answers[-1].detail == "circuit breaker open" and answers[-1].calls == 0
    assert adapter.breaker_state == "open"
    assert adapter.calls_refused_by_breaker == 9

    idms.clear_fault()
    time.sleep(0.6)  # the breaker's reset timeout: the next call is a trial
    assert interpret(adapter.authenticate(RAVI, "test")).outcome == Outcome.VERIFIED
    assert adapter.breaker_state == "closed"
    # the metrics: no request ever left while open; one trial call while half-open
    assert {state: metric._value.get() - sent_before[state] for state, metric in sent.items()} == {
        "open": 0,
        "half_open": 1,
    }


# -- the identity events feed ------------------------------------------------------------


def test_identity_events_feed_through_the_adapter(adapter, idms: AdminClient):
    number = f"EV{uuid.uuid4().hex[:8].upper()}"
    idms.create_person(
        {
            "given_names": "Arman",
            "surname": "Grigoryan",
            "date_of_birth": "1990-01-01",
            "sex": "M",
            "nationality": "IRN",
            "documents": [
                {
                    "type": "passport",
                    "number": number,
                    "issuing_country": "IRN",
                    "expiry_date": "2033-01-01",
                    "status": "valid",
                }
            ],
        }
    )
    token = adapter.authenticate(
        query("Arman", "Grigoryan", "1990-01-01", "M", "IRN", number), "test"
    ).person_token
    reported = idms.report("document_stolen", number, "IRN")

    page = adapter.identity_events(after=reported["sequence"] - 1, limit=10)

    [event] = page.events
    assert (event.change, event.document_number, event.document_country) == (
        "document_stolen",
        number,
        "IRN",
    )
    assert event.person_token == token and event.sequence == page.last_sequence


def test_identity_events_feed_unavailable_raises(adapter_for, closed_port_url):
    adapter = adapter_for(closed_port_url, attempts=1)
    with pytest.raises(IdmsUnavailable):
        adapter.identity_events(0, 10)
