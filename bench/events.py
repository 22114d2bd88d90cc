"""Events benchmark: the outbox relay's throughput with publisher confirms, and the
lag from a committed state change to an agency subscriber's handler.

    python bench/events.py            # 5,000 events through the relay; 1,000 timed at 200/s
    python bench/events.py --smoke    # a few events, to check the script still works

Runs on its own RabbitMQ vhost (created and deleted through the management
API) and a throwaway database (SQLite, or PostgreSQL with WPIS_TEST_DB=postgresql).

1. relay: N committed events are numbered and published by ``OutboxRelay``
   (persistent, mandatory, one confirm each) to an exchange with a bound queue.
2. lag: the relay runs as in a service (woken by each commit); the agency
   subscriber (clients/agency_subscriber) consumes its own queue; for each
   event, the time from its commit (timed as the commit starts) to its
   handler running in the subscriber.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from agency_subscriber import Binding, Store, Subscriber, SubscriberConfig  # noqa: E402
from kombu import Connection, Queue  # noqa: E402
from marshmallow import Schema, fields  # noqa: E402
from sqlalchemy import MetaData  # noqa: E402

from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory  # noqa: E402
from wpis_common.envelope import EventCatalog, EventSpec  # noqa: E402
from wpis_common.outbox import AmqpEventPublisher, OutboxRelay, event_exchange  # noqa: E402
from wpis_common.replay import events_after  # noqa: E402
from wpis_common.suite import RabbitAdmin  # noqa: E402
from wpis_common.tables import messaging_tables  # noqa: E402
from wpis_common.testing import fresh_database  # noqa: E402

PRODUCER = "bench_producer"
EVENT_TYPE = "thing_happened"


class ThingSchema(Schema):
    n = fields.Integer(required=True)


CATALOG = EventCatalog(EventSpec(EVENT_TYPE, ThingSchema))


class Outbox:
    def __init__(self, url: str):
        metadata = MetaData()
        self.tables = messaging_tables(metadata)
        self.engine = create_db_engine(url)
        metadata.create_all(self.engine)
        self.sessions = make_session_factory(self.engine)

    def unit_of_work(self, on_commit=lambda: None) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.tables, PRODUCER, CATALOG, on_commit)

    def commit_many(self, count: int, start: int = 0) -> None:
        with self.unit_of_work() as uow:
            for n in range(start, start + count):
                uow.emit(EVENT_TYPE, {"n": n})

    def relay(self, amqp_uri: str, poll_interval: float = 1.0) -> OutboxRelay:
        publish = AmqpEventPublisher(amqp_uri, PRODUCER, mandatory=True)
        return OutboxRelay(self.sessions, self.tables, PRODUCER, publish, poll_interval)


class LocalReplay:
    """The replay endpoint's answer, read straight from the outbox (no HTTP here)."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox

    def page(self, producer: str, after: int, limit: int) -> dict:
        with self.outbox.unit_of_work() as uow:
            return {"events": events_after(uow, after, limit)}


def bench_relay(outbox: Outbox, amqp_uri: str, count: int) -> float:
    with Connection(amqp_uri) as connection:
        queue = Queue("bench-sink", exchange=event_exchange(PRODUCER), routing_key="#")
        queue(connection.default_channel).declare()
    outbox.commit_many(count)
    relay = outbox.relay(amqp_uri)
    started = time.perf_counter()
    published = 0
    while published < count:
        published += relay.relay_once()
    elapsed = time.perf_counter() - started
    with Connection(amqp_uri) as connection:
        queue(connection.default_channel).delete()
    return count / elapsed


def bench_lag(outbox: Outbox, amqp_uri: str, count: int, rate: float, state: Path) -> list[float]:
    relay = outbox.relay(amqp_uri)
    relay_thread = threading.Thread(target=relay.run, daemon=True)
    committed_at: dict[int, float] = {}
    lags: list[float] = []
    done = threading.Event()

    def handler(event, tx) -> None:
        lags.append(time.perf_counter() - committed_at[event.data["n"]])
        if len(lags) == count:
            done.set()

    config = SubscriberConfig(
        amqp_uri=amqp_uri,
        api_url="http://unused",
        queue=f"bench-agency-{uuid.uuid4().hex[:6]}",
        bindings=(Binding(PRODUCER, EVENT_TYPE),),
        state_path=str(state),
    )
    store = Store(state)
    subscriber = Subscriber(config, handler, store=store, replay=LocalReplay(outbox))
    subscriber_thread = threading.Thread(target=subscriber.run, daemon=True)
    relay_thread.start()
    subscriber_thread.start()
    wait_until_consuming(amqp_uri, config.queue)

    first = 10**6
    for i in range(count):
        n = first + i
        with outbox.unit_of_work(relay.wake) as uow:
            uow.emit(EVENT_TYPE, {"n": n})
            # recorded before the commit's wake-up: nothing can arrive earlier
            committed_at[n] = time.perf_counter()
        time.sleep(1 / rate)
    finished = done.wait(timeout=60 + count / rate)
    subscriber.stop()
    relay.stop()
    subscriber_thread.join(timeout=10)
    store.close()
    if not finished:
        raise SystemExit(f"only {len(lags)} of {count} events reached the subscriber")
    return lags


def wait_until_consuming(amqp_uri: str, queue: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with Connection(amqp_uri) as connection:
        while time.monotonic() < deadline:
            try:
                _, _, consumers = connection.default_channel.queue_declare(queue, passive=True)
                if consumers:
                    return
            except Exception:
                connection.close()
                connection.connect()
            time.sleep(0.1)
    raise SystemExit(f"the subscriber never consumed {queue}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script works")
    parser.add_argument("--relay-events", type=int, default=5000)
    parser.add_argument("--lag-events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="commits per second (lag)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.relay_events, args.lag_events, args.rate = 50, 20, 100.0

    amqp_uri = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    admin = RabbitAdmin(amqp_uri, os.environ.get("RABBIT_API_URI"))
    vhost = f"wpis_bench_{uuid.uuid4().hex[:8]}"
    vhost_uri = admin.create_vhost(vhost)
    backend = os.environ.get("WPIS_TEST_DB", "sqlite")
    try:
        with tempfile.TemporaryDirectory() as base:
            with fresh_database(Path(base), "bench_relay") as url:
                outbox = Outbox(url)
                rate = bench_relay(outbox, vhost_uri, args.relay_events)
                outbox.engine.dispose()
            with fresh_database(Path(base), "bench_lag") as url:
                outbox = Outbox(url)
                lags = bench_lag(outbox, vhost_uri, args.lag_events, args.rate, Path(base) / "a.db")
                outbox.engine.dispose()
    finally:
        admin.delete_vhost(vhost)
    print(
        f"relay: {args.relay_events} events, {rate:,.0f} events/s "
        f"(persistent, mandatory, a publisher confirm each; {backend})"
    )
    print(
        f"lag commit->agency: {len(lags)} events at {args.rate:g}/s, "
        f"p50 {percentile(lags, 0.5) * 1000:.1f} ms, p99 {percentile(lags, 0.99) * 1000:.1f} ms, "
        f"max {max(lags) * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
