"""gateway: the HTTP API (``/api/v1``) and the officer console, over RPC.

Entrypoints only, grouped by area in ``gateway/api/``: each parses the
request, calls the owning service and maps its answer or error to HTTP.
"""

from __future__ import annotations

from kombu import Connection
from nameko import config
from nameko.rpc import ServiceRpc
from werkzeug.wrappers import Request, Response

from gateway.api import applications as applications_api
from gateway.api import auth as auth_api
from gateway.api import console as console_api
from gateway.api import contracts as contracts_api
from gateway.api import events as events_api
from gateway.api import identity as identity_api
from gateway.api import meta as meta_api
from gateway.api import notifications as notifications_api
from gateway.api import registers as registers_api
from gateway.api import statistics as statistics_api
from gateway.api import verification_feed
from gateway.api.base import error_response, http, json_response
from gateway.models import MESSAGING
from gateway.ratelimit import VerifyRateLimit
from gateway.schemas import EVENTS
from gateway.session import PUBLIC, Session, allow
from gateway.verification import CheckLog
from wpis_common.dependencies import Database


# Modules, not classes, are imported: `nameko run gateway.service` would try to
# run every class with entrypoints that it finds in this module's namespace.
class GatewayService(
    applications_api.ApplicationsApi,
    auth_api.AuthApi,
    console_api.ConsoleApi,
    registers_api.RegistersApi,
    contracts_api.ContractsApi,
    events_api.EventsApi,
    identity_api.IdentityApi,
    notifications_api.NotificationsApi,
    statistics_api.StatisticsApi,
    meta_api.MetaApi,
    verification_feed.VerificationFeed,
):
    name = "gateway"

    db = Database(MESSAGING, EVENTS)
    applications = ServiceRpc("applications")
    permits = ServiceRpc("permits")
    contracts = ServiceRpc("contracts")
    notifications = ServiceRpc("notifications")
    identity_gateway = ServiceRpc("identity_gateway")
    statistics = ServiceRpc("statistics")
    verify_limit = VerifyRateLimit()
    verification = CheckLog()
    session = Session()

    @http("GET", "/healthz")
    @allow(PUBLIC)
    def healthz(self, request: Request) -> Response:
        try:
            with Connection(config["AMQP_URI"], connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1)
        except Exception as error:  # any failure to reach the broker means not healthy
            broker = {"broker": type(error).__name__}
            return error_response(503, "unavailable", "the broker is not reachable", None, broker)
        return json_response(200, {"status": "ok", "broker": "reachable"})
