"""marshmallow schemas: identity_gateway's RPC answers and published events."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from identity_gateway.domain import ALL_CHECKS, DOCUMENT_CHANGES, PERSON_CHANGES, Outcome
from wpis_common.envelope import EventCatalog, EventSpec

FINGERPRINT = validate.Regexp(r"^[0-9a-f]{64}$", error="must be a sha256 hex digest")
FINAL_OUTCOMES = [outcome.value for outcome in Outcome if outcome != Outcome.UNAVAILABLE]
CHANGES = sorted(DOCUMENT_CHANGES | PERSON_CHANGES)


class AttestationPayloadSchema(Schema):
    attestation_id = fields.String(required=True)
    issuer = fields.String(required=True)
    verification_id = fields.String(required=True)
    application_id = fields.String(required=True)
    subject = fields.String(required=True, validate=FINGERPRINT)
    subject_type = fields.String(required=True)
    document_type = fields.String(required=True)
    document_country = fields.String(required=True)
    document_fingerprint = fields.String(required=True, validate=FINGERPRINT)
    outcome = fields.String(required=True, validate=validate.OneOf(FINAL_OUTCOMES))
    reason = fields.String(required=True)
    checks_performed = fields.List(
        fields.String(validate=validate.OneOf(ALL_CHECKS)), required=True
    )
    issued_at = fields.String(required=True)
    expires_at = fields.String(required=True)


class AttestationSchema(Schema):
    """A signed attestation: Ed25519 over the canonical JSON of ``payload``; ``key_id``
    names the signing key (the first 16 hex digits of sha256 of its raw public key)."""

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
    attestation = fields.Nested(AttestationSchema, required=True)


class IdentityCheckDeferredSchema(Schema):
    verification_id = fields.String(required=True)
    application_id = fields.String(required=True)
    outcome = fields.String(required=True)
    reason = fields.String(required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.AwareDateTime(required=True, format="iso")


class IdentityStatusChangedSchema(Schema):
    """The IDMS reported a change about a document this gateway verified. No personal
    data: the document fingerprint, its issuing country and the kind of change."""

    subject = fields.String(required=True, validate=FINGERPRINT)
    document_country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    change = fields.String(required=True, validate=validate.OneOf(CHANGES))
    reported_at = fields.AwareDateTime(required=True, format="iso")


class AuditEntrySchema(Schema):
    at = fields.AwareDateTime(format="iso")
    action = fields.String()
    requested_by = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    transaction_id = fields.String(allow_none=True)
    latency_ms = fields.Float(allow_none=True)
    detail = fields.String(allow_none=True)


class VerificationSchema(Schema):
    id = fields.String()
    application_id = fields.String()
    requested_by = fields.String(allow_none=True)
    status = fields.String()
    outcome = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    idms_codes = fields.List(fields.String(), allow_none=True)
    mismatched_fields = fields.List(fields.String(), allow_none=True)
    subject = fields.String(attribute="document_fingerprint")
    document_country = fields.String()
    attempts = fields.Integer()
    waiting_for_idms = fields.Boolean()
    transaction_id = fields.String(allow_none=True)
    idms_latency_ms = fields.Float(allow_none=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True, format="iso")
    created_at = fields.AwareDateTime(format="iso")
    deferred_at = fields.AwareDateTime(allow_none=True, format="iso")
    completed_at = fields.AwareDateTime(allow_none=True, format="iso")
    attestation = fields.Nested(AttestationSchema, allow_none=True)


EVENTS = EventCatalog(
    EventSpec("identity_verified", IdentityVerifiedSchema, 1, "The IDMS vouched for the worker."),
    EventSpec("identity_rejected", IdentityRejectedSchema, 1, "The identity check failed."),
    EventSpec(
        "identity_check_deferred",
        IdentityCheckDeferredSchema,
        1,
        "The IDMS could not be reached; the check will be retried.",
    ),
    EventSpec(
        "identity_status_changed",
        IdentityStatusChangedSchema,
        1,
        "The IDMS reported a verified document lost, stolen or revoked, or its holder "
        "banned or deceased.",
    ),
)
