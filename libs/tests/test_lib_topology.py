"""Broker topology: queue names and arguments shared by handlers and ``wpis-declare``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
from nameko import config
from nameko.events import EventHandler, event_handler
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_extension
from sqlalchemy import MetaData, select

from wpis_common.consumers import WpisEventHandler, consume_event
from wpis_common.db import create_db_engine
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope, EventCatalog
from wpis_common.tables import messaging_tables
from wpis_common.testing import fresh_database
from wpis_common.topology import (
    QueuePolicy,
    Subscription,
    all_subscriptions,
    declare,
    declare_main,
    load_agency_queues,
    subscriptions_of,
)

METADATA = MetaData()
TABLES = messaging_tables(METADATA)
SUBSCRIPTION = Subscription("lib_source", "thing_happened", "lib_consumer", "on_thing_happened")


class WpisConsumer:
    name = "lib_consumer"
    db = Database(TABLES, EventCatalog())

    @consume_event("lib_source", "thing_happened")
    def on_thing_happened(self, envelope, uow):
        return envelope.event_id

    def not_an_entrypoint(self):
        pass


class PlainNamekoConsumer:
    name = "lib_consumer"

    @event_handler("lib_source", "thing_happened")
    def on_thing_happened(self, body):
        pass


def test_queue_name_follows_nameko_service_pool_naming():
    assert (
        SUBSCRIPTION.queue_name == "evt-lib_source-thing_happened--lib_consumer.on_thing_happened"
    )


def test_subscriptions_are_read_from_the_service_class():
    assert list(subscriptions_of(WpisConsumer)) == [SUBSCRIPTION]
    assert list(subscriptions_of(PlainNamekoConsumer)) == []  # not a WPIS consumer


DEAD_LETTER_ARGUMENTS = {
    "x-dead-letter-exchange": "wpis.dead-letter",
    "x-dead-letter-routing-key": "lib_consumer",
}


def test_handler_queue_is_the_one_nameko_would_declare_plus_dead_lettering(container_factory):
    with config.patch({"AMQP_URI": "memory://"}):
        ours = get_extension(
            container_factory(WpisConsumer), WpisEventHandler, method_name="on_thing_happened"
        )
        nameko_own = get_extension(
            container_factory(PlainNamekoConsumer), EventHandler, method_name="on_thing_happened"
        )
        ours.setup()
        nameko_own.setup()

    expected = {**_queue_shape(nameko_own.queue), "arguments": DEAD_LETTER_ARGUMENTS}
    assert _queue_shape(ours.queue) == expected
    assert _queue_shape(SUBSCRIPTION.queue(QueuePolicy())) == expected


def test_quorum_queues_add_their_type_and_a_delivery_limit():
    arguments = SUBSCRIPTION.queue(QueuePolicy("quorum", max_attempts=7)).queue_arguments
    assert arguments == {
        **DEAD_LETTER_ARGUMENTS,
        "x-queue-type": "quorum",
        "x-delivery-limit": 7,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def test_queue_policy_comes_from_config_then_environment(monkeypatch):
    monkeypatch.setenv("WPIS_QUEUE_TYPE", "quorum")
    monkeypatch.setenv("WPIS_EVENT_MAX_ATTEMPTS", "9")
    assert QueuePolicy.from_settings() == QueuePolicy("quorum", 9, 2.0)
    with config.patch({"WPIS_QUEUE_TYPE": "classic"}):
        assert QueuePolicy.from_settings().queue_type == "classic"
    monkeypatch.setenv("WPIS_QUEUE_TYPE", "lazy")
    with pytest.raises(ValueError, match="queue type must be one of"):
        QueuePolicy.from_settings()


def _queue_shape(queue) -> dict:
    exchange = queue.exchange
    return {
        "name": queue.name,
        "routing_key": queue.routing_key,
        "durable": queue.durable,
        "auto_delete": bool(queue.auto_delete),
        "exclusive": bool(queue.exclusive),
        "arguments": queue.queue_arguments or {},
        "exchange": (
            exchange.name,
            exchange.type,
            exchange.durable,
            bool(exchange.auto_delete),
            exchange.delivery_mode,
        ),
    }


def _vhost(amqp_uri: str) -> str:
    return urlparse(amqp_uri).path.lstrip("/")


def test_declare_creates_exchanges_and_durable_queues(amqp_uri, rabbit_manager):
    vhost = _vhost(amqp_uri)

    assert declare(amqp_uri, [SUBSCRIPTION], producers=["lib_consumer"]) == 1
    assert declare(amqp_uri, [SUBSCRIPTION], producers=["lib_consumer"]) == 1  # idempotent

    exchanges = {e["name"]: e for e in rabbit_manager.get_exchanges(vhost)}
    for name in ("lib_source.events", "lib_consumer.events"):
        assert exchanges[name]["type"] == "topic"
        assert exchanges[name]["durable"] is True
        assert exchanges[name]["auto_delete"] is False
    queue = rabbit_manager.get_queue(vhost, SUBSCRIPTION.queue_name)
    assert queue["durable"] is True
    assert queue["auto_delete"] is False
    assert queue["exclusive"] is False
    bindings = rabbit_manager.get_queue_bindings(vhost, SUBSCRIPTION.queue_name)
    assert {(b["source"], b["routing_key"]) for b in bindings if b["source"]} == {
        ("lib_source.events", "thing_happened")
    }


@pytest.fixture
def database_url(tmp_path):
    with fresh_database(tmp_path, "lib") as url:
        engine = create_db_engine(url)
        METADATA.create_all(engine)
        engine.dispose()
        yield url


def test_declared_queue_keeps_events_until_the_service_starts_with_the_same_arguments(
    database_url, amqp_uri, container_factory
):
    declare(amqp_uri, [SUBSCRIPTION], producers=[])
    body = Envelope(
        event_id=str(uuid.uuid4()),
        event_type="thing_happened",
        schema_version=1,
        occurred_at=datetime.now(UTC),
        producer="lib_source",
        sequence=1,
        data={},
    ).to_message()
    # Published while no consumer runs (and through Nameko's own exchange declaration).
    event_dispatcher()("lib_source", "thing_happened", body)

    container = container_factory(WpisConsumer, {"DATABASE_URL": database_url})
    with entrypoint_waiter(container, "on_thing_happened", timeout=10) as result:
        container.start()  # a PRECONDITION_FAILED on the queue would fail here

    assert result.get() == body["event_id"]
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            inbox = connection.execute(select(TABLES.inbox.c.consumer, TABLES.inbox.c.event_id))
            assert inbox.all() == [("lib_consumer.on_thing_happened", body["event_id"])]
    finally:
        engine.dispose()


def test_declare_command_declares_every_service_subscription(amqp_uri, rabbit_manager, capsys):
    subscriptions = all_subscriptions()
    names = [sub.queue_name for sub in subscriptions]
    assert subscriptions
    assert len(set(names)) == len(names)

    assert declare_main(["--amqp-uri", amqp_uri]) == 0

    assert f"and {len(subscriptions)} consumer queues" in capsys.readouterr().out
    declared = {q["name"] for q in rabbit_manager.get_queues(_vhost(amqp_uri))}
    assert set(names) <= declared


def test_declare_command_declares_the_agencies_queues_with_their_bindings(
    amqp_uri, rabbit_manager, tmp_path, capsys
):
    agencies = tmp_path / "agency-queues.yaml"
    agencies.write_text(
        "queues:\n"
        "  agency.police.permits:\n"
        "    permits: [permit_issued, permit_revoked]\n"
        "  agency.tax.employment:\n"
        "    contracts: [contract_registered]\n"
    )

    assert declare_main(["--amqp-uri", amqp_uri, "--agency-queues", str(agencies)]) == 0

    assert "and 2 agency queues" in capsys.readouterr().out
    bindings = rabbit_manager.get_queue_bindings(_vhost(amqp_uri), "agency.police.permits")
    assert {(b["source"], b["routing_key"]) for b in bindings if b["source"]} == {
        ("permits.events", "permit_issued"),
        ("permits.events", "permit_revoked"),
    }
    assert rabbit_manager.get_queue(_vhost(amqp_uri), "agency.tax.employment")["durable"] is True


def test_the_deployed_agency_queues_file_is_valid():
    queues = load_agency_queues()
    assert queues
    assert all(queue.name.startswith("agency.") and queue.bindings for queue in queues)
    assert {producer for queue in queues for producer in queue.producers} <= {
        "applications",
        "identity_gateway",
        "permits",
        "contracts",
    }


@pytest.mark.parametrize(
    "text, problem",
    [
        ("queues: [a, b]\n", "must map queue names"),
        ("queues:\n  agency.x: {}\n", "must map producers"),
        ("queues:\n  agency.x:\n    permits: permit_issued\n", "must be a list"),
    ],
)
def test_a_malformed_agency_queues_file_is_refused(tmp_path, text, problem):
    path = tmp_path / "agency-queues.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=problem):
        load_agency_queues(path)
