"""marshmallow schemas: the permit register's answers and published events."""

from __future__ import annotations

from marshmallow import Schema, fields

from wpis_common.envelope import EventCatalog, EventSpec


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


class PublicVerificationSchema(Schema):
    """The public answer: validity and the employer, no personal data."""

    number = fields.String()
    valid = fields.Boolean()
    status = fields.String(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    employer_name = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    checked_at = fields.AwareDateTime(format="iso")


EVENTS = EventCatalog(
    EventSpec("permit_issued", PermitIssuedSchema, 1, "A work permit was entered in the register."),
    EventSpec(
        "permit_issuance_refused",
        PermitRefusedSchema,
        1,
        "An approved application got no permit (e.g. no valid identity attestation).",
    ),
)
