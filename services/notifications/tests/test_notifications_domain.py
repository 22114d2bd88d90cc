"""Which notices each event calls for, and what they say: pure."""

from __future__ import annotations

import pytest

from notifications.domain import Notice, full_name, notices_for

SUBMITTED = {
    "application_id": "app-1",
    "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@ararat.example"},
    "worker": {"given_names": "Ravi", "surname": "Kumar", "email": "ravi@example.org"},
}
REJECTED = {"application_id": "app-1", "reason": "the passport is reported stolen"}
ISSUED = {
    "application_id": "app-1",
    "permit_number": "WP-2027-000042-G",
    "valid_from": "2027-01-15",
    "valid_until": "2027-12-31",
}


@pytest.mark.parametrize(
    ("event_type", "data", "template", "subject", "facts"),
    [
        ("application_submitted", SUBMITTED, "application_received",
         "Work permit application received", ["app-1", "Ravi Kumar"]),
        ("application_rejected", REJECTED, "application_rejected",
         "Work permit application refused", ["app-1", "the passport is reported stolen"]),
        ("permit_issued", ISSUED, "permit_issued",
         "Work permit issued", ["WP-2027-000042-G", "Ravi Kumar", "2027-01-15", "2027-12-31"]),
    ],
)  # fmt: skip
def test_event_notifies_employer_and_worker_with_its_facts(
    event_type, data, template, subject, facts
):
    notices = notices_for(event_type, data, "Ravi Kumar")
    assert [notice.recipient_role for notice in notices] == ["employer", "worker"]
    for notice in notices:
        assert notice.template == template
        assert notice.subject == subject
        for fact in facts:
            assert fact in notice.body


def test_permit_issued_body_reads_in_full():
    (employer, _worker) = notices_for("permit_issued", ISSUED, "Ravi Kumar")
    assert employer == Notice(
        "employer",
        "permit_issued",
        "Work permit issued",
        "Work permit WP-2027-000042-G for Ravi Kumar is valid from 2027-01-15 to 2027-12-31.",
    )


def test_unknown_worker_name_reads_the_worker():
    (notice, _) = notices_for("application_submitted", {"application_id": "app-1"}, None)
    assert notice.body == "Application app-1 for the worker was received and is being checked."


@pytest.mark.parametrize(
    "event_type", ["application_approved", "contract_registered", "permit_revoked", "", "x"]
)
def test_event_without_a_rule_calls_for_no_notice(event_type):
    assert notices_for(event_type, ISSUED, "Ravi Kumar") == []


def test_braces_in_event_data_are_not_reformatted():
    data = {**REJECTED, "reason": "missing {permit_number}"}
    (notice, _) = notices_for("application_rejected", data, None)
    assert notice.body.endswith("Reason: missing {permit_number}")


def test_full_name_joins_given_names_and_surname():
    assert full_name({"given_names": "Maria Clara", "surname": "Dela Cruz"}) == (
        "Maria Clara Dela Cruz"
    )
