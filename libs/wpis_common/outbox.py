"""The outbox relay: publishes committed events, in sequence, with confirms.

The relay first hands out the per-producer sequence numbers (under a row lock
on ``outbox_sequence``, so they are gap-free even with several relays), then
publishes every numbered, unsent event to ``<producer>.events`` with the event
type as routing key, waiting for the broker's confirm, and marks it sent.
A crash after publishing and before marking re-publishes the same event (same
``event_id`` and ``sequence``): delivery is at least once and consumers are
idempotent. A rolled-back transaction never wrote its outbox rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kombu import Exchange
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from wpis_common.envelope import Envelope, utc_now
from wpis_common.tables import MessagingTables

log = logging.getLogger(__name__)

PublishFn = Callable[[Envelope], None]


def event_exchange(producer: str) -> Exchange:
    """The same exchange Nameko declares for ``producer``'s events."""
    return Exchange(
        f"{producer}.events",
        type="topic",
        durable=True,
        delivery_mode=PERSISTENT,
        auto_delete=False,
    )


class AmqpEventPublisher:
    """Publishes envelopes as persistent JSON messages, waiting for each confirm."""

    def __init__(self, amqp_uri: str, producer: str, mandatory: bool = False):
        self._exchange = event_exchange(producer)
        self._mandatory = mandatory
        self._publisher = Publisher(
            amqp_uri,
            use_confirms=True,
            serializer="json",
            delivery_mode=PERSISTENT,
            declare=[self._exchange],
        )

    def __call__(self, envelope: Envelope) -> None:
        self._publisher.publish(
            envelope.to_message(),
            exchange=self._exchange,
            routing_key=envelope.event_type,
            mandatory=self._mandatory,
            message_id=envelope.event_id,
            type=envelope.event_type,
            timestamp=int(envelope.occurred_at.timestamp()),
            retry=False,
        )


class OutboxRelay:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        tables: MessagingTables,
        producer: str,
        publish: PublishFn,
        poll_interval: float = 1.0,
        batch_size: int = 200,
    ):
        self._session_factory = session_factory
        self._tables = tables
        self.producer = producer
        self._publish = publish
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._wakeup = threading.Event()
        self._stopped = threading.Event()

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wakeup.set()

    def run(self) -> None:
        """Relay until stopped: on every wake-up, and every poll interval."""
        backoff = self._poll_interval
        while not self._stopped.is_set():
            self._wakeup.wait(backoff)
            self._wakeup.clear()
            try:
                while self.relay_once() == self._batch_size:
                    pass
                backoff = self._poll_interval
            except Exception:
                backoff = min(max(backoff * 2, 0.5), 30.0)
                log.exception(
                    "outbox relay for %s failed; retrying in %.1fs", self.producer, backoff
                )

    def relay_once(self) -> int:
        """Number and publish one batch; returns how many were published."""
        self.assign_sequences()
        return self.publish_pending()

    def assign_sequences(self) -> int:
        outbox, counter = self._tables.outbox, self._tables.outbox_sequence
        lock_counter = (
            select(counter.c.last_sequence)
            .where(counter.c.producer == self.producer)
            .with_for_update()
        )
        with self._session_factory() as session, session.begin():
            last = session.execute(lock_counter).scalar_one_or_none()
            if last is None:
                # Another relay may be creating the same row right now: let it win.
                dialect = session.get_bind().dialect.name
                insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
                session.execute(
                    insert(counter)
                    .values(producer=self.producer, last_sequence=0)
                    .on_conflict_do_nothing(index_elements=[counter.c.producer])
                )
                last = session.execute(lock_counter).scalar_one()
            ids = (
                session.execute(
                    select(outbox.c.id)
                    .where(outbox.c.sequence.is_(None))
                    .order_by(outbox.c.id)
                    .limit(self._batch_size)
                )
                .scalars()
                .all()
            )
            if not ids:
                return 0
            numbering = [{"row_id": row_id, "seq": last + n} for n, row_id in enumerate(ids, 1)]
            session.execute(
                update(outbox)
                .where(outbox.c.id == bindparam("row_id"))
                .values(sequence=bindparam("seq")),
                numbering,
            )
            session.execute(
                update(counter)
                .where(counter.c.producer == self.producer)
                .values(last_sequence=last + len(ids))
            )
            return len(ids)

    def publish_pending(self) -> int:
        outbox = self._tables.outbox
        with self._session_factory() as session:
            rows = session.execute(
                select(outbox)
                .where(outbox.c.published_at.is_(None), outbox.c.sequence.is_not(None))
                .order_by(outbox.c.sequence)
                .limit(self._batch_size)
            ).all()
        published: list[int] = []
        try:
            for row in rows:
                self._publish(envelope_from_row(row))
                published.append(row.id)
        finally:
            self._mark_published(published)
        return len(published)

    def _mark_published(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        outbox = self._tables.outbox
        with self._session_factory() as session, session.begin():
            session.execute(
                update(outbox).where(outbox.c.id.in_(row_ids)).values(published_at=utc_now())
            )


def envelope_from_row(row: Any) -> Envelope:
    return Envelope(
        event_id=row.event_id,
        event_type=row.event_type,
        schema_version=row.schema_version,
        occurred_at=row.occurred_at,
        producer=row.producer,
        sequence=row.sequence,
        data=row.data,
    )
