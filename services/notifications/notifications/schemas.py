"""marshmallow schemas: the delivery log as admin queries see it."""

from __future__ import annotations

from marshmallow import Schema, fields

from wpis_common.envelope import EventCatalog


class DeliverySchema(Schema):
    id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    application_id = fields.String()
    recipient_role = fields.String()
    recipient = fields.String()
    channel = fields.String()
    template = fields.String()
    subject = fields.String()
    body = fields.String()
    status = fields.String()
    created_at = fields.AwareDateTime(format="iso")


EVENTS = EventCatalog()  # notification_failed arrives with real delivery channels
