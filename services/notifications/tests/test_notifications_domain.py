"""Who is told what, on which channel, and when a failed delivery is tried again: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifications import domain
from notifications.domain import (
    Contacts,
    Person,
    PlannedNotice,
    RetryPolicy,
    after_failure,
    calls_for_notices,
    contacts_from_submission,
    endpoint_wants,
    plan_notices,
    retry_delay,
    template_facts,
)
from notifications.signing import signature, signed_headers, verify

SUBMITTED = {
    "application_id": "app-1",
    "employer": {
        "tax_id": "02563412",
        "name": "Ararat Build LLC",
        "email": "hr@ararat.example",
        "language": "ru",
    },
    "worker": {
        "given_names": "Ravi",
        "surname": "Kumar",
        "email": "ravi@example.org",
        "phone": "+37491234567",
        "language": "hy",
    },
}
CONTACTS = contacts_from_submission(SUBMITTED)
NOW = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)


def test_contacts_keep_each_persons_language_and_phone():
    assert CONTACTS.employer == Person(
        "employer", "Ararat Build LLC", "hr@ararat.example", None, "ru"
    )
    assert CONTACTS.worker == Person(
        "worker", "Ravi Kumar", "ravi@example.org", "+37491234567", "hy"
    )


@pytest.mark.parametrize("given", [None, "", "fr", "EN"])
def test_missing_or_unknown_language_falls_back_to_english(given):
    data = {**SUBMITTED, "worker": {**SUBMITTED["worker"], "language": given}}
    assert contacts_from_submission(data).worker.language == "en"


def test_permit_issued_tells_both_by_email_and_the_worker_also_by_sms():
    planned = plan_notices("permit_issued", {"application_id": "app-1"}, CONTACTS)
    assert planned == [
        PlannedNotice("employer", "email", "hr@ararat.example", "permit_issued", "ru"),
        PlannedNotice("worker", "email", "ravi@example.org", "permit_issued", "hy"),
        PlannedNotice("worker", "sms", "+37491234567", "permit_issued", "hy"),
    ]


def test_person_without_any_address_gets_nothing():
    nobody = Person("worker", "Ravi Kumar", None, None, "en")
    contacts = Contacts("app-1", CONTACTS.employer, nobody)
    planned = plan_notices("application_rejected", {"application_id": "app-1"}, contacts)
    assert [(p.role, p.channel) for p in planned] == [("employer", "email")]


@pytest.mark.parametrize(
    ("event_type", "template"),
    [
        ("application_submitted", "application_received"),
        ("application_approved", "application_approved"),
        ("application_rejected", "application_rejected"),
        ("permit_extended", "permit_extended"),
        ("permit_revoked", "permit_revoked"),
        ("permit_cancelled", "permit_cancelled"),
        ("contract_terminated", "contract_terminated"),
    ],
)
def test_case_events_tell_employer_and_worker_with_their_template(event_type, template):
    planned = plan_notices(event_type, {}, CONTACTS)
    assert {p.template for p in planned} == {template}
    assert {p.role for p in planned} == {"employer", "worker"}


def test_deferred_identity_check_tells_the_employer_once_only():
    first = plan_notices("identity_check_deferred", {"attempts": 1}, CONTACTS)
    assert [(p.role, p.template) for p in first] == [("employer", "identity_check_delayed")]
    assert plan_notices("identity_check_deferred", {"attempts": 2}, CONTACTS) == []


@pytest.mark.parametrize(
    "event_type", ["permit_flagged", "identity_verified", "notification_failed", "", "x"]
)
def test_events_without_a_notice_rule_reach_agencies_only(event_type):
    assert calls_for_notices(event_type, {"attempts": 1}) is False
    assert plan_notices(event_type, {}, CONTACTS) == []


def test_every_notice_rule_names_a_template_and_every_subscribed_event_is_known():
    assert set(domain.NOTICES) <= set(domain.WEBHOOK_EVENT_TYPES)
    assert "permit_flagged" in domain.WEBHOOK_EVENT_TYPES
    assert len(domain.TEMPLATES) == 14


def test_template_facts_address_the_recipient_by_name():
    facts = template_facts({"permit_number": "WP-1", "worker_name": "spoof"}, CONTACTS, "employer")
    assert facts["recipient_name"] == "Ararat Build LLC"
    assert facts["worker_name"] == "Ravi Kumar"  # from the case, not from the event
    assert facts["permit_number"] == "WP-1"


@pytest.mark.parametrize(
    ("subscribed", "event_type", "wanted"),
    [
        (["*"], "permit_issued", True),
        (["permit_issued", "permit_revoked"], "permit_revoked", True),
        (["permit_issued"], "permit_revoked", False),
        ([], "permit_issued", False),
    ],
)
def test_endpoint_gets_the_event_types_it_subscribed_to(subscribed, event_type, wanted):
    assert endpoint_wants(subscribed, event_type) is wanted


def test_backoff_doubles_from_the_base_up_to_the_cap():
    assert [retry_delay(n, 30, 600) for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]


def test_failed_attempt_is_retried_after_the_backoff_until_the_last_one():
    policy = RetryPolicy(max_attempts=3, base_seconds=10, max_seconds=100)
    assert after_failure(1, policy, NOW) == domain.Outcome("retrying", NOW + timedelta(seconds=10))
    assert after_failure(2, policy, NOW) == domain.Outcome("retrying", NOW + timedelta(seconds=20))
    assert after_failure(3, policy, NOW) == domain.Outcome("failed", None)


# -- webhook signatures


BODY = b'{"event_type":"permit_issued"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000, BODY) == f"sha256={expected}"


def test_signed_request_verifies_within_the_tolerance_only():
    headers = signed_headers("s3cret", 1700000000, BODY)
    assert verify("s3cret", headers, BODY, now=1700000000 + 299)
    assert not verify("s3cret", headers, BODY, now=1700000000 + 301)  # a replay, later
    assert not verify("other", headers, BODY, now=1700000000)
    assert not verify("s3cret", headers, BODY + b" ", now=1700000000)


def test_changing_the_timestamp_breaks_the_signature():
    headers = signed_headers("s3cret", 1700000000, BODY)
    replayed = {**headers, "X-WPIS-Timestamp": "1700009999"}
    assert not verify("s3cret", replayed, BODY, now=1700009999)
    assert not verify("s3cret", {}, BODY, now=1700000000)
