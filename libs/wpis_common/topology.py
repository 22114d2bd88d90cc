"""Broker topology: event exchanges and the durable queues that consume them.

Queue names and arguments are defined once here and used both by the
services' event handlers and by ``wpis-declare``, the deploy step that
declares every consumer queue before any producer publishes (an event
published to an exchange with no bound queue is dropped by RabbitMQ).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kombu import Connection, Queue
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from wpis_common.outbox import event_exchange

log = logging.getLogger(__name__)

SERVICE_MODULES = (
    "applications.service",
    "identity_gateway.service",
    "permits.service",
    "contracts.service",
    "notifications.service",
    "gateway.service",
)
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass(frozen=True)
class Subscription:
    source: str
    event_type: str
    service: str
    method: str

    @property
    def queue_name(self) -> str:
        # Nameko's SERVICE_POOL naming, so queues match what Nameko would build.
        return f"evt-{self.source}-{self.event_type}--{self.service}.{self.method}"

    def queue(self) -> Queue:
        return Queue(
            self.queue_name,
            exchange=event_exchange(self.source),
            routing_key=self.event_type,
            durable=True,
            auto_delete=False,
            exclusive=False,
        )


def subscriptions_of(service_cls: type) -> Iterator[Subscription]:
    """The event subscriptions a Nameko service class declares."""
    from wpis_common.consumers import WpisEventHandler

    for method_name in dir(service_cls):
        method = getattr(service_cls, method_name, None)
        for extension in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(extension, WpisEventHandler):
                yield Subscription(
                    extension.source_service, extension.event_type, service_cls.name, method_name
                )


def service_classes(module_names: Iterable[str] = SERVICE_MODULES) -> Iterator[type]:
    for module_name in module_names:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module_name
                and hasattr(value, "name")
            ):
                yield value


def all_subscriptions(module_names: Iterable[str] = SERVICE_MODULES) -> list[Subscription]:
    return [sub for cls in service_classes(module_names) for sub in subscriptions_of(cls)]


def declare(amqp_uri: str, subscriptions: Iterable[Subscription], producers: Iterable[str]) -> int:
    """Declare the producers' exchanges and the subscribers' queues; idempotent."""
    subscriptions = list(subscriptions)
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        for producer in sorted(set(producers) | {sub.source for sub in subscriptions}):
            event_exchange(producer)(channel).declare()
        for sub in subscriptions:
            sub.queue()(channel).declare()
    return len(subscriptions)


def declare_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Declare WPIS exchanges and consumer queues.")
    parser.add_argument("--amqp-uri", default=None, help="default: $AMQP_URI or local guest")
    args = parser.parse_args(argv)
    import os

    amqp_uri = args.amqp_uri or os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)
    classes = list(service_classes())
    producers = [cls.name for cls in classes]
    count = declare(amqp_uri, (s for c in classes for s in subscriptions_of(c)), producers)
    print(f"declared {len(producers)} event exchanges and {count} consumer queues")
    return 0


if __name__ == "__main__":
    sys.exit(declare_main())
