"""Gateway rules: how a service's answer or error becomes an HTTP answer. Pure."""

from __future__ import annotations

import json
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


def error_from_remote(exc_type: str | None, value: str | None) -> tuple[int, dict[str, Any]]:
    """Map a remote service error to (status, body); unknown errors are 502."""
    status = STATUS_BY_ERROR.get(exc_type or "")
    if status is None:
        return 502, {"error": "upstream_error", "message": "a service failed to answer"}
    try:
        parsed = json.loads(value or "{}")
    except ValueError:
        parsed = None
    details = parsed if isinstance(parsed, dict) else {"message": value}
    body: dict[str, Any] = {"error": _slug(exc_type or "error"), **details}
    return status, body


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
