"""statistics in a real Nameko container on a real broker: it consumes the
producers' events idempotently, answers queries over RPC, and a rebuild that
replays the producers' logs (through their ``events_after`` RPC, played here
by stand-in producers serving a synthetic log) gives the same figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nameko.rpc import rpc
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook
from sqlalchemy import func, select

from wpis_common.db import create_db_engine
from wpis_common.errors import InvalidInput, NotFound
from wpis_common.testing import wait_for
from wpis_statistics import samples
from wpis_statistics.models import MESSAGING
from wpis_statistics.service import StatisticsService

pytestmark = pytest.mark.integration

START = datetime.now(UTC) - timedelta(days=150)
QUESTIONS = [
    ("applications_received", {"group_by": "month,nationality"}),
    ("applications_rejected", {"group_by": "reason_code"}),
    ("permits_issued", {"group_by": "isco_major,region"}),
    ("permits_issued", {"group_by": "sex", "nationality": "IND,IRN"}),
    ("decision_time", {"group_by": "month"}),
    ("permits_active", {"group_by": "nationality"}),
    ("identity_checks", {"group_by": "outcome"}),
    ("contracts_terminated", {}),
]


def producer_stand_in(producer: str, log: samples.EventLog) -> type:
    """A service named like the producer that serves its log by replay RPC."""

    def events_after(self, after: int = 0, limit: int = 500) -> list[dict]:
        return log.events_after(producer, after, limit)

    return type(f"{producer}_stand_in", (), {"name": producer, "events_after": rpc(events_after)})


@pytest.fixture
def database_url(make_database):
    return make_database("wpis_statistics")


@pytest.fixture
def statistics(container_factory, rabbit_config, database_url):
    container = container_factory(
        StatisticsService, {"DATABASE_URL": database_url, "STATISTICS_REPLAY_PAGE_SIZE": 40}
    )
    container.start()
    return container


def inbox_size(url: str) -> int:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(MESSAGING.inbox))
    finally:
        engine.dispose()


def publish(events: list[dict]) -> None:
    dispatch = event_dispatcher()
    for body in events:
        dispatch(body["producer"], body["event_type"], body)


def answers(container) -> list[dict]:
    with entrypoint_hook(container, "query") as query:
        return [query(measure, params) for measure, params in QUESTIONS]


def test_live_figures_survive_duplicates_and_a_rebuild_gives_the_same(
    container_factory, statistics, database_url
):
    log = samples.generate(cases=30, start=START, days=120, seed=21)
    events = log.all_events()
    for producer in log.by_producer:
        container_factory(producer_stand_in(producer, log)).start()

    publish(events)
    publish(events[:10])  # redelivered: the inbox absorbs them
    wait_for(
        lambda: inbox_size(database_url) == len(events), timeout=240, what="every event applied"
    )
    live = answers(statistics)
    assert live[0]["total"] == 30  # every case was received once, duplicates or not
    assert live[2]["total"] > 0 and live[4]["total"]["count"] > 0

    with entrypoint_hook(statistics, "rebuild") as rebuild:
        summary = rebuild()
    assert sum(summary["events"].values()) == len(events)
    assert answers(statistics) == live
    assert inbox_size(database_url) == len(events)

    # after a rebuild, live delivery goes on, still exactly once per event
    extra = samples.generate(cases=3, start=START, days=10, seed=99)
    publish(extra.all_events())
    wait_for(
        lambda: inbox_size(database_url) == len(events) + len(extra.all_events()),
        timeout=120,
        what="the new events applied",
    )
    assert answers(statistics)[0]["total"] == 33


def test_bad_queries_are_refused_with_the_field_and_the_reason(statistics):
    with entrypoint_hook(statistics, "query") as query:
        with pytest.raises(NotFound):
            query("permits_eaten", {})
        with pytest.raises(InvalidInput) as bad:
            query("permits_issued", {"group_by": "colour", "sex": "Q"})
    assert set(bad.value.details["errors"]) == {"group_by", "sex"}
