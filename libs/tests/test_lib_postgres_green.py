"""PostgreSQL calls must not block the eventlet hub (a correctness check, not a benchmark)."""

from __future__ import annotations

import time

import eventlet
import pytest
from sqlalchemy import text

from wpis_common import testing
from wpis_common.db import create_db_engine
from wpis_common.testing import fresh_database

pytestmark = [
    pytest.mark.skipif(
        testing.db_backend() != "postgresql",
        reason="PostgreSQL only (set WPIS_TEST_DB=postgresql); SQLite calls are local and short",
    ),
]

SLEEP = 0.5


@pytest.fixture
def engine(tmp_path):
    with fresh_database(tmp_path, "lib") as url:
        engine = create_db_engine(url, pool_size=2)
        # Open both connections up front: only the queries are timed.
        with engine.connect() as first, engine.connect() as second:
            first.execute(text("SELECT 1"))
            second.execute(text("SELECT 1"))
        yield engine
        engine.dispose()


def _slow_query(engine) -> None:
    with engine.connect() as connection:
        connection.execute(text(f"SELECT pg_sleep({SLEEP})"))


def test_two_slow_queries_in_two_greenthreads_overlap(engine):
    ticks = 0

    def ticker():
        nonlocal ticks
        while True:
            eventlet.sleep(0.02)
            ticks += 1

    clock = eventlet.spawn(ticker)
    started = time.monotonic()
    queries = [eventlet.spawn(_slow_query, engine) for _ in range(2)]
    for query in queries:
        query.wait()
    elapsed = time.monotonic() - started
    clock.kill()

    assert elapsed < 0.9, f"two {SLEEP}s queries took {elapsed:.2f}s: they ran one after another"
    assert ticks >= 10, f"the hub ran only {ticks} ticks during the queries"
