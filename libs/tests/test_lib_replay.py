"""Replay from the outbox log (the ``events_after`` RPC every producer inherits), and
mandatory publishing: an event that must find a queue waits until one exists."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Queue
from marshmallow import Schema, fields
from nameko.testing.services import entrypoint_hook
from sqlalchemy import MetaData

from wpis_common import replay
from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory
from wpis_common.dependencies import Database
from wpis_common.envelope import EventCatalog, EventSpec
from wpis_common.errors import InvalidInput
from wpis_common.outbox import AmqpEventPublisher, OutboxRelay, UnroutableEvent, event_exchange
from wpis_common.tables import messaging_tables
from wpis_common.testing import fresh_database, wait_for
from wpis_common.topology import routed_event_types

pytestmark = pytest.mark.integration

PRODUCER = "replay_producer"
METADATA = MetaData()
TABLES = messaging_tables(METADATA)


class NoteSchema(Schema):
    n = fields.Integer(required=True)


CATALOG = EventCatalog(EventSpec("note_taken", NoteSchema), EventSpec("note_erased", NoteSchema))


class ProducerService(replay.EventLog):
    name = PRODUCER
    db = Database(TABLES, CATALOG)


@pytest.fixture
def database(tmp_path):
    with fresh_database(tmp_path, "replay") as url:
        engine = create_db_engine(url)
        METADATA.create_all(engine)
        sessions = make_session_factory(engine)

        class Handle:
            database_url = url

            def emit(self, event_type: str, n: int) -> str:
                with UnitOfWork(sessions, TABLES, PRODUCER, CATALOG) as uow:
                    return uow.emit(event_type, {"n": n})

            def relay(self, publish) -> OutboxRelay:
                return OutboxRelay(sessions, TABLES, PRODUCER, publish)

        yield Handle()
        engine.dispose()


def test_events_after_returns_the_log_in_sequence_order(database, container_factory, rabbit_config):
    ids = [database.emit("note_taken" if n % 2 else "note_erased", n) for n in range(1, 6)]
    unsent = database.relay(lambda envelope: None)
    unsent.assign_sequences()  # numbered (committed facts), whether confirmed yet or not

    container = container_factory(
        ProducerService, {"DATABASE_URL": database.database_url, "OUTBOX_POLL_INTERVAL": 60}
    )
    container.start()
    with entrypoint_hook(container, "events_after") as events_after:
        everything = events_after(after=0, limit=100)
        page = events_after(after=2, limit=2)
        beyond = events_after(after=5)
        as_strings = events_after(after="3", limit="1")
        with pytest.raises(InvalidInput) as refused:
            events_after(after=-1, limit=0)

    assert [e["event_id"] for e in everything] == ids
    assert [e["sequence"] for e in everything] == [1, 2, 3, 4, 5]
    assert everything[0]["producer"] == PRODUCER
    assert everything[0]["event_type"] == "note_taken"
    assert everything[0]["data"] == {"n": 1}
    assert [e["sequence"] for e in page] == [3, 4]
    assert beyond == []
    assert [e["sequence"] for e in as_strings] == [4]
    assert set(refused.value.details["errors"]) == {"after", "limit"}


def test_the_http_page_says_where_to_continue():
    events = [{"sequence": 7}, {"sequence": 8}]
    assert replay.page("permits", 6, events) == {
        "producer": "permits",
        "after": 6,
        "events": events,
        "next_after": 8,
    }
    assert replay.page("permits", 8, [])["next_after"] == 8


@pytest.mark.parametrize(
    "after, limit",
    [("x", 1), (1.5, 1), (True, 1), (0, 1001), (0, ""), (2**63, 1), (str(10**30), 1)],
)
def test_page_arguments_are_checked(after, limit):
    with pytest.raises(InvalidInput):
        replay.validate_page(after, limit)


def test_a_mandatory_event_waits_in_the_outbox_until_its_queue_exists(database, amqp_uri):
    publisher = AmqpEventPublisher(amqp_uri, PRODUCER, mandatory=["note_taken"])
    relay = database.relay(publisher)
    optional = database.emit("note_erased", 1)  # nobody listens: published and gone
    must_arrive = database.emit("note_taken", 2)

    with pytest.raises(UnroutableEvent, match=r"no queue is bound for replay_producer\.events"):
        relay.relay_once()

    with Connection(amqp_uri) as connection:
        queue = Queue(
            f"test-{uuid.uuid4().hex[:6]}", exchange=event_exchange(PRODUCER), routing_key="#"
        )(connection.default_channel)
        queue.declare()  # the deploy step ran
        assert relay.relay_once() == 1
        message = wait_for(lambda: queue.get(no_ack=True), what="the held-back event")
    assert message.payload["event_id"] == must_arrive
    assert message.payload["sequence"] == 2
    assert optional != must_arrive


def test_producers_publish_as_mandatory_what_wpis_services_consume():
    assert "application_approved" in routed_event_types("applications")  # permits needs it
    assert "permit_issued" in routed_event_types("permits")
    assert routed_event_types("nobody") == frozenset()
    assert AmqpEventPublisher("memory://", "permits").is_mandatory("permit_issued")
    assert not AmqpEventPublisher("memory://", "permits", mandatory=False).is_mandatory("x")


def test_every_service_that_publishes_events_can_replay_them():
    from wpis_common.event_docs import producer_catalogs
    from wpis_common.topology import service_classes

    publishing = {cls.name: cls for cls in service_classes() if cls.name in producer_catalogs()}
    assert publishing
    for name, service_cls in publishing.items():
        assert issubclass(service_cls, replay.EventLog), (
            f"{name} publishes events: add replay.EventLog to its class line (wpis_common.replay)"
        )
        assert name in replay.PRODUCERS, f"add {name} to wpis_common.replay.PRODUCERS"
