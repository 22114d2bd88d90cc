"""marshmallow schemas: the permit register's answers and published events."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from wpis_common.envelope import EventCatalog, EventSpec
from wpis_common.permit_rules import PublicVerificationSchema  # noqa: F401  (ADR-014)


class HolderSchema(Schema):
    given_names = fields.String(required=True)
    surname = fields.String(required=True)
    date_of_birth = fields.Date(required=True)
    sex = fields.String(required=True)
    nationality = fields.String(required=True)
    passport_number = fields.String(required=True)
    passport_country = fields.String(required=True)


class EmployerRefSchema(Schema):
    tax_id = fields.String(required=True)
    name = fields.String(required=True)


class JobRefSchema(Schema):
    title = fields.String(required=True)
    isco_code = fields.String(required=True)
    region = fields.String(required=True)
    monthly_salary = fields.Integer(required=True)
    currency = fields.String(required=True)


class ContractTermsSchema(Schema):
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)


class PermitIssuedSchema(Schema):
    permit_number = fields.String(required=True)
    application_id = fields.String(required=True)
    status = fields.String(required=True)
    holder = fields.Nested(HolderSchema, required=True)
    employer = fields.Nested(EmployerRefSchema, required=True)
    job = fields.Nested(JobRefSchema, required=True)
    contract_terms = fields.Nested(ContractTermsSchema, required=True)
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    issued_at = fields.AwareDateTime(required=True, format="iso")


class PermitRefusedSchema(Schema):
    application_id = fields.String(required=True)
    reason = fields.String(required=True)


class PermitSchema(Schema):
    number = fields.String()
    application_id = fields.String()
    status = fields.String()
    holder = fields.Dict()
    employer = fields.Dict()
    job = fields.Dict()
    contract_terms = fields.Dict()
    valid_from = fields.Date()
    valid_until = fields.Date()
    issued_at = fields.AwareDateTime(format="iso")
    ends_on = fields.Date(allow_none=True)
    flagged_at = fields.AwareDateTime(format="iso", allow_none=True)
    flag_reason = fields.String(allow_none=True)
    allowed_actions = fields.List(fields.String())
    history = fields.List(fields.Dict())


class HistoryEntrySchema(Schema):
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    actor = fields.String()
    reason = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)
    at = fields.AwareDateTime(format="iso")


# -- requests (RPC payloads) ---------------------------------------------------------

REASON = validate.Length(min=1, max=500)
ACTOR = validate.Length(min=1, max=100)


class ExtendRequestSchema(Schema):
    valid_until = fields.Date(required=True)
    reason = fields.String(required=True, validate=REASON)
    by = fields.String(load_default="officer", validate=ACTOR)


class JobChangesSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=120))
    isco_code = fields.String(
        validate=validate.Regexp(r"^\d{4}$", error="an ISCO-08 unit group code: 4 digits")
    )
    region = fields.String(
        validate=validate.Regexp(r"^AM-[A-Z]{2}$", error="an ISO 3166-2:AM code, e.g. AM-ER")
    )
    monthly_salary = fields.Integer(strict=True, validate=validate.Range(min=1))
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="an ISO 4217 code"))


class AmendRequestSchema(Schema):
    changes = fields.Nested(JobChangesSchema, required=True)
    reason = fields.String(required=True, validate=REASON)
    by = fields.String(load_default="officer", validate=ACTOR)


class ReasonedRequestSchema(Schema):
    """suspend, reinstate, revoke: who and why."""

    reason = fields.String(required=True, validate=REASON)
    by = fields.String(load_default="officer", validate=ACTOR)


class CancelRequestSchema(Schema):
    reason = fields.String(required=True, validate=REASON)
    by = fields.String(load_default="employer", validate=ACTOR)
    cancelled_on = fields.Date(load_default=None)


class VerifyRequestSchema(Schema):
    date_of_birth = fields.Date(load_default=None)
    client = fields.String(load_default=None, validate=validate.Length(max=64))


# -- lifecycle events (see docs/permits.md) -----------------------------------------


class PermitRefSchema(Schema):
    permit_number = fields.String(required=True)
    application_id = fields.String(required=True)


class PermitExtendedSchema(PermitRefSchema):
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    previous_valid_until = fields.Date(required=True)
    reason = fields.String(required=True)


class PermitAmendedSchema(PermitRefSchema):
    changes = fields.Nested(JobChangesSchema, required=True)
    reason = fields.String(required=True)


class PermitSuspensionSchema(PermitRefSchema):
    """permit_suspended and permit_reinstated."""

    reason = fields.String(required=True)
    by = fields.String(required=True)


class PermitRevokedSchema(PermitRefSchema):
    reason = fields.String(required=True)
    revoked_by = fields.String(required=True)
    revoked_on = fields.Date(required=True)


class PermitCancelledSchema(PermitRefSchema):
    cancelled_on = fields.Date(required=True)
    reason = fields.String(required=True)
    cancelled_by = fields.String(required=True)


class PermitExpiredSchema(PermitRefSchema):
    expired_on = fields.Date(required=True)


class PermitFlaggedSchema(PermitRefSchema):
    reason = fields.String(required=True)
    flagged_at = fields.AwareDateTime(required=True, format="iso")


# -- consumed events ---------------------------------------------------------------


class IdentityStatusChangedSchema(Schema):
    subject = fields.String(required=True, validate=validate.Length(equal=64))
    document_country = fields.String(load_default=None)
    change = fields.String(required=True, validate=validate.Length(min=1, max=40))
    reported_at = fields.AwareDateTime(load_default=None, format="iso")


class ContractTerminatedSchema(Schema):
    contract_id = fields.String(load_default=None)
    permit_number = fields.String(required=True)
    application_id = fields.String(load_default=None)
    employer_tax_id = fields.String(load_default=None)
    terminated_on = fields.Date(required=True)
    reason = fields.String(load_default="contract terminated")
    terminated_by = fields.String(load_default="employer")
    reported_at = fields.String(load_default=None)


EVENTS = EventCatalog(
    EventSpec("permit_issued", PermitIssuedSchema, 1, "A work permit was entered in the register."),
    EventSpec(
        "permit_issuance_refused",
        PermitRefusedSchema,
        1,
        "An approved application got no permit (e.g. no valid identity attestation).",
    ),
    EventSpec("permit_extended", PermitExtendedSchema, 1, "A permit got a later end of validity."),
    EventSpec("permit_amended", PermitAmendedSchema, 1, "A permit's job details were changed."),
    EventSpec("permit_suspended", PermitSuspensionSchema, 1, "A permit was suspended."),
    EventSpec("permit_reinstated", PermitSuspensionSchema, 1, "A suspended permit is valid again."),
    EventSpec("permit_revoked", PermitRevokedSchema, 1, "An officer revoked a permit."),
    EventSpec(
        "permit_cancelled",
        PermitCancelledSchema,
        1,
        "A permit was cancelled from a date (contract terminated or employer request).",
    ),
    EventSpec("permit_expired", PermitExpiredSchema, 1, "A permit's validity ran out."),
    EventSpec(
        "permit_flagged",
        PermitFlaggedSchema,
        1,
        "The identity system reported a change about a valid permit's holder: review it.",
    ),
)
