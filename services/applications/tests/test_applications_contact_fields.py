"""The employer's and the worker's language and phone (for notifications): optional,
checked, and carried in application_submitted."""

from __future__ import annotations

import copy

import pytest

from applications.casework import load_payload
from applications.schemas import EVENTS, SubmitApplicationSchema
from wpis_common.errors import InvalidInput

PAYLOAD = {
    "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@ararat.example"},
    "worker": {
        "given_names": "Ravi",
        "surname": "Kumar",
        "date_of_birth": "1990-04-12",
        "sex": "M",
        "nationality": "IND",
        "email": "ravi@example.org",
        "passport": {"number": "Z1234567", "issuing_country": "IND", "expiry_date": "2031-01-01"},
    },
    "job": {
        "title": "Welder",
        "isco_code": "7212",
        "region": "AM-ER",
        "monthly_salary": 450000,
        "currency": "AMD",
    },
    "contract": {"start_date": "2027-01-15", "end_date": "2027-12-31"},
}


def payload(**changes) -> dict:
    changed = copy.deepcopy(PAYLOAD)
    for party, fields in changes.items():
        changed[party].update(fields)
    return changed


def test_language_defaults_to_english_and_phone_stays_absent():
    loaded = load_payload(SubmitApplicationSchema(), payload())
    assert loaded["employer"]["language"] == loaded["worker"]["language"] == "en"
    assert "phone" not in loaded["worker"] and "phone" not in loaded["employer"]


def test_language_and_phone_are_kept_and_travel_in_application_submitted():
    given = payload(worker={"language": "hy", "phone": "+37491234567"}, employer={"language": "ru"})
    loaded = load_payload(SubmitApplicationSchema(), given)
    dumped = SubmitApplicationSchema().dump(loaded)
    spec = EVENTS.spec("application_submitted")
    facts = {key: value for key, value in dumped.items() if key in spec.schema().fields}
    event = spec.serialize(
        {**facts, "application_id": "app-1", "submitted_at": "2027-01-01T10:00:00+00:00"}
    )
    assert (event["worker"]["language"], event["worker"]["phone"]) == ("hy", "+37491234567")
    assert event["employer"]["language"] == "ru"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"worker": {"language": "fr"}}, "worker.language"),
        ({"employer": {"language": "EN"}}, "employer.language"),
        ({"worker": {"phone": "091234567"}}, "worker.phone"),
        ({"employer": {"phone": "+0123456789"}}, "employer.phone"),
        ({"worker": {"phone": "+374 91 234567"}}, "worker.phone"),
    ],
)
def test_bad_language_or_phone_is_refused_with_its_field(changes, field):
    with pytest.raises(InvalidInput) as refused:
        load_payload(SubmitApplicationSchema(), payload(**changes))
    assert list(refused.value.details["errors"]) == [field]
