"""What every route module shares: the ``http`` entrypoint with the request
limits and JSON errors, JSON answers, RPC calls with a deadline, error mapping,
and naming the subject of an audit entry (gateway/session.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import eventlet
from nameko.exceptions import RemoteError, UnknownService
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway import domain
from wpis_common.config import flag_setting, setting

log = logging.getLogger(__name__)
API = "/api/v1"
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A 4xx/5xx with the one error body (gateway.domain.error_body)."""
    return json_response(status, domain.error_body(code, message, fields, details), headers)


def malformed(reason: str) -> Response:
    return error_response(400, "malformed_request", reason)


def invalid(errors: dict[str, list[str]], message: str = "invalid request") -> Response:
    return error_response(422, "invalid_request", message, errors)


def not_found(message: str, details: dict[str, Any] | None = None) -> Response:
    return error_response(404, "not_found", message, details=details)


# -- the entrypoint --------------------------------------------------------------------


class JsonErrorsWsgiApp(WsgiApp):
    """Nameko's WSGI app, with an unknown path or method answered in the error body."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = _from_http_exception(exc)
        return response(environ, start_response)


def _from_http_exception(exc: HTTPException) -> Response:
    if exc.code is None or exc.code < 400:  # redirects (e.g. a trailing slash) stay as they are
        return exc.get_response()
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "location")}
    code = (exc.name or "error").lower().replace(" ", "_")
    message = exc.description or exc.name or "error"
    if exc.code == 404:
        message = "no such path in the WPIS API (see /api/v1/openapi.json)"
    elif exc.code == 405:
        message = f"method not allowed here; allowed: {headers.get('Allow', '')}"
    return error_response(exc.code, code, message, headers=headers)


class GatewayWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonErrorsWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        """Eventlet's per-request access log only when ``ACCESS_LOG`` is on: it cost
        8 % of the public check's CPU, and the audit trail (every state change) and
        the log of checks (every public check) already record what matters."""
        server = super().get_wsgi_server(sock, wsgi_app, protocol, debug)
        server.log_output = flag_setting("ACCESS_LOG")
        return server


# (the route's dependency providers by attribute name, the request, the path values)
DirectHandler = Callable[..., "Response | None"]


class GatewayHttp(HttpRequestHandler):
    """Nameko's ``@http`` with the gateway's request limits and JSON errors.

    Every gateway route uses it (``from gateway.api.base import http``): a body
    past ``MAX_BODY_BYTES`` is a 413, JSON nested past ``MAX_JSON_DEPTH`` or a
    ``limit`` past ``MAX_PAGE_SIZE`` a 422, and an unexpected error a JSON 500,
    all before or instead of the route's own code. A route that enforces its own
    body size (document upload) passes ``own_body_limit=True``.
    """

    server = GatewayWebServer()

    def __init__(
        self,
        method,
        url,
        own_body_limit: bool = False,
        direct: DirectHandler | None = None,
        **kwargs,
    ):
        self.own_body_limit = own_body_limit
        self.direct = direct
        self._providers: dict[str, Any] | None = None
        super().__init__(method, url, **kwargs)

    def handle_request(self, request: Request) -> Response:
        request.shallow = False
        try:
            refused = self.refused(request)
            answered = self.answer_directly(request) if refused is None else None
        except Exception as exc:
            return self.response_from_exception(exc)
        if refused is not None:
            return refused
        if answered is not None:
            return answered
        return super().handle_request(request)

    def answer_directly(self, request: Request) -> Response | None:
        """A route's ``direct`` handler answers in the web server's green thread, with
        no Nameko worker (ADR-014): for a public, read-only hot path that needs only
        dependency providers safe to share. None hands the request to the worker."""
        if self.direct is None:
            return None
        if self._providers is None:
            self._providers = {dep.attr_name: dep for dep in self.container.dependencies}
        return self.direct(self._providers, request, **request.path_values)

    def refused(self, request: Request) -> Response | None:
        max_body, body, content_length = None, None, request.content_length
        if not self.own_body_limit:
            max_body = int(setting("MAX_BODY_BYTES", 0) or domain.DEFAULT_MAX_BODY_BYTES)
            if (content_length or 0) <= max_body:
                request.max_content_length = max_body
                try:
                    body = request.get_data(cache=True)
                except RequestEntityTooLarge:
                    content_length = max_body + 1
        problem = domain.limit_problem(
            content_length=content_length,
            body=body,
            is_json=request.mimetype not in FORM_TYPES,
            page_size=request.args.get("limit"),
            max_body_bytes=max_body,
            max_depth=int(setting("MAX_JSON_DEPTH", 0) or domain.DEFAULT_MAX_JSON_DEPTH),
            max_page_size=int(setting("MAX_PAGE_SIZE", 0) or domain.DEFAULT_MAX_PAGE_SIZE),
        )
        if problem is None:
            return None
        status, error = problem
        return json_response(status, error)

    def response_from_exception(self, exc: Exception) -> Response:
        log.error("unhandled error in %s: %s", self.method_name, type(exc).__name__, exc_info=exc)
        return error_response(500, "internal_error", "the gateway failed; the error is logged")


http = GatewayHttp.decorator


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
                log.error("upstream error: %s %s", error.exc_type, error.value)
            return json_response(status, body)
        except UnknownService as error:
            log.error("service not running: %s", error)
            return error_response(503, "service_unavailable", "a service is not running; retry")
        except eventlet.Timeout:
            log.error("upstream timeout after %.1fs", timeout)
            return error_response(504, "timeout", "a service did not answer")
        return json_response(success_status, result)

    def audited(self, request: Request, response: Response, subject: str | None = None) -> Response:
        """Name the subject of a state-changing request for its audit entry (the
        ``Session`` provider records every state-changing request, with its caller)."""
        if subject:
            self.session.subject = subject
        return response
