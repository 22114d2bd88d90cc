"""What a submission or a decision must look like: marshmallow via load_payload, no I/O."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest

from applications.casework import load_payload
from applications.schemas import DecisionSchema, SubmitApplicationSchema
from wpis_common.errors import InvalidInput


def _service_test_module():
    """The integration tests' example body, so both suites test the same payload."""
    path = Path(__file__).with_name("test_applications_service.py")
    spec = importlib.util.spec_from_file_location("_applications_service_examples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


valid_payload = _service_test_module().valid_payload


def submit_errors(payload) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as raised:
        load_payload(SubmitApplicationSchema(), payload)
    return raised.value.details["errors"]


def decision_errors(payload) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as raised:
        load_payload(DecisionSchema(), payload)
    return raised.value.details["errors"]


def with_change(path: str, value) -> dict:
    """valid_payload() with the dotted ``path`` set to ``value`` (or removed if value is ...)."""
    payload = valid_payload()
    *parents, leaf = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return payload


# -- submission -----------------------------------------------------------------


def test_example_submission_loads_with_typed_dates():
    data = load_payload(SubmitApplicationSchema(), valid_payload())
    assert data["worker"]["passport"]["number"] == "Z1234567"
    assert data["worker"]["date_of_birth"] == date(1990, 4, 12)
    assert data["contract"]["start_date"] == date(2027, 1, 15)
    assert data["job"]["monthly_salary"] == 450000


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("worker.passport.number", "z1234567", "must be 5-20 capital letters or digits"),
        ("worker.passport.number", "Z12", "must be 5-20 capital letters or digits"),
        ("worker.passport.number", "Z123-4567", "must be 5-20 capital letters or digits"),
        ("worker.passport.issuing_country", "IN", "must be an ISO 3166-1 alpha-3 code, e.g. IND"),
        ("worker.nationality", "ind", "must be an ISO 3166-1 alpha-3 code, e.g. IND"),
        ("worker.sex", "male", "Must be one of: M, F, X."),
        ("worker.email", "not-an-email", "Not a valid email address."),
        ("worker.surname", "   ", "must not be blank"),
        ("worker.date_of_birth", "12/04/1990", "Not a valid date."),
        ("employer.tax_id", "2563412", "must be an 8-digit tax id"),
        ("employer.tax_id", "0256341A", "must be an 8-digit tax id"),
        ("job.region", "AM-XX", "Must be one of: AM-ER, AM-AG, AM-AR, AM-AV, AM-GR, AM-KT, "
         "AM-LO, AM-SH, AM-SU, AM-TV, AM-VD."),
        ("job.isco_code", "721", "must be a 4-digit ISCO-08 code"),
        ("job.monthly_salary", "450000", "Not a valid integer."),
        ("job.monthly_salary", 0, "Must be greater than or equal to 1."),
        ("job.currency", "amd", "must be an ISO 4217 code"),
        ("job.title", ..., "Missing data for required field."),
        ("contract.end_date", "2027-01-14", "must be after start_date"),
        ("contract.end_date", "2027-01-15", "must be after start_date"),
    ],
)  # fmt: skip
def test_bad_field_is_refused_under_its_dotted_path(path, value, message):
    errors = submit_errors(with_change(path, value))
    assert message in errors[path]
    assert set(errors) == {path}


def test_salary_given_as_a_float_is_refused():
    assert "job.monthly_salary" in submit_errors(with_change("job.monthly_salary", 450000.5))


@pytest.mark.parametrize(
    ("path", "reported_as"),
    [("bogus", "bogus"), ("worker.passport.colour", "worker.passport.colour"),
     ("job.bonus", "job.bonus")],
)  # fmt: skip
def test_unknown_field_is_refused(path, reported_as):
    assert submit_errors(with_change(path, "x")) == {reported_as: ["Unknown field."]}


def test_nested_object_of_wrong_type_is_reported_at_its_own_path():
    assert submit_errors(with_change("worker.passport", "Z1234567")) == {
        "worker.passport": ["Invalid input type."]
    }


def test_several_bad_fields_are_all_reported():
    payload = with_change("employer.tax_id", "x")
    payload["worker"]["passport"]["number"] = "bad!"
    del payload["contract"]["start_date"]
    errors = submit_errors(payload)
    assert set(errors) == {"employer.tax_id", "worker.passport.number", "contract.start_date"}


@pytest.mark.parametrize("body", [None, [], "text", 42, [valid_payload()]])
def test_non_object_body_is_refused(body):
    assert submit_errors(body) == {"_schema": ["the request body must be a JSON object"]}


def test_empty_object_lists_every_missing_section():
    assert submit_errors({}) == {
        section: ["Missing data for required field."]
        for section in ("employer", "worker", "job", "contract")
    }


def test_name_with_leading_space_is_not_called_blank():
    load_payload(SubmitApplicationSchema(), with_change("worker.given_names", " Ravi"))


# -- decision -------------------------------------------------------------------


def test_approval_needs_no_reason_and_gets_defaults():
    assert load_payload(DecisionSchema(), {"decision": "approve"}) == {
        "decision": "approve",
        "reason": "",
        "officer": "officer",
        "reason_code": None,
    }


def test_rejection_with_reason_loads():
    data = load_payload(DecisionSchema(), {"decision": "reject", "reason": "forged contract"})
    assert data["reason"] == "forged contract"


@pytest.mark.parametrize("reason", [..., "", "   "])
def test_rejection_without_reason_is_refused(reason):
    payload = {"decision": "reject"} if reason is ... else {"decision": "reject", "reason": reason}
    assert decision_errors(payload) == {"reason": ["a rejection needs a reason"]}


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"decision": "maybe"}, "decision"),
        ({}, "decision"),
        ({"decision": "approve", "reason": "x" * 2001}, "reason"),
        ({"decision": "approve", "officer": ""}, "officer"),
        ({"decision": "approve", "extra": 1}, "extra"),
    ],
)
def test_bad_decision_is_refused_under_its_field(payload, path):
    assert path in decision_errors(payload)


def test_non_object_decision_is_refused():
    assert decision_errors("approve") == {"_schema": ["the request body must be a JSON object"]}
