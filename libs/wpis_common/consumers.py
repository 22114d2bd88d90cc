"""Idempotent event consumers that retry and then park what keeps failing.

``@consume_event(source, event_type)`` subscribes a service method to an
event with a durable, service-pooled queue, parses the envelope, and runs the
method inside one unit of work that also records the event id in the
consumer's inbox. A redelivered event whose id is already in the inbox is
acknowledged and skipped; two racing deliveries cannot both commit (the inbox
primary key refuses the second, which rolls back whole).

A handler that raises is retried after a delay, up to
``WPIS_EVENT_MAX_ATTEMPTS`` attempts; then the message is parked in the
service's dead-letter queue (``wpis.dlq.<service>``) with the error in its
headers, for ``wpis-dlq`` to inspect and re-drive. A message that can never
succeed (a malformed envelope, data that fails validation) is parked at once.
See :mod:`wpis_common.topology` and ADR-008.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any

from kombu.message import Message
from marshmallow import ValidationError
from nameko import config
from nameko.amqp.consume import Consumer as AmqpConsumer
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.events import EventHandler
from nameko.messaging import Consumer
from sqlalchemy import insert, select

from wpis_common.db import UnitOfWork
from wpis_common.envelope import Envelope, utc_now
from wpis_common.graceful import CONNECTION_ERRORS
from wpis_common.topology import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    PARKED_AT_HEADER,
    QUEUE_HEADER,
    QueuePolicy,
    Subscription,
    dead_letter_exchange,
    retry_exchange,
)

log = logging.getLogger(__name__)

Handler = Callable[[Any, Envelope, UnitOfWork], Any]
# Failures that no retry can cure: park the message at once.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ValidationError,)
MAX_ERROR_HEADER_LENGTH = 1000
# Set by the broker on dead-lettered and redelivered messages; a copy starts afresh.
BROKER_HEADERS = ("x-death", "x-first-death", "x-last-death", "x-delivery-count")


class PlumbingConsumer(AmqpConsumer):
    """Nameko's AMQP consumer, declaring the dead-letter plumbing beside its queue
    on every (re)connection, with the same connection retries as the queue."""

    plumbing: list[Any] = []

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        for queue in self.plumbing:
            queue(channel).declare()
        return super().get_consumers(consumer_cls, channel)


class WpisEventHandler(EventHandler):
    """Nameko's event handler, with the queue defined in :mod:`wpis_common.topology`,
    and failed messages retried with a delay, then parked (never dropped, never looped)."""

    consumer_cls = PlumbingConsumer

    def setup(self) -> None:
        self.policy = QueuePolicy.from_settings()
        self.subscription = Subscription(
            self.source_service, self.event_type, self.container.service_name, self.method_name
        )
        self.queue = self.subscription.queue(self.policy)
        self.publisher = Publisher(config[AMQP_URI_CONFIG_KEY], use_confirms=True)
        Consumer.setup(self)
        # The parking and retry queues must exist before the first failure.
        retry = self.subscription.retry_queue(self.policy)
        self.consumer.plumbing = [self.subscription.parking_queue(self.policy)] + (
            [retry] if retry is not None else []
        )

    def handle_message_processed(
        self, message: Message, result: Any = None, exc_info: Any = None
    ) -> None:
        if exc_info is None:
            self._settle(self.consumer.ack_message, message)
            return
        error = exc_info[1]
        attempt = self.attempt_of(message)
        if isinstance(error, PERMANENT_ERRORS) or attempt >= self.policy.max_attempts:
            self.park(message, error, attempt)
        elif self.policy.quorum:
            log.warning(
                "%s failed (attempt %d of %d), redelivering: %r",
                self.subscription.queue_name,
                attempt,
                self.policy.max_attempts,
                error,
            )
            self._settle(self.consumer.requeue_message, message)
        else:
            self.retry_later(message, error, attempt)

    def _settle(self, settle: Callable[[Message], None], message: Message) -> None:
        """Ack or requeue; on a connection the broker just dropped (a restart), do
        nothing: the broker returns the unacked message to its queue by itself,
        and the inbox makes its redelivery harmless. Nameko would let the socket
        error kill the whole service."""
        try:
            settle(message)
        except CONNECTION_ERRORS as error:
            log.warning(
                "%s: connection lost before a message was settled (%r); it will be redelivered",
                self.subscription.queue_name,
                error,
            )

    def attempt_of(self, message: Message) -> int:
        """1 for the first delivery; counted by us (classic) or by the broker (quorum)."""
        headers = message.headers or {}
        if self.policy.quorum:
            return int(headers.get("x-delivery-count", 0)) + 1
        return int(headers.get(ATTEMPT_HEADER, 1))

    def retry_later(self, message: Message, error: BaseException, attempt: int) -> None:
        log.warning(
            "%s failed (attempt %d of %d), retrying in %.1fs: %r",
            self.subscription.queue_name,
            attempt,
            self.policy.max_attempts,
            self.policy.retry_delay,
            error,
        )
        self._republish(
            message,
            retry_exchange(),
            self.subscription.queue_name,
            {ATTEMPT_HEADER: attempt + 1},
            expiration=self.policy.retry_delay,
        )

    def park(self, message: Message, error: BaseException, attempt: int) -> None:
        log.error(
            "parking a message from %s in the dead-letter queue after %d attempt(s): %s",
            self.subscription.queue_name,
            attempt,
            "".join(traceback.format_exception_only(error)).strip(),
        )
        headers = {
            ATTEMPT_HEADER: attempt,
            QUEUE_HEADER: self.subscription.queue_name,
            ERROR_HEADER: describe(error),
            PARKED_AT_HEADER: utc_now().isoformat(),
        }
        self._republish(message, dead_letter_exchange(), self.subscription.service, headers)

    def _republish(
        self,
        message: Message,
        exchange: Any,
        routing_key: str,
        extra_headers: dict[str, Any],
        expiration: float | None = None,
    ) -> None:
        """Publish a copy of ``message`` (same body and properties), with confirms,
        then ack the original.

        A crash in between duplicates the message, which the inbox absorbs,
        rather than losing it. If the copy cannot be published the original is
        returned to its queue.
        """
        headers = {
            key: value
            for key, value in (message.headers or {}).items()
            if not key.startswith(BROKER_HEADERS)
        }
        headers.update(extra_headers)
        properties = message.properties or {}
        try:
            self._publish_copy(message, exchange, routing_key, headers, properties, expiration)
        except Exception:
            log.exception("could not retry or park a message; returning it to its queue")
            self._settle(self.consumer.requeue_message, message)
            return
        self._settle(self.consumer.ack_message, message)

    def _publish_copy(
        self,
        message: Message,
        exchange: Any,
        routing_key: str,
        headers: dict[str, Any],
        properties: dict[str, Any],
        expiration: float | None,
    ) -> None:
        self.publisher.publish(
            message.body,
            exchange=exchange,
            routing_key=routing_key,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            message_id=properties.get("message_id"),
            type=properties.get("type"),
            timestamp=properties.get("timestamp"),
            expiration=expiration,
            mandatory=True,
            retry=True,
        )


def describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        text = f"ValidationError: {error.messages}"
    else:
        text = "".join(traceback.format_exception_only(error)).strip()
    return text[:MAX_ERROR_HEADER_LENGTH]


def consume_event(source: str, event_type: str, db_attr: str = "db") -> Callable[[Handler], Any]:
    def decorate(fn: Handler) -> Any:
        @functools.wraps(fn)
        def handle(self: Any, body: Any) -> Any:
            try:
                envelope = Envelope.parse(body)
            except ValidationError as error:
                log.error("refusing malformed %s event: %s", event_type, error.messages)
                raise
            consumer = f"{self.name}.{fn.__name__}"
            with getattr(self, db_attr).unit_of_work() as uow:
                if already_applied(uow, consumer, envelope.event_id):
                    log.info("skipping duplicate event %s for %s", envelope.event_id, consumer)
                    return None
                result = fn(self, envelope, uow)
                uow.session.execute(
                    insert(uow.tables.inbox).values(
                        consumer=consumer,
                        event_id=envelope.event_id,
                        event_type=envelope.event_type,
                        applied_at=utc_now(),
                    )
                )
                return result

        return WpisEventHandler.decorator(source, event_type)(handle)

    return decorate


def already_applied(uow: UnitOfWork, consumer: str, event_id: str) -> bool:
    inbox = uow.tables.inbox
    found = uow.session.execute(
        select(inbox.c.event_id).where(inbox.c.consumer == consumer, inbox.c.event_id == event_id)
    ).first()
    return found is not None
