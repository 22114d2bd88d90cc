"""Listing applications with filters: p50/p99 latency over a large register.

Bulk-loads N cases (default 100,000) straight into a fresh applications database
migrated to head (SQLite file, or PostgreSQL with --backend postgresql), then
times what the ``search`` RPC does for one page (the query through
``applications.listing`` plus the JSON view of each row) under a set of filters
officers use: none, by status, an officer's queue, by employer, nationality and
kind, a date range, overdue, a name search, and a page deep in via cursors.

    python bench/applications_list.py                       # SQLite, 100k
    python bench/applications_list.py --backend postgresql  # WPIS_TEST_PG_URL
    python bench/applications_list.py --smoke               # 500 rows, a few runs

Prints one line per filter and a final ``figures`` line; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from applications import casework, domain, listing
from applications.domain import Role, Status
from applications.models import Application
from wpis_common.db import create_db_engine, make_session_factory
from wpis_common.migrate import upgrade
from wpis_common.testing import fresh_database

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
GIVEN = ["Ravi", "Anh Thi", "Jose Maria", "Sita", "Priya", "Lucas", "Kofi", "Olga", "Wei", "Amir"]
SURNAMES = ["Kumar", "Nguyen", "Nunez", "Gurung", "Sharma", "Moreau", "Mensah", "Petrova", "Li",
            "Hosseini", "Singh", "Tran", "Garcia", "Rai", "Patel", "Dubois"]  # fmt: skip
NATIONALITIES = ["IND", "VNM", "ESP", "NPL", "FRA", "GHA", "RUS", "CHN", "IRN", "PHL"]
STATUSES = [
    (Status.IN_REVIEW, 20), (Status.IDENTITY_CHECK_PENDING, 5), (Status.LMT_PENDING, 8),
    (Status.RETURNED, 4), (Status.APPROVED, 3), (Status.PERMIT_ISSUED, 40),
    (Status.REJECTED, 10), (Status.WITHDRAWN, 4), (Status.CLOSED, 3), (Status.DRAFT, 3),
]  # fmt: skip
OFFICERS = [f"officer.{n:02d}" for n in range(20)]
EMPLOYERS = [f"{n:08d}" for n in range(10_000_000, 10_002_000)]


def case_row(rng: random.Random, index: int) -> dict[str, Any]:
    created = NOW - timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
    given, surname = rng.choice(GIVEN), rng.choice(SURNAMES)
    passport = f"P{index:08d}"
    nationality = rng.choice(NATIONALITIES)
    status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
    kind = rng.choices(["new", "extension", "amendment"], [80, 15, 5])[0]
    tax_id = rng.choice(EMPLOYERS)
    submitted = None if status == Status.DRAFT else created
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "status": status.value,
        "kind": kind,
        "employer_tax_id": tax_id,
        "employer": {"tax_id": tax_id, "name": f"Employer {tax_id}", "email": "hr@x.example"},
        "worker": {"given_names": given, "surname": surname, "date_of_birth": "1990-01-01",
                   "sex": "M", "nationality": nationality, "email": "w@example.org",
                   "passport": {"number": passport, "issuing_country": nationality,
                                "expiry_date": "2031-01-01"}},
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": "2027-01-15", "end_date": "2027-12-31"},
        "worker_search": domain.search_text(given, surname, passport),
        "passport_number": passport,
        "nationality": nationality,
        "lmt_required": False,
        "fee_amount": 105000,
        "fee_currency": "AMD",
        "assigned_to": rng.choice([None, *OFFICERS]) if submitted else None,
        "submitted_at": submitted,
        "due_at": submitted + timedelta(days=30) if submitted else None,
        "created_at": created,
        "updated_at": created,
    }  # fmt: skip


def bulk_load(url: str, rows: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    engine = create_db_engine(url)
    started = time.perf_counter()
    try:
        with engine.begin() as connection:
            batch: list[dict[str, Any]] = []
            for index in range(rows):
                batch.append(case_row(rng, index))
                if len(batch) == 5000:
                    connection.execute(insert(Application), batch)
                    batch = []
            if batch:
                connection.execute(insert(Application), batch)
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("ANALYZE applications")
            else:
                connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return time.perf_counter() - started


def filter_sets(deep_pages: int) -> dict[str, dict[str, Any]]:
    week_ago = (NOW - timedelta(days=37)).date()
    return {
        "newest": {},
        "status=in_review": {"status": ["in_review"]},
        "queue:officer+in_review": {"assigned_to": "officer.03", "status": ["in_review"]},
        "unassigned pool": {"assigned_to": "none",
                            "status": ["in_review", "returned_for_correction"]},
        "employer": {"employer": EMPLOYERS[42]},
        "nationality+kind": {"nationality": "NPL", "kind": "extension"},
        "submitted 7-day range": {"submitted_from": week_ago,
                                  "submitted_to": week_ago + timedelta(days=6)},
        "overdue": {"overdue": True},
        "search name": {"q": "gurung"},
        "search passport": {"q": "p00012"},
        f"page {deep_pages} via cursors": {"_deep": deep_pages},
    }  # fmt: skip


def one_page(session_factory: Callable, filters: dict[str, Any], limit: int) -> tuple[int, float]:
    """What the search RPC does for one page: query, then the view of each row.
    Returns the page's size and the milliseconds spent in the database."""
    deep = filters.get("_deep", 1)
    filters = {key: value for key, value in filters.items() if key != "_deep"}
    cursor = None
    with session_factory() as session:
        started = time.perf_counter()
        for _ in range(deep):
            page_filters = {**filters, "limit": limit}
            if cursor:
                page_filters["after"] = domain.decode_cursor(cursor)
            rows, cursor = listing.page(session, page_filters, NOW)
        query_ms = (time.perf_counter() - started) * 1000
        items = [casework.view(r, Role.DECISION_OFFICER, NOW, with_history=False) for r in rows]
    return len(items), query_ms


def percentile(samples: list[float], fraction: float) -> float:
    # Not the statistics module: bench/stats_queries.py shadows it when run as a script.
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(url: str, backend: str, rows: int, runs: int, limit: int) -> list[tuple[str, float, float]]:
    upgrade("applications", url)
    load_seconds = bulk_load(url, rows)
    print(f"applications_list backend={backend} loaded={rows} rows in {load_seconds:.1f}s")
    engine = create_db_engine(url)
    session_factory = make_session_factory(engine)
    figures = []
    try:
        for name, filters in filter_sets(deep_pages=5).items():
            one_page(session_factory, filters, limit)  # warm the cache and the plan
            samples, query_samples, count = [], [], 0
            for _ in range(runs):
                started = time.perf_counter()
                count, query_ms = one_page(session_factory, filters, limit)
                samples.append((time.perf_counter() - started) * 1000)
                query_samples.append(query_ms)
            p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
            figures.append((name, p50, p99))
            print(
                f"  {name:<28} rows/page={count:<4} p50={p50:7.2f} ms  p99={p99:7.2f} ms"
                f"  (database: p50={percentile(query_samples, 0.5):6.2f} ms"
                f" p99={percentile(query_samples, 0.99):6.2f} ms)"
            )
    finally:
        engine.dispose()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--limit", type=int, default=50, help="page size")
    parser.add_argument("--smoke", action="store_true", help="500 rows, 5 runs: a quick check")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rows, args.runs = 500, 5
    os.environ["WPIS_TEST_DB"] = args.backend
    with tempfile.TemporaryDirectory() as scratch, fresh_database(Path(scratch), "bench") as url:
        figures = run(url, args.backend, args.rows, args.runs, args.limit)
    worst = max(figures, key=lambda figure: figure[2])
    overall_p50 = percentile([p50 for _, p50, _ in figures], 0.5)
    print(
        f"figures backend={args.backend} rows={args.rows} page={args.limit} "
        f"median_p50_ms={overall_p50:.2f} worst_p99_ms={worst[2]:.2f} ({worst[0]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
