"""The transactional outbox and its relay, on a real database and a real broker."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from typing import Any

import eventlet
import pytest
from kombu import Connection, Producer, Queue
from marshmallow import Schema, fields
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select

from wpis_common import testing
from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory
from wpis_common.envelope import Envelope, EventCatalog, EventSpec
from wpis_common.outbox import (
    AmqpEventPublisher,
    OutboxRelay,
    UnroutableEvent,
    envelope_from_row,
    event_exchange,
)
from wpis_common.tables import messaging_tables
from wpis_common.testing import fresh_database, wait_for

pytestmark = pytest.mark.integration

PRODUCER = "lib_producer"
MARKER_KEY = "zz_test_marker"


class ThingSchema(Schema):
    thing_id = fields.String(required=True)
    n = fields.Integer(required=True)


CATALOG = EventCatalog(EventSpec("thing_happened", ThingSchema))


class MessagingDb:
    def __init__(self, url: str):
        metadata = MetaData()
        self.tables = messaging_tables(metadata)
        self.things = Table(
            "things",
            metadata,
            Column("id", String(36), primary_key=True),
            Column("n", Integer, nullable=False),
        )
        self.engine = create_db_engine(url)
        metadata.create_all(self.engine)
        self.session_factory = make_session_factory(self.engine)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.tables, PRODUCER, CATALOG)

    def record_thing(self, n: int) -> str:
        """One state change and its event, committed together; returns the event id."""
        with self.unit_of_work() as uow:
            thing_id = str(uuid.uuid4())
            uow.session.execute(insert(self.things).values(id=thing_id, n=n))
            return uow.emit("thing_happened", {"thing_id": thing_id, "n": n})

    def outbox_rows(self) -> list:
        with self.session_factory() as session:
            return session.execute(
                select(self.tables.outbox).order_by(self.tables.outbox.c.id)
            ).all()

    def count(self, table) -> int:
        with self.session_factory() as session:
            return session.execute(select(func.count()).select_from(table)).scalar_one()

    def relay(self, publish, **kwargs) -> OutboxRelay:
        return OutboxRelay(self.session_factory, self.tables, PRODUCER, publish, **kwargs)


@pytest.fixture
def db(tmp_path):
    with fresh_database(tmp_path, "lib") as url:
        handle = MessagingDb(url)
        try:
            yield handle
        finally:
            handle.engine.dispose()


class Subscriber:
    """A plain AMQP queue bound to every event of PRODUCER, as an agency would bind one."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.queue = Queue(
            "test-lib-subscriber",
            exchange=event_exchange(PRODUCER),
            routing_key="#",
            durable=False,
            auto_delete=False,
        )(connection.default_channel)
        self.queue.declare()
        self.received: list = []

    def drain(self) -> list:
        while (message := self.queue.get(no_ack=True)) is not None:
            self.received.append(message)
        return self.received

    def wait_for_count(self, count: int, what: str = "events") -> list:
        return wait_for(lambda: len(self.drain()) >= count and self.received, what=what)

    def assert_nothing_more_published(self) -> list:
        """Bounded check: a marker published now arrives after anything already confirmed."""
        with Connection(self.connection.as_uri(include_password=True)) as marker_connection:
            Producer(marker_connection.default_channel).publish(
                {"marker": True},
                exchange=event_exchange(PRODUCER),
                routing_key=MARKER_KEY,
                serializer="json",
                declare=[event_exchange(PRODUCER)],
            )
        wait_for(
            lambda: any(m.delivery_info["routing_key"] == MARKER_KEY for m in self.drain()),
            what="the marker message",
        )
        events = [m for m in self.received if m.delivery_info["routing_key"] != MARKER_KEY]
        self.received = events
        return events

    def envelopes(self) -> list[Envelope]:
        return [Envelope.parse(message.payload) for message in self.received]


@pytest.fixture
def subscriber(amqp_uri):
    with Connection(amqp_uri) as connection:
        yield Subscriber(connection)


@pytest.fixture
def publisher(amqp_uri):
    publisher = AmqpEventPublisher(amqp_uri, PRODUCER)
    yield publisher
    publisher.close()  # the batch connection


def test_rolled_back_unit_of_work_publishes_nothing(db, subscriber, publisher):
    with pytest.raises(RuntimeError, match="business rule broken"), db.unit_of_work() as uow:
        uow.session.execute(insert(db.things).values(id="t-1", n=1))
        uow.emit("thing_happened", {"thing_id": "t-1", "n": 1})
        raise RuntimeError("business rule broken")

    assert db.count(db.things) == 0
    assert db.count(db.tables.outbox) == 0

    assert db.relay(publisher).relay_once() == 0
    assert subscriber.assert_nothing_more_published() == []


def test_committed_event_is_published_by_a_relay_started_after_a_crash(db, subscriber, publisher):
    # The service committed, then died before its relay ran: only the row exists.
    event_id = db.record_thing(41)
    [row] = db.outbox_rows()
    assert (row.event_id, row.sequence, row.published_at) == (event_id, None, None)

    # A fresh process starts a fresh relay.
    assert db.relay(publisher).relay_once() == 1

    [message] = subscriber.wait_for_count(1)
    assert message.delivery_info["exchange"] == f"{PRODUCER}.events"
    assert message.delivery_info["routing_key"] == "thing_happened"
    assert message.content_type == "application/json"
    assert message.properties["message_id"] == event_id
    assert message.properties["delivery_mode"] == 2
    envelope = Envelope.parse(message.payload)
    assert envelope.event_id == event_id
    assert envelope.event_type == "thing_happened"
    assert envelope.schema_version == 1
    assert envelope.sequence == 1
    assert envelope.producer == PRODUCER
    assert envelope.occurred_at == row.occurred_at
    assert envelope.data == {"thing_id": row.data["thing_id"], "n": 41}

    [row] = db.outbox_rows()
    assert row.sequence == 1
    assert row.published_at is not None
    assert db.relay(publisher).relay_once() == 0
    assert subscriber.assert_nothing_more_published() == [message]


class PublishThenFail:
    """Publishes, then raises on the n-th call: the confirm arrived, the process died."""

    def __init__(self, publish, fail_on_call: int):
        self.publish = publish
        self.fail_on_call = fail_on_call
        self.calls = 0

    def __call__(self, envelope: Envelope) -> None:
        self.calls += 1
        self.publish(envelope)
        if self.calls == self.fail_on_call:
            raise ConnectionError("connection lost after the confirm")


def test_crash_after_publish_before_mark_republishes_the_same_event(db, subscriber, publisher):
    ids = [db.record_thing(n) for n in range(3)]

    with pytest.raises(ConnectionError):
        db.relay(PublishThenFail(publisher, fail_on_call=2)).relay_once()

    rows = db.outbox_rows()
    assert [row.sequence for row in rows] == [1, 2, 3]
    assert [row.published_at is not None for row in rows] == [True, False, False]
    assert [e.event_id for e in _envelopes(subscriber.wait_for_count(2))] == ids[:2]

    assert db.relay(publisher).relay_once() == 2

    envelopes = _envelopes(subscriber.wait_for_count(4))
    assert [(e.event_id, e.sequence) for e in envelopes] == [
        (ids[0], 1),
        (ids[1], 2),
        (ids[1], 2),  # the same event again, not a new one
        (ids[2], 3),
    ]
    assert envelopes[1] == envelopes[2]
    assert all(row.published_at is not None for row in db.outbox_rows())
    assert len(subscriber.assert_nothing_more_published()) == 4


class MarkFailsOnce(OutboxRelay):
    failed = False

    def _mark_published(self, row_ids: list[int]) -> None:
        if row_ids and not self.failed:
            self.failed = True
            raise ConnectionError("database went away before the mark")
        super()._mark_published(row_ids)


def test_failed_mark_republishes_the_whole_batch_with_the_same_ids(db, subscriber, publisher):
    ids = [db.record_thing(n) for n in range(3)]
    relay = MarkFailsOnce(db.session_factory, db.tables, PRODUCER, publisher)

    with pytest.raises(ConnectionError):
        relay.relay_once()
    assert all(row.published_at is None for row in db.outbox_rows())

    assert db.relay(publisher).relay_once() == 3

    envelopes = _envelopes(subscriber.wait_for_count(6))
    assert [(e.event_id, e.sequence) for e in envelopes] == [
        (event_id, sequence) for _ in range(2) for sequence, event_id in enumerate(ids, 1)
    ]
    assert all(row.published_at is not None for row in db.outbox_rows())


def test_sequences_are_gap_free_and_in_order_over_many_events(db, subscriber, publisher):
    ids = []
    for batch in range(10):
        with db.unit_of_work() as uow:
            for n in range(5):
                ids.append(uow.emit("thing_happened", {"thing_id": f"t-{batch}", "n": n}))
    relay = db.relay(publisher, batch_size=7)

    published = []
    while count := relay.relay_once():
        published.append(count)

    assert published == [7] * 7 + [1]
    rows = db.outbox_rows()
    assert [row.event_id for row in rows] == ids
    assert [row.sequence for row in rows] == list(range(1, 51))
    envelopes = _envelopes(subscriber.wait_for_count(50))
    assert [(e.event_id, e.sequence) for e in envelopes] == list(
        zip(ids, range(1, 51), strict=True)
    )

    # Later events continue the same sequence.
    late = db.record_thing(99)
    assert relay.relay_once() == 1
    assert [(e.event_id, e.sequence) for e in _envelopes(subscriber.wait_for_count(51))][-1] == (
        late,
        51,
    )


class Recording:
    """A publish function that notes the sequences it published, in order."""

    def __init__(self, publish):
        self.publish = publish
        self.sequences: list[int] = []

    def __call__(self, envelope: Envelope) -> None:
        self.publish(envelope)
        self.sequences.append(envelope.sequence)


@pytest.fixture
def green_psycopg(monkeypatch):
    """Make psycopg wait through the (monkey-patched) select module, so that two
    greenthreads really interleave inside their transactions on PostgreSQL."""
    if testing.db_backend() == "postgresql":
        import psycopg.waiting

        monkeypatch.setattr(psycopg.waiting, "wait", psycopg.waiting.wait_select)


def _relay_until_empty(relay: OutboxRelay) -> int:
    total = 0
    while count := relay.relay_once():
        total += count
    return total


def test_two_relays_racing_keep_sequences_gap_free(
    db, subscriber, publisher, amqp_uri, green_psycopg
):
    total = 60
    ids: list[str] = []

    def produce(worker: int) -> None:
        for n in range(total // 3):
            ids.append(db.record_thing(worker * 100 + n))
            eventlet.sleep(0)  # let the relays and the other producers in

    a = Recording(publisher)
    b = Recording(AmqpEventPublisher(amqp_uri, PRODUCER))
    relays = [db.relay(a, batch_size=5), db.relay(b, batch_size=5)]

    producers = [eventlet.spawn(produce, worker) for worker in range(3)]
    racers = [eventlet.spawn(_relay_until_empty, relay) for relay in relays]
    for thread in producers + racers:
        thread.wait()
    # Whatever was committed after both relays found nothing left.
    racers = [eventlet.spawn(_relay_until_empty, relay) for relay in relays]
    for thread in racers:
        thread.wait()

    rows = db.outbox_rows()
    assert len(rows) == total
    assert sorted(row.sequence for row in rows) == list(range(1, total + 1))
    assert all(row.published_at is not None for row in rows)
    # Each relay publishes in sequence order; between them, every event at least once.
    assert a.sequences == sorted(a.sequences)
    assert b.sequences == sorted(b.sequences)
    assert set(a.sequences) | set(b.sequences) == set(range(1, total + 1))

    delivered = subscriber.wait_for_count(len(a.sequences) + len(b.sequences))
    by_id = {}
    for envelope in _envelopes(delivered):
        by_id.setdefault(envelope.event_id, set()).add(envelope.sequence)
    assert set(by_id) == set(ids)
    # A re-published event always carries the sequence it was first given.
    assert all(len(sequences) == 1 for sequences in by_id.values())
    assert {row.event_id: row.sequence for row in rows} == {
        event_id: sequences.pop() for event_id, sequences in by_id.items()
    }


def _envelopes(messages) -> list[Envelope]:
    return [Envelope.parse(message.payload) for message in messages]


class ConfirmEverything:
    """A batch publisher whose broker confirms every event (no broker needed)."""

    def __call__(self, envelope: Envelope) -> None:  # pragma: no cover - batches only
        raise AssertionError("the relay publishes in batches")

    def publish_batch(self, envelopes):
        return len(envelopes), None


def _number_until_done(url: str, errors: Any, mode: str) -> None:
    """In a child process: number (or number, publish and mark) the outbox one event
    at a time until none is left."""
    handle = MessagingDb(url)
    relay = handle.relay(publish=ConfirmEverything(), batch_size=1)
    step = relay.assign_sequences if mode == "number" else relay.relay_once
    try:
        while step():
            pass
    except Exception as error:  # reported to the parent, which fails the test
        errors.put(repr(error))
    finally:
        handle.engine.dispose()


# "relay": each mark also numbers the next event, in the same transaction.
@pytest.mark.parametrize("mode", ["number", "relay"])
def test_relays_in_separate_processes_never_hand_out_one_sequence_twice(db, tmp_path, mode):
    # Two instances of a service run two relays on one database (on SQLite, one file).
    total = 300
    ids = {db.record_thing(n) for n in range(total)}
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    url = db.engine.url.render_as_string(hide_password=False)
    children = [
        context.Process(target=_number_until_done, args=(url, errors, mode)) for _ in range(3)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)

    assert [child.exitcode for child in children] == [0, 0, 0]
    assert errors.empty(), errors.get()
    rows = db.outbox_rows()
    assert {row.event_id for row in rows} == ids
    assert sorted(row.sequence for row in rows) == list(range(1, total + 1))
    if mode == "relay":
        assert all(row.published_at is not None for row in rows)


class WriteCounter:
    """Counts the transactions that wrote (on SQLite each one waits for an fsync)."""

    def __init__(self, engine):
        self.count = 0
        self._dirty: set[int] = set()
        event.listen(engine, "before_cursor_execute", self._on_execute)
        event.listen(engine, "commit", self._on_commit)
        event.listen(engine, "rollback", self._on_rollback)

    def _on_execute(self, connection, cursor, statement, *args) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self._dirty.add(id(connection.connection.dbapi_connection))

    def _on_commit(self, connection) -> None:
        key = id(connection.connection.dbapi_connection)
        if key in self._dirty:
            self._dirty.discard(key)
            self.count += 1

    def _on_rollback(self, connection) -> None:
        self._dirty.discard(id(connection.connection.dbapi_connection))


def test_each_batch_is_marked_in_the_transaction_that_numbers_the_next(db):
    for n in range(10):
        db.record_thing(n)
    writes = WriteCounter(db.engine)
    relay = db.relay(ConfirmEverything(), batch_size=4)

    assert relay.relay_once() == 4
    rows = db.outbox_rows()
    assert [row.sequence for row in rows] == [*range(1, 9), None, None]
    assert [row.published_at is not None for row in rows] == [True] * 4 + [False] * 6
    assert writes.count == 2  # numbered 1-4; marked 1-4 and numbered 5-8

    assert [relay.relay_once() for _ in range(3)] == [4, 2, 0]
    assert all(row.published_at is not None for row in db.outbox_rows())
    assert writes.count == 4  # then one per batch: 5-8 with 9-10, 9-10 alone
    assert relay.relay_once() == 0  # an idle poll writes nothing
    assert writes.count == 4


class CommitDuringPublish:
    """Confirms every event; while the n-th batch is on the wire, a new event is
    committed whose wake-up the relay has already consumed."""

    def __init__(self, db: MessagingDb, on_batch: int):
        self.db, self.on_batch, self.batches = db, on_batch, 0

    def __call__(self, envelope: Envelope) -> None:  # pragma: no cover - batches only
        raise AssertionError("the relay publishes in batches")

    def publish_batch(self, envelopes):
        self.batches += 1
        if self.batches == self.on_batch:
            self.db.record_thing(1000)
        return len(envelopes), None


def test_events_numbered_by_a_mark_go_out_in_the_same_round(db):
    for n in range(4):
        db.record_thing(n)
    relay = db.relay(CommitDuringPublish(db, on_batch=2), batch_size=3, poll_interval=120)
    runner = threading.Thread(target=relay.run, daemon=True)
    runner.start()
    try:
        relay.wake()
        # batch 1: events 1-3 (the mark numbers 4); batch 2: event 4 alone (the mark
        # numbers the one committed meanwhile); it is published without another wake-up
        wait_for(
            lambda: all(row.published_at for row in db.outbox_rows()) and len(db.outbox_rows()),
            what="every event published",
        )
    finally:
        relay.stop()
        runner.join(timeout=10)
    assert [row.sequence for row in db.outbox_rows()] == [1, 2, 3, 4, 5]


def test_a_batch_goes_out_with_streaming_confirms_in_order_like_single_publishes(
    db, subscriber, publisher
):
    ids = [db.record_thing(n) for n in range(40)]
    assert db.relay(publisher, batch_size=100).relay_once() == 40
    envelopes = _envelopes(subscriber.wait_for_count(40))
    expected = list(zip(ids, range(1, 41), strict=True))
    assert [(e.event_id, e.sequence) for e in envelopes] == expected
    assert all(row.published_at is not None for row in db.outbox_rows())

    # the same message a single (blocking-confirm) publish sends: properties, body
    single = db.record_thing(99)
    db.relay(publisher).assign_sequences()
    (row,) = [r for r in db.outbox_rows() if r.event_id == single]
    publisher(envelope_from_row(row))
    batched, alone = subscriber.received[0], subscriber.wait_for_count(41)[-1]
    for name in ("content_type", "content_encoding"):
        assert getattr(batched, name) == getattr(alone, name)
    for key in ("delivery_mode", "message_id", "type"):
        assert (key in batched.properties) == (key in alone.properties)
    assert batched.properties["delivery_mode"] == alone.properties["delivery_mode"] == 2
    assert alone.properties["message_id"] == single
    publisher.close()


def test_unroutable_mandatory_events_in_a_batch_stay_unsent_until_a_queue_exists(db, amqp_uri):
    publisher = AmqpEventPublisher(amqp_uri, PRODUCER, mandatory=True)
    ids = [db.record_thing(n) for n in range(3)]
    relay = db.relay(publisher)
    with pytest.raises(UnroutableEvent):
        relay.relay_once()
    assert [row.published_at for row in db.outbox_rows()] == [None, None, None]

    with Connection(amqp_uri) as connection:
        received = Subscriber(connection)  # the deploy step declared the queue
        assert relay.relay_once() == 3
        assert [e.event_id for e in _envelopes(received.wait_for_count(3))] == ids
    assert all(row.published_at is not None for row in db.outbox_rows())
    publisher.close()


class StubBatchPublisher:
    """Confirms the first ``confirmed`` envelopes of a batch, then reports ``error``."""

    def __init__(self, confirmed: int, error: Exception | None):
        self.confirmed, self.error = confirmed, error
        self.batches: list[list[int]] = []

    def __call__(self, envelope: Envelope) -> None:  # pragma: no cover - batches only
        raise AssertionError("the relay publishes in batches")

    def publish_batch(self, envelopes):
        self.batches.append([e.sequence for e in envelopes])
        return min(self.confirmed, len(envelopes)), self.error


@pytest.mark.parametrize(
    "error", [UnroutableEvent("no queue"), RuntimeError("nacked"), ConnectionError("lost")]
)
def test_a_nack_return_or_lost_connection_mid_batch_keeps_it_and_the_rest_unsent(db, error):
    [db.record_thing(n) for n in range(5)]
    stub = StubBatchPublisher(confirmed=2, error=error)
    with pytest.raises(type(error)):
        db.relay(stub).relay_once()
    assert [row.published_at is not None for row in db.outbox_rows()] == [True, True] + [False] * 3

    stub.confirmed, stub.error = 10, None
    assert db.relay(stub).relay_once() == 3
    assert stub.batches == [[1, 2, 3, 4, 5], [3, 4, 5]]  # the same sequences, in order
    assert all(row.published_at is not None for row in db.outbox_rows())
