"""The open-data export: small cells suppressed with their complements, and
an attacker who differences two exports (and solves each table's total)
cannot single anyone out."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime

import pytest

from wpis_statistics import export, samples
from wpis_statistics.local import LocalReadModel

THRESHOLD = 5
GRACE_DAYS = 3
START = datetime(2026, 1, 1, tzinfo=UTC)
BEFORE = date(2026, 6, 10)  # May is the last closed month
AFTER = date(2026, 7, 10)  # June has closed too


@pytest.fixture
def model(make_database):
    opened = LocalReadModel(make_database("wpis_statistics"))
    yield opened
    opened.close()


def open_data(model: LocalReadModel, today: date) -> dict:
    with model.unit_of_work() as uow:
        now = datetime.combine(today, datetime.min.time(), UTC)
        return export.open_data(uow.session, THRESHOLD, today, GRACE_DAYS, now)


def by_month(rows: list[dict]) -> dict[str, list[dict]]:
    months: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        months[row["month"]].append(row)
    return months


def what_an_attacker_can_solve(rows: list[dict]) -> list[tuple]:
    """Each table (a measure in a month by one dimension) adds up to the
    month's total for the measure: a single hidden cell, or hidden cells that
    add up to less than the threshold, would give someone away."""
    totals = {
        (r["month"], r["measure"]): r["count"]
        for r in rows
        if r["dimension"] == "total" and r["measure"] != "decision_time"
    }
    tables: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if row["dimension"] != "total":
            tables[(row["month"], row["measure"], row["dimension"])].append(row)
    solved = []
    for (month, measure, dimension), cells in tables.items():
        total = totals[(month, measure)]
        hidden = [cell for cell in cells if cell["count"] is None]
        if total is None or not hidden:
            continue
        hidden_sum = total - sum(cell["count"] for cell in cells if cell["count"] is not None)
        if len(hidden) == 1 or hidden_sum < THRESHOLD:
            solved.append((month, measure, dimension, [c["value"] for c in hidden], hidden_sum))
    return solved


def test_differencing_two_exports_singles_no_one_out(model):
    log = samples.generate(cases=150, start=START, days=175, seed=31)
    model.load(log.all_events())
    first = open_data(model, BEFORE)
    assert first["months"][-1] == "2026-05"

    # A person with a rare nationality files in June, while June is still open;
    # another case, recorded late, belongs to March, which is already published.
    rng = random.Random(1)
    person = samples.EventLog()
    samples.add_case(person, rng, datetime(2026, 6, 5, 9, tzinfo=UTC), nationality="ISL", sex="F")
    late = samples.EventLog()
    samples.add_case(late, rng, datetime(2026, 3, 20, 9, tzinfo=UTC), nationality="ISL")
    model.apply(person.all_events() + late.all_events())

    same_day = open_data(model, BEFORE)
    assert same_day["rows"] == first["rows"]  # nothing about either case shows

    later = open_data(model, AFTER)
    assert later["months"][-1] == "2026-06"
    earlier_months, later_months = by_month(first["rows"]), by_month(later["rows"])
    for month, rows in earlier_months.items():
        assert later_months[month] == rows, f"{month} changed after it was published"

    # The only new figures are June's; the rare person's cells are hidden there,
    # and no table lets anyone work a hidden cell out.
    june = later_months["2026-06"]
    assert june
    icelandic = [r for r in june if r["dimension"] == "nationality" and r["value"] == "ISL"]
    assert icelandic and all(r["count"] is None and r["flag"] == "suppressed" for r in icelandic)
    assert what_an_attacker_can_solve(later["rows"]) == []
    visible = [r["count"] for r in later["rows"] if r["count"] is not None]
    assert visible and all(n >= THRESHOLD for n in visible)
    assert any(r["count"] is None for r in later["rows"])  # the test data does have small cells


def test_exports_come_as_csv_and_json_with_a_data_dictionary(model):
    model.load(samples.generate(cases=60, start=START, days=90, seed=5).all_events())
    data = open_data(model, BEFORE)
    text = export.to_csv(data["rows"])
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == len(data["rows"]) > 0
    assert tuple(parsed[0]) == export.CSV_COLUMNS
    suppressed = [row for row in parsed if row["flag"] == "suppressed"]
    assert suppressed and all(row["count"] == "" for row in suppressed)
    json.dumps(data)  # JSON-ready as it is

    dictionary = data["dictionary"]
    assert set(dictionary["columns"]) == set(export.CSV_COLUMNS)
    assert {row["measure"] for row in data["rows"]} <= set(dictionary["measures"])
    assert dictionary["disclosure_control"]["threshold"] == THRESHOLD
    labels = {(r["dimension"], r["value"]): r["label"] for r in data["rows"]}
    assert labels.get(("nationality", "IND")) == "India"
    assert labels.get(("region", "AM-ER")) == "Erevan"
