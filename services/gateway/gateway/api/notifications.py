"""Routes for notifications: the delivery log, and agencies' webhook endpoints.

``GET /api/v1/notifications?application_id=&status=&channel=&event_type=&limit=``
reads the delivery log (newest first); ``/api/v1/notifications/webhooks`` registers,
lists and removes the endpoints agencies receive signed events on. The log is for
officers and auditors; webhooks for the agency and admin roles (docs/security.md).
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway import domain
from gateway.api.base import API, ApiBase, http, malformed
from gateway.session import allow
from wpis_common.caller import ADMIN, AGENCY, AUDITOR, DECISION_OFFICER, INTAKE_OFFICER, SUPERVISOR

READERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR)


class NotificationsApi(ApiBase):
    @http("GET", f"{API}/notifications")
    @allow(*READERS)
    def notification_log(self, request: Request) -> Response:
        filters = request.args.to_dict()
        return self.call(lambda: self.notifications.list_deliveries(filters))

    @http("POST", f"{API}/notifications/webhooks")
    @allow(AGENCY, ADMIN)
    def register_webhook(self, request: Request) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return self.audited(request, malformed(problem))
        response = self.call(lambda: self.notifications.register_endpoint(payload), 201)
        return self.audited(request, response)

    @http("GET", f"{API}/notifications/webhooks")
    @allow(AGENCY, ADMIN, AUDITOR)
    def list_webhooks(self, request: Request) -> Response:
        return self.call(lambda: self.notifications.list_endpoints())

    @http("DELETE", f"{API}/notifications/webhooks/<string:endpoint_id>")
    @allow(AGENCY, ADMIN)
    def remove_webhook(self, request: Request, endpoint_id: str) -> Response:
        response = self.call(lambda: self.notifications.remove_endpoint(endpoint_id))
        return self.audited(request, response, endpoint_id)
