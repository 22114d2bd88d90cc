"""marshmallow schemas: contracts' answers and published events."""

from __future__ import annotations

from marshmallow import Schema, fields

from wpis_common.envelope import EventCatalog, EventSpec


class ContractSchema(Schema):
    id = fields.String()
    permit_number = fields.String()
    application_id = fields.String()
    status = fields.String()
    employer_tax_id = fields.String()
    employer_name = fields.String()
    worker = fields.Dict()
    job = fields.Dict()
    start_date = fields.Date()
    end_date = fields.Date()
    registered_until = fields.Date()
    registered_at = fields.AwareDateTime(format="iso")
    version = fields.Integer()


class ContractRegisteredSchema(Schema):
    contract_id = fields.String(required=True)
    permit_number = fields.String(required=True)
    application_id = fields.String(required=True)
    employer_tax_id = fields.String(required=True)
    employer_name = fields.String(required=True)
    isco_code = fields.String(required=True)
    region = fields.String(required=True)
    monthly_salary = fields.Integer(required=True)
    currency = fields.String(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    registered_until = fields.Date(required=True)
    registered_at = fields.AwareDateTime(required=True, format="iso")


class ContractRefusedSchema(Schema):
    permit_number = fields.String(required=True)
    application_id = fields.String(required=True)
    reason = fields.String(required=True)


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
        "A permit's contract could not be registered; the reason says why.",
    ),
)
