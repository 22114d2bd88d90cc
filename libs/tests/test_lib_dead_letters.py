"""Dead letters: a failing handler is retried, then its message is parked (never
dropped, never looped), and ``wpis-dlq`` lists, inspects and re-drives it.
Run on classic and on quorum queues, on the local broker."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher
from sqlalchemy import Column, MetaData, String, Table, insert, select

from wpis_common import dlq
from wpis_common.consumers import consume_event
from wpis_common.db import UnitOfWork, create_db_engine
from wpis_common.dependencies import Database
from wpis_common.envelope import Envelope, EventCatalog
from wpis_common.tables import messaging_tables
from wpis_common.testing import fresh_database, wait_for
from wpis_common.topology import (
    ATTEMPT_HEADER,
    QueuePolicy,
    Subscription,
    declare,
    parking_queue_name,
)

pytestmark = pytest.mark.integration

SOURCE = "dl_source"
SERVICE = "dl_consumer"
MAX_ATTEMPTS = 3
SUBSCRIPTION = Subscription(SOURCE, "thing_happened", SERVICE, "on_thing_happened")

METADATA = MetaData()
TABLES = messaging_tables(METADATA)
APPLIED = Table("applied", METADATA, Column("thing_id", String(36), primary_key=True))

ATTEMPTS: Counter[str] = Counter()
# thing id -> how many attempts fail before one succeeds (absent: never fails)
FAILURES: dict[str, int] = {}


class DeadLetterService:
    name = SERVICE
    db = Database(TABLES, EventCatalog())

    @consume_event(SOURCE, "thing_happened")
    def on_thing_happened(self, envelope: Envelope, uow: UnitOfWork) -> None:
        thing_id = envelope.data["thing_id"]
        ATTEMPTS[thing_id] += 1
        if ATTEMPTS[thing_id] <= FAILURES.get(thing_id, 0):
            raise RuntimeError(f"downstream refused {thing_id}")
        uow.session.execute(insert(APPLIED).values(thing_id=thing_id))


@pytest.fixture(params=["classic", "quorum"])
def queue_type(request) -> str:
    return request.param


@pytest.fixture
def database_url(tmp_path):
    with fresh_database(tmp_path, "dl") as url:
        engine = create_db_engine(url)
        METADATA.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture
def applied(database_url):
    engine = create_db_engine(database_url)

    def read() -> set[str]:
        with engine.connect() as connection:
            return set(connection.execute(select(APPLIED.c.thing_id)).scalars())

    yield read
    engine.dispose()


@pytest.fixture
def service(database_url, queue_type, rabbit_config, container_factory):
    ATTEMPTS.clear()
    FAILURES.clear()
    container = container_factory(
        DeadLetterService,
        {
            "DATABASE_URL": database_url,
            "OUTBOX_POLL_INTERVAL": 5,
            "WPIS_QUEUE_TYPE": queue_type,
            "WPIS_EVENT_MAX_ATTEMPTS": MAX_ATTEMPTS,
            "WPIS_EVENT_RETRY_DELAY": 0.1,
        },
    )
    container.start()
    yield container
    FAILURES.clear()


def thing_happened(thing_id: str) -> dict:
    return Envelope(
        event_id=str(uuid.uuid4()),
        event_type="thing_happened",
        schema_version=1,
        occurred_at=datetime.now(UTC),
        producer=SOURCE,
        sequence=1,
        data={"thing_id": thing_id},
    ).to_message()


def parked(amqp_uri: str) -> int:
    return dlq.parked_counts(amqp_uri, [SERVICE])[SERVICE] or 0


def test_a_handler_that_keeps_failing_is_tried_n_times_then_parked(
    service, amqp_uri, applied, capsys
):
    FAILURES["t-poison"] = 99
    body = thing_happened("t-poison")
    event_dispatcher()(SOURCE, "thing_happened", body)

    wait_for(lambda: parked(amqp_uri) == 1, timeout=15, what="the message to be parked")
    assert ATTEMPTS["t-poison"] == MAX_ATTEMPTS
    assert applied() == set()

    [message] = dlq.inspect(amqp_uri, SERVICE)
    assert message.event_id == body["event_id"]
    assert message.queue == SUBSCRIPTION.queue_name
    assert message.attempts == MAX_ATTEMPTS
    assert "RuntimeError: downstream refused t-poison" in message.error
    assert message.body == body
    assert parked(amqp_uri) == 1  # inspecting leaves it parked

    assert dlq.main(["--amqp-uri", amqp_uri, "list", SERVICE]) == 0
    assert f"{parking_queue_name(SERVICE)}" in capsys.readouterr().out
    assert dlq.main(["--amqp-uri", amqp_uri, "inspect", SERVICE, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["event_id"] == body["event_id"]
    assert shown["queue"] == SUBSCRIPTION.queue_name


def test_a_transient_failure_is_retried_and_applied_once(service, amqp_uri, applied):
    FAILURES["t-flaky"] = MAX_ATTEMPTS - 1
    event_dispatcher()(SOURCE, "thing_happened", thing_happened("t-flaky"))

    wait_for(lambda: applied() == {"t-flaky"}, timeout=15, what="the retried event applied")
    assert ATTEMPTS["t-flaky"] == MAX_ATTEMPTS
    assert parked(amqp_uri) == 0


def test_a_malformed_message_is_parked_at_once(service, amqp_uri):
    event_dispatcher()(SOURCE, "thing_happened", {"event_id": "x", "data": {}})

    wait_for(lambda: parked(amqp_uri) == 1, timeout=15, what="the malformed message parked")
    [message] = dlq.inspect(amqp_uri, SERVICE)
    assert message.attempts == 1
    assert message.error.startswith("ValidationError")


def test_re_driving_sends_chosen_parked_messages_back_to_their_queue(
    service, amqp_uri, applied, capsys
):
    FAILURES.update({"t-a": 99, "t-b": 99})
    first, second = thing_happened("t-a"), thing_happened("t-b")
    event_dispatcher()(SOURCE, "thing_happened", first)
    event_dispatcher()(SOURCE, "thing_happened", second)
    wait_for(lambda: parked(amqp_uri) == 2, timeout=20, what="both messages parked")

    FAILURES.clear()  # the downstream fault is fixed
    args = ["--amqp-uri", amqp_uri, "redrive", SERVICE, "--event-id", second["event_id"]]
    assert dlq.main(args) == 0
    assert "1 message(s) re-driven" in capsys.readouterr().out

    wait_for(lambda: applied() == {"t-b"}, timeout=10, what="the re-driven event applied")
    assert [m.event_id for m in dlq.inspect(amqp_uri, SERVICE)] == [first["event_id"]]

    assert [m.event_id for m in dlq.redrive(amqp_uri, SERVICE)] == [first["event_id"]]
    wait_for(lambda: applied() == {"t-a", "t-b"}, timeout=10, what="the rest re-driven")
    assert parked(amqp_uri) == 0


def _vhost(amqp_uri: str) -> str:
    return urlparse(amqp_uri).path.lstrip("/")


def test_declared_queues_carry_the_dead_letter_arguments(amqp_uri, rabbit_manager, queue_type):
    policy = QueuePolicy(queue_type=queue_type, max_attempts=4)
    declare(amqp_uri, [SUBSCRIPTION], producers=[], policy=policy)

    queue = rabbit_manager.get_queue(_vhost(amqp_uri), SUBSCRIPTION.queue_name)
    assert queue["arguments"]["x-dead-letter-exchange"] == "wpis.dead-letter"
    assert queue["arguments"]["x-dead-letter-routing-key"] == SERVICE
    assert queue["type"] == queue_type
    parking = rabbit_manager.get_queue(_vhost(amqp_uri), parking_queue_name(SERVICE))
    assert parking["durable"] is True
    if queue_type == "quorum":
        assert queue["arguments"]["x-delivery-limit"] == 4
    else:
        assert "x-delivery-limit" not in queue["arguments"]


def test_quorum_delivery_limit_parks_a_message_that_keeps_coming_back(amqp_uri):
    """The broker's own safety net: a consumer that dies on a message (never acks)
    again and again; after x-delivery-limit returns the broker parks it."""
    policy = QueuePolicy(queue_type="quorum", max_attempts=2)
    declare(amqp_uri, [SUBSCRIPTION], producers=[SOURCE], policy=policy)
    event_dispatcher()(SOURCE, "thing_happened", thing_happened("t-crash"))

    returns = 0
    with Connection(amqp_uri) as connection:
        queue = Queue(SUBSCRIPTION.queue_name, channel=connection.channel(), no_declare=True)

        def next_delivery():
            message = queue.get(no_ack=False)
            if message is not None:
                return message
            return "parked" if parked(amqp_uri) == 1 else None

        while (delivery := wait_for(next_delivery, timeout=10, what="a delivery")) != "parked":
            delivery.requeue()  # as a crashed consumer's unacked message comes back
            returns += 1
    assert returns == policy.max_attempts + 1
    [message] = dlq.inspect(amqp_uri, SERVICE)
    assert message.queue == SUBSCRIPTION.queue_name  # from the broker's x-death header
    assert message.attempts is None  # the handler never saw it fail


def test_retried_copies_count_their_attempts(amqp_uri):
    """Classic queues: the retry copy waits in the delay queue, then returns with
    its attempt count (the header the handler reads)."""
    policy = QueuePolicy(queue_type="classic")
    declare(amqp_uri, [SUBSCRIPTION], producers=[SOURCE], policy=policy)
    from nameko.amqp.publish import Publisher

    from wpis_common.topology import retry_exchange

    Publisher(amqp_uri).publish(
        {"k": 1},
        exchange=retry_exchange(),
        routing_key=SUBSCRIPTION.queue_name,
        headers={ATTEMPT_HEADER: 2},
        expiration=0.1,
        mandatory=True,
    )
    with Connection(amqp_uri) as connection:
        queue = Queue(SUBSCRIPTION.queue_name, channel=connection.channel(), no_declare=True)
        message = wait_for(lambda: queue.get(no_ack=True), timeout=5, what="the delayed copy")
    assert message.headers[ATTEMPT_HEADER] == 2
    assert message.payload == {"k": 1}


def test_a_connection_lost_while_settling_does_not_kill_the_service(container_factory):
    """After a broker restart, acking on the dead connection raises a socket error;
    the broker redelivers the message itself, so the handler just lets it go."""
    from nameko import config
    from nameko.testing.utils import get_extension

    from wpis_common.consumers import WpisEventHandler

    with config.patch({"AMQP_URI": "memory://"}):
        handler = get_extension(
            container_factory(DeadLetterService), WpisEventHandler, method_name="on_thing_happened"
        )
        handler.setup()

    class DroppedConnection:
        def ack_message(self, message):
            raise ConnectionResetError(104, "Connection reset by peer")

        def requeue_message(self, message):
            raise BrokenPipeError(32, "Broken pipe")

    handler.consumer = DroppedConnection()
    handler.handle_message_processed(object())  # success: ack fails quietly
    handler.policy = QueuePolicy("quorum")
    failure = (RuntimeError, RuntimeError("boom"), None)

    class Delivered:
        headers: dict = {}

    handler.handle_message_processed(Delivered(), exc_info=failure)  # requeue fails quietly
