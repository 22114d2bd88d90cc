"""The register's reference data and legal parameters, from package data and config."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import holidays

from contracts.domain import ContractRules, WorkingCalendar, holidays_from_iso


@cache
def isco08_unit_groups() -> dict[str, str]:
    """The 436 ISCO-08 unit groups (ILO, 2008): {code: title}."""
    text = resources.files("contracts").joinpath("data/isco08_unit_groups.csv").read_text()
    return {row["code"]: row["title"] for row in csv.DictReader(text.splitlines())}


def rules_from(setting: Callable[[str, Any], Any]) -> ContractRules:
    defaults = ContractRules()
    return ContractRules(
        minimum_monthly_wage=int(setting("MINIMUM_MONTHLY_WAGE", defaults.minimum_monthly_wage)),
        wage_currency=str(setting("WAGE_CURRENCY", defaults.wage_currency)),
        full_time_weekly_hours=int(
            setting("FULL_TIME_WEEKLY_HOURS", defaults.full_time_weekly_hours)
        ),
        default_weekly_hours=int(setting("DEFAULT_WEEKLY_HOURS", defaults.default_weekly_hours)),
        max_weekly_hours=int(setting("MAX_WEEKLY_HOURS", defaults.max_weekly_hours)),
        report_deadline_working_days=int(
            setting("REPORT_DEADLINE_WORKING_DAYS", defaults.report_deadline_working_days)
        ),
    )


@dataclass(frozen=True)
class HolidayCalendar:
    """A country's public holidays (the `holidays` package, kept current upstream) plus
    extra days the government declares, less days it declares working."""

    country: str | None
    extra: frozenset[date]
    working: frozenset[date]

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date) or day in self.working:
            return False
        return day in self.extra or (self.country is not None and day in _national(self.country))


@cache
def _national(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country)


def calendar_from(setting: Callable[[str, Any], Any]) -> WorkingCalendar:
    country = str(setting("HOLIDAY_COUNTRY", "AM") or "").strip() or None
    weekend = str(setting("WEEKEND_DAYS", "5,6"))
    return WorkingCalendar(
        holidays=HolidayCalendar(
            country=country,
            extra=holidays_from_iso(str(setting("EXTRA_HOLIDAYS", "") or "").split(",")),
            working=holidays_from_iso(str(setting("EXTRA_WORKING_DAYS", "") or "").split(",")),
        ),
        weekend=frozenset(int(day) for day in weekend.split(",") if day.strip()),
    )


@dataclass(frozen=True)
class ContractPolicy:
    """Everything the use cases need to judge a contract, built once per container."""

    rules: ContractRules
    calendar: WorkingCalendar
    unit_groups: dict[str, str]


def policy_from(setting: Callable[[str, Any], Any]) -> ContractPolicy:
    return ContractPolicy(rules_from(setting), calendar_from(setting), isco08_unit_groups())
