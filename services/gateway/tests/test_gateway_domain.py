"""How a service's error or a request body becomes an HTTP answer: pure."""

from __future__ import annotations

import json

import pytest

from gateway.domain import error_body, error_from_remote, json_depth, limit_problem, parse_json_body
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
    details = {k: v for k, v in error.body().items() if k not in ("message", "errors")}
    assert body["error"]["code"] == slug
    assert body["error"]["message"] == error.message
    assert body["error"]["fields"] == error.body().get("errors", {})
    assert body["error"].get("details", {}) == details


def test_invalid_input_body_carries_the_field_errors():
    error = InvalidInput({"worker.passport.number": ["must be 5-20 capital letters or digits"]})
    _, body = error_from_remote("InvalidInput", str(error))
    fields = {"worker.passport.number": ["must be 5-20 capital letters or digits"]}
    assert body["error"] == {
        "code": "invalid_request",
        "message": "invalid request",
        "fields": fields,
    }
    assert body["errors"] == fields  # the compatibility copy


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
        {
            "error": {
                "code": "upstream_error",
                "message": "a service failed to answer",
                "fields": {},
            }
        },
    )


@pytest.mark.parametrize(
    ("value", "body"),
    [
        ("no such permit", {"code": "not_found", "message": "no such permit", "fields": {}}),
        ("", {"code": "not_found", "message": "not found", "fields": {}}),
        (None, {"code": "not_found", "message": "not found", "fields": {}}),
    ],
)
def test_known_error_with_a_plain_text_value_still_answers(value, body):
    assert error_from_remote("NotFound", value) == (404, {"error": body})


@pytest.mark.parametrize("value", ["42", '"gone"', "[1, 2]", "null"])
def test_known_error_with_a_non_object_json_value_still_answers(value):
    status, body = error_from_remote("NotFound", value)
    assert status == 404
    assert body["error"]["code"] == "not_found"


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


def test_deep_json_is_refused_by_the_parser_with_a_reason_not_a_crash():
    payload, reason = parse_json_body(b"[" * 100_000 + b"]" * 100_000)
    assert payload is None and reason


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[[{"', 0),
        ("{}", 1),
        ('{"a": [1, {"b": "]]]"}]}', 3),
        ('[[["\\"]]]', 3),
        ("[" * 25, 25),
    ],
)
def test_json_depth_counts_nesting_outside_strings(text, depth):
    assert json_depth(text) == depth


LIMITS = {"max_body_bytes": 100, "max_depth": 3, "max_page_size": 50}


def test_a_request_within_the_limits_passes():
    body = b'{"a": {"b": [1]}}'
    assert limit_problem(len(body), body, True, "50", **LIMITS) is None


def test_a_body_past_the_size_limit_is_a_413_naming_the_limit():
    status, body = limit_problem(1000, None, True, None, **LIMITS)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert body["error"]["fields"] == {"body": ["larger than the limit of 100 bytes"]}


def test_a_route_with_its_own_size_limit_is_not_refused_for_size():
    assert limit_problem(10**9, None, False, None, None, 3, 50) is None


def test_json_nested_too_deeply_is_a_422():
    status, body = limit_problem(10, b"[[[[1]]]]", True, None, **LIMITS)
    assert status == 422
    assert body["error"]["code"] == "too_deeply_nested"
    assert "body" in body["error"]["fields"]


def test_a_form_body_is_not_measured_as_json():
    assert limit_problem(10, b"[[[[1]]]]", False, None, **LIMITS) is None


def test_a_page_size_past_the_maximum_is_a_422_on_limit():
    status, body = limit_problem(None, b"", True, "51", **LIMITS)
    assert status == 422
    assert body["errors"] == {"limit": ["must be at most 50"]}


def test_error_body_without_fields_has_no_compatibility_copy():
    assert error_body("conflict", "no") == {
        "error": {"code": "conflict", "message": "no", "fields": {}}
    }
