"""marshmallow schemas: what crosses the applications service's boundary."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from wpis_common.envelope import EventCatalog, EventSpec

ALPHA3 = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 3166-1 alpha-3 code, e.g. IND")
ARMENIA_REGIONS = (
    "AM-ER", "AM-AG", "AM-AR", "AM-AV", "AM-GR", "AM-KT",
    "AM-LO", "AM-SH", "AM-SU", "AM-TV", "AM-VD",
)  # fmt: skip


def not_blank(max_length: int) -> validate.Validator:
    return validate.And(
        validate.Length(min=1, max=max_length),
        validate.Regexp(r"^\s*\S", error="must not be blank"),
    )


class EmployerSchema(Schema):
    tax_id = fields.String(
        required=True, validate=validate.Regexp(r"^\d{8}$", error="must be an 8-digit tax id")
    )
    name = fields.String(required=True, validate=not_blank(200))
    email = fields.Email(required=True)


class PassportSchema(Schema):
    number = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Z0-9]{5,20}$", error="must be 5-20 capital letters or digits"
        ),
    )
    issuing_country = fields.String(required=True, validate=ALPHA3)
    expiry_date = fields.Date(required=True)


class WorkerSchema(Schema):
    given_names = fields.String(required=True, validate=not_blank(100))
    surname = fields.String(required=True, validate=not_blank(100))
    date_of_birth = fields.Date(required=True)
    sex = fields.String(required=True, validate=validate.OneOf(["M", "F", "X"]))
    nationality = fields.String(required=True, validate=ALPHA3)
    email = fields.Email(required=True)
    passport = fields.Nested(PassportSchema, required=True)


class JobSchema(Schema):
    title = fields.String(required=True, validate=not_blank(200))
    isco_code = fields.String(
        required=True, validate=validate.Regexp(r"^\d{4}$", error="must be a 4-digit ISCO-08 code")
    )
    region = fields.String(required=True, validate=validate.OneOf(ARMENIA_REGIONS))
    monthly_salary = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    currency = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code")
    )


class ContractTermsSchema(Schema):
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)

    @validates_schema
    def end_after_start(self, data: dict, **_kwargs: object) -> None:
        if data["end_date"] <= data["start_date"]:
            raise ValidationError("must be after start_date", field_name="end_date")


class SubmitApplicationSchema(Schema):
    employer = fields.Nested(EmployerSchema, required=True)
    worker = fields.Nested(WorkerSchema, required=True)
    job = fields.Nested(JobSchema, required=True)
    contract = fields.Nested(ContractTermsSchema, required=True)


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    officer = fields.String(load_default="officer", validate=validate.Length(min=1, max=100))

    @validates_schema
    def rejection_needs_reason(self, data: dict, **_kwargs: object) -> None:
        if data["decision"] == "reject" and not data.get("reason", "").strip():
            raise ValidationError("a rejection needs a reason", field_name="reason")


class IdentityResultSchema(Schema):
    verification_id = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    checked_at = fields.AwareDateTime(allow_none=True, format="iso")


class HistoryEntrySchema(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    action = fields.String()
    actor = fields.String()
    reason = fields.String(allow_none=True)
    at = fields.AwareDateTime(format="iso")


class ApplicationSchema(Schema):
    """An application as RPC callers and the HTTP API see it."""

    id = fields.String()
    status = fields.String()
    employer = fields.Dict()
    worker = fields.Dict()
    job = fields.Dict()
    contract = fields.Dict()
    identity = fields.Nested(IdentityResultSchema)
    decision = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    permit_number = fields.String(allow_none=True)
    contract_id = fields.String(allow_none=True)
    allowed_actions = fields.List(fields.String())
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")
    history = fields.List(fields.Nested(HistoryEntrySchema))


# -- published events ---------------------------------------------------------


class ApplicationSubmittedSchema(Schema):
    application_id = fields.String(required=True)
    employer = fields.Nested(EmployerSchema, required=True)
    worker = fields.Nested(WorkerSchema, required=True)
    job = fields.Nested(JobSchema, required=True)
    contract = fields.Nested(ContractTermsSchema, required=True)
    submitted_at = fields.AwareDateTime(required=True, format="iso")


class ApplicationApprovedSchema(ApplicationSubmittedSchema):
    attestation = fields.Dict(required=True)
    decided_by = fields.String(required=True)
    decided_at = fields.AwareDateTime(required=True, format="iso")


class ApplicationRejectedSchema(Schema):
    application_id = fields.String(required=True)
    employer = fields.Nested(EmployerSchema, required=True)
    worker_email = fields.Email(required=True)
    reason = fields.String(required=True)
    rejected_by = fields.String(required=True)
    decided_at = fields.AwareDateTime(required=True, format="iso")


EVENTS = EventCatalog(
    EventSpec("application_submitted", ApplicationSubmittedSchema, 1, "An employer filed a case."),
    EventSpec("application_approved", ApplicationApprovedSchema, 1, "An officer approved a case."),
    EventSpec(
        "application_rejected",
        ApplicationRejectedSchema,
        1,
        "A case was refused, by an officer or by a failed identity check.",
    ),
)
