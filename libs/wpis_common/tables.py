"""The messaging tables every service database carries beside its own.

``outbox``: events written in the same transaction as the state change they
describe; the relay assigns the per-producer sequence and publishes them.
Once sent, the outbox is the producer's event log (replay reads it).
``outbox_sequence``: the last sequence number handed out, per producer.
``inbox``: the event ids each consumer has applied, for idempotency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite keeps no zone, so without this it would hand back naive values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    outbox_sequence: Table
    inbox: Table


def outbox_columns() -> list[Column]:
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("schema_version", Integer, nullable=False),
        Column("producer", String(60), nullable=False),
        Column("occurred_at", UTCDateTime(), nullable=False),
        Column("data", JSON, nullable=False),
        Column("sequence", BigInteger, nullable=True, unique=True),
        Column("published_at", UTCDateTime(), nullable=True),
    ]


def outbox_sequence_columns() -> list[Column]:
    return [
        Column("producer", String(60), primary_key=True),
        Column("last_sequence", BigInteger, nullable=False),
    ]


def inbox_columns() -> list[Column]:
    return [
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("applied_at", UTCDateTime(), nullable=False),
    ]


def messaging_tables(metadata: MetaData) -> MessagingTables:
    """Declare the messaging tables on a service's metadata."""
    outbox = Table("outbox", metadata, *outbox_columns())
    Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.id)
    return MessagingTables(
        outbox=outbox,
        outbox_sequence=Table("outbox_sequence", metadata, *outbox_sequence_columns()),
        inbox=Table("inbox", metadata, *inbox_columns()),
    )
