"""Idempotent consumers and the relay inside a real Nameko container."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from kombu import Connection, Queue
from marshmallow import Schema, ValidationError, fields
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update

from wpis_common import testing
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope, EventCatalog, EventSpec
from wpis_common.outbox import event_exchange
from wpis_common.tables import messaging_tables
from wpis_common.testing import fresh_database, wait_for

pytestmark = pytest.mark.integration

SOURCE = "lib_source"
SERVICE = "lib_consumer"
CONSUMER = f"{SERVICE}.on_thing_happened"

METADATA = MetaData()
TABLES = messaging_tables(METADATA)
APPLIED = Table(
    "applied",
    METADATA,
    Column("thing_id", String(36), primary_key=True),
    Column("times", Integer, nullable=False),
)


class ThingRecordedSchema(Schema):
    thing_id = fields.String(required=True)
    times = fields.Integer(required=True)


CATALOG = EventCatalog(EventSpec("thing_recorded", ThingRecordedSchema))

# thing ids whose handler must fail once (the handler's own writes roll back)
FAIL_ONCE: set[str] = set()


class ConsumerService:
    name = SERVICE
    db = Database(TABLES, CATALOG)

    @consume_event(SOURCE, "thing_happened")
    def on_thing_happened(self, envelope: Envelope, uow: UnitOfWork) -> int:
        thing_id = envelope.data["thing_id"]
        times = uow.session.execute(
            select(APPLIED.c.times).where(APPLIED.c.thing_id == thing_id)
        ).scalar_one_or_none()
        if times is None:
            times = 1
            uow.session.execute(insert(APPLIED).values(thing_id=thing_id, times=times))
        else:
            times += 1
            uow.session.execute(
                update(APPLIED).where(APPLIED.c.thing_id == thing_id).values(times=times)
            )
        uow.emit("thing_recorded", {"thing_id": thing_id, "times": times})
        if thing_id in FAIL_ONCE:
            FAIL_ONCE.discard(thing_id)
            raise RuntimeError("downstream rule failed")
        return times


@pytest.fixture
def database_url(tmp_path):
    with fresh_database(tmp_path, "lib") as url:
        engine = create_db_engine(url)
        METADATA.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture
def state(database_url):
    engine = create_db_engine(database_url)
    session_factory = make_session_factory(engine)

    class State:
        def times(self) -> dict[str, int]:
            with session_factory() as session:
                return dict(session.execute(select(APPLIED.c.thing_id, APPLIED.c.times)).all())

        def inbox(self) -> list:
            with session_factory() as session:
                return session.execute(select(TABLES.inbox)).all()

        def outbox_count(self) -> int:
            with session_factory() as session:
                return session.execute(select(func.count()).select_from(TABLES.outbox)).scalar_one()

        def commit_event(self, thing_id: str) -> str:
            """A unit of work with no relay running, as a crashed instance left it."""
            with UnitOfWork(session_factory, TABLES, SERVICE, CATALOG) as uow:
                return uow.emit("thing_recorded", {"thing_id": thing_id, "times": 0})

    yield State()
    engine.dispose()


@pytest.fixture
def start_service(database_url, rabbit_config, container_factory):
    # (this order tears the container down before the vhost and the database)
    FAIL_ONCE.clear()

    def start(poll_interval: float = 0.1):
        container = container_factory(
            ConsumerService,
            {"DATABASE_URL": database_url, "OUTBOX_POLL_INTERVAL": poll_interval},
        )
        container.start()
        return container

    yield start
    FAIL_ONCE.clear()


@pytest.fixture
def dispatch(rabbit_config):
    return event_dispatcher()


@pytest.fixture
def recorded_events(amqp_uri):
    """What an agency bound to ``lib_consumer.events`` receives."""
    with Connection(amqp_uri) as connection:
        queue = Queue(
            "test-lib-consumer-events",
            exchange=event_exchange(SERVICE),
            routing_key="#",
            durable=False,
            auto_delete=False,
        )(connection.default_channel)
        queue.declare()
        received: list[Envelope] = []

        def drain() -> list[Envelope]:
            while (message := queue.get(no_ack=True)) is not None:
                received.append(Envelope.parse(message.payload))
            return received

        yield drain


def thing_happened(thing_id: str, sequence: int = 1) -> dict:
    return Envelope(
        event_id=str(uuid.uuid4()),
        event_type="thing_happened",
        schema_version=1,
        occurred_at=datetime.now(UTC),
        producer=SOURCE,
        sequence=sequence,
        data={"thing_id": thing_id},
    ).to_message()


def deliver(container, dispatch, body):
    """Dispatch one event and wait for its worker; returns the waiter result."""
    with entrypoint_waiter(container, "on_thing_happened", timeout=10) as result:
        dispatch(SOURCE, "thing_happened", body)
    return result


def test_the_same_event_delivered_twice_is_applied_once(start_service, dispatch, state):
    container = start_service()
    body = thing_happened("t-1")

    assert deliver(container, dispatch, body).get() == 1
    assert deliver(container, dispatch, body).get() is None  # skipped as a duplicate

    assert state.times() == {"t-1": 1}
    [row] = state.inbox()
    assert (row.consumer, row.event_id, row.event_type) == (
        CONSUMER,
        body["event_id"],
        "thing_happened",
    )
    assert state.outbox_count() == 1  # the duplicate emitted nothing either

    # A different event about the same thing is a new fact and is applied.
    assert deliver(container, dispatch, thing_happened("t-1", sequence=2)).get() == 2
    assert state.times() == {"t-1": 2}


@pytest.fixture
def green_psycopg(monkeypatch):
    """Let two workers really interleave inside their transactions on PostgreSQL."""
    if testing.db_backend() == "postgresql":
        import psycopg.waiting

        monkeypatch.setattr(psycopg.waiting, "wait", psycopg.waiting.wait_select)


def test_two_racing_deliveries_of_one_event_apply_it_once(
    start_service, dispatch, state, green_psycopg
):
    container = start_service()
    body = thing_happened("t-race")
    results = []

    def both_done(worker_ctx, result, exc_info):
        results.append((result, exc_info))
        return len(results) == 2

    with entrypoint_waiter(container, "on_thing_happened", timeout=10, callback=both_done):
        dispatch(SOURCE, "thing_happened", body)
        dispatch(SOURCE, "thing_happened", body)

    # One applied it; the other skipped it, or lost the race and rolled back whole.
    assert [result for result, exc_info in results if exc_info is None and result] == [1]
    assert state.times() == {"t-race": 1}
    assert len(state.inbox()) == 1
    assert state.outbox_count() == 1


def test_a_failing_handler_rolls_back_and_a_redelivery_applies_it(start_service, dispatch, state):
    container = start_service()
    FAIL_ONCE.add("t-2")
    body = thing_happened("t-2")

    with pytest.raises(RuntimeError, match="downstream rule failed"):
        deliver(container, dispatch, body).get()

    assert state.times() == {}
    assert state.inbox() == []
    assert state.outbox_count() == 0

    assert deliver(container, dispatch, body).get() == 1
    assert state.times() == {"t-2": 1}
    assert [row.event_id for row in state.inbox()] == [body["event_id"]]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not an envelope", id="string"),
        pytest.param({"event_id": "x", "data": {"thing_id": "t-3"}}, id="incomplete"),
        pytest.param({**thing_happened("t-3"), "sequence": 0}, id="bad-sequence"),
    ],
)
def test_a_malformed_body_is_refused_without_stopping_the_service(
    start_service, dispatch, state, body
):
    container = start_service()

    with pytest.raises(ValidationError):
        deliver(container, dispatch, body).get()

    assert state.times() == {}
    assert state.inbox() == []
    # The container is still consuming.
    assert deliver(container, dispatch, thing_happened("t-4")).get() == 1
    assert state.times() == {"t-4": 1}


def test_the_relay_is_woken_by_a_commit_not_only_by_its_poll(
    start_service, dispatch, state, recorded_events
):
    # A poll interval far beyond the wait below: only the commit's wake-up can publish.
    container = start_service(poll_interval=60)
    body = thing_happened("t-5")

    assert deliver(container, dispatch, body).get() == 1

    [event] = wait_for(recorded_events, timeout=5, what="thing_recorded published on commit")
    assert event.event_type == "thing_recorded"
    assert event.producer == SERVICE
    assert event.sequence == 1
    assert event.data == {"thing_id": "t-5", "times": 1}


def test_a_starting_service_publishes_what_a_previous_run_left_unsent(
    start_service, state, recorded_events
):
    left_behind = state.commit_event("t-6")

    start_service(poll_interval=60)

    [event] = wait_for(recorded_events, timeout=5, what="the event left in the outbox")
    assert (event.event_id, event.sequence) == (left_behind, 1)
