"""The public verification read model (ADR-014) without a broker: events in,
answers out, with the register's rules."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from gateway import verification
from gateway.models import Base, VerificationEntry
from wpis_common.db import create_db_engine
from wpis_common.envelope import Envelope, utc_now
from wpis_common.errors import InvalidInput
from wpis_common.permit_rules import permit_number as number_of

TODAY = date(2027, 3, 1)
NUMBER = number_of(2027, 42)


@pytest.fixture
def engine(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def event(event_type: str, sequence: int, **data) -> Envelope:
    return Envelope(
        event_id=str(uuid.UUID(int=sequence)),
        event_type=event_type,
        schema_version=1,
        producer="permits",
        sequence=sequence,
        occurred_at=utc_now(),
        data={"permit_number": NUMBER, "application_id": "a-1", **data},
    )


ISSUED = {
    "status": "issued",
    "valid_from": "2027-01-01",
    "valid_until": "2027-12-31",
    "employer": {"name": "Ararat Build LLC", "tax_id": "02563412"},
    "job": {"title": "Welder", "isco_code": "7212"},
    "holder": {"date_of_birth": "1990-04-12", "surname": "Kumar"},
}


def apply(engine, *events: Envelope) -> None:
    for each in events:
        with Session(engine) as session, session.begin():
            verification.apply_event(session, each)


def check(engine, number: str = NUMBER, **options) -> dict | None:
    request = verification.parse_request(number, options, require_birth_date=False)
    return verification.answer(engine, request, TODAY)


def test_an_issued_permit_is_valid_with_its_public_facts_only(engine):
    apply(engine, event("permit_issued", 1, **ISSUED))
    answer = check(engine, NUMBER.lower())
    assert (answer["result"], answer["valid"], answer["reason"]) == ("valid", True, None)
    assert (answer["valid_from"], answer["valid_until"]) == ("2027-01-01", "2027-12-31")
    assert (answer["employer_name"], answer["job_title"]) == ("Ararat Build LLC", "Welder")
    assert "holder" not in answer and "date_of_birth" not in answer


@pytest.mark.parametrize(
    "change, data, expected",
    [
        ("permit_suspended", {"reason": "r", "by": "o"}, ("not_valid", "suspended")),
        ("permit_revoked", {"reason": "r", "revoked_by": "o", "revoked_on": "2027-02-01"},
         ("not_valid", "revoked")),
        ("permit_cancelled", {"reason": "r", "cancelled_by": "e", "cancelled_on": "2027-02-01"},
         ("not_valid", "cancelled")),
        ("permit_cancelled", {"reason": "r", "cancelled_by": "e", "cancelled_on": "2027-06-01"},
         ("valid", None)),
        ("permit_expired", {"expired_on": "2027-02-27"}, ("not_valid", "expired")),
    ],
)  # fmt: skip
def test_each_change_moves_the_answer_as_the_register_would(engine, change, data, expected):
    apply(engine, event("permit_issued", 1, **ISSUED), event(change, 2, **data))
    answer = check(engine)
    assert (answer["result"], answer["reason"]) == expected
    if change == "permit_cancelled" and expected[0] == "valid":
        assert answer["valid_until"] == "2027-05-31"  # the day before the cancellation


def test_suspension_then_reinstatement_extension_and_amendment(engine):
    apply(
        engine,
        event("permit_issued", 1, **ISSUED),
        event("permit_suspended", 2, reason="r", by="o"),
        event("permit_reinstated", 3, reason="r", by="o"),
        event(
            "permit_extended",
            4,
            valid_from="2027-01-01",
            valid_until="2028-03-31",
            previous_valid_until="2027-12-31",
            reason="project",
        ),
        event("permit_amended", 5, changes={"region": "AM-SH"}, reason="moved"),
        event("permit_amended", 6, changes={"title": "Senior welder"}, reason="promoted"),
    )
    answer = check(engine)
    assert (answer["result"], answer["valid_until"], answer["job_title"]) == (
        "valid",
        "2028-03-31",
        "Senior welder",
    )


def test_a_replayed_or_older_event_never_undoes_a_newer_one(engine):
    revoked = event("permit_revoked", 7, reason="r", revoked_by="o", revoked_on="2027-02-01")
    apply(engine, event("permit_issued", 3, **ISSUED), revoked)
    apply(
        engine,
        event("permit_issued", 3, **ISSUED),
        event("permit_reinstated", 5, reason="r", by="o"),
    )
    assert check(engine)["reason"] == "revoked"
    with Session(engine) as session:
        assert session.get(VerificationEntry, NUMBER).sequence == 7


def test_a_change_before_its_issue_is_refused_for_a_later_retry(engine):
    with pytest.raises(verification.NotYetIssued, match=NUMBER):
        apply(engine, event("permit_suspended", 2, reason="r", by="o"))
    apply(
        engine,
        event("permit_issued", 1, **ISSUED),
        event("permit_suspended", 2, reason="r", by="o"),
    )
    assert check(engine)["reason"] == "suspended"


def test_the_second_factor_and_what_the_read_model_does_not_hold(engine):
    apply(engine, event("permit_issued", 1, **ISSUED))
    assert check(engine, date_of_birth="1990-04-12")["result"] == "valid"
    wrong = check(engine, date_of_birth="1990-04-13")
    assert (wrong["result"], wrong["message"]) == ("unknown", "no permit matches")
    assert check(engine, number_of(2027, 43)) is None  # ask the register
    request = verification.parse_request(number_of(2027, 43), {}, require_birth_date=False)
    local = verification.answer(engine, request, TODAY, unknown_locally=True)
    assert (local["result"], local["message"]) == ("unknown", "no permit matches")
    typo = check(engine, NUMBER[:-1] + ("A" if NUMBER[-1] != "A" else "B"))
    assert (typo["result"], typo["reason"]) == ("unknown", "malformed_number")


def test_bad_options_name_the_field(engine):
    with pytest.raises(InvalidInput) as refused:
        verification.parse_request(NUMBER, {"date_of_birth": "1990-13-45"}, False)
    assert list(refused.value.details["errors"]) == ["date_of_birth"]
    with pytest.raises(InvalidInput) as required:
        verification.parse_request(NUMBER, {}, require_birth_date=True)
    assert required.value.details["errors"] == {
        "date_of_birth": ["the holder's date of birth is required"]
    }


def test_a_malformed_event_is_refused_whole(engine):
    broken = event("permit_issued", 1, **{**ISSUED, "valid_until": "soon"})
    with pytest.raises(Exception, match="valid_until"):
        apply(engine, broken)
    assert check(engine) is None


def test_today_follows_the_authority_clock():
    from zoneinfo import ZoneInfo

    later = verification.authority_today(10, ZoneInfo("Asia/Yerevan"))
    assert later - verification.authority_today(0, ZoneInfo("Asia/Yerevan")) == timedelta(days=10)


def test_catch_up_applies_the_whole_log_and_is_idempotent_beside_live_events(engine):
    log = [
        event("permit_issued", 1, **ISSUED),
        event("application_noise", 2),  # not a feed event: skipped
        event("permit_suspended", 3, reason="r", by="o"),
    ]
    messages = [each.to_message() for each in log]

    def fetch(after: int, limit: int) -> list[dict]:
        return [m for m in messages if m["sequence"] > after][:limit]

    apply(engine, log[0])  # the live consumer got the issue first
    assert verification.catch_up(engine, fetch, page_size=2) == 2
    assert check(engine)["reason"] == "suspended"
    assert verification.catch_up(engine, fetch) == 2  # again: nothing changes
    with Session(engine) as session:
        assert session.get(VerificationEntry, NUMBER).sequence == 3
