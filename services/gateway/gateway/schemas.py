"""marshmallow schemas for the gateway's own payloads (and the OpenAPI document).

Application, permit and contract payloads are validated by the service that
owns them; the gateway passes the parsed JSON through and maps the answer.
"""

from __future__ import annotations

from marshmallow import Schema, fields
from marshmallow import fields as f

from wpis_common.envelope import EnvelopeSchema, EventCatalog


class ErrorDetailSchema(Schema):
    code = fields.String(
        required=True,
        metadata={"description": "machine-readable, e.g. invalid_request, not_found, conflict"},
    )
    message = fields.String(required=True, metadata={"description": "for a person"})
    fields = f.Dict(
        keys=f.String(),
        values=f.List(f.String()),
        required=True,
        metadata={"description": "field path -> reasons; empty when no field is at fault"},
    )
    details = f.Dict(metadata={"description": "extra facts, e.g. allowed_actions"})


class ErrorSchema(Schema):
    """Every 4xx/5xx answer of the gateway (docs/api.md)."""

    error = fields.Nested(ErrorDetailSchema, required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "deprecated copy of error.fields, present when it is not empty"},
    )


class HealthSchema(Schema):
    status = fields.String(required=True)
    broker = fields.String(required=True)


class IdentityChecksSchema(Schema):
    application_id = fields.String(required=True)
    checks = fields.List(fields.Dict(), required=True)


class EventPageSchema(Schema):
    producer = fields.String(required=True)
    after = fields.Integer(required=True)
    events = fields.List(fields.Nested(EnvelopeSchema), required=True)
    next_after = fields.Integer(required=True)


EVENTS = EventCatalog()  # the gateway publishes no events
