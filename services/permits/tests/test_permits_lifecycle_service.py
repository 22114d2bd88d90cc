"""permits in a real container: the lifecycle over RPC, the identity and contract
event consumers, the expiry timer with a moved clock, public verification."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from permits.domain import permit_number
from permits.service import PermitsService
from wpis_common.caller import Forbidden, Unauthenticated
from wpis_common.errors import Conflict, InvalidInput, NotFound
from wpis_common.signing import document_fingerprint, generate_key_pair, load_private_key
from wpis_common.testing import wait_for

pytestmark = pytest.mark.integration

LIFECYCLE = (
    "permit_issued", "permit_extended", "permit_amended", "permit_suspended",
    "permit_reinstated", "permit_revoked", "permit_cancelled", "permit_expired", "permit_flagged",
)  # fmt: skip


@pytest.fixture
def keys(tmp_path):
    private_path, public_path, _ = generate_key_pair(tmp_path / "keys")
    return load_private_key(private_path), public_path


@pytest.fixture
def database(make_database):
    return make_database("permits")


@pytest.fixture
def service_config(database, keys, tmp_path, callers):
    return {
        **callers.config,
        "DATABASE_URL": database,
        "ATTESTATION_PUBLIC_KEY": str(keys[1]),
        "CREDENTIAL_SIGNING_KEY": str(tmp_path / "keys" / "permits_signing_key.pem"),
        "EXPIRY_CHECK_INTERVAL": 3600,
    }


@pytest.fixture
def container(container_factory, rabbit_config, service_config, callers):
    container = container_factory(PermitsService, service_config)
    container.start()
    container.callers = callers
    return container


def rpc(container, method: str, *args):
    """Call as a supervisor (may do everything the permits service offers)."""
    context = container.callers.context("supervisor")
    with entrypoint_hook(container, method, context_data=context) as call:
        return call(*args)


def issue(kit, container, keys, **approval_changes) -> str:
    data = kit.approval(keys[0], **approval_changes)
    with entrypoint_waiter(container, "on_application_approved"):
        event_dispatcher()(
            "applications", "application_approved", kit.envelope("application_approved", data, "x")
        )

    def issued() -> str | None:
        events = kit.committed_events(container.config["DATABASE_URL"], "permit_issued")
        mine = [e for _, e in events if e["application_id"] == data["application_id"]]
        return mine[0]["permit_number"] if mine else None

    return wait_for(issued, timeout=5, what="the permit")


def test_lifecycle_changes_are_recorded_with_history_and_events_in_order(kit, container, keys):
    number = issue(kit, container, keys)
    permit = rpc(container, "get", number)
    until = date.fromisoformat(permit["valid_until"])
    assert permit["allowed_actions"] == ["amend", "cancel", "extend", "revoke", "suspend"]

    new_until = (until + timedelta(days=90)).isoformat()
    extended = rpc(container, "extend", number, {"valid_until": new_until, "reason": "new project"})
    assert extended["valid_until"] == new_until
    amended = rpc(
        container, "amend", number, {"changes": {"region": "AM-SH"}, "reason": "moved site"}
    )
    assert amended["job"]["region"] == "AM-SH" and amended["job"]["title"] == "Welder"
    assert rpc(container, "suspend", number, {"reason": "under review"})["status"] == "suspended"
    assert rpc(container, "reinstate", number, {"reason": "cleared"})["status"] == "issued"
    revoked = rpc(container, "revoke", number, {"reason": "fraud", "by": "officer.anna"})
    assert revoked["status"] == "revoked" and revoked["allowed_actions"] == []

    actions = [entry["action"] for entry in revoked["history"]]
    assert actions == ["issue", "extend", "amend", "suspend", "reinstate", "revoke"]
    assert revoked["history"][1]["details"] == {
        "previous_valid_until": until.isoformat(),
        "valid_until": new_until,
    }
    events = kit.committed_events(container.config["DATABASE_URL"], *LIFECYCLE)
    assert [event_type for event_type, _ in events] == [
        "permit_issued", "permit_extended", "permit_amended", "permit_suspended",
        "permit_reinstated", "permit_revoked",
    ]  # fmt: skip
    extended_event = events[1][1]
    assert extended_event["previous_valid_until"] == until.isoformat()
    assert extended_event["valid_until"] == new_until
    assert events[2][1]["changes"] == {"region": "AM-SH"}
    assert events[5][1]["revoked_by"] == "supervisor"  # the caller; a body cannot name another
    assert all(data["application_id"] == permit["application_id"] for _, data in events)


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("extend", {"reason": "x"}, "valid_until"),
        ("extend", {"valid_until": "someday", "reason": "x"}, "valid_until"),
        ("extend", {"valid_until": "2020-01-01", "reason": "x"}, "valid_until"),
        ("amend", {"changes": {"isco_code": "72"}, "reason": "x"}, "changes.isco_code"),
        ("amend", {"changes": {"title": "Welder"}, "reason": "x"}, "changes"),
        ("amend", {"changes": {"colour": "red"}, "reason": "x"}, "changes.colour"),
        ("revoke", {"by": "officer"}, "reason"),
        ("revoke", {"reason": ""}, "reason"),
        ("cancel", {"reason": "x", "cancelled_on": "31/12/2027"}, "cancelled_on"),
        ("suspend", ["not", "an", "object"], "_schema"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_changes_nothing(
    kit, container, keys, method, payload, field
):
    number = issue(kit, container, keys)
    before = rpc(container, "get", number)
    with pytest.raises(InvalidInput) as refused:
        rpc(container, method, number, payload)
    assert field in refused.value.details["errors"], refused.value.details
    assert rpc(container, "get", number) == before
    assert len(kit.committed_events(container.config["DATABASE_URL"], *LIFECYCLE)) == 1


def test_illegal_transitions_are_conflicts_that_change_nothing(kit, container, keys):
    number = issue(kit, container, keys)
    rpc(container, "cancel", number, {"reason": "employee left"})
    for method, payload in [
        ("extend", {"valid_until": "2099-01-01", "reason": "x"}),
        ("reinstate", {"reason": "x"}),
        ("revoke", {"reason": "x"}),
        ("cancel", {"reason": "again"}),
    ]:
        with pytest.raises(Conflict) as refused:
            rpc(container, method, number, payload)
        assert refused.value.details == {"status": "cancelled", "allowed_actions": []}
    assert rpc(container, "get", number)["status"] == "cancelled"
    with pytest.raises(InvalidInput):
        rpc(container, "revoke", number[:-1] + "0", {"reason": "x"})
    with pytest.raises(NotFound):
        rpc(container, "revoke", permit_number(date.today().year, 999), {"reason": "x"})


def test_identity_change_flags_the_holders_valid_permits_only(kit, container, keys):
    flagged_number = issue(kit, container, keys, passport_number="Z1234567")
    other_number = issue(kit, container, keys, passport_number="K7654321")
    ended_number = issue(kit, container, keys, passport_number="Z1234567")
    rpc(container, "revoke", ended_number, {"reason": "earlier case"})

    change = {
        "subject": document_fingerprint("IND", "Z1234567"),
        "document_country": "IND",
        "change": "document_stolen",
        "reported_at": "2027-01-01T10:00:00+00:00",
    }
    body = kit.envelope("identity_status_changed", change, "identity_gateway")
    for _ in range(2):  # the same event twice: applied once
        with entrypoint_waiter(container, "on_identity_status_changed"):
            event_dispatcher()("identity_gateway", "identity_status_changed", body)

    flags = kit.committed_events(container.config["DATABASE_URL"], "permit_flagged")
    assert [data["permit_number"] for _, data in flags] == [flagged_number]
    assert flags[0][1]["reason"] == "document_stolen"
    permit = rpc(container, "get", flagged_number)
    assert permit["flag_reason"] == "document_stolen" and permit["status"] == "issued"
    assert rpc(container, "get", other_number)["flagged_at"] is None


def test_contract_termination_cancels_the_permit_from_that_date(kit, container, keys):
    start = date.today() - timedelta(days=30)
    number = issue(kit, container, keys, start=start)
    permit = rpc(container, "get", number)
    terminated_on = date.today() + timedelta(days=5)
    termination = {
        "contract_id": str(uuid.uuid4()),
        "permit_number": number,
        "application_id": permit["application_id"],
        "employer_tax_id": "02563412",
        "terminated_on": terminated_on.isoformat(),
        "reason": "end of project",
        "terminated_by": "employer",
        "reported_at": "2027-01-01T10:00:00+00:00",
    }
    with entrypoint_waiter(container, "on_contract_terminated"):
        event_dispatcher()(
            "contracts",
            "contract_terminated",
            kit.envelope("contract_terminated", termination, "c"),
        )
    cancelled = kit.committed_events(container.config["DATABASE_URL"], "permit_cancelled")
    assert [data for _, data in cancelled] == [
        {
            "permit_number": number,
            "application_id": permit["application_id"],
            "cancelled_on": terminated_on.isoformat(),
            "reason": "employment contract terminated: end of project",
            "cancelled_by": "employer",
        }
    ]
    # valid up to the day before the termination date, then not
    verdict = rpc(container, "verify", number, {})
    assert verdict["result"] == "valid"
    assert verdict["valid_until"] == (terminated_on - timedelta(days=1)).isoformat()


def test_expire_due_uses_the_given_day_and_is_idempotent(kit, container, keys):
    number = issue(kit, container, keys, start=date.today() - timedelta(days=10), days=20)
    until = date.fromisoformat(rpc(container, "get", number)["valid_until"])
    assert rpc(container, "expire_due", until.isoformat())["expired"] == []
    day_after = (until + timedelta(days=1)).isoformat()
    assert rpc(container, "expire_due", day_after)["expired"] == [number]
    assert rpc(container, "expire_due", day_after)["expired"] == []
    expired = kit.committed_events(container.config["DATABASE_URL"], "permit_expired")
    assert [data for _, data in expired] == [
        {
            "permit_number": number,
            "application_id": rpc(container, "get", number)["application_id"],
            "expired_on": until.isoformat(),
        }
    ]
    with pytest.raises(InvalidInput):
        rpc(container, "expire_due", "tomorrow")


def test_the_timer_expires_permits_when_the_clock_moves(
    kit, container_factory, rabbit_config, service_config, keys, callers
):
    config = {**service_config, "EXPIRY_CHECK_INTERVAL": 0.2, "CLOCK_OFFSET_DAYS": 400}
    container = container_factory(PermitsService, config)
    container.start()
    container.callers = callers
    number = issue(kit, container, keys, start=date.today(), days=30)

    def expired() -> bool:
        return rpc(container, "get", number)["status"] == "expired"

    wait_for(expired, timeout=10, what="the timer to expire the permit")
    assert [t for t, _ in kit.committed_events(config["DATABASE_URL"], "permit_expired")] == [
        "permit_expired"
    ]


def approve_change(kit, container, keys, kind: str, number: str, **approval_changes) -> dict:
    """An approved extension or amendment case naming ``number``; returns the event data."""
    job = approval_changes.pop("job", None)
    data = {**kit.approval(keys[0], **approval_changes), "kind": kind, "permit_number": number}
    if job is not None:
        data["job"] = job
    with entrypoint_waiter(container, "on_application_approved"):
        event_dispatcher()(
            "applications", "application_approved", kit.envelope("application_approved", data, "x")
        )
    return data


def events_for(kit, container, application_id: str) -> list[tuple[str, dict]]:
    events = kit.committed_events(container.config["DATABASE_URL"])
    return [(kind, data) for kind, data in events if data.get("application_id") == application_id]


def test_an_approved_extension_extends_the_named_permit_and_issues_no_new_one(kit, container, keys):
    number = issue(kit, container, keys)
    before = rpc(container, "get", number)
    start = date.fromisoformat(before["valid_until"]) + timedelta(days=1)
    case = approve_change(kit, container, keys, "extension", number, start=start, days=180)

    after = rpc(container, "get", number)
    assert after["valid_until"] == case["contract"]["end_date"]
    assert after["valid_from"] == before["valid_from"]
    assert [kind for kind, _ in events_for(kit, container, case["application_id"])] == [
        "permit_extended"
    ]
    assert len(kit.committed_events(container.config["DATABASE_URL"], "permit_issued")) == 1


def test_an_approved_amendment_changes_the_job_of_the_named_permit(kit, container, keys):
    number = issue(kit, container, keys)
    same_job = approve_change(kit, container, keys, "amendment", number)
    refused = events_for(kit, container, same_job["application_id"])
    assert [kind for kind, _ in refused] == ["permit_issuance_refused"]
    assert "nothing differs" in refused[0][1]["reason"]

    job = {**kit.approval(keys[0])["job"], "monthly_salary": 520000, "region": "AM-SH"}
    changed = approve_change(kit, container, keys, "amendment", number, job=job)

    assert rpc(container, "get", number)["job"]["monthly_salary"] == 520000
    amended = events_for(kit, container, changed["application_id"])
    assert [kind for kind, _ in amended] == ["permit_amended"]
    assert amended[0][1]["changes"] == {"monthly_salary": 520000, "region": "AM-SH"}


def test_a_change_to_an_unknown_or_revoked_permit_is_refused_and_changes_nothing(
    kit, container, keys
):
    unknown = approve_change(kit, container, keys, "extension", "WP-2026-999999-X")
    assert [kind for kind, _ in events_for(kit, container, unknown["application_id"])] == [
        "permit_issuance_refused"
    ]

    number = issue(kit, container, keys)
    rpc(container, "revoke", number, {"reason": "fraud found in the file", "by": "supervisor"})
    revoked = rpc(container, "get", number)
    case = approve_change(kit, container, keys, "extension", number, days=400)
    events = events_for(kit, container, case["application_id"])
    assert [kind for kind, _ in events] == ["permit_issuance_refused"]
    assert rpc(container, "get", number)["valid_until"] == revoked["valid_until"]


def test_only_a_supervisor_revokes_and_a_call_without_a_token_is_refused(kit, container, keys):
    number = issue(kit, container, keys)
    before = rpc(container, "get", number)
    refusals = [
        (container.callers.context("decision_officer"), Forbidden),
        (container.callers.context("agency"), Forbidden),
        ({}, Unauthenticated),  # no token at all
    ]
    for context, error in refusals:
        with (
            entrypoint_hook(container, "revoke", context_data=context) as revoke,
            pytest.raises(error),
        ):
            revoke(number, {"reason": "fraud"})
    with (
        entrypoint_hook(container, "get", context_data=container.callers.context("agency")) as get,
        pytest.raises(Forbidden),
    ):
        get(number)
    assert rpc(container, "get", number) == before
