"""Errors that cross the RPC boundary with enough shape for a clear HTTP answer.

Nameko sends a remote exception as its type name and ``str(exc)``; these
errors make that string a JSON object, so the gateway can turn it back into
a status code and field errors.
"""

from __future__ import annotations

import json
from typing import Any


class WpisError(Exception):
    http_status = 400

    def __init__(self, message: str, **details: Any):
        self.message = message
        self.details = details
        super().__init__(json.dumps({"message": message, **details}, default=str))

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.details}


class InvalidInput(WpisError):
    """The request failed validation; ``errors`` maps field paths to reasons."""

    http_status = 422

    def __init__(self, errors: dict[str, list[str]], message: str = "invalid request"):
        super().__init__(message, errors=errors)


class NotFound(WpisError):
    http_status = 404


class Conflict(WpisError):
    """The request is valid but not allowed in the current state."""

    http_status = 409


EXPECTED_ERRORS = (InvalidInput, NotFound, Conflict)
ERRORS_BY_NAME = {cls.__name__: cls for cls in (WpisError, *EXPECTED_ERRORS)}


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict to ``{"worker.passport.number": [...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema" and prefix:
                path = prefix
            for sub_path, reasons in flatten_errors(value, path).items():
                flat.setdefault(sub_path, []).extend(reasons)
    elif isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, item in enumerate(messages):
            flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat
