"""Contract rules. Pure: no I/O.

A contract registered with a permit runs from the contract's start to its
end. Its registration is refused if it starts outside the permit's validity;
a contract that runs past the permit is registered only until the permit
ends (the employer may not employ the worker beyond it). The salary must
reach the minimum wage (pro rata for part-time hours) and the position must
be an ISCO-08 unit group.

The employer must report a termination within a number of working days of
the employment's end; a contract whose employment ended without a report by
then is overdue.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any


class ContractStatus(StrEnum):
    REGISTERED = "registered"
    TERMINATED = "terminated"


class Actor(StrEnum):
    EMPLOYER = "employer"
    OFFICER = "officer"


class ContractRefused(Exception):
    pass


class IllegalTransition(Exception):
    """The request is valid but not allowed in the contract's current state."""


@dataclass(frozen=True)
class ContractRules:
    """The legal parameters, from config."""

    minimum_monthly_wage: int = 75_000  # Armenia, AMD per month at full time
    wage_currency: str = "AMD"
    full_time_weekly_hours: int = 40
    default_weekly_hours: int = 40
    max_weekly_hours: int = 40
    report_deadline_working_days: int = 10


@dataclass(frozen=True)
class WorkingCalendar:
    """Weekend days (Monday=0 ... Sunday=6) and public holidays."""

    holidays: Container[date] = field(default_factory=frozenset)
    weekend: frozenset[int] = frozenset({5, 6})

    def is_working_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays


# -- registration ---------------------------------------------------------------------


def check_terms_within_permit(
    start: date, end: date, permit_valid_from: date, permit_valid_until: date
) -> None:
    if end <= start:
        raise ContractRefused("the contract must end after it starts")
    if start < permit_valid_from:
        raise ContractRefused("the contract starts before the permit is valid")
    if start > permit_valid_until:
        raise ContractRefused("the contract starts after the permit ends")


def registered_until(end: date, permit_valid_until: date) -> date:
    """The registration covers the contract, but never past the permit."""
    return min(end, permit_valid_until)


def minimum_salary(weekly_hours: int, rules: ContractRules) -> int:
    """The minimum monthly wage, pro rata for hours below full time (rounded up)."""
    hours = min(weekly_hours, rules.full_time_weekly_hours)
    return math.ceil(rules.minimum_monthly_wage * hours / rules.full_time_weekly_hours)


def salary_problems(
    monthly_salary: int, currency: str, weekly_hours: int, rules: ContractRules
) -> list[str]:
    if currency != rules.wage_currency:
        return [f"the salary must be stated in {rules.wage_currency}, not {currency}"]
    floor = minimum_salary(weekly_hours, rules)
    if monthly_salary < floor:
        return [
            f"the monthly salary {monthly_salary} {currency} is below the minimum wage "
            f"of {floor} {rules.wage_currency} for {weekly_hours} hours a week"
        ]
    return []


def isco_problems(code: str, unit_groups: Container[str]) -> list[str]:
    if not (len(code) == 4 and code.isdigit()):
        return [f"{code!r} is not a 4-digit ISCO-08 code"]
    if code not in unit_groups:
        return [f"{code} is not an ISCO-08 unit group"]
    return []


def hours_problems(weekly_hours: int, rules: ContractRules) -> list[str]:
    if not 1 <= weekly_hours <= rules.max_weekly_hours:
        return [f"weekly hours must be from 1 to {rules.max_weekly_hours}, not {weekly_hours}"]
    return []


@dataclass(frozen=True)
class Terms:
    """What the employer and the worker agreed and the register checks."""

    job_title: str
    isco_code: str
    region: str
    monthly_salary: int
    currency: str
    weekly_hours: int


def terms_problems(
    terms: Terms, rules: ContractRules, unit_groups: Container[str]
) -> dict[str, list[str]]:
    """Every rule the terms break, by field; empty when they are lawful."""
    problems = {
        "isco_code": isco_problems(terms.isco_code, unit_groups),
        "weekly_hours": hours_problems(terms.weekly_hours, rules),
        "monthly_salary": salary_problems(
            terms.monthly_salary, terms.currency, terms.weekly_hours, rules
        ),
    }
    return {name: reasons for name, reasons in problems.items() if reasons}


def refusal_reason(problems: Mapping[str, list[str]]) -> str:
    return "; ".join(reason for reasons in problems.values() for reason in reasons)


# -- amendments and what the permit covers ---------------------------------------------

AMENDABLE = ("job_title", "isco_code", "region", "monthly_salary", "weekly_hours")
COVERED_BY_PERMIT = ("job_title", "isco_code", "region")


def changed_fields(current: Mapping[str, Any], requested: Mapping[str, Any]) -> dict[str, Any]:
    """{field: {"from": old, "to": new}} for the requested values that differ."""
    return {
        name: {"from": current.get(name), "to": value}
        for name, value in requested.items()
        if name in AMENDABLE and current.get(name) != value
    }


def _same(contract_value: Any, permit_value: Any) -> bool:
    if isinstance(contract_value, str) and isinstance(permit_value, str):
        return " ".join(contract_value.split()).casefold() == (
            " ".join(permit_value.split()).casefold()
        )
    return contract_value == permit_value


def permit_mismatches(
    terms: Mapping[str, Any], coverage: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Where the contract's position or region is not what the permit covers.

    Titles compare without regard to case or spacing; a field the permit
    does not state is not a mismatch.
    """
    return [
        {"field": name, "contract": terms.get(name), "permit": coverage.get(name)}
        for name in COVERED_BY_PERMIT
        if coverage.get(name) is not None and not _same(terms.get(name), coverage.get(name))
    ]


def check_amendable(status: str) -> None:
    if status != ContractStatus.REGISTERED:
        raise IllegalTransition(f"a {status} contract cannot be amended")


# -- termination and the duty to report it ---------------------------------------------


def check_termination(status: str, terminated_on: date, start: date, end: date) -> None:
    if status != ContractStatus.REGISTERED:
        raise IllegalTransition(f"a {status} contract cannot be terminated again")
    if terminated_on < start:
        raise ContractRefused(f"the termination date is before the contract starts ({start})")
    if terminated_on > end:
        raise ContractRefused(f"the termination date is after the contract ends ({end})")


def add_working_days(start: date, days: int, calendar: WorkingCalendar) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself does not count)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if calendar.is_working_day(current):
            counted += 1
    return current


def report_due_on(employment_ended_on: date, rules: ContractRules, cal: WorkingCalendar) -> date:
    """The last day on which the employer may report the employment's end."""
    return add_working_days(employment_ended_on, rules.report_deadline_working_days, cal)


def employment_end(end_date: date, employment_ended_on: date | None, today: date) -> date | None:
    """When the employment ended, if it has: an officer's record, else the contract's end."""
    if employment_ended_on is not None:
        return employment_ended_on
    return end_date if end_date < today else None


def is_report_overdue(
    employment_ended_on: date | None, today: date, rules: ContractRules, cal: WorkingCalendar
) -> bool:
    if employment_ended_on is None:
        return False
    return today > report_due_on(employment_ended_on, rules, cal)


def is_reported_late(
    terminated_on: date, reported_on: date, rules: ContractRules, cal: WorkingCalendar
) -> bool:
    return reported_on > report_due_on(terminated_on, rules, cal)


def holidays_from_iso(values: Iterable[str]) -> frozenset[date]:
    return frozenset(date.fromisoformat(value.strip()) for value in values if value.strip())
