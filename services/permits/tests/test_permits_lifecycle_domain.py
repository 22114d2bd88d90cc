"""The permit state machine, expiry, extension, amendment and public standing:
pure rules, table-driven."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from permits import credential
from permits.domain import (
    TRANSITIONS,
    Action,
    ChangeRefused,
    IllegalTransition,
    PermitStatus,
    ValidityRules,
    allowed_actions,
    authority_today,
    extended_until,
    is_due_to_expire,
    is_flaggable,
    job_changes,
    last_valid_day,
    next_status,
    standing_on,
)

S, A = PermitStatus, Action

# Every (status, action) pair: the status it leads to, or None when refused.
EXPECTED = {
    (S.ISSUED, A.EXTEND): S.ISSUED,
    (S.ISSUED, A.AMEND): S.ISSUED,
    (S.ISSUED, A.FLAG): S.ISSUED,
    (S.ISSUED, A.SUSPEND): S.SUSPENDED,
    (S.ISSUED, A.REINSTATE): None,
    (S.ISSUED, A.REVOKE): S.REVOKED,
    (S.ISSUED, A.CANCEL): S.CANCELLED,
    (S.ISSUED, A.EXPIRE): S.EXPIRED,
    (S.SUSPENDED, A.EXTEND): None,
    (S.SUSPENDED, A.AMEND): None,
    (S.SUSPENDED, A.FLAG): None,
    (S.SUSPENDED, A.SUSPEND): None,
    (S.SUSPENDED, A.REINSTATE): S.ISSUED,
    (S.SUSPENDED, A.REVOKE): S.REVOKED,
    (S.SUSPENDED, A.CANCEL): S.CANCELLED,
    (S.SUSPENDED, A.EXPIRE): S.EXPIRED,
    **{
        (terminal, action): None for terminal in (S.REVOKED, S.CANCELLED, S.EXPIRED) for action in A
    },
}


def test_the_table_covers_every_status_and_action():
    assert set(EXPECTED) == {(status, action) for status in S for action in A}


@pytest.mark.parametrize(("status", "action"), sorted(EXPECTED))
def test_transition(status, action):
    expected = EXPECTED[(status, action)]
    if expected is None:
        with pytest.raises(IllegalTransition) as refused:
            next_status(status, action)
        assert refused.value.allowed == allowed_actions(status)
        assert str(status) in str(refused.value)
    else:
        assert next_status(status, action) == expected


def test_the_machine_has_no_transition_the_table_does_not_list():
    assert {key: value for key, value in EXPECTED.items() if value} == TRANSITIONS


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("issued", ["amend", "cancel", "extend", "revoke", "suspend"]),
        ("suspended", ["cancel", "reinstate", "revoke"]),
        ("revoked", []),
        ("cancelled", []),
        ("expired", []),
    ],
)
def test_users_are_offered_only_their_actions(status, allowed):
    assert allowed_actions(status) == allowed


def test_an_unknown_status_or_action_is_refused():
    with pytest.raises(IllegalTransition):
        next_status("lost", "extend")
    with pytest.raises(IllegalTransition):
        next_status("issued", "teleport")


# -- the authority's day and expiry -----------------------------------------------------

YEREVAN = ZoneInfo("Asia/Yerevan")  # UTC+4, no daylight saving


@pytest.mark.parametrize(
    ("utc_now", "today"),
    [
        (datetime(2027, 6, 30, 19, 59, tzinfo=UTC), date(2027, 6, 30)),
        (datetime(2027, 6, 30, 20, 0, tzinfo=UTC), date(2027, 7, 1)),  # midnight in Yerevan
        (datetime(2027, 12, 31, 21, 0, tzinfo=UTC), date(2028, 1, 1)),
    ],
)
def test_today_is_the_authoritys_calendar_date(utc_now, today):
    assert authority_today(utc_now, YEREVAN) == today


@pytest.mark.parametrize(
    ("status", "valid_until", "today", "due"),
    [
        ("issued", date(2027, 6, 30), date(2027, 6, 30), False),  # still its last day
        ("issued", date(2027, 6, 30), date(2027, 7, 1), True),
        ("suspended", date(2027, 6, 30), date(2027, 7, 1), True),
        ("revoked", date(2027, 6, 30), date(2027, 7, 1), False),
        ("cancelled", date(2027, 6, 30), date(2027, 7, 1), False),
        ("expired", date(2027, 6, 30), date(2027, 7, 2), False),
    ],
)
def test_expiry_is_due_the_day_after_the_last_valid_day(status, valid_until, today, due):
    assert is_due_to_expire(status, valid_until, today) is due


@pytest.mark.parametrize(
    ("status", "valid_until", "flaggable"),
    [
        ("issued", date(2027, 6, 30), True),
        ("issued", date(2027, 6, 1), True),  # its last day
        ("issued", date(2027, 5, 31), False),  # already past
        ("suspended", date(2027, 6, 30), False),
        ("revoked", date(2027, 6, 30), False),
    ],
)
def test_only_valid_permits_are_flagged(status, valid_until, flaggable):
    assert is_flaggable(status, valid_until, date(2027, 6, 1)) is flaggable


# -- extension and amendment ---------------------------------------------------------

RULES = ValidityRules(max_months=12, passport_margin_days=30)


@pytest.mark.parametrize(
    ("requested", "passport", "outcome"),
    [
        (date(2028, 6, 30), None, date(2028, 6, 30)),
        (date(2028, 12, 31), None, date(2028, 12, 31)),  # one year after the current end
        (date(2029, 1, 1), None, "may be at most 2028-12-31"),
        (date(2028, 6, 30), date(2028, 6, 1), "may be at most 2028-05-02"),
        (date(2027, 12, 31), None, "must be after the current end of validity 2027-12-31"),
        (date(2027, 6, 1), None, "must be after the current end of validity 2027-12-31"),
    ],
)
def test_extension(requested, passport, outcome):
    current = date(2027, 12, 31)
    if isinstance(outcome, date):
        assert extended_until(current, requested, passport, RULES) == outcome
    else:
        with pytest.raises(ChangeRefused) as refused:
            extended_until(current, requested, passport, RULES)
        assert (refused.value.field, refused.value.reason) == ("valid_until", outcome)


JOB = {"title": "Welder", "isco_code": "7212", "region": "AM-ER", "monthly_salary": 450000}


@pytest.mark.parametrize(
    ("requested", "changes"),
    [
        ({"title": "Senior welder"}, {"title": "Senior welder"}),
        ({"title": "Welder", "region": "AM-SH"}, {"region": "AM-SH"}),
        ({"monthly_salary": 500000}, {"monthly_salary": 500000}),
        ({"title": "Welder"}, None),
        ({}, None),
    ],
)
def test_amendment_keeps_only_real_changes(requested, changes):
    if changes is None:
        with pytest.raises(ChangeRefused):
            job_changes(JOB, requested)
    else:
        assert job_changes(JOB, requested) == changes


# -- public standing ---------------------------------------------------------------------

FROM, UNTIL = date(2027, 1, 15), date(2027, 12, 31)


@pytest.mark.parametrize(
    ("status", "ends_on", "day", "reason"),
    [
        ("issued", None, date(2027, 1, 15), None),
        ("issued", None, date(2027, 12, 31), None),
        ("issued", None, date(2027, 1, 14), "not_yet_valid"),
        ("issued", None, date(2028, 1, 1), "expired"),
        ("expired", None, date(2027, 6, 1), "expired"),
        ("suspended", None, date(2027, 6, 1), "suspended"),
        ("revoked", date(2027, 6, 1), date(2027, 6, 1), "revoked"),
        ("cancelled", date(2027, 6, 1), date(2027, 5, 31), None),  # cancelled from a later date
        ("cancelled", date(2027, 6, 1), date(2027, 6, 1), "cancelled"),
        ("cancelled", None, date(2027, 3, 1), "cancelled"),
    ],
)
def test_standing_says_valid_or_why_not(status, ends_on, day, reason):
    assert standing_on(status, FROM, UNTIL, ends_on, day) == reason


@pytest.mark.parametrize(
    ("ends_on", "last_day"),
    [(None, UNTIL), (date(2027, 6, 1), date(2027, 5, 31)), (date(2028, 3, 1), UNTIL)],
)
def test_a_cancellation_ends_validity_the_day_before(ends_on, last_day):
    assert last_valid_day(UNTIL, ends_on) == last_day


# -- compact credential --------------------------------------------------------------


def test_a_credential_reads_back_with_the_right_key_only():
    key = Ed25519PrivateKey.generate()
    signed = credential.issue(key, {"n": "WP-2027-000042-G", "vu": "2027-12-31"})
    claims = credential.read(key.public_key(), signed)
    assert claims is not None and claims["n"] == "WP-2027-000042-G" and claims["kid"]
    assert credential.read(Ed25519PrivateKey.generate().public_key(), signed) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda text: text.replace("WPIS1.", "WPIS2.", 1),
        lambda text: text[:-2] + ("AA" if not text.endswith("AA") else "BB"),
        lambda text: ".".join(
            [text.split(".")[0], text.split(".")[1][:-4] + "AAAA", text.split(".")[2]]
        ),
        lambda text: text + ".extra",
        lambda text: "garbage",
    ],
)
def test_a_tampered_credential_is_refused(tamper):
    key = Ed25519PrivateKey.generate()
    signed = credential.issue(key, {"n": "WP-2027-000042-G"})
    assert credential.read(key.public_key(), tamper(signed)) is None


def test_key_file_is_created_once_and_reused(tmp_path):
    path = tmp_path / "keys" / "permits_signing_key.pem"
    first = credential.load_or_create_key(path, create=True)
    second = credential.load_or_create_key(path, create=True)
    assert credential.public_pem(first.public_key()) == credential.public_pem(second.public_key())
    assert (tmp_path / "keys" / "permits_signing_key.pub.pem").exists()
    with pytest.raises(FileNotFoundError):
        credential.load_or_create_key(tmp_path / "missing.pem", create=False)
