"""marshmallow's nested error messages flattened to dotted field paths."""

from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError, fields, validates_schema

from wpis_common.errors import InvalidInput, flatten_errors


@pytest.mark.parametrize(
    ("messages", "flat"),
    [
        ({"name": ["Missing data for required field."]},
         {"name": ["Missing data for required field."]}),
        ({"worker": {"passport": {"number": ["bad"]}}}, {"worker.passport.number": ["bad"]}),
        ({"worker": {"email": ["a", "b"], "sex": ["c"]}},
         {"worker.email": ["a", "b"], "worker.sex": ["c"]}),
        ({"contract": {"_schema": ["end before start"]}}, {"contract": ["end before start"]}),
        ({"_schema": ["not an object"]}, {"_schema": ["not an object"]}),
        ({"documents": {0: {"status": ["bad"]}, 2: ["Not a valid string."]}},
         {"documents.0.status": ["bad"], "documents.2": ["Not a valid string."]}),
        ({"documents": [{"status": ["bad"]}, {}, {"type": ["x"]}]},
         {"documents.0.status": ["bad"], "documents.2.type": ["x"]}),
        (["top-level problem"], {"_schema": ["top-level problem"]}),
        ("just a string", {"_schema": ["just a string"]}),
        ({}, {}),
    ],
)  # fmt: skip
def test_flatten_errors(messages, flat):
    assert flatten_errors(messages) == flat


def test_messages_that_flatten_to_the_same_path_are_merged_not_overwritten():
    messages = {"contract.end_date": ["first"], "contract": {"end_date": ["second"]}}
    assert flatten_errors(messages) == {"contract.end_date": ["first", "second"]}


def test_schema_error_sits_beside_field_errors_of_the_same_object():
    messages = {"contract": {"_schema": ["whole"], "end_date": ["field"]}}
    assert flatten_errors(messages) == {"contract": ["whole"], "contract.end_date": ["field"]}


class Passport(Schema):
    number = fields.String(required=True)


class Worker(Schema):
    passport = fields.Nested(Passport, required=True)
    phones = fields.List(fields.Integer())
    previous = fields.List(fields.Nested(Passport))


class Terms(Schema):
    start = fields.Integer(required=True)
    end = fields.Integer(required=True)

    @validates_schema
    def end_after_start(self, data, **_kwargs):
        if data["end"] <= data["start"]:
            raise ValidationError("must end after start")


class Case(Schema):
    worker = fields.Nested(Worker, required=True)
    terms = fields.Nested(Terms, required=True)


def test_real_marshmallow_messages_flatten_to_dotted_paths():
    with pytest.raises(ValidationError) as raised:
        Case().load(
            {
                "worker": {"passport": {}, "phones": [1, "x", 3], "previous": [{"number": 5}]},
                "terms": {"start": 2, "end": 1},
                "extra": True,
            }
        )
    assert flatten_errors(raised.value.messages) == {
        "worker.passport.number": ["Missing data for required field."],
        "worker.phones.1": ["Not a valid integer."],
        "worker.previous.0.number": ["Not a valid string."],
        "terms": ["must end after start"],
        "extra": ["Unknown field."],
    }


def test_invalid_input_carries_flat_errors_and_a_422():
    error = InvalidInput(flatten_errors({"job": {"region": ["bad"]}}))
    assert error.http_status == 422
    assert error.body() == {"message": "invalid request", "errors": {"job.region": ["bad"]}}
