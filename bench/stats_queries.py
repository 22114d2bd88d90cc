"""Statistics benchmark: query latencies on a read model of 1,000,000 permits,
and the read model's lag behind the producers during a burst.

    .venv/bin/python bench/stats_queries.py                 # 1,000,000 permits, SQLite + PostgreSQL
    .venv/bin/python bench/stats_queries.py --backend sqlite --permits 200000
    .venv/bin/python bench/stats_queries.py --smoke         # tiny, for CI

1. Bulk-loads N permits' facts (with their applications: received, decided,
   approved; plus ~10% refusals, expiries, cancellations, revocations)
   straight into a fresh, migrated read model, then counts the cells with the
   same SQL as a rebuild (``projection.rebuild_cells``).
2. Times typical queries (``queries.run_query``, the body of the ``query``
   RPC) and prints p50/p99 per query.
3. Starts the statistics service as a real process on a fresh RabbitMQ vhost,
   publishes a burst of whole cases as the producers would (persistent, with
   confirms), and prints the lag from each event's publication to its
   application in the read model (inbox ``applied_at - occurred_at``).

Prints one ``figures:`` line per measurement, for the report and for the smoke test.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

from wpis_statistics import codes, domain, queries, samples
from wpis_statistics.local import LocalReadModel
from wpis_statistics.models import MESSAGING, StatCell, StatFact
from wpis_statistics.projection import rebuild_cells

TODAY = date.today()
SPAN_DAYS = 5 * 365  # the permits were issued over five years
CHUNK = 50_000
PUBLISHED: dict[str, datetime] = {}  # event id -> when the burst published it


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


# -- 1. bulk load ------------------------------------------------------------------


def synthetic_facts(permits: int, seed: int = 1) -> Iterator[dict]:
    """Facts of ``permits`` permit cases and ~10% refused cases, as the projection
    would derive them."""
    rng = random.Random(seed)
    first = TODAY - timedelta(days=SPAN_DAYS)
    cases = permits + permits // 10
    for index in range(cases):
        approved = index < permits
        submitted = first + timedelta(days=rng.randrange(SPAN_DAYS))
        decided = submitted + timedelta(days=rng.choice((1, 3, 6, 9, 14, 20, 27, 33, 45)))
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 45))
        dims = {
            "nationality": samples.pick(rng, samples.NATIONALITIES),
            "sex": rng.choice("MMMF"),
            "isco_major": codes.isco_major(samples.pick(rng, samples.ISCO_CODES)),
            "nace_section": codes.nace_section(rng.choice(samples.NACE_CODES)),
            "region": samples.pick(rng, samples.REGIONS),
            "kind": rng.choice(("new", "new", "new", "extension", "amendment")),
        }
        key = f"app:{index}"
        yield _fact(key, "applications_received", submitted, dims, born, submitted)
        days = (decided - submitted).days
        outcome = "approved" if approved else "rejected"
        reason = "" if approved else rng.choice(("officer_decision", "identity_document_invalid"))
        yield _fact(
            key, "applications_decided", decided, dims, born, decided, outcome=outcome,
            reason_code=reason, decision_days=str(days), within_deadline=within_deadline(days),
        )  # fmt: skip
        if not approved:
            yield _fact(
                key, "applications_rejected", decided, dims, born, decided, reason_code=reason
            )
            continue
        yield _fact(key, "applications_approved", decided, dims, born, decided)
        permit = f"permit:{index}"
        valid_from = decided + timedelta(days=rng.randrange(10, 40))
        ends = valid_from + timedelta(days=365)
        yield _fact(permit, "permits_issued", decided, dims, born, decided)
        yield _fact(permit, "permit_started", valid_from, dims, born, decided)
        roll = rng.random()
        if roll < 0.06:
            ends = valid_from + timedelta(days=rng.randrange(30, 300))
            yield _fact(
                permit, "permits_cancelled_early", ends, dims, born, decided, reason_code="employer"
            )
        elif roll < 0.07:
            ends = valid_from + timedelta(days=rng.randrange(30, 300))
            yield _fact(permit, "permits_revoked", ends, dims, born, decided, reason_code="officer")
        elif ends <= TODAY:
            yield _fact(permit, "permits_expired", ends, dims, born, decided)
        yield _fact(permit, "permit_ended", ends, dims, born, decided)


def within_deadline(days: int) -> str:
    return "yes" if days <= 30 else "no"


def _fact(
    entity: str, measure: str, day: date, dims: dict, born: date, age_on: date, **extra
) -> dict:
    values = {name: "" for name in domain.Fact._fields if name not in ("measure", "day")}
    values.update(dims, age_band=codes.age_band(born, age_on), **extra)
    return {
        "entity": entity,
        "measure": measure,
        "day": day,
        "month": day.strftime("%Y-%m"),
        **values,
    }


def bulk_load(model: LocalReadModel, permits: int) -> dict[str, float]:
    started = time.perf_counter()
    columns = ["entity", "measure", "day", "month", *domain.Fact._fields[2:]]
    facts = 0
    with model.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA synchronous=OFF")
        chunk: list[dict] = []
        for fact in synthetic_facts(permits):
            chunk.append(fact)
            if len(chunk) == CHUNK:
                facts += _insert(connection, columns, chunk)
                chunk = []
        facts += _insert(connection, columns, chunk)
    loaded = time.perf_counter()
    with model.unit_of_work() as uow:
        cells = rebuild_cells(uow.session)
    counted = time.perf_counter()
    with model.engine.connect() as connection:  # fresh statistics for the planner
        connection.execute(text("ANALYZE"))
        connection.commit()
    return {"facts": facts, "cells": cells, "load_s": loaded - started, "cells_s": counted - loaded}


def _insert(connection, columns: list[str], rows: list[dict]) -> int:
    if not rows:
        return 0
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY stat_facts ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([row[c] for c in columns])
    else:
        connection.execute(insert(StatFact), rows)
    return len(rows)


# -- 2. queries ------------------------------------------------------------------


def typical_queries() -> list[tuple[str, dict[str, str]]]:
    months = [(TODAY.replace(day=1) - timedelta(days=30 * n)).strftime("%Y-%m") for n in (11, 0)]
    last_year = {"from": months[0], "to": months[1]}
    return [
        ("permits_issued", {"group_by": "month"}),
        ("permits_issued", {"group_by": "month,nationality", **last_year}),
        ("permits_issued", {"group_by": "isco_major,region"}),
        ("applications_received", {"group_by": "nationality", "sex": "F", **last_year}),
        ("applications_rejected", {"group_by": "reason_code,nationality"}),
        ("decision_time", {"group_by": "month", **last_year}),
        ("decision_time", {"group_by": "nationality"}),
        ("permits_active", {"group_by": "region"}),
        ("permits_issued", {"group_by": "day", "from": months[1] + "-01", "to": months[1] + "-28"}),
    ]


def time_queries(model: LocalReadModel, repeats: int) -> None:
    for measure, params in typical_queries():
        parsed = domain.parse_query(measure, params, TODAY)
        timings, source = [], ""
        for _ in range(repeats):
            with model.unit_of_work() as uow:
                started = time.perf_counter()
                answer = queries.run_query(uow.session, parsed)
                timings.append((time.perf_counter() - started) * 1000)
                source = answer["source"]
        label = measure + "?" + "&".join(f"{k}={v}" for k, v in params.items())
        print(
            f"  {label:<78} p50 {percentile(timings, 0.5):7.1f} ms  p99 "
            f"{percentile(timings, 0.99):7.1f} ms  ({source}, {len(answer['rows'])} rows)"
        )


@contextmanager
def fresh_model(backend: str, directory: Path) -> Iterator[LocalReadModel]:
    from wpis_common.testing import migrated_database

    previous = os.environ.get("WPIS_TEST_DB")
    os.environ["WPIS_TEST_DB"] = backend
    try:
        with migrated_database(directory, "wpis_statistics") as url:
            model = LocalReadModel(url)
            try:
                yield model
            finally:
                model.close()
    finally:
        if previous is None:
            os.environ.pop("WPIS_TEST_DB", None)
        else:
            os.environ["WPIS_TEST_DB"] = previous


def query_bench(backend: str, permits: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as scratch, fresh_model(backend, Path(scratch)) as model:
        load = bulk_load(model, permits)
        with model.unit_of_work() as uow:
            issued = uow.session.scalar(
                select(func.sum(StatCell.n)).where(
                    StatCell.measure == "permits_issued", StatCell.dim_a == ""
                )
            )
        print(
            f"figures: {backend} read model: {issued:,} permits, {load['facts']:,} facts, "
            f"{load['cells']:,} cells; loaded in {load['load_s']:.0f}s, cells counted in "
            f"{load['cells_s']:.0f}s"
        )
        time_queries(model, repeats)


# -- 3. lag during a burst ---------------------------------------------------------


def lag_bench(cases: int) -> None:
    from wpis_common.outbox import AmqpEventPublisher
    from wpis_common.suite import RabbitAdmin, free_port
    from wpis_common.testing import wait_for

    amqp_uri = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    admin = RabbitAdmin(amqp_uri, os.environ.get("RABBIT_API_URI"))
    vhost = f"wpis_bench_stats_{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        vhost_uri = admin.create_vhost(vhost)
        stack.callback(admin.delete_vhost, vhost)
        model = stack.enter_context(
            fresh_model(os.environ.get("WPIS_TEST_DB", "sqlite"), Path(scratch))
        )
        service = _start_service(stack, vhost_uri, model, Path(scratch), free_port())
        wait_for(
            lambda: _consuming(admin, vhost), timeout=60, interval=0.2, what="statistics consuming"
        )
        log = samples.generate(cases, datetime.now(UTC) - timedelta(days=1), 1, seed=5)
        events = log.all_events()
        publishers = {p: AmqpEventPublisher(vhost_uri, p) for p in log.by_producer}
        from wpis_common.envelope import Envelope

        started = time.perf_counter()
        for body in events:
            now = datetime.now(UTC)  # the moment it is published
            body["occurred_at"] = now.isoformat()
            PUBLISHED[body["event_id"]] = now
            publishers[body["producer"]](Envelope.parse(body))
        published = time.perf_counter()
        wait_for(
            lambda: _applied(model) >= len(events), timeout=600, interval=0.1, what="the burst"
        )
        drained = time.perf_counter()
        service.terminate()
        lags = _lags(model)
        print(
            f"figures: lag during a burst of {len(events)} events ({cases} cases) published at "
            f"{len(events) / (published - started):.0f} events/s: "
            f"p50 {percentile(lags, 0.5):.0f} ms, p99 {percentile(lags, 0.99):.0f} ms, "
            f"max {max(lags):.0f} ms; read model applied "
            f"{len(events) / (drained - started):.0f} events/s, caught up "
            f"{(drained - published) * 1000:.0f} ms after the last publish"
        )


def _start_service(
    stack: ExitStack, amqp_uri: str, model: LocalReadModel, scratch: Path, port: int
):
    env = {
        **os.environ,
        "AMQP_URI": amqp_uri,
        "WPIS_STATISTICS_DATABASE_URL": model.engine.url.render_as_string(hide_password=False),
        "HEALTH_PORT": str(port),
        "HEALTH_ADDRESS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    log_file = stack.enter_context(open(scratch / "statistics.log", "wb"))  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "wpis_common.runner", "wpis_statistics"],
        env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)

    stack.callback(stop)
    return process


def _consuming(admin, vhost: str) -> bool:
    queues = admin.queues(vhost)
    ours = [q for q in queues if q["name"].startswith("evt-") and "--statistics." in q["name"]]
    return len(ours) >= 18 and all(q.get("consumers", 0) > 0 for q in ours)


def _applied(model: LocalReadModel) -> int:
    with model.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(MESSAGING.inbox)) or 0


def _lags(model: LocalReadModel) -> list[float]:
    inbox = MESSAGING.inbox
    with model.engine.connect() as connection:
        applied = dict(connection.execute(select(inbox.c.event_id, inbox.c.applied_at)).all())
    return [(applied[event_id] - at).total_seconds() * 1000 for event_id, at in PUBLISHED.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--permits", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=30, help="runs of each query")
    parser.add_argument("--burst", type=int, default=400, help="cases in the burst (x ~6 events)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--skip-lag", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.permits, args.repeats, args.burst = 500, 2, 3
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        query_bench(backend, args.permits, args.repeats)
    if not args.skip_lag:
        lag_bench(args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
