"""marshmallow schemas: what crosses the applications service's boundary."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from applications.domain import REJECTION_CODES, Kind, Status
from wpis_common.envelope import EventCatalog, EventSpec

KIND_VALUES = [kind.value for kind in Kind]
STATUS_VALUES = [status.value for status in Status]

ALPHA3 = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 3166-1 alpha-3 code, e.g. IND")
ARMENIA_REGIONS = (
    "AM-ER", "AM-AG", "AM-AR", "AM-AV", "AM-GR", "AM-KT",
    "AM-LO", "AM-SH", "AM-SU", "AM-TV", "AM-VD",
)  # fmt: skip
# Languages notices are sent in (notifications); phone numbers are for SMS notices.
LANGUAGES = ("en", "hy", "ru")
E164 = validate.Regexp(r"^\+[1-9]\d{6,14}$", error="must be an E.164 number, e.g. +37491234567")


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
    phone = fields.String(validate=E164)
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


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
    phone = fields.String(validate=E164)
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))
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
    kind = fields.String(load_default="new", validate=validate.OneOf(KIND_VALUES))
    permit_number = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[A-Z0-9-]{5,40}$", error="not a permit number"),
    )
    exemption_claim = fields.String(
        load_default=None, validate=validate.OneOf(["founder_director", "representative_office"])
    )
    vacancy_reference = fields.String(load_default=None, validate=validate.Length(min=1, max=60))
    draft = fields.Boolean(load_default=False)

    @validates_schema
    def permit_number_matches_kind(self, data: dict, **_kwargs: object) -> None:
        if data["kind"] == "new" and data.get("permit_number"):
            raise ValidationError("only an extension or amendment names a permit", "permit_number")
        if data["kind"] != "new" and not data.get("permit_number"):
            raise ValidationError(f"an {data['kind']} must name the permit", "permit_number")


REASON_CODES = REJECTION_CODES


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    officer = fields.String(load_default="officer", validate=validate.Length(min=1, max=100))
    reason_code = fields.String(load_default=None, validate=validate.OneOf(REASON_CODES))

    @validates_schema
    def rejection_needs_reason(self, data: dict, **_kwargs: object) -> None:
        if data["decision"] == "reject" and not data.get("reason", "").strip():
            raise ValidationError("a rejection needs a reason", field_name="reason")


class SendBackSchema(Schema):
    reason = fields.String(required=True, validate=not_blank(2000))
    fix = fields.List(fields.String(validate=not_blank(200)), load_default=list)


class ReasonSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class CloseSchema(Schema):
    reason = fields.String(required=True, validate=not_blank(2000))


class ResubmitSchema(Schema):
    """Corrections the employer sends back. The worker's identity cannot change:
    that needs a new application (and a new identity check)."""

    note = fields.String(load_default="", validate=validate.Length(max=2000))
    employer = fields.Nested(EmployerSchema)
    job = fields.Nested(JobSchema)
    contract = fields.Nested(ContractTermsSchema)


class AssignmentSchema(Schema):
    officer = fields.String(required=True, allow_none=True, validate=not_blank(100))


class FeePaymentSchema(Schema):
    reference = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Z0-9-]{6,40}$", error="must be 6-40 capital letters, digits or -"
        ),
    )


class DocumentUploadSchema(Schema):
    document_type = fields.String(required=True)
    filename = fields.String(load_default="document", validate=validate.Length(min=1, max=255))
    content_type = fields.String(load_default=None, validate=validate.Length(max=100))
    content = fields.String(required=True)  # base64


class ListFiltersSchema(Schema):
    status = fields.List(fields.String(validate=validate.OneOf(STATUS_VALUES)), load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(KIND_VALUES))
    employer = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{8}$", error="must be an 8-digit tax id"),
    )
    nationality = fields.String(load_default=None, validate=ALPHA3)
    submitted_from = fields.Date(load_default=None)
    submitted_to = fields.Date(load_default=None)
    overdue = fields.Boolean(load_default=None)
    assigned_to = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    q = fields.String(load_default=None, validate=validate.Length(min=2, max=100))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=300))

    @validates_schema
    def range_in_order(self, data: dict, **_kwargs: object) -> None:
        start, end = data.get("submitted_from"), data.get("submitted_to")
        if start and end and end < start:
            raise ValidationError("must not be before submitted_from", "submitted_to")


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
    role = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    at = fields.AwareDateTime(format="iso")


class DocumentSchema(Schema):
    id = fields.String()
    document_type = fields.String()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_by = fields.String()
    uploaded_role = fields.String()
    uploaded_at = fields.AwareDateTime(format="iso")


class LabourMarketTestSchema(Schema):
    required = fields.Boolean()
    exemption = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    requested_at = fields.AwareDateTime(allow_none=True, format="iso")
    due_at = fields.AwareDateTime(allow_none=True, format="iso")
    answered_at = fields.AwareDateTime(allow_none=True, format="iso")


class FeeSchema(Schema):
    required = fields.Boolean()
    amount = fields.Integer()
    currency = fields.String()
    reference = fields.String(allow_none=True)
    paid_at = fields.AwareDateTime(allow_none=True, format="iso")


class ApplicationSchema(Schema):
    """An application as RPC callers and the HTTP API see it."""

    id = fields.String()
    kind = fields.String()
    status = fields.String()
    employer = fields.Dict()
    worker = fields.Dict()
    job = fields.Dict()
    contract = fields.Dict()
    referenced_permit = fields.String(allow_none=True)
    identity = fields.Nested(IdentityResultSchema)
    labour_market_test = fields.Nested(LabourMarketTestSchema)
    fee = fields.Nested(FeeSchema)
    documents = fields.Dict()
    decision = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    reason_code = fields.String(allow_none=True)
    correction_request = fields.Dict(allow_none=True)
    permit_number = fields.String(allow_none=True)
    contract_id = fields.String(allow_none=True)
    assigned_to = fields.String(allow_none=True)
    submitted_at = fields.AwareDateTime(allow_none=True, format="iso")
    due_at = fields.AwareDateTime(allow_none=True, format="iso")
    overdue = fields.Boolean()
    allowed_actions = fields.List(fields.String())
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")
    history = fields.List(fields.Nested(HistoryEntrySchema))


# -- published events ---------------------------------------------------------
# The W1 events keep every field they had; later fields are only ever added.


class ApplicationSubmittedSchema(Schema):
    application_id = fields.String(required=True)
    employer = fields.Nested(EmployerSchema, required=True)
    worker = fields.Nested(WorkerSchema, required=True)
    job = fields.Nested(JobSchema, required=True)
    contract = fields.Nested(ContractTermsSchema, required=True)
    submitted_at = fields.AwareDateTime(required=True, format="iso")
    kind = fields.String(load_default="new", validate=validate.OneOf(KIND_VALUES))
    permit_number = fields.String(load_default=None, allow_none=True)
    due_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


class ApplicationApprovedSchema(ApplicationSubmittedSchema):
    attestation = fields.Dict(required=True)
    decided_by = fields.String(required=True)
    decided_at = fields.AwareDateTime(required=True, format="iso")
    exemption = fields.String(load_default=None, allow_none=True)
    fee_reference = fields.String(load_default=None, allow_none=True)


class ApplicationRejectedSchema(Schema):
    application_id = fields.String(required=True)
    employer = fields.Nested(EmployerSchema, required=True)
    worker_email = fields.Email(required=True)
    reason = fields.String(required=True)
    rejected_by = fields.String(required=True)
    decided_at = fields.AwareDateTime(required=True, format="iso")
    kind = fields.String(load_default="new")
    reason_code = fields.String(load_default="other")


class CaseRefSchema(Schema):
    application_id = fields.String(required=True)
    kind = fields.String(required=True)


class StatusChangedSchema(CaseRefSchema):
    from_status = fields.String(required=True, allow_none=True)
    to_status = fields.String(required=True)
    action = fields.String(required=True)
    actor = fields.String(required=True)
    role = fields.String(required=True)
    reason = fields.String(allow_none=True, load_default=None)
    at = fields.AwareDateTime(required=True, format="iso")


class ApplicationReturnedSchema(CaseRefSchema):
    employer = fields.Nested(EmployerSchema, required=True)
    worker_email = fields.Email(required=True)
    reason = fields.String(required=True)
    fix = fields.List(fields.String(), required=True)
    returned_by = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class ApplicationResubmittedSchema(CaseRefSchema):
    corrected = fields.List(fields.String(), required=True)
    note = fields.String(allow_none=True, load_default=None)
    resubmitted_by = fields.String(required=True)
    due_at = fields.AwareDateTime(allow_none=True, load_default=None, format="iso")
    at = fields.AwareDateTime(required=True, format="iso")


class ApplicationWithdrawnSchema(CaseRefSchema):
    employer = fields.Nested(EmployerSchema, required=True)
    worker_email = fields.Email(required=True)
    previous_status = fields.String(required=True)
    reason = fields.String(allow_none=True, load_default=None)
    withdrawn_by = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class ApplicationClosedSchema(CaseRefSchema):
    reason = fields.String(required=True)
    closed_by = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class ApplicationAssignedSchema(CaseRefSchema):
    assigned_to = fields.String(required=True, allow_none=True)
    previous = fields.String(allow_none=True, load_default=None)
    assigned_by = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class FeePaidSchema(CaseRefSchema):
    reference = fields.String(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    paid_at = fields.AwareDateTime(required=True, format="iso")


class DocumentAddedSchema(CaseRefSchema):
    document_id = fields.String(required=True)
    document_type = fields.String(required=True)
    media_type = fields.String(required=True)
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    uploaded_by = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class LmtRequestedSchema(CaseRefSchema):
    request_id = fields.String(required=True)
    isco_code = fields.String(required=True)
    region = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True, format="iso")


class LmtCompletedSchema(CaseRefSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(["consent", "refusal"]))
    reason = fields.String(allow_none=True, load_default=None)
    decided_by = fields.String(required=True, validate=validate.OneOf(["agency", "deadline"]))
    at = fields.AwareDateTime(required=True, format="iso")


class DeadlineSchema(CaseRefSchema):
    status = fields.String(required=True)
    due_at = fields.AwareDateTime(required=True, format="iso")
    assigned_to = fields.String(allow_none=True, load_default=None)
    at = fields.AwareDateTime(required=True, format="iso")


EVENTS = EventCatalog(
    EventSpec("application_submitted", ApplicationSubmittedSchema, 1, "An employer filed a case."),
    EventSpec("application_approved", ApplicationApprovedSchema, 1, "An officer approved a case."),
    EventSpec(
        "application_rejected",
        ApplicationRejectedSchema,
        1,
        "A case was refused, by an officer or by a failed identity check.",
    ),
    EventSpec(
        "application_status_changed",
        StatusChangedSchema,
        1,
        "Any transition of a case's workflow: who moved it from where to where, and why.",
    ),
    EventSpec(
        "application_returned",
        ApplicationReturnedSchema,
        1,
        "An officer sent a case back to the employer, saying what to fix.",
    ),
    EventSpec(
        "application_resubmitted", ApplicationResubmittedSchema, 1, "The employer sent corrections."
    ),
    EventSpec(
        "application_withdrawn", ApplicationWithdrawnSchema, 1, "The employer withdrew the case."
    ),
    EventSpec(
        "application_closed",
        ApplicationClosedSchema,
        1,
        "A case ended without a decision on its merits (labour-market refusal, abandoned, "
        "permit not issued).",
    ),
    EventSpec("application_assigned", ApplicationAssignedSchema, 1, "A case changed officer."),
    EventSpec("application_fee_paid", FeePaidSchema, 1, "The state fee's payment was confirmed."),
    EventSpec(
        "application_document_added",
        DocumentAddedSchema,
        1,
        "A document was attached (no content).",
    ),
    EventSpec(
        "labour_market_test_requested",
        LmtRequestedSchema,
        1,
        "The employment agency was asked for its labour-market consent.",
    ),
    EventSpec(
        "labour_market_test_completed",
        LmtCompletedSchema,
        1,
        "The agency consented or refused, or its deadline passed and the default applied.",
    ),
    EventSpec(
        "application_deadline_approaching",
        DeadlineSchema,
        1,
        "A case's statutory decision deadline is near.",
    ),
    EventSpec("application_overdue", DeadlineSchema, 1, "A case passed its statutory deadline."),
)
