"""The one envelope every WPIS event travels in, and the event catalog type.

Every published event type has a marshmallow schema for its ``data`` and a
``schema_version``; a service lists them in an :class:`EventCatalog`, and the
unit of work refuses to emit an event the catalog does not know.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate


class EnvelopeSchema(Schema):
    class Meta:
        # Forward compatible: a consumer ignores envelope fields added later.
        unknown = EXCLUDE

    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    schema_version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, format="iso")
    producer = fields.String(required=True, validate=validate.Length(min=1, max=60))
    sequence = fields.Integer(required=True, validate=validate.Range(min=1))
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class Envelope:
    event_id: str
    event_type: str
    schema_version: int
    occurred_at: datetime
    producer: str
    sequence: int
    data: dict[str, Any]

    @classmethod
    def parse(cls, body: Any) -> Envelope:
        """Validate a received message body; raises ValidationError."""
        if not isinstance(body, dict):
            raise ValidationError({"_schema": ["event body must be a JSON object"]})
        loaded = EnvelopeSchema().load(body)
        return cls(
            event_id=str(loaded["event_id"]),
            event_type=loaded["event_type"],
            schema_version=loaded["schema_version"],
            occurred_at=loaded["occurred_at"],
            producer=loaded["producer"],
            sequence=loaded["sequence"],
            data=loaded["data"],
        )

    def to_message(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            "producer": self.producer,
            "sequence": self.sequence,
            "data": self.data,
        }


@dataclass(frozen=True)
class EventSpec:
    """One published event type: its data schema and version."""

    event_type: str
    schema: type[Schema]
    version: int = 1
    description: str = ""

    def serialize(self, data: dict[str, Any]) -> dict[str, Any]:
        """Check ``data`` against the schema and return its JSON-ready form.

        Accepts Python values (dates, datetimes) or their ISO strings alike.
        """
        schema = self.schema()
        loaded = schema.load(to_jsonable(data))
        return schema.dump(loaded)


class EventCatalog(dict[str, EventSpec]):
    """The events a service publishes, by type."""

    def __init__(self, *specs: EventSpec):
        super().__init__((spec.event_type, spec) for spec in specs)

    def spec(self, event_type: str) -> EventSpec:
        try:
            return self[event_type]
        except KeyError:
            raise KeyError(f"event type {event_type!r} is not in this service's catalog") from None


def to_jsonable(value: Any) -> Any:
    """Dates and datetimes to ISO strings, recursively; the rest unchanged."""
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)
