"""Listing cases for officers: filters, full-text search, stable pagination.

Pages are keyset-paginated on (created_at, id), newest first: a cursor names
the last case of a page, so cases filed meanwhile never shift or repeat a page
(an offset would). Every filter maps to an indexed column (see models.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, not_, or_, select
from sqlalchemy.orm import Session

from applications import domain
from applications.models import Application

UNASSIGNED = "none"


def query(filters: dict[str, Any], now: datetime) -> Select:
    """The SELECT for one page; ``filters`` as loaded by ListFiltersSchema (cursor decoded)."""
    conditions = list(_conditions(filters, now))
    if filters.get("after"):
        created, last_id = filters["after"]
        conditions.append(
            or_(
                Application.created_at < created,
                and_(Application.created_at == created, Application.id < last_id),
            )
        )
    return (
        select(Application)
        .where(*conditions)
        .order_by(Application.created_at.desc(), Application.id.desc())
        .limit(filters["limit"] + 1)
    )


def _conditions(filters: dict[str, Any], now: datetime) -> Any:
    if filters.get("status"):
        yield Application.status.in_(filters["status"])
    if filters.get("kind"):
        yield Application.kind == filters["kind"]
    if filters.get("employer"):
        yield Application.employer_tax_id == filters["employer"]
    if filters.get("nationality"):
        yield Application.nationality == filters["nationality"]
    if filters.get("submitted_from"):
        yield Application.submitted_at >= datetime.combine(filters["submitted_from"], time(), UTC)
    if filters.get("submitted_to"):
        day_after = filters["submitted_to"] + timedelta(days=1)
        yield Application.submitted_at < datetime.combine(day_after, time(), UTC)
    if filters.get("assigned_to") == UNASSIGNED:
        yield Application.assigned_to.is_(None)
    elif filters.get("assigned_to"):
        yield Application.assigned_to == filters["assigned_to"]
    if filters.get("overdue") is not None:
        overdue = and_(
            Application.status.in_([s.value for s in domain.CLOCK_RUNNING]),
            Application.due_at < now,
        )
        yield overdue if filters["overdue"] else not_(overdue)
    for term in domain.search_terms(filters.get("q") or ""):
        # Word-prefix match on names and passport number ("kum" finds Kumar).
        yield Application.worker_search.contains(" " + term, autoescape=True)


def page(
    session: Session, filters: dict[str, Any], now: datetime
) -> tuple[list[Application], str | None]:
    rows = list(session.scalars(query(filters, now)))
    more = len(rows) > filters["limit"]
    rows = rows[: filters["limit"]]
    cursor = domain.encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return rows, cursor
