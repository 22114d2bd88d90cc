"""How a service's error or a request body becomes an HTTP answer: pure."""

from __future__ import annotations

import json

import pytest

from gateway.domain import error_from_remote, parse_json_body
from wpis_common.errors import Conflict, InvalidInput, NotFound, WpisError


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (InvalidInput({"job.region": ["Must be one of: AM-ER."]}), 422, "invalid_request"),
        (NotFound("no such application", application_id="app-1"), 404, "not_found"),
        (Conflict("cannot approve", status="identity_check_pending"), 409, "conflict"),
        (WpisError("bad"), 400, "bad_request"),
    ],
)
def test_known_remote_error_keeps_its_status_and_details(error, status, slug):
    got_status, body = error_from_remote(type(error).__name__, str(error))
    assert got_status == status == error.http_status
    assert body == {"error": slug, **error.body()}


def test_invalid_input_body_carries_the_field_errors():
    error = InvalidInput({"worker.passport.number": ["must be 5-20 capital letters or digits"]})
    _, body = error_from_remote("InvalidInput", str(error))
    assert body["errors"] == {"worker.passport.number": ["must be 5-20 capital letters or digits"]}
    assert body["message"] == "invalid request"


@pytest.mark.parametrize(
    ("exc_type", "value"),
    [
        ("KeyError", "'worker'"),
        ("OperationalError", "database is locked"),
        ("RemoteError", json.dumps({"message": "internal detail"})),
        (None, None),
        ("", ""),
    ],
)
def test_unknown_remote_error_is_a_502_that_leaks_nothing(exc_type, value):
    assert error_from_remote(exc_type, value) == (
        502,
        {"error": "upstream_error", "message": "a service failed to answer"},
    )


@pytest.mark.parametrize(
    ("value", "body"),
    [
        ("no such permit", {"error": "not_found", "message": "no such permit"}),
        ("", {"error": "not_found"}),
        (None, {"error": "not_found"}),
    ],
)
def test_known_error_with_a_plain_text_value_still_answers(value, body):
    assert error_from_remote("NotFound", value) == (404, body)


@pytest.mark.parametrize("value", ["42", '"gone"', "[1, 2]", "null"])
def test_known_error_with_a_non_object_json_value_still_answers(value):
    status, body = error_from_remote("NotFound", value)
    assert status == 404
    assert body["error"] == "not_found"


@pytest.mark.parametrize(
    ("raw", "payload"),
    [
        (b'{"decision": "approve"}', {"decision": "approve"}),
        (b"  [1, 2]\n", [1, 2]),
        ('{"name": "José"}'.encode(), {"name": "José"}),
        (b"null", None),
    ],
)
def test_json_body_is_parsed(raw, payload):
    assert parse_json_body(raw) == (payload, None)


@pytest.mark.parametrize("raw", [b"", b"   ", b"\n\t"])
def test_empty_body_is_refused(raw):
    assert parse_json_body(raw) == (None, "the request body is empty; send a JSON object")


@pytest.mark.parametrize("raw", [b"{", b"{'a': 1}", b"decision=approve", b"\xff\xfe\xfa", b"{}x"])
def test_body_that_is_not_json_is_refused_with_a_reason(raw):
    payload, reason = parse_json_body(raw)
    assert payload is None
    assert reason.startswith("the request body is not valid JSON: ")
