"""What every route module shares: JSON answers, RPC calls with a deadline,
error mapping, and naming the subject of an audit entry (gateway/session.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import eventlet
from nameko.exceptions import RemoteError, UnknownService
from werkzeug.wrappers import Request, Response

from gateway import domain
from wpis_common.config import setting

log = logging.getLogger(__name__)
API = "/api/v1"


def json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def malformed(reason: str) -> Response:
    return json_response(400, {"error": "malformed_request", "message": reason})


def invalid(errors: dict[str, list[str]]) -> Response:
    body = {"error": "invalid_request", "message": "invalid request", "errors": errors}
    return json_response(422, body)


class ApiBase:
    """Helpers for route mixins; the service provides ``db`` and the RPC proxies."""

    db: Any
    session: Any

    def call(self, rpc_call: Callable[[], Any], success_status: int = 200) -> Response:
        """Run an RPC call with a deadline and map its answer or error to HTTP."""
        timeout = float(setting("RPC_TIMEOUT", 10))
        try:
            with eventlet.Timeout(timeout):
                result = rpc_call()
        except RemoteError as error:
            status, body = domain.error_from_remote(error.exc_type, error.value)
            if status == 502:
                log.error("upstream error: %s", error.exc_type)
            return json_response(status, body)
        except UnknownService as error:
            log.error("service not running: %s", error)
            body = {"error": "service_unavailable", "message": "a service is not running; retry"}
            return json_response(503, body)
        except eventlet.Timeout:
            log.error("upstream timeout after %.1fs", timeout)
            return json_response(504, {"error": "timeout", "message": "a service did not answer"})
        return json_response(success_status, result)

    def audited(self, request: Request, response: Response, subject: str | None = None) -> Response:
        """Name the subject of a state-changing request for its audit entry (the
        ``Session`` provider records every state-changing request, with its caller)."""
        if subject:
            self.session.subject = subject
        return response
