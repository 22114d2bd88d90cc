"""Contract rules, table-driven and pure: pay, hours, ISCO-08, what the permit covers,
termination, and the working-day deadline for reporting a termination."""

from __future__ import annotations

from datetime import date

import pytest

from contracts import domain
from contracts.domain import (
    ContractRefused,
    ContractRules,
    IllegalTransition,
    Terms,
    WorkingCalendar,
)
from contracts.policy import calendar_from, isco08_unit_groups, rules_from

RULES = ContractRules()  # Armenia: 75,000 AMD a month at 40 hours, 10 working days to report
UNIT_GROUPS = isco08_unit_groups()
NO_HOLIDAYS = WorkingCalendar()
WOMENS_DAY_2027 = WorkingCalendar(holidays=frozenset({date(2027, 3, 8)}))


def terms(**changes) -> Terms:
    base = {
        "job_title": "Welder",
        "isco_code": "7212",
        "region": "AM-ER",
        "monthly_salary": 450_000,
        "currency": "AMD",
        "weekly_hours": 40,
    }
    return Terms(**{**base, **changes})


# -- pay, hours and position -----------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "minimum"),
    [(40, 75_000), (20, 37_500), (30, 56_250), (1, 1_875), (7, 13_125), (48, 75_000)],
)
def test_minimum_wage_is_pro_rata_below_full_time(hours, minimum):
    assert domain.minimum_salary(hours, RULES) == minimum


def test_minimum_wage_rounds_up_to_a_whole_dram():
    rules = ContractRules(minimum_monthly_wage=75_001)
    assert domain.minimum_salary(20, rules) == 37_501


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"monthly_salary": 74_999}, "monthly_salary", "below the minimum wage of 75000 AMD"),
        ({"monthly_salary": 37_499, "weekly_hours": 20}, "monthly_salary", "of 37500 AMD for 20"),
        ({"currency": "USD", "monthly_salary": 5_000}, "monthly_salary", "stated in AMD"),
        ({"isco_code": "7210"}, "isco_code", "not an ISCO-08 unit group"),
        ({"isco_code": "9999"}, "isco_code", "not an ISCO-08 unit group"),
        ({"isco_code": "72A1"}, "isco_code", "not a 4-digit ISCO-08 code"),
        ({"isco_code": "721"}, "isco_code", "not a 4-digit ISCO-08 code"),
        ({"weekly_hours": 41}, "weekly_hours", "from 1 to 40"),
        ({"weekly_hours": 0}, "weekly_hours", "from 1 to 40"),
    ],
)
def test_unlawful_terms_are_refused_with_the_field_and_reason(changes, field, reason):
    problems = domain.terms_problems(terms(**changes), RULES, UNIT_GROUPS)
    assert list(problems) == [field]
    assert reason in problems[field][0]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"monthly_salary": 75_000},  # exactly the minimum
        {"monthly_salary": 37_500, "weekly_hours": 20},
        {"isco_code": "0110"},  # armed forces officers: a unit group too
        {"isco_code": "2512", "job_title": "Software developer"},
        {"weekly_hours": 1, "monthly_salary": 1_875},
    ],
)
def test_lawful_terms_pass(changes):
    assert domain.terms_problems(terms(**changes), RULES, UNIT_GROUPS) == {}


def test_every_broken_rule_is_reported_at_once():
    problems = domain.terms_problems(
        terms(isco_code="1234", monthly_salary=10, weekly_hours=50), RULES, UNIT_GROUPS
    )
    assert set(problems) == {"isco_code", "monthly_salary", "weekly_hours"}
    assert domain.refusal_reason(problems).count(";") == 2


def test_minimum_wage_and_deadline_come_from_config():
    settings = {"MINIMUM_MONTHLY_WAGE": "100000", "REPORT_DEADLINE_WORKING_DAYS": "5"}
    rules = rules_from(lambda key, default: settings.get(key, default))
    assert rules.minimum_monthly_wage == 100_000
    assert rules.report_deadline_working_days == 5
    assert domain.salary_problems(99_999, "AMD", 40, rules)


def test_the_isco08_list_is_the_ilo_unit_groups():
    assert len(UNIT_GROUPS) == 436  # ISCO-08 has 436 unit groups
    assert UNIT_GROUPS["7212"] == "Welders and flamecutters"
    assert UNIT_GROUPS["2512"] == "Software developers"
    assert all(len(code) == 4 and code.isdigit() for code in UNIT_GROUPS)


# -- amendments against what the permit covers -----------------------------------------

COVERAGE = {"job_title": "Welder", "isco_code": "7212", "region": "AM-ER"}


@pytest.mark.parametrize(
    ("contract_terms", "fields"),
    [
        ({"job_title": "Welder", "isco_code": "7212", "region": "AM-ER"}, []),
        ({"job_title": "  welder ", "isco_code": "7212", "region": "AM-ER"}, []),
        ({"job_title": "Welder", "isco_code": "7212", "region": "AM-SH"}, ["region"]),
        ({"job_title": "Plumber", "isco_code": "7126", "region": "AM-ER"},
         ["job_title", "isco_code"]),
        ({"job_title": "Plumber", "isco_code": "7126", "region": "AM-LO"},
         ["job_title", "isco_code", "region"]),
    ],
)  # fmt: skip
def test_a_position_or_region_the_permit_does_not_cover_is_a_mismatch(contract_terms, fields):
    mismatches = domain.permit_mismatches(contract_terms, COVERAGE)
    assert [m["field"] for m in mismatches] == fields
    for mismatch in mismatches:
        assert mismatch["permit"] == COVERAGE[mismatch["field"]]


def test_salary_and_hours_are_not_the_permits_business():
    assert domain.permit_mismatches({**COVERAGE, "monthly_salary": 1}, COVERAGE) == []


def test_a_permit_that_states_nothing_covers_nothing_to_mismatch():
    assert domain.permit_mismatches({"job_title": "X", "isco_code": "7212"}, {}) == []


def test_only_values_that_differ_are_changes():
    current = {"monthly_salary": 450_000, "region": "AM-ER", "weekly_hours": 40}
    requested = {"monthly_salary": 500_000, "region": "AM-ER"}
    assert domain.changed_fields(current, requested) == {
        "monthly_salary": {"from": 450_000, "to": 500_000}
    }


@pytest.mark.parametrize("status", ["terminated"])
def test_an_ended_contract_cannot_be_amended(status):
    with pytest.raises(IllegalTransition):
        domain.check_amendable(status)
    domain.check_amendable("registered")


# -- termination ------------------------------------------------------------------------

START, END = date(2027, 1, 15), date(2027, 12, 31)


@pytest.mark.parametrize("on", [START, date(2027, 6, 30), END])
def test_termination_dates_within_the_contract_are_accepted(on):
    domain.check_termination("registered", on, START, END)


@pytest.mark.parametrize(
    ("on", "reason"),
    [(date(2027, 1, 14), "before the contract starts"), (date(2028, 1, 1), "after the contract")],
)
def test_termination_dates_outside_the_contract_are_refused(on, reason):
    with pytest.raises(ContractRefused, match=reason):
        domain.check_termination("registered", on, START, END)


def test_a_terminated_contract_cannot_be_terminated_again():
    with pytest.raises(IllegalTransition):
        domain.check_termination("terminated", date(2027, 6, 30), START, END)


# -- the working-day deadline ----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "calendar", "expected"),
    [
        pytest.param(date(2027, 3, 1), 10, NO_HOLIDAYS, date(2027, 3, 15), id="mon+10: 2 weekends"),
        pytest.param(date(2027, 3, 1), 10, WOMENS_DAY_2027, date(2027, 3, 16), id="holiday mon"),
        pytest.param(date(2027, 3, 5), 1, NO_HOLIDAYS, date(2027, 3, 8), id="fri+1 is monday"),
        pytest.param(date(2027, 3, 5), 1, WOMENS_DAY_2027, date(2027, 3, 9), id="fri+1 holiday"),
        pytest.param(date(2027, 3, 6), 1, NO_HOLIDAYS, date(2027, 3, 8), id="from a saturday"),
        pytest.param(date(2027, 3, 7), 10, NO_HOLIDAYS, date(2027, 3, 19), id="from a sunday"),
        pytest.param(date(2027, 3, 1), 0, NO_HOLIDAYS, date(2027, 3, 1), id="zero days"),
        pytest.param(
            date(2027, 4, 23),
            1,
            WorkingCalendar(holidays=frozenset({date(2027, 4, 24)})),
            date(2027, 4, 26),
            id="holiday on a saturday counts once",
        ),
        pytest.param(
            date(2027, 3, 5),
            1,
            WorkingCalendar(weekend=frozenset({6})),
            date(2027, 3, 6),
            id="six-day week: saturday works",
        ),
        pytest.param(
            date(2027, 12, 30),
            3,
            WorkingCalendar(holidays=frozenset({date(2027, 12, 31), date(2028, 1, 6)})),
            date(2028, 1, 5),
            id="across the new year",
        ),
    ],
)
def test_add_working_days(start, days, calendar, expected):
    assert domain.add_working_days(start, days, calendar) == expected


def test_the_armenian_calendar_skips_new_year_and_christmas():
    calendar = calendar_from(lambda key, default: default)  # HOLIDAY_COUNTRY AM
    # Mon 28 Dec 2026: then 31 Dec, 1 Jan (holidays), a weekend, 6 Jan (Christmas).
    assert domain.report_due_on(date(2026, 12, 28), RULES, calendar) == date(2027, 1, 14)
    assert not calendar.is_working_day(date(2027, 1, 28))  # Army Day, a Thursday
    assert calendar.is_working_day(date(2027, 1, 29))


def test_extra_holidays_and_working_days_are_configurable():
    settings = {"EXTRA_HOLIDAYS": "2027-03-02, 2027-03-03", "EXTRA_WORKING_DAYS": "2027-03-08"}
    calendar = calendar_from(lambda key, default: settings.get(key, default))
    assert not calendar.is_working_day(date(2027, 3, 2))
    assert calendar.is_working_day(date(2027, 3, 8))  # Women's Day declared a working day
    no_country = calendar_from(lambda key, default: {"HOLIDAY_COUNTRY": ""}.get(key, default))
    assert no_country.is_working_day(date(2027, 3, 8))


@pytest.mark.parametrize(
    ("ended_on", "today", "overdue"),
    [
        (date(2027, 3, 1), date(2027, 3, 15), False),  # the 10th working day: still in time
        (date(2027, 3, 1), date(2027, 3, 16), True),
        (date(2027, 3, 1), date(2027, 3, 2), False),
        (None, date(2030, 1, 1), False),  # not ended: nothing to report
    ],
)
def test_report_is_overdue_after_the_deadline(ended_on, today, overdue):
    assert domain.is_report_overdue(ended_on, today, RULES, NO_HOLIDAYS) is overdue


@pytest.mark.parametrize(
    ("end_date", "recorded", "today", "expected"),
    [
        (date(2027, 6, 30), None, date(2027, 6, 30), None),  # ends today: not yet ended
        (date(2027, 6, 30), None, date(2027, 7, 1), date(2027, 6, 30)),
        (date(2027, 6, 30), date(2027, 4, 1), date(2027, 4, 2), date(2027, 4, 1)),  # officer
    ],
)
def test_when_the_employment_ended(end_date, recorded, today, expected):
    assert domain.employment_end(end_date, recorded, today) == expected


def test_a_report_after_the_deadline_is_late():
    assert not domain.is_reported_late(date(2027, 3, 1), date(2027, 3, 15), RULES, NO_HOLIDAYS)
    assert domain.is_reported_late(date(2027, 3, 1), date(2027, 3, 16), RULES, NO_HOLIDAYS)
