"""Idempotent event consumers.

``@consume_event(source, event_type)`` subscribes a service method to an
event with a durable, service-pooled queue, parses the envelope, and runs the
method inside one unit of work that also records the event id in the
consumer's inbox. A redelivered event whose id is already in the inbox is
acknowledged and skipped; two racing deliveries cannot both commit (the inbox
primary key refuses the second, which rolls back whole).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError
from nameko.events import EventHandler
from nameko.messaging import Consumer
from sqlalchemy import insert, select

from wpis_common.db import UnitOfWork
from wpis_common.envelope import Envelope, utc_now

log = logging.getLogger(__name__)

Handler = Callable[[Any, Envelope, UnitOfWork], Any]


class WpisEventHandler(EventHandler):
    """Nameko's event handler, with the queue defined in :mod:`wpis_common.topology`."""

    def setup(self) -> None:
        from wpis_common.topology import Subscription

        subscription = Subscription(
            self.source_service, self.event_type, self.container.service_name, self.method_name
        )
        self.queue = subscription.queue()
        Consumer.setup(self)


def consume_event(source: str, event_type: str, db_attr: str = "db") -> Callable[[Handler], Any]:
    def decorate(fn: Handler) -> Any:
        @functools.wraps(fn)
        def handle(self: Any, body: Any) -> Any:
            try:
                envelope = Envelope.parse(body)
            except ValidationError as error:
                log.error("dropping malformed %s event: %s", event_type, error.messages)
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
