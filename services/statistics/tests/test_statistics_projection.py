"""The read model on a real database (SQLite or PostgreSQL), without a broker:
events in any order, and a replay, give the same facts, cells and answers."""

from __future__ import annotations

import random
from contextlib import ExitStack
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from wpis_common.db import UnitOfWork
from wpis_common.testing import migrated_database
from wpis_statistics import domain, replay, samples
from wpis_statistics.local import LocalReadModel
from wpis_statistics.models import MESSAGING, StatCell, StatFact
from wpis_statistics.projection import ProjectionSettings

SETTINGS = ProjectionSettings(deadline_days=30)
START = datetime(2026, 1, 1, tzinfo=UTC)
TODAY = date(2026, 9, 1)


class ReadModel(LocalReadModel):
    def apply_live(self, events: list[dict], batch: int = 25) -> None:
        self.apply(events, batch)

    def uow(self) -> UnitOfWork:
        return self.unit_of_work()

    def snapshot(self) -> tuple[list, list]:
        with self.uow() as uow:
            facts = sorted(
                uow.session.execute(
                    select(StatFact.entity, *(getattr(StatFact, c) for c in domain.Fact._fields))
                ).all()
            )
            cells = uow.session.execute(select(StatCell).where(StatCell.n != 0)).scalars()
            keyed = [(c.measure, c.dim_a, c.dim_b, c.month, c.val_a, c.val_b, c.n) for c in cells]
            return facts, sorted(keyed)

    def ask(self, measure: str, **params: str) -> dict:  # type: ignore[override]
        return super().ask(measure, TODAY, **params)


@pytest.fixture
def models(tmp_path):
    """Three separate read models (make_database would give one SQLite file thrice)."""
    with ExitStack() as stack:
        opened = []
        for index in range(3):
            directory = tmp_path / f"model{index}"
            directory.mkdir()
            url = stack.enter_context(migrated_database(directory, "wpis_statistics"))
            opened.append(ReadModel(url, SETTINGS))
            stack.callback(opened[-1].engine.dispose)
        yield opened


def test_any_order_and_a_replay_give_the_same_read_model(models):
    log = samples.generate(cases=40, start=START, days=200, seed=3)
    events = log.all_events()
    in_order, shuffled, rebuilt = models

    in_order.apply_live(events[:150], batch=1)  # exactly as live: one event per transaction
    in_order.apply_live(events[150:])
    reordered = list(events)
    random.Random(5).shuffle(reordered)
    shuffled.apply_live(reordered)
    with rebuilt.uow() as uow:
        summary = replay.rebuild(
            uow.session, MESSAGING.inbox, log.events_after, sorted(log.by_producer), SETTINGS,
            page_size=50,
        )  # fmt: skip
    assert sum(summary["events"].values()) == len(events)

    facts, cells = in_order.snapshot()
    assert facts and cells
    assert shuffled.snapshot() == (facts, cells)
    assert rebuilt.snapshot() == (facts, cells)


def test_answers_from_cells_equal_answers_from_facts(models):
    model = models[0]
    model.load(samples.generate(cases=40, start=START, days=120, seed=11).all_events())
    from_cells = model.ask("permits_issued", group_by="month,nationality")
    assert from_cells["source"] == "cells"
    # the same question over days (facts), regrouped by month, agrees
    by_day = model.ask("permits_issued", group_by="day,nationality")
    assert by_day["source"] == "facts"
    regrouped: dict = {}
    for row in by_day["rows"]:
        key = (row["day"][:7], row["nationality"])
        regrouped[key] = regrouped.get(key, 0) + row["count"]
    assert regrouped == {(r["month"], r["nationality"]): r["count"] for r in from_cells["rows"]}
    assert from_cells["total"] == by_day["total"] > 0
    assert from_cells["rows"][0]["nationality_label"]

    three = model.ask("applications_received", group_by="sex,region", nationality="IND")
    assert three["source"] == "facts"
    two = model.ask("applications_received", group_by="sex,region")
    assert three["total"] <= two["total"]


def test_decision_time_and_active_permits(models):
    model = models[0]
    model.load(samples.generate(cases=40, start=START, days=120, seed=13).all_events())
    decisions = model.ask("decision_time", group_by="month")
    overall = decisions["total"]
    assert overall["count"] == model.ask("applications_decided")["total"]
    assert 0 <= overall["median_days"] <= overall["p90_days"]
    assert 0 <= overall["within_deadline_share"] <= 1
    assert decisions["source"] == "cells"

    active = model.ask("permits_active", on="2026-06-15")
    # cross-check against the facts, day by day
    with model.uow() as uow:
        started = uow.session.scalar(
            select(StatFact.id).where(StatFact.measure == "permit_started").limit(1)
        )
        assert started is not None
        rows = uow.session.execute(
            select(StatFact.measure, StatFact.day).where(
                StatFact.measure.in_(["permit_started", "permit_ended"])
            )
        ).all()
    on = date(2026, 6, 15)
    expected = sum(1 for m, d in rows if m == "permit_started" and d <= on) - sum(
        1 for m, d in rows if m == "permit_ended" and d <= on
    )
    assert active["total"] == expected > 0


def test_every_applier_has_its_consumer_and_the_replay_uses_its_inbox_name():
    from wpis_common.topology import subscriptions_of
    from wpis_statistics.projection import APPLIERS
    from wpis_statistics.service import StatisticsService

    subscribed = {(s.source, s.event_type, s.method) for s in subscriptions_of(StatisticsService)}
    expected = {(source, event_type, f"on_{event_type}") for source, event_type in APPLIERS}
    assert subscribed == expected
    assert replay.consumer_name("statistics", "permit_issued") == (
        f"{StatisticsService.name}.on_permit_issued"
    )
