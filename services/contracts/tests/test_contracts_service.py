"""contracts in a real Nameko container on a throwaway vhost and database: permit
events in, contract events out (as an agency bound to ``contracts.events`` sees them),
RPC commands with their refusals, and the overdue-report timer on an injected clock."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter, replace_dependencies

from contracts.service import ContractsService
from wpis_common.caller import Forbidden, Unauthenticated
from wpis_common.envelope import Envelope
from wpis_common.errors import Conflict, InvalidInput, NotFound
from wpis_common.outbox import event_exchange
from wpis_common.testing import wait_for

pytestmark = pytest.mark.integration

START = date(2027, 1, 15)
END = date(2027, 3, 1)  # a Monday; 8 March 2027 (Women's Day) is a holiday in between


class FakeClock:
    """The authority's clock, set by the test: no real waiting for deadlines."""

    def __init__(self, today: date):
        self.day = today

    def today(self) -> date:
        return self.day

    def now(self) -> datetime:
        return datetime.combine(self.day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)


@pytest.fixture
def clock():
    return FakeClock(date(2027, 1, 20))


@pytest.fixture
def agency(amqp_uri):
    """Everything published on ``contracts.events``, as a subscriber receives it."""
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        event_exchange("contracts")(channel).declare()
        queue = Queue(
            f"test-contracts-agency-{uuid.uuid4().hex[:8]}",
            exchange=event_exchange("contracts"),
            routing_key="#",
            durable=False,
            auto_delete=True,
        )(channel)
        queue.declare()
        received: list[Envelope] = []

        class Agency:
            def drain(self) -> list[Envelope]:
                while (message := queue.get(no_ack=True)) is not None:
                    received.append(Envelope.parse(message.payload))
                return received

            def wait_for(self, event_type: str, count: int = 1) -> list[Envelope]:
                return wait_for(
                    lambda: (
                        found
                        if len(found := [e for e in self.drain() if e.event_type == event_type])
                        >= count
                        else None
                    ),
                    timeout=10,
                    what=f"{count} {event_type}",
                )

            def types(self) -> list[str]:
                return [e.event_type for e in self.drain()]

        yield Agency()


@pytest.fixture
def container(container_factory, rabbit_config, make_database, clock, callers):
    config = {"DATABASE_URL": make_database("contracts"), "OUTBOX_POLL_INTERVAL": 0.1,
              **callers.config}  # fmt: skip
    container = container_factory(ContractsService, config)
    replace_dependencies(container, clock=clock)
    container.start()
    container.callers = callers
    return container


def permit_issued(**job_changes) -> dict:
    number = f"WP-2027-{uuid.uuid4().int % 10**6:06d}-K"
    job = {
        "title": "Welder",
        "isco_code": "7212",
        "region": "AM-ER",
        "monthly_salary": 450_000,
        "currency": "AMD",
        **job_changes,
    }
    return {
        "permit_number": number,
        "application_id": str(uuid.uuid4()),
        "status": "issued",
        "holder": {
            "given_names": "Ravi",
            "surname": "Kumar",
            "date_of_birth": "1990-04-12",
            "sex": "M",
            "nationality": "IND",
            "passport_number": "Z1234567",
            "passport_country": "IND",
        },
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC"},
        "job": job,
        "contract_terms": {"start_date": START.isoformat(), "end_date": END.isoformat()},
        "valid_from": START.isoformat(),
        "valid_until": "2027-12-31",
        "issued_at": datetime.now(UTC).isoformat(),
    }


def envelope(event_type: str, data: dict) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "permits",
        "sequence": 1,
        "data": data,
    }


def deliver(container, event_type: str, body: dict) -> None:
    method = {"permit_issued": "on_permit_issued", "permit_amended": "on_permit_amended"}
    with entrypoint_waiter(container, method[event_type]):
        event_dispatcher()("permits", event_type, body)


def call(container, method: str, *args, role: str = "supervisor"):
    """Call as ``role`` (a supervisor may do everything the contracts service offers)."""
    context = container.callers.context(role)
    with entrypoint_hook(container, method, context_data=context) as hook:
        return hook(*args)


def registered(container, agency, **job_changes) -> dict:
    data = permit_issued(**job_changes)
    deliver(container, "permit_issued", envelope("permit_issued", data))
    [event] = [
        e
        for e in agency.wait_for("contract_registered")
        if e.data["permit_number"] == data["permit_number"]
    ]
    return call(container, "get", event.data["contract_id"])


# -- registration ----------------------------------------------------------------------


def test_issued_permit_registers_one_contract_with_default_hours(container, agency):
    data = permit_issued()
    body = envelope("permit_issued", data)
    deliver(container, "permit_issued", body)
    deliver(container, "permit_issued", body)  # redelivered
    deliver(container, "permit_issued", envelope("permit_issued", data))  # issued twice

    [event] = agency.wait_for("contract_registered")
    assert event.data["weekly_hours"] == 40
    assert event.data["isco_code"] == "7212"
    contract = call(container, "get", event.data["contract_id"])
    assert contract["status"] == "registered"
    assert contract["permit_coverage"] == {
        "job_title": "Welder",
        "isco_code": "7212",
        "region": "AM-ER",
    }
    assert contract["allowed_actions"] == ["amend", "terminate", "record_employment_end"]
    assert len(call(container, "list_for_employer", "02563412")) == 1
    [entry] = call(container, "history", contract["id"])
    assert (entry["version"], entry["change"], entry["terms"]["weekly_hours"]) == (
        1,
        "registered",
        40,
    )


@pytest.mark.parametrize(
    ("job", "field", "reason"),
    [
        ({"monthly_salary": 70_000}, "monthly_salary", "below the minimum wage of 75000 AMD"),
        ({"isco_code": "7210"}, "isco_code", "7210 is not an ISCO-08 unit group"),
        ({"weekly_hours": 20, "monthly_salary": 30_000}, "monthly_salary", "37500 AMD for 20"),
    ],
)
def test_unlawful_terms_are_refused_and_nothing_registered(container, agency, job, field, reason):
    data = permit_issued(**job)
    deliver(container, "permit_issued", envelope("permit_issued", data))
    [refused] = agency.wait_for("contract_registration_refused")
    assert refused.data["permit_number"] == data["permit_number"]
    assert refused.data["application_id"] == data["application_id"]
    assert reason in refused.data["reason"]
    assert list(refused.data["errors"]) == [field]
    assert call(container, "list_for_employer", "02563412") == []


# -- amending --------------------------------------------------------------------------


def test_amend_salary_then_position_outside_the_permit_flags_a_mismatch(container, agency):
    contract = registered(container, agency)
    raised = call(
        container, "amend", contract["id"], {"monthly_salary": 500_000, "reason": "raise"}
    )
    assert raised["job"]["monthly_salary"] == 500_000 and raised["version"] == 2
    [amended] = agency.wait_for("contract_amended")
    assert amended.data["changes"] == {"monthly_salary": {"from": 450_000, "to": 500_000}}
    assert amended.data["version"] == 2

    moved = call(
        container,
        "amend",
        contract["id"],
        {"region": "AM-SH", "isco_code": "7126", "job_title": "Plumber", "reason": "new site",
         "amended_by": "officer", "expected_version": 2},
    )  # fmt: skip
    assert {m["field"] for m in moved["permit_mismatches"]} == {"job_title", "isco_code", "region"}
    [mismatch] = agency.wait_for("contract_permit_mismatch")
    assert mismatch.data["cause"] == "contract_amended"
    assert mismatch.data["contract_id"] == contract["id"]
    assert {m["field"]: m["permit"] for m in mismatch.data["mismatches"]} == {
        "job_title": "Welder",
        "isco_code": "7212",
        "region": "AM-ER",
    }
    assert agency.types().index("contract_amended") < agency.types().index(
        "contract_permit_mismatch"
    )
    history = call(container, "history", contract["id"])
    assert [(h["version"], h["change"]) for h in history] == [
        (1, "registered"),
        (2, "amended"),
        (3, "amended"),
    ]
    assert history[2]["actor"] == "officer" and history[2]["terms"]["region"] == "AM-SH"


def test_the_permit_amended_to_cover_the_new_position_clears_the_mismatch(container, agency):
    contract = registered(container, agency)
    call(container, "amend", contract["id"], {"region": "AM-LO", "reason": "moved"})
    agency.wait_for("contract_permit_mismatch")

    amended_permit = {
        "permit_number": contract["permit_number"],
        "application_id": contract["application_id"],
        "changes": {"region": "AM-LO"},
        "reason": "employer asked",
    }
    deliver(container, "permit_amended", envelope("permit_amended", amended_permit))
    after = call(container, "get", contract["id"])
    assert after["permit_coverage"]["region"] == "AM-LO"
    assert after["permit_mismatches"] == []
    assert call(container, "history", contract["id"])[-1]["change"] == "permit_amended"

    # The permit now moves the job elsewhere: the contract no longer matches it.
    amended_permit["changes"] = {"title": "Senior welder"}
    deliver(container, "permit_amended", envelope("permit_amended", amended_permit))
    mismatches = agency.wait_for("contract_permit_mismatch", count=2)
    assert mismatches[-1].data["cause"] == "permit_amended"
    assert mismatches[-1].data["mismatches"] == [
        {"field": "job_title", "contract": "Welder", "permit": "Senior welder"}
    ]


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"monthly_salary": 70_000, "reason": "cut"}, {"monthly_salary"}),
        ({"isco_code": "1234", "reason": "x"}, {"isco_code"}),
        ({"isco_code": "12", "region": "Mars", "reason": "x"}, {"isco_code", "region"}),
        ({"weekly_hours": 45, "reason": "x"}, {"weekly_hours"}),
        ({"monthly_salary": "lots", "reason": "x"}, {"monthly_salary"}),
        ({"monthly_salary": 500_000}, {"reason"}),
        ({"reason": "nothing"}, {"_schema"}),
        ({"start_date": "2027-02-01", "reason": "x"}, {"start_date"}),  # not amendable
        ({"monthly_salary": 450_000, "reason": "same"}, {"_schema"}),
    ],
)
def test_bad_amendments_are_refused_by_field_and_change_nothing(container, agency, payload, fields):
    contract = registered(container, agency)
    with pytest.raises(InvalidInput) as refused:
        call(container, "amend", contract["id"], payload)
    assert set(refused.value.details["errors"]) == fields
    assert call(container, "get", contract["id"]) == contract
    assert len(call(container, "history", contract["id"])) == 1
    assert "contract_amended" not in agency.types()


def test_a_stale_version_is_a_conflict(container, agency):
    contract = registered(container, agency)
    call(container, "amend", contract["id"], {"weekly_hours": 30, "reason": "part time"})
    with pytest.raises(Conflict):
        call(
            container,
            "amend",
            contract["id"],
            {"monthly_salary": 600_000, "reason": "x", "expected_version": 1},
        )
    assert call(container, "get", contract["id"])["job"]["monthly_salary"] == 450_000


# -- termination -----------------------------------------------------------------------


def test_termination_publishes_the_agreed_event_and_ends_all_changes(container, agency, clock):
    contract = registered(container, agency)
    answer = call(
        container,
        "terminate",
        contract["id"],
        {"terminated_on": "2027-01-19", "reason": "resigned", "terminated_by": "employer"},
    )
    assert answer["status"] == "terminated"
    assert answer["reported_late"] is False and answer["allowed_actions"] == []
    [event] = agency.wait_for("contract_terminated")
    assert set(event.data) == {
        "contract_id", "permit_number", "application_id", "employer_tax_id",
        "terminated_on", "reason", "terminated_by", "reported_at",
    }  # fmt: skip
    assert event.data["terminated_on"] == "2027-01-19"
    assert event.data["terminated_by"] == "employer"
    assert event.data["permit_number"] == contract["permit_number"]
    assert datetime.fromisoformat(event.data["reported_at"]) == clock.now()

    for method, payload in [
        ("amend", {"monthly_salary": 500_000, "reason": "x"}),
        ("terminate", {"terminated_on": "2027-01-20", "reason": "x", "terminated_by": "officer"}),
    ]:
        with pytest.raises(Conflict) as conflict:
            call(container, method, contract["id"], payload)
        assert conflict.value.details["status"] == "terminated"
    assert [h["change"] for h in call(container, "history", contract["id"])] == [
        "registered",
        "terminated",
    ]


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"terminated_on": "2027-01-01", "reason": "x", "terminated_by": "employer"},
         {"terminated_on"}),  # before the contract starts
        ({"terminated_on": "2027-06-01", "reason": "x", "terminated_by": "employer"},
         {"terminated_on"}),  # after it ends
        ({"terminated_on": "soon", "reason": "", "terminated_by": "the cat"},
         {"terminated_on", "reason", "terminated_by"}),
        ({}, {"terminated_on", "reason", "terminated_by"}),
    ],
)  # fmt: skip
def test_bad_terminations_are_refused_by_field(container, agency, payload, fields):
    contract = registered(container, agency)
    with pytest.raises(InvalidInput) as refused:
        call(container, "terminate", contract["id"], payload)
    assert set(refused.value.details["errors"]) == fields
    assert call(container, "get", contract["id"])["status"] == "registered"


def test_unknown_contract_is_not_found(container):
    with pytest.raises(NotFound):
        call(container, "terminate", str(uuid.uuid4()), {})


# -- the duty to report a termination --------------------------------------------------


def test_an_unreported_end_is_flagged_overdue_once_after_ten_working_days(container, agency, clock):
    contract = registered(container, agency)  # ends Monday 1 March 2027
    # 10 working days after 1 March, skipping two weekends and Women's Day (8 March).
    for today, flagged in [(date(2027, 3, 1), []), (date(2027, 3, 16), [])]:
        clock.day = today
        assert call(container, "check_overdue_reports") == flagged

    clock.day = date(2027, 3, 17)
    assert call(container, "check_overdue_reports") == [contract["id"]]
    assert call(container, "check_overdue_reports") == []  # flagged once
    [overdue] = agency.wait_for("contract_report_overdue")
    assert overdue.data["employment_ended_on"] == "2027-03-01"
    assert overdue.data["report_due_on"] == "2027-03-16"
    flagged = call(container, "get", contract["id"])
    assert flagged["report_overdue_at"] is not None

    late = call(
        container,
        "terminate",
        contract["id"],
        {"terminated_on": "2027-03-01", "reason": "contract ended", "terminated_by": "employer"},
    )
    assert late["reported_late"] is True


def test_an_officer_recorded_end_starts_the_reporting_clock(container, agency, clock):
    contract = registered(container, agency)
    clock.day = date(2027, 2, 1)
    with pytest.raises(InvalidInput) as future:
        call(
            container,
            "record_employment_end",
            contract["id"],
            {"employment_ended_on": "2027-02-02"},
        )
    assert "employment_ended_on" in future.value.details["errors"]
    recorded = call(
        container,
        "record_employment_end",
        contract["id"],
        {"employment_ended_on": "2027-01-29", "reason": "inspection found the site closed"},
    )
    assert recorded["report_due_on"] == "2027-02-12"
    clock.day = date(2027, 2, 12)
    assert call(container, "check_overdue_reports") == []
    clock.day = date(2027, 2, 15)
    assert call(container, "check_overdue_reports") == [contract["id"]]
    [overdue] = agency.wait_for("contract_report_overdue")
    assert overdue.data["employment_ended_on"] == "2027-01-29"


def test_two_amendments_racing_on_one_contract_cannot_both_commit(make_database):
    """Both read version 1; the second to write finds it gone: a 409, not a lost update."""
    from contracts import register
    from contracts.models import MESSAGING, Contract
    from contracts.policy import policy_from
    from contracts.schemas import EVENTS
    from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory

    engine = create_db_engine(make_database("contracts"))
    sessions = make_session_factory(engine)
    policy, now = policy_from(lambda key, default: default), datetime.now(UTC)

    def unit_of_work() -> UnitOfWork:
        return UnitOfWork(sessions, MESSAGING, "contracts", EVENTS)

    try:
        with unit_of_work() as uow:
            contract_id = register.register_for_permit(uow, permit_issued(), policy, now).id
        with pytest.raises(Conflict), unit_of_work() as second:
            # The second worker has read the contract (version 1) when the first commits.
            read_by_second = second.session.get(Contract, contract_id)
            with unit_of_work() as first:
                register.amend(first, contract_id, {"monthly_salary": 500_000, "reason": "a"},
                               policy, now)  # fmt: skip
            assert read_by_second.version == 1
            register.amend(second, contract_id, {"weekly_hours": 20, "monthly_salary": 40_000,
                                                 "reason": "b"}, policy, now)  # fmt: skip
        with unit_of_work() as uow:
            final = register.get(uow, contract_id)
            assert (final["version"], final["job"]["monthly_salary"]) == (2, 500_000)
            assert [h["change"] for h in register.history(uow, contract_id)] == [
                "registered",
                "amended",
            ]
    finally:
        engine.dispose()


def test_roles_are_checked_here_and_an_employer_sees_only_its_own(container, agency):
    contract = registered(container, agency)
    for role in ("agency", "admin", "employer"):
        with pytest.raises(Forbidden):
            call(container, "amend", contract["id"], {"monthly_salary": 500_000, "reason": "x"},
                 role=role)  # fmt: skip
    with pytest.raises(Forbidden):
        call(container, "get", contract["id"], role="agency")
    with pytest.raises(Unauthenticated), entrypoint_hook(container, "get") as get:
        get(contract["id"])  # no token at all
    assert call(container, "get", contract["id"], role="auditor")["id"] == contract["id"]
    own = call(container, "list_for_employer", "02563412", role="employer")
    assert contract["id"] in {c["id"] for c in own}
    with pytest.raises(NotFound):  # the demo employer's token names 02563412
        call(container, "list_for_employer", "00817345", role="employer")
