"""marshmallow schemas: contracts' requests, answers and published events."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from wpis_common.envelope import EventCatalog, EventSpec

ARMENIA_REGIONS = (
    "AM-ER", "AM-AG", "AM-AR", "AM-AV", "AM-GR", "AM-KT",
    "AM-LO", "AM-SH", "AM-SU", "AM-TV", "AM-VD",
)  # fmt: skip
ACTORS = ("employer", "officer")
ISCO_FORMAT = validate.Regexp(r"^\d{4}$", error="must be a 4-digit ISCO-08 code")


def not_blank(max_length: int) -> validate.Validator:
    return validate.And(
        validate.Length(min=1, max=max_length),
        validate.Regexp(r"^\s*\S", error="must not be blank"),
    )


# -- answers ---------------------------------------------------------------------------


class ContractSchema(Schema):
    id = fields.String()
    permit_number = fields.String()
    application_id = fields.String()
    status = fields.String()
    employer_tax_id = fields.String()
    employer_name = fields.String()
    worker = fields.Dict()
    job = fields.Dict()
    weekly_hours = fields.Integer()
    permit_coverage = fields.Dict()
    permit_mismatches = fields.List(fields.Dict())
    start_date = fields.Date()
    end_date = fields.Date()
    registered_until = fields.Date()
    registered_at = fields.AwareDateTime(format="iso")
    employment_ended_on = fields.Date(allow_none=True)
    terminated_on = fields.Date(allow_none=True)
    termination_reason = fields.String(allow_none=True)
    terminated_by = fields.String(allow_none=True)
    reported_at = fields.AwareDateTime(format="iso", allow_none=True)
    reported_late = fields.Boolean(allow_none=True)
    report_due_on = fields.Date(allow_none=True)
    report_overdue_at = fields.AwareDateTime(format="iso", allow_none=True)
    version = fields.Integer()
    allowed_actions = fields.List(fields.String())


class HistoryEntrySchema(Schema):
    version = fields.Integer()
    change = fields.String()
    changes = fields.Dict()
    terms = fields.Dict()
    actor = fields.String()
    reason = fields.String(allow_none=True)
    at = fields.AwareDateTime(format="iso")


# -- requests --------------------------------------------------------------------------


class AmendRequestSchema(Schema):
    """New values for the terms that change; at least one."""

    job_title = fields.String(validate=not_blank(200))
    isco_code = fields.String(validate=ISCO_FORMAT)
    region = fields.String(validate=validate.OneOf(ARMENIA_REGIONS))
    monthly_salary = fields.Integer(strict=True, validate=validate.Range(min=1))
    weekly_hours = fields.Integer(strict=True, validate=validate.Range(min=1, max=168))
    reason = fields.String(required=True, validate=not_blank(500))
    amended_by = fields.String(load_default="employer", validate=validate.OneOf(ACTORS))
    expected_version = fields.Integer(strict=True, validate=validate.Range(min=1))

    TERMS = ("job_title", "isco_code", "region", "monthly_salary", "weekly_hours")

    @validates_schema
    def something_to_change(self, data: dict[str, Any], **_kwargs: object) -> None:
        if not any(name in data for name in self.TERMS):
            raise ValidationError(f"name at least one term to change: {', '.join(self.TERMS)}")


class TerminateRequestSchema(Schema):
    terminated_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=not_blank(500))
    terminated_by = fields.String(required=True, validate=validate.OneOf(ACTORS))


class EmploymentEndedRequestSchema(Schema):
    """An officer's record that the employment has in fact ended (e.g. an inspection)."""

    employment_ended_on = fields.Date(required=True)
    reason = fields.String(load_default=None, validate=validate.Length(max=500))
    recorded_by = fields.String(load_default="officer", validate=not_blank(100))


# -- published events ------------------------------------------------------------------


class ContractRegisteredSchema(Schema):
    contract_id = fields.String(required=True)
    permit_number = fields.String(required=True)
    application_id = fields.String(required=True)
    employer_tax_id = fields.String(required=True)
    employer_name = fields.String(required=True)
    job_title = fields.String(required=True)
    isco_code = fields.String(required=True)
    region = fields.String(required=True)
    monthly_salary = fields.Integer(required=True)
    currency = fields.String(required=True)
    weekly_hours = fields.Integer(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    registered_until = fields.Date(required=True)
    registered_at = fields.AwareDateTime(required=True, format="iso")


class ContractRefusedSchema(Schema):
    permit_number = fields.String(required=True)
    application_id = fields.String(required=True)
    reason = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), load_default=dict
    )


class ContractRefSchema(Schema):
    contract_id = fields.String(required=True)
    permit_number = fields.String(required=True)
    application_id = fields.String(required=True)


class ChangeSchema(Schema):
    from_ = fields.Raw(data_key="from", allow_none=True)
    to = fields.Raw(allow_none=True)


class ContractAmendedSchema(ContractRefSchema):
    version = fields.Integer(required=True)
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(ChangeSchema), required=True)
    reason = fields.String(required=True)
    amended_by = fields.String(required=True)
    amended_at = fields.AwareDateTime(required=True, format="iso")


class MismatchSchema(Schema):
    field = fields.String(required=True)
    contract = fields.Raw(allow_none=True)
    permit = fields.Raw(allow_none=True)


class ContractPermitMismatchSchema(ContractRefSchema):
    employer_tax_id = fields.String(required=True)
    cause = fields.String(
        required=True, validate=validate.OneOf(["contract_amended", "permit_amended"])
    )
    mismatches = fields.List(fields.Nested(MismatchSchema), required=True)
    detected_at = fields.AwareDateTime(required=True, format="iso")


class ContractTerminatedSchema(ContractRefSchema):
    employer_tax_id = fields.String(required=True)
    terminated_on = fields.Date(required=True)
    reason = fields.String(required=True)
    terminated_by = fields.String(required=True, validate=validate.OneOf(ACTORS))
    reported_at = fields.AwareDateTime(required=True, format="iso")


class ContractReportOverdueSchema(ContractRefSchema):
    employer_tax_id = fields.String(required=True)
    employment_ended_on = fields.Date(required=True)
    report_due_on = fields.Date(required=True)
    flagged_at = fields.AwareDateTime(required=True, format="iso")


EVENTS = EventCatalog(
    EventSpec(
        "contract_registered",
        ContractRegisteredSchema,
        1,
        "The employment contract tied to a permit was registered.",
    ),
    EventSpec(
        "contract_registration_refused",
        ContractRefusedSchema,
        1,
        "A permit's contract could not be registered; the reason (and errors by field) say why.",
    ),
    EventSpec(
        "contract_amended",
        ContractAmendedSchema,
        1,
        "A contract's terms (title, ISCO code, region, salary, hours) changed; from and to.",
    ),
    EventSpec(
        "contract_permit_mismatch",
        ContractPermitMismatchSchema,
        1,
        "A contract's position or region is no longer what its permit covers: an officer acts.",
    ),
    EventSpec(
        "contract_terminated",
        ContractTerminatedSchema,
        1,
        "The employer or an officer reported the contract's termination; permits cancels.",
    ),
    EventSpec(
        "contract_report_overdue",
        ContractReportOverdueSchema,
        1,
        "The employment ended and the employer did not report it within the working-day deadline.",
    ),
)
