"""gateway: the HTTP API (``/api/v1``) and the officer console, over RPC.

Entrypoints only: each parses the request, calls the owning service, and maps
the answer or the service's error to HTTP (rules in domain.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any

import eventlet
from kombu import Connection
from nameko import config
from nameko.exceptions import RemoteError, UnknownService
from nameko.rpc import ServiceRpc
from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response

from gateway import domain
from gateway.models import MESSAGING, AuditEntry
from gateway.schemas import EVENTS
from wpis_common.config import setting
from wpis_common.dependencies import Database
from wpis_common.envelope import utc_now

log = logging.getLogger(__name__)
API = "/api/v1"


def json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class GatewayService:
    name = "gateway"

    db = Database(MESSAGING, EVENTS)
    applications = ServiceRpc("applications")
    permits = ServiceRpc("permits")
    contracts = ServiceRpc("contracts")
    notifications = ServiceRpc("notifications")

    @http("GET", "/")
    def console(self, request: Request) -> Response:
        page = resources.files("gateway").joinpath("static/console.html").read_text()
        return Response(page, mimetype="text/html")

    @http("GET", "/healthz")
    def healthz(self, request: Request) -> Response:
        try:
            with Connection(config["AMQP_URI"], connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1)
        except Exception as error:  # any failure to reach the broker means not healthy
            return json_response(503, {"status": "unavailable", "broker": type(error).__name__})
        return json_response(200, {"status": "ok", "broker": "reachable"})

    @http("POST", f"{API}/applications")
    def submit_application(self, request: Request) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return self._audited(request, json_response(400, _malformed(problem)))
        response = self._call(lambda: self.applications.submit(payload), 201)
        return self._audited(request, response, subject=_id_of(response))

    @http("GET", f"{API}/applications")
    def list_applications(self, request: Request) -> Response:
        status = request.args.get("status") or None
        limit = request.args.get("limit", "100")
        if not limit.isdigit() or not 1 <= int(limit) <= 500:
            return json_response(422, _invalid({"limit": ["must be a whole number from 1 to 500"]}))
        return self._call(lambda: self.applications.list(status=status, limit=int(limit)))

    @http("GET", f"{API}/applications/<string:application_id>")
    def get_application(self, request: Request, application_id: str) -> Response:
        return self._call(lambda: self.applications.get(application_id))

    @http("POST", f"{API}/applications/<string:application_id>/decision")
    def decide(self, request: Request, application_id: str) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return self._audited(request, json_response(400, _malformed(problem)), application_id)
        response = self._call(lambda: self.applications.decide(application_id, payload))
        return self._audited(request, response, application_id)

    @http("GET", f"{API}/applications/<string:application_id>/notifications")
    def application_notifications(self, request: Request, application_id: str) -> Response:
        return self._call(lambda: self.notifications.deliveries_for(application_id))

    @http("GET", f"{API}/permits/<string:number>")
    def get_permit(self, request: Request, number: str) -> Response:
        return self._call(lambda: self.permits.get(number))

    @http("GET", f"{API}/contracts/<string:contract_id>")
    def get_contract(self, request: Request, contract_id: str) -> Response:
        return self._call(lambda: self.contracts.get(contract_id))

    @http("GET", f"{API}/verify/<string:number>")
    def verify_permit(self, request: Request, number: str) -> Response:
        return self._call(lambda: self.permits.verify(number))

    def _call(self, rpc_call: Callable[[], Any], success_status: int = 200) -> Response:
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

    def _audited(
        self, request: Request, response: Response, subject: str | None = None
    ) -> Response:
        with self.db.unit_of_work() as uow:
            uow.session.add(
                AuditEntry(
                    at=utc_now(),
                    actor="anonymous",
                    method=request.method,
                    path=request.path,
                    status=response.status_code,
                    remote_addr=request.remote_addr,
                    subject=subject,
                )
            )
        return response


def _malformed(reason: str) -> dict[str, Any]:
    return {"error": "malformed_request", "message": reason}


def _invalid(errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"error": "invalid_request", "message": "invalid request", "errors": errors}


def _id_of(response: Response) -> str | None:
    if response.status_code != 201:
        return None
    return json.loads(response.get_data()).get("id")
