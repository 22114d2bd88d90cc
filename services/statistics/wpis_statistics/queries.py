"""Answering queries from the read model.

A query that involves at most two dimensions besides the month (the usual
case) reads the pre-aggregated ``stat_cells``: at most a few thousand rows,
whatever the number of permits. A query by day, with date bounds inside a
month, or over more dimensions reads ``stat_facts`` (same answer, slower).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wpis_statistics import domain
from wpis_statistics.domain import COUNT, DISTRIBUTION, Query
from wpis_statistics.models import StatCell, StatFact

GroupKey = tuple[str, ...]


def counts(
    session: Session, query: Query, fact_measure: str, extra: str | None = None
) -> tuple[dict[GroupKey, int], str]:
    """Counts by the query's group_by (plus ``extra`` last); and which table answered."""
    level = query.cube_dimensions(extra)
    if level is not None:
        return _from_cells(session, query, fact_measure, level, extra), "cells"
    return _from_facts(session, query, fact_measure, extra), "facts"


def _month(value: date) -> str:
    return value.strftime("%Y-%m")


def _from_cells(
    session: Session, query: Query, measure: str, level: tuple[str, str], extra: str | None
) -> dict[GroupKey, int]:
    dim_a, dim_b = level

    def column(dimension: str) -> Any:
        if dimension == "month":
            return StatCell.month
        return StatCell.val_a if dimension == dim_a else StatCell.val_b

    keys = [column(d) for d in (*query.group_by, *([extra] if extra else []))]
    statement = select(*keys, func.sum(StatCell.n)).where(
        StatCell.measure == measure, StatCell.dim_a == dim_a, StatCell.dim_b == dim_b
    )
    if query.date_from:
        statement = statement.where(StatCell.month >= _month(query.date_from))
    if query.date_to:
        statement = statement.where(StatCell.month <= _month(query.date_to))
    for dimension, values in query.filters:
        statement = statement.where(column(dimension).in_(values))
    if keys:
        statement = statement.group_by(*keys)
    return {tuple(row[:-1]): int(row[-1]) for row in session.execute(statement) if row[-1]}


def _from_facts(
    session: Session, query: Query, measure: str, extra: str | None
) -> dict[GroupKey, int]:
    keys = [
        getattr(StatFact, d) if d != "day" else StatFact.day
        for d in (*query.group_by, *([extra] if extra else []))
    ]
    statement = select(*keys, func.count()).where(StatFact.measure == measure)
    if query.date_from:
        statement = statement.where(StatFact.day >= query.date_from)
    if query.date_to:
        statement = statement.where(StatFact.day <= query.date_to)
    for dimension, values in query.filters:
        statement = statement.where(getattr(StatFact, dimension).in_(values))
    if keys:
        statement = statement.group_by(*keys)
    result = {}
    for row in session.execute(statement):
        if not row[-1]:
            continue
        key = tuple(v.isoformat() if isinstance(v, date) else v for v in row[:-1])
        result[key] = int(row[-1])
    return result


def run_query(session: Session, query: Query) -> dict[str, Any]:
    if query.measure.kind == COUNT:
        found, source = counts(session, query, query.measure.fact_measure)
        rows = [{**_group(query, key), "count": n} for key, n in sorted(found.items())]
        total: Any = sum(found.values())
    elif query.measure.kind == DISTRIBUTION:
        summaries, source = distributions(session, query)
        rows = [{**_group(query, key), **summary} for key, summary in sorted(summaries.items())]
        total = _overall(session, query)
    else:
        found, source = active_permits(session, query)
        rows = [{**_group(query, key), "count": n} for key, n in sorted(found.items())]
        total = sum(found.values())
    return {
        "measure": query.measure.name,
        "description": query.measure.description,
        "group_by": list(query.group_by),
        "filters": {name: list(values) for name, values in query.filters},
        "from": query.date_from.isoformat() if query.date_from else None,
        "to": query.date_to.isoformat() if query.date_to else None,
        "on": query.on.isoformat() if query.on else None,
        "rows": [domain.label_row(row) for row in rows],
        "total": total,
        "source": source,
    }


def _group(query: Query, key: GroupKey) -> dict[str, Any]:
    return dict(zip(query.group_by, key, strict=True))


def decision_histograms(
    session: Session, query: Query
) -> tuple[dict[GroupKey, dict[int, int]], dict[GroupKey, int], str]:
    """Per group: {decision days: count}, and how many were within the deadline."""
    measure = query.measure.fact_measure
    days, source = counts(session, query, measure, "decision_days")
    within, _ = counts(session, query, measure, "within_deadline")
    histograms: dict[GroupKey, dict[int, int]] = defaultdict(dict)
    for key, n in days.items():
        histograms[key[:-1]][int(key[-1])] = n
    within_by_group = {key[:-1]: n for key, n in within.items() if key[-1] == "yes"}
    return dict(histograms), within_by_group, source


def distributions(session: Session, query: Query) -> tuple[dict[GroupKey, dict[str, Any]], str]:
    histograms, within, source = decision_histograms(session, query)
    summaries = {
        key: domain.distribution_summary(histogram, within.get(key, 0))
        for key, histogram in histograms.items()
    }
    return summaries, source


def _overall(session: Session, query: Query) -> dict[str, Any]:
    summaries, _ = distributions(session, replace(query, group_by=()))
    return summaries.get((), domain.distribution_summary({}, 0))


def active_permits(session: Session, query: Query) -> tuple[dict[GroupKey, int], str]:
    """Permits valid on ``query.on``: started by then minus ended by then.

    Whole months before the date's month come from the cells; the date's own
    month, day by day, from the facts.
    """
    on = query.on or date.today()
    month_start = on.replace(day=1)
    before = replace(query, date_from=None, date_to=month_start - timedelta(days=1))
    this_month = replace(query, date_from=month_start, date_to=on)
    active: dict[GroupKey, int] = defaultdict(int)
    sources = set()
    for measure, sign in (("permit_started", 1), ("permit_ended", -1)):
        for part in (before, this_month):
            found, source = counts(session, part, measure)
            sources.add(source)
            for key, n in found.items():
                active[key] += sign * n
    return {key: n for key, n in active.items() if n}, "+".join(sorted(sources))


def catalog() -> dict[str, Any]:
    return {
        "measures": {
            m.name: {
                "description": m.description,
                "kind": m.kind,
                "dimensions": list(m.dimensions),
                "time_dimensions": [] if m.kind == domain.STOCK else list(domain.TIME_DIMENSIONS),
            }
            for m in domain.MEASURES.values()
        },
        "dimensions": {d.name: d.description for d in domain.DIMENSIONS.values()},
        "parameters": {
            "group_by": f"up to {domain.MAX_GROUP_BY} dimensions, comma-separated",
            "from": "first day (YYYY-MM-DD) or month (YYYY-MM), inclusive",
            "to": "last day (YYYY-MM-DD) or month (YYYY-MM), inclusive",
            "on": "for permits_active: the date (default today)",
            "<dimension>": "filter: one or more comma-separated codes",
        },
    }
