"""Replay what you missed, then follow live: every chosen event once, in order.

For each producer the subscriber keeps a position: the sequence number up to
which it has seen that producer's log (every event type; it handles only the
ones it is bound to). On start it replays from that position over HTTP
(``GET /api/v1/events``), then consumes its own durable queue. A live event
whose sequence is not the next one means something is missing (it is still
in the queue behind a redelivery, or was published while the queue did not
exist): the subscriber fills the gap from the replay endpoint first. An event
it has already handled (same ``event_id``, or a sequence at or below its
position) is acknowledged and skipped. A message is acknowledged only after
its handler's transaction committed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions

from agency_subscriber.store import Store

log = logging.getLogger("agency_subscriber")

Handler = Callable[["Event", sqlite3.Connection], None]
ENVELOPE_FIELDS = (
    "event_id", "event_type", "schema_version", "occurred_at", "producer", "sequence", "data",
)  # fmt: skip


class ReplayUnavailable(Exception):
    """The replay endpoint could not be reached or refused the request."""


class NotAnEvent(ValueError):
    """A message that is not a WPIS event envelope."""


@dataclass(frozen=True)
class Binding:
    producer: str
    event_type: str

    @classmethod
    def parse(cls, text: str) -> Binding:
        """``permits:permit_issued`` -> Binding("permits", "permit_issued")."""
        producer, _, event_type = text.partition(":")
        if not producer or not event_type:
            raise ValueError(f"a binding is producer:event_type, not {text!r}")
        return cls(producer.strip(), event_type.strip())

    @property
    def exchange(self) -> str:
        return f"{self.producer}.events"


@dataclass(frozen=True)
class Event:
    event_id: str
    event_type: str
    schema_version: int
    occurred_at: str
    producer: str
    sequence: int
    data: dict[str, Any]

    @classmethod
    def from_message(cls, message: Any) -> Event:
        if not isinstance(message, dict) or any(key not in message for key in ENVELOPE_FIELDS):
            raise NotAnEvent("the message is not a WPIS event envelope")
        sequence = message["sequence"]
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
            raise NotAnEvent("the envelope's sequence is not a positive whole number")
        return cls(**{key: message[key] for key in ENVELOPE_FIELDS})

    def as_message(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ENVELOPE_FIELDS}


@dataclass
class SubscriberConfig:
    amqp_uri: str
    api_url: str  # e.g. http://127.0.0.1:8000/api/v1
    queue: str
    bindings: tuple[Binding, ...]
    state_path: str
    queue_type: str = "classic"  # used only if the queue does not exist yet
    api_token: str | None = None  # sent as "Authorization: Bearer ..." when set
    prefetch: int = 100
    page_size: int = 500
    http_timeout: float = 10.0
    retry_delay: float = 0.5
    max_retry_delay: float = 15.0
    producers: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.bindings:
            raise ValueError("bind at least one producer:event_type")
        self.producers = tuple(sorted({binding.producer for binding in self.bindings}))

    def wants(self, producer: str, event_type: str) -> bool:
        return Binding(producer, event_type) in self.bindings


class ReplayClient:
    """``GET {api_url}/events?producer=&after=&limit=`` with the standard library."""

    def __init__(self, api_url: str, token: str | None = None, timeout: float = 10.0):
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def page(self, producer: str, after: int, limit: int) -> dict[str, Any]:
        query = urllib.parse.urlencode({"producer": producer, "after": after, "limit": limit})
        request = urllib.request.Request(f"{self.api_url}/events?{query}")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise ReplayUnavailable(f"replay of {producer} after {after} failed: {error}") from None


class Subscriber:
    def __init__(
        self,
        config: SubscriberConfig,
        handler: Handler,
        store: Store | None = None,
        replay: ReplayClient | None = None,
    ):
        self.config = config
        self.handler = handler
        self.store = store or Store(config.state_path)
        self.replay = replay or ReplayClient(config.api_url, config.api_token, config.http_timeout)
        self._stopping = False
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None

    # -- the rules: independent of the broker, tested on their own ------------

    def on_event(self, event: Event) -> str:
        """Handle one live event; returns "handled", "duplicate" or "ignored"."""
        if event.producer not in self.config.producers:
            return "ignored"
        if event.sequence <= self.store.position(event.producer) or self.store.handled(
            event.event_id
        ):
            return "duplicate"
        if event.sequence > self.store.position(event.producer) + 1:
            self.catch_up(event.producer, until=event.sequence)
            if event.sequence <= self.store.position(event.producer):
                return "handled"  # the replay brought it, in its place
            log.warning("%s/%d is not in the replay log yet", event.producer, event.sequence)
        self._take(event)
        return "handled"

    def catch_up(self, producer: str, until: int | None = None) -> int:
        """Replay ``producer``'s log from our position; returns how many we handled.

        Stops at the end of the log, or once ``until`` is covered.
        """
        handled = 0
        while True:
            after = self.store.position(producer)
            page = self.replay.page(producer, after, self.config.page_size)
            events = [Event.from_message(message) for message in page.get("events", [])]
            for event in events:
                if event.sequence <= self.store.position(producer):
                    continue
                handled += self._take(event)
            if not events or len(events) < self.config.page_size:
                return handled
            if until is not None and self.store.position(producer) >= until:
                return handled

    def _take(self, event: Event) -> int:
        """Handle a wanted event, or just step over an unwanted one; one transaction."""
        wanted = self.config.wants(event.producer, event.event_type)
        with self.store.transaction() as tx:
            if wanted and not self.store.handled(event.event_id):
                self.handler(event, tx)
                Store.mark_handled(
                    tx, event.event_id, event.producer, event.sequence, event.event_type
                )
            Store.advance(tx, event.producer, event.sequence)
        return 1 if wanted else 0

    # -- AMQP ------------------------------------------------------------------

    def run(self) -> None:
        """Connect, catch up, consume; reconnect (and catch up again) after any outage."""
        delay = self.config.retry_delay
        while not self._stopping:
            try:
                self._connect_and_consume()
                delay = self.config.retry_delay
            except (pika.exceptions.AMQPError, OSError, ReplayUnavailable) as error:
                if self._stopping:
                    break
                log.warning("subscriber interrupted (%s); retrying in %.1fs", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.config.max_retry_delay)
            finally:
                self._close()

    def stop(self) -> None:
        """Stop after the message in hand (thread- and signal-safe)."""
        self._stopping = True
        connection, channel = self._connection, self._channel
        if connection is not None and channel is not None and connection.is_open:
            connection.add_callback_threadsafe(channel.stop_consuming)

    def _connect_and_consume(self) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(self.config.amqp_uri))
        self._channel = self._declare(self._connection)
        for producer in self.config.producers:
            caught_up = self.catch_up(producer)
            log.info("replayed %d %s event(s); now live", caught_up, producer)
        self._channel.basic_qos(prefetch_count=self.config.prefetch)
        self._channel.basic_consume(self.config.queue, self._on_message)
        if not self._stopping:
            self._channel.start_consuming()

    def _declare(self, connection: pika.BlockingConnection) -> Any:
        """Our durable queue (as the deploy step declared it, or a new one) and its bindings."""
        channel = connection.channel()
        for exchange in sorted({binding.exchange for binding in self.config.bindings}):
            channel.exchange_declare(exchange, passive=True)  # WPIS's; never redeclare it
        try:
            channel.queue_declare(self.config.queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker as error:
            if error.reply_code != 404:
                raise
            channel = connection.channel()
            arguments = {"x-queue-type": "quorum"} if self.config.queue_type == "quorum" else None
            channel.queue_declare(self.config.queue, durable=True, arguments=arguments)
        for binding in self.config.bindings:
            channel.queue_bind(self.config.queue, binding.exchange, routing_key=binding.event_type)
        return channel

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        try:
            event = Event.from_message(json.loads(body))
        except (ValueError, NotAnEvent) as error:
            log.error("dropping a message that is not a WPIS event: %s", error)
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        try:
            outcome = self.on_event(event)
        except Exception as error:
            log.error("event %s/%d not handled yet: %r", event.producer, event.sequence, error)
            self._connection.sleep(self.config.retry_delay)  # keeps heartbeats going
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        channel.basic_ack(method.delivery_tag)
        log.debug("%s %s/%d", outcome, event.producer, event.sequence)

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()


def load_handler(path: str) -> Handler:
    """``package.module:function`` -> the function."""
    import importlib

    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise ValueError(f"a handler is module:function, not {path!r}")
    return getattr(importlib.import_module(module_name), attribute)


def parse_bindings(texts: Iterable[str]) -> tuple[Binding, ...]:
    return tuple(dict.fromkeys(Binding.parse(text) for text in texts))
