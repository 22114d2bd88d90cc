"""marshmallow schemas: identity_gateway's RPC answers and published events."""

from __future__ import annotations

from marshmallow import Schema, fields

from wpis_common.envelope import EventCatalog, EventSpec


class AttestationPayloadSchema(Schema):
    attestation_id = fields.String(required=True)
    issuer = fields.String(required=True)
    verification_id = fields.String(required=True)
    application_id = fields.String(required=True)
    subject = fields.String(required=True, allow_none=True)
    document_type = fields.String(required=True)
    document_country = fields.String(required=True)
    document_fingerprint = fields.String(required=True)
    outcome = fields.String(required=True)
    checked_at = fields.String(required=True)
    expires_at = fields.String(required=True)


class AttestationSchema(Schema):
    """A signed attestation: Ed25519 over the canonical JSON of ``payload``."""

    payload = fields.Nested(AttestationPayloadSchema, required=True)
    signature = fields.String(required=True)
    key_id = fields.String(required=True)


class IdentityVerifiedSchema(Schema):
    verification_id = fields.String(required=True)
    application_id = fields.String(required=True)
    outcome = fields.String(required=True)
    reason = fields.String(required=True)
    attestation = fields.Nested(AttestationSchema, required=True)


class IdentityRejectedSchema(Schema):
    verification_id = fields.String(required=True)
    application_id = fields.String(required=True)
    outcome = fields.String(required=True)
    reason = fields.String(required=True)
    mismatched_fields = fields.List(fields.String(), required=True)


class IdentityCheckDeferredSchema(Schema):
    verification_id = fields.String(required=True)
    application_id = fields.String(required=True)
    outcome = fields.String(required=True)
    reason = fields.String(required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.AwareDateTime(required=True, format="iso")


class VerificationSchema(Schema):
    id = fields.String()
    application_id = fields.String()
    status = fields.String()
    outcome = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    mismatched_fields = fields.List(fields.String(), allow_none=True)
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime(allow_none=True, format="iso")
    created_at = fields.AwareDateTime(format="iso")
    completed_at = fields.AwareDateTime(allow_none=True, format="iso")


EVENTS = EventCatalog(
    EventSpec("identity_verified", IdentityVerifiedSchema, 1, "The IDMS vouched for the worker."),
    EventSpec("identity_rejected", IdentityRejectedSchema, 1, "The identity check failed."),
    EventSpec(
        "identity_check_deferred",
        IdentityCheckDeferredSchema,
        1,
        "The IDMS could not be reached; the check will be retried.",
    ),
)
