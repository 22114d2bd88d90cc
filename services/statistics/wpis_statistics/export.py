"""The public open-data export: safe-to-publish monthly tables, CSV or JSON.

Disclosure control (docs/statistics.md):
- Only closed months are published (a month closes ``grace_days`` after it
  ends), and a month is frozen when first published: later exports repeat it
  byte for byte, so differencing two exports reveals nothing about late
  events, and the only new figures are whole new months.
- Each table is one measure in one month broken down by one dimension, with
  the month's total; tables are never cross-classified and no published
  figure of one table is a cell of another (approvals are published once, as
  permits issued; decisions are split into refusals only), so the tables
  are linked only through that total.
- Within a table, ``domain.suppress`` hides every cell below the threshold
  and enough other cells that the total minus the visible cells reveals no
  single small cell; a total below the threshold hides the whole table.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wpis_statistics import codes, domain
from wpis_statistics.models import StatCell, StatPublished

PUBLIC_MEASURES = [m for m in domain.MEASURES.values() if m.public]
DECISION_FACT = "applications_decided"
CSV_COLUMNS = (
    "month", "measure", "dimension", "value", "label", "count",
    "median_days", "p90_days", "within_deadline_share", "flag",
)  # fmt: skip
SUPPRESSED = "suppressed"


def month_of(value: date) -> str:
    return value.strftime("%Y-%m")


def next_month(month: str) -> str:
    first = date.fromisoformat(month + "-01")
    return month_of((first + timedelta(days=32)).replace(day=1))


def last_closed_month(today: date, grace_days: int) -> str:
    """The latest month that ended at least ``grace_days`` ago."""
    month_start = (today - timedelta(days=grace_days)).replace(day=1)
    return month_of(month_start - timedelta(days=1))


def _label(dimension: str, value: str) -> str:
    return domain.DIMENSIONS[dimension].label(value) if dimension in domain.DIMENSIONS else value


def month_rows(session: Session, month: str, threshold: int) -> list[dict[str, Any]]:
    """Every published table of one month, suppressed."""
    facts = [m.fact_measure for m in PUBLIC_MEASURES] + [DECISION_FACT]
    found = session.execute(
        select(StatCell.measure, StatCell.dim_a, StatCell.val_a, StatCell.n).where(
            StatCell.month == month, StatCell.dim_b == "", StatCell.measure.in_(facts)
        )
    )
    tables: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for measure, dim_a, val_a, n in found:
        if n:
            tables[measure][dim_a or "total"][val_a] = n
    rows = []
    for measure in PUBLIC_MEASURES:
        by_dimension = tables.get(measure.fact_measure)
        if by_dimension:
            rows += _measure_rows(month, measure, by_dimension, threshold)
    rows += _decision_time_rows(month, tables.get(DECISION_FACT, {}), threshold)
    return rows


def _row(month: str, measure: str, dimension: str, value: str, count: int | None) -> dict:
    return {
        "month": month,
        "measure": measure,
        "dimension": dimension,
        "value": value,
        "label": _label(dimension, value) if value else "",
        "count": count,
        "flag": SUPPRESSED if count is None else "",
    }


def _measure_rows(
    month: str, measure: domain.Measure, tables: dict[str, dict[str, int]], threshold: int
) -> list[dict[str, Any]]:
    total = tables["total"].get("", 0)
    shown_total, _ = domain.suppress(total, {}, threshold)
    rows = [_row(month, measure.name, "total", "", shown_total)]
    for dimension in measure.dimensions:
        _, cells = domain.suppress(total, tables.get(dimension, {}), threshold)
        rows += [
            _row(month, measure.name, dimension, value, count)
            for value, count in sorted(cells.items())
        ]
    return rows


def _decision_time_rows(
    month: str, tables: dict[str, dict[str, int]], threshold: int
) -> list[dict[str, Any]]:
    histogram = {int(days): n for days, n in tables.get("decision_days", {}).items()}
    if not histogram:
        return []
    summary = domain.distribution_summary(
        histogram, tables.get("within_deadline", {}).get("yes", 0)
    )
    # The number of decisions is not published: with refusals published and approvals
    # close to permits issued, it would let one table undo another's suppression.
    row = _row(month, "decision_time", "total", "", None)
    if summary["count"] < threshold:
        return [row]
    row.update(
        flag="",
        median_days=summary["median_days"],
        p90_days=summary["p90_days"],
        within_deadline_share=summary["within_deadline_share"],
    )
    return [row]


def publish(
    session: Session, threshold: int, today: date, grace_days: int, now: datetime
) -> dict[str, StatPublished]:
    """Freeze every closed month not yet published; returns all published months."""
    published = {p.month: p for p in session.scalars(select(StatPublished))}
    first = session.scalar(
        select(func.min(StatCell.month)).where(
            StatCell.dim_a == "", StatCell.measure.in_([m.fact_measure for m in PUBLIC_MEASURES])
        )
    )
    last = last_closed_month(today, grace_days)
    month = first
    while month and month <= last:
        if month not in published:
            frozen = StatPublished(
                month=month,
                threshold=threshold,
                rows=month_rows(session, month, threshold),
                published_at=now,
            )
            session.add(frozen)
            published[month] = frozen
        month = next_month(month)
    return published


def open_data(
    session: Session,
    threshold: int,
    today: date,
    grace_days: int,
    now: datetime,
    month_from: str | None = None,
    month_to: str | None = None,
) -> dict[str, Any]:
    published = publish(session, threshold, today, grace_days, now)
    months = sorted(
        m
        for m in published
        if (month_from is None or m >= month_from) and (month_to is None or m <= month_to)
    )
    rows = [
        {**dict.fromkeys(CSV_COLUMNS), **row} for month in months for row in published[month].rows
    ]
    return {
        "title": "WPIS work permit statistics (open data)",
        "months": months,
        "threshold": threshold,
        "rows": rows,
        "dictionary": dictionary(threshold, grace_days),
    }


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row[key] for key in CSV_COLUMNS})
    return buffer.getvalue()


def dictionary(threshold: int, grace_days: int) -> dict[str, Any]:
    small = {
        "sex": codes.SEXES,
        "age_band": {band: band for band in codes.AGE_BANDS},
        "isco_major": codes.ISCO_MAJOR_GROUPS,
        "nace_section": codes.NACE_SECTIONS,
        "region": codes.armenian_regions(),
        "kind": codes.KINDS,
    }
    return {
        "columns": {
            "month": "calendar month, YYYY-MM (UTC dates of recording)",
            "measure": "what is counted (see measures)",
            "dimension": "the breakdown of this row: 'total', or one dimension",
            "value": "the dimension's code ('' for the total)",
            "label": "the code's name (ISO 3166 names from pycountry, ISCO-08, NACE Rev. 2)",
            "count": f"number of events; empty when suppressed (fewer than {threshold} people, "
            "or hidden so that a small cell cannot be worked out from the total)",
            "median_days": "decision_time only: median days from submission to decision "
            "(its count is never published; suppressed for months with fewer decisions than "
            "the threshold)",
            "p90_days": "decision_time only: 90th percentile of those days",
            "within_deadline_share": "decision_time only: share decided within the statutory "
            "deadline (0..1)",
            "flag": "'suppressed' when the count is withheld",
        },
        "measures": {m.name: m.description for m in PUBLIC_MEASURES}
        | {"decision_time": domain.MEASURES["decision_time"].description},
        "dimensions": {
            name: {
                "description": domain.DIMENSIONS[name].description,
                **(
                    {"codes": dict(small[name]) | {"unknown": "not known"}} if name in small else {}
                ),
            }
            for name in (*domain.PROFILE_DIMENSIONS, "outcome", "reason_code")
        },
        "disclosure_control": {
            "threshold": threshold,
            "rule": "a cell counting fewer than the threshold is suppressed; within each table "
            "(one measure, one month, one dimension) further cells are suppressed until the "
            "suppressed cells are at least two and add up to at least the threshold; a month "
            "total below the threshold suppresses all of the month's tables for that measure",
            "publication": f"a month is published {grace_days} day(s) after it ends and is "
            "frozen from then on: later corrections appear in the officers' API only",
        },
    }
