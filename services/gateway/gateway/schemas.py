"""marshmallow schemas for the gateway's own payloads.

Application, permit and contract payloads are validated by the service that
owns them; the gateway passes the parsed JSON through and maps the answer.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from wpis_common.envelope import EventCatalog


class ErrorSchema(Schema):
    error = fields.String(required=True)
    message = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class HealthSchema(Schema):
    status = fields.String(required=True)
    broker = fields.String(required=True)


EVENTS = EventCatalog()  # the gateway publishes no events
