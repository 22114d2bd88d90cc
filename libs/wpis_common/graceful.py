"""Graceful shutdown for Nameko's AMQP consumers (RPC and event handlers).

On SIGTERM Nameko stops its entrypoints, waits for running workers, then
stops the rest. But its consumer closes the broker connection about a second
after ``stop()``, while workers may still be running: their acks are then
lost and the broker redelivers work that was done (an RPC command runs twice).

:class:`GracefulConsumer` stops *taking* work instead: it cancels its
subscriptions (no new deliveries), requeues anything that still arrives, and
keeps the connection open until every message it handed to a worker is
settled (acked or requeued); only then does it close. A message whose worker
never finished is never acked, so the broker gives it to another instance.

:func:`install` makes it the consumer of every ``@rpc`` and event handler
entrypoint; :mod:`wpis_common.dependencies` calls it on import, so every
service that uses the ``Database`` provider gets it without code of its own.
"""

from __future__ import annotations

import logging
from typing import Any

from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.exceptions import OperationalError
from nameko.amqp.consume import Consumer as NamekoConsumer

log = logging.getLogger(__name__)

# What a publish or an ack raises when the broker dropped the connection (a restart).
CONNECTION_ERRORS = (OSError, AmqpConnectionError, OperationalError)


class GracefulConsumer(NamekoConsumer):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.draining = False
        self.connected = False
        self._unsettled: set[Any] = set()
        self._subscriptions: list[Any] = []
        self._cancelled = False

    # -- what the service sees ------------------------------------------------
    def stop(self) -> None:
        """Stop taking work; close once every message handed out is settled."""
        self.draining = True

    @property
    def unsettled(self) -> int:
        return len(self._unsettled)

    def on_message(self, body: Any, message: Any) -> None:
        if self.draining or self.should_stop:
            self.requeue_message(message)
            return
        self._unsettled.add(message)
        for callback in self.callbacks:
            callback(body, message)

    def ack_message(self, message: Any) -> None:
        self._unsettled.discard(message)
        self._settle(super().ack_message, message)

    def requeue_message(self, message: Any) -> None:
        self._unsettled.discard(message)
        self._settle(super().requeue_message, message)

    def _settle(self, settle: Any, message: Any) -> None:
        # Nameko catches only amqp's ConnectionError here; a reset socket raises an OSError.
        # Either way the broker has taken the message back with the dead connection.
        try:
            settle(message)
        except CONNECTION_ERRORS as error:
            log.warning("message not settled, the connection is gone (%r); redelivered", error)

    # -- kombu ConsumerMixin hooks ------------------------------------------------
    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        # A new connection: deliveries of the old one are void (the broker requeued them).
        self._unsettled.clear()
        self._cancelled = False
        self._subscriptions = super().get_consumers(consumer_cls, channel)
        return self._subscriptions

    def on_consume_ready(
        self, connection: Any, channel: Any, consumers: Any, **kwargs: Any
    ) -> None:
        self.connected = True
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def on_consume_end(self, connection: Any, channel: Any) -> None:
        self.connected = False

    def on_connection_error(self, exc: Any, interval: Any) -> None:
        self.connected = False
        super().on_connection_error(exc, interval)

    def on_iteration(self) -> None:
        """Runs once per loop of the consumer (at least every second)."""
        if not self.draining:
            return
        if not self._cancelled:
            self._cancel_subscriptions()
        if not self._unsettled:
            self.should_stop = True

    def _cancel_subscriptions(self) -> None:
        self._cancelled = True
        for subscription in self._subscriptions:
            try:
                subscription.cancel()
            except Exception as error:  # the connection is going away anyway
                log.warning("could not cancel a subscription while draining: %s", error)
        if self._unsettled:
            log.info("draining: waiting for %d running worker(s) to finish", self.unsettled)


def install() -> None:
    """Make every RPC and event-handler entrypoint use :class:`GracefulConsumer`, and
    every RPC entrypoint survive a reply it cannot send."""
    from nameko.messaging import Consumer as ConsumerEntrypoint
    from nameko.rpc import RpcConsumer

    ConsumerEntrypoint.consumer_cls = GracefulConsumer
    RpcConsumer.consumer_cls = GracefulConsumer
    if not getattr(RpcConsumer.handle_result, "survives_lost_connection", False):
        RpcConsumer.handle_result = _reply_or_log(RpcConsumer.handle_result)


def _reply_or_log(handle_result: Any) -> Any:
    """Nameko's RPC reply and ack, except that a connection the broker dropped (a
    restart) is logged instead of raised: raised, it kills the whole container and
    with it every other worker. The call's work is committed; its caller waits in
    vain and retries. The unacked request goes back to the queue with the dead
    connection and is delivered again, so an RPC method must be safe to repeat
    (they either are, or refuse the repeat with 409)."""

    def reply_or_log(self: Any, message: Any, result: Any, exc_info: Any) -> Any:
        try:
            return handle_result(self, message, result, exc_info)
        except CONNECTION_ERRORS as error:
            method = message.delivery_info.get("routing_key")
            log.error("could not reply to %s (the broker connection is gone): %r", method, error)
            return result, exc_info

    reply_or_log.survives_lost_connection = True  # type: ignore[attr-defined]
    return reply_or_log


def consumers_of(container: Any) -> list[GracefulConsumer]:
    """The graceful AMQP consumers a running container owns (RPC and events)."""
    found: dict[int, GracefulConsumer] = {}
    for entrypoint in container.entrypoints:
        for owner in (entrypoint, getattr(entrypoint, "rpc_consumer", None)):
            consumer = getattr(owner, "consumer", None)
            if isinstance(consumer, GracefulConsumer):
                found[id(consumer)] = consumer
    return list(found.values())


def consumed_queues(container: Any) -> list[str]:
    """Names of the queues the container's entrypoints consume from."""
    names: set[str] = set()
    for entrypoint in container.entrypoints:
        for owner in (entrypoint, getattr(entrypoint, "rpc_consumer", None)):
            queue = getattr(owner, "queue", None)
            if queue is not None and getattr(queue, "name", None):
                names.add(queue.name)
    return sorted(names)
