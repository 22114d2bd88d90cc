"""marshmallow schemas: the delivery log and webhook endpoints as RPC callers see
them, the queries and registrations they send, and the published events."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from notifications import domain
from wpis_common.envelope import EventCatalog, EventSpec


class DeliverySchema(Schema):
    id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    application_id = fields.String()
    recipient_role = fields.String()
    recipient = fields.String()
    channel = fields.String()
    template = fields.String()
    language = fields.String()
    subject = fields.String()
    body = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime(format="iso", allow_none=True)
    last_error = fields.String(allow_none=True)
    sent_at = fields.AwareDateTime(format="iso", allow_none=True)
    created_at = fields.AwareDateTime(format="iso")


class DeliveryQuerySchema(Schema):
    """Filters of the delivery log (``GET /api/v1/notifications?...``)."""

    application_id = fields.String(validate=validate.Length(min=1, max=36))
    status = fields.String(validate=validate.OneOf(domain.STATUSES))
    channel = fields.String(validate=validate.OneOf((domain.EMAIL, domain.SMS, domain.WEBHOOK)))
    event_type = fields.String(validate=validate.Length(min=1, max=100))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class RegisterEndpointSchema(Schema):
    agency = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=100),
            validate.Regexp(r"^\s*\S", error="must not be blank"),
        ],
    )
    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=500),
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf((domain.ALL_EVENTS, *domain.WEBHOOK_EVENT_TYPES))),
        required=True,
        validate=validate.Length(min=1),
    )


class EndpointSchema(Schema):
    id = fields.String()
    agency = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.AwareDateTime(format="iso")
    removed_at = fields.AwareDateTime(format="iso", allow_none=True)


class RegisteredEndpointSchema(EndpointSchema):
    """Only the answer to a registration shows the secret: keep it, it is not shown again."""

    secret = fields.String()


# -- published events ---------------------------------------------------------


class NotificationFailedSchema(Schema):
    delivery_id = fields.String(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    application_id = fields.String(required=True)
    channel = fields.String(required=True)
    recipient_role = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True)
    failed_at = fields.AwareDateTime(required=True, format="iso")


EVENTS = EventCatalog(
    EventSpec(
        "notification_failed",
        NotificationFailedSchema,
        1,
        "A notice or webhook call could not be delivered after its last retry.",
    ),
)
