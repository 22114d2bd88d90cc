"""Gateway rules: how a service's answer or error becomes an HTTP answer, the one
error body every 4xx/5xx uses, and the request limits. Pure.

Error body (docs/api.md)::

    {"error": {"code": "invalid_request", "message": "invalid request",
               "fields": {"job.region": ["Must be one of: AM-ER."]},
               "details": {...}},            # optional: extra facts, e.g. allowed_actions
     "errors": {"job.region": [...]}}        # compatibility copy of error.fields (deprecated)
"""

from __future__ import annotations

import json
import re
from typing import Any

STATUS_BY_ERROR = {
    "InvalidInput": 422,
    "NotFound": 404,
    "Conflict": 409,
    "WpisError": 400,
    "Unauthenticated": 401,
    "Forbidden": 403,
}
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UPSTREAM_ERROR = "a service failed to answer"

# Request limits (defaults; config.yaml: GATEWAY_MAX_BODY_BYTES, GATEWAY_MAX_JSON_DEPTH,
# GATEWAY_MAX_PAGE_SIZE).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_JSON_DEPTH = 20
DEFAULT_MAX_PAGE_SIZE = 1000

_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def error_body(
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one error body: ``{"error": {"code", "message", "fields"[, "details"]}}``.

    When there are field errors, a top-level ``errors`` copy is kept for clients
    written against the first API version."""
    error: dict[str, Any] = {"code": code, "message": message, "fields": dict(fields or {})}
    if details:
        error["details"] = details
    body: dict[str, Any] = {"error": error}
    if fields:
        body["errors"] = error["fields"]
    return body


def error_from_remote(exc_type: str | None, value: str | None) -> tuple[int, dict[str, Any]]:
    """Map a remote service error to (status, body); unknown errors are 502."""
    status = STATUS_BY_ERROR.get(exc_type or "")
    if status is None:
        return 502, error_body("upstream_error", UPSTREAM_ERROR)
    return status, body_from_details(_slug(exc_type or "error"), value)


def body_from_details(code: str, value: str | None) -> dict[str, Any]:
    """An error body from a WpisError's JSON value (``message``, ``errors``, details)."""
    try:
        parsed = json.loads(value or "{}")
    except ValueError:
        parsed = None
    details = dict(parsed) if isinstance(parsed, dict) else {"message": value}
    message = details.pop("message", None) or code.replace("_", " ")
    fields = details.pop("errors", None)
    if not isinstance(fields, dict):
        fields = {}
    return error_body(code, str(message), _field_lists(fields), details)


def _field_lists(fields: dict[Any, Any]) -> dict[str, list[str]]:
    return {
        str(key): [str(r) for r in value] if isinstance(value, list) else [str(value)]
        for key, value in fields.items()
    }


def _slug(exc_type: str) -> str:
    return {
        "InvalidInput": "invalid_request",
        "NotFound": "not_found",
        "Conflict": "conflict",
        "Unauthenticated": "unauthenticated",
        "Forbidden": "forbidden",
    }.get(exc_type, "bad_request")


def parse_json_body(raw: bytes) -> tuple[Any, str | None]:
    """(payload, None) or (None, reason) for a body that is not JSON."""
    if not raw.strip():
        return None, "the request body is empty; send a JSON object"
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as error:
        return None, f"the request body is not valid JSON: {error}"
    except RecursionError:
        return None, "the request body is nested too deeply"


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (0 for a scalar).

    Brackets inside strings do not count; the text need not be valid JSON."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def limit_problem(
    content_length: int | None,
    body: bytes | None,
    is_json: bool,
    page_size: str | None,
    max_body_bytes: int | None,
    max_depth: int,
    max_page_size: int,
) -> tuple[int, dict[str, Any]] | None:
    """(status, error body) for a request past a limit, else None.

    ``max_body_bytes`` None means the route enforces its own size limit."""
    if max_body_bytes is not None:
        size = len(body) if body is not None else content_length or 0
        if size > max_body_bytes:
            return 413, error_body(
                "payload_too_large",
                f"the request body is larger than {max_body_bytes} bytes",
                {"body": [f"larger than the limit of {max_body_bytes} bytes"]},
                {"max_body_bytes": max_body_bytes},
            )
    if is_json and body:
        depth = json_depth(body.decode("utf-8", errors="replace"))
        if depth > max_depth:
            return 422, error_body(
                "too_deeply_nested",
                f"the JSON body nests {depth} levels; at most {max_depth} are allowed",
                {"body": [f"nested deeper than {max_depth} levels"]},
                {"max_json_depth": max_depth},
            )
    if page_size is not None and page_size.strip().isdigit() and int(page_size) > max_page_size:
        return 422, error_body(
            "invalid_request",
            "invalid request",
            {"limit": [f"must be at most {max_page_size}"]},
            {"max_page_size": max_page_size},
        )
    return None
