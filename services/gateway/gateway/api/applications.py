"""Routes for applications: file, list, read, decide, notices."""

from __future__ import annotations

import json

from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response

from gateway import domain
from gateway.api.base import API, ApiBase, invalid, malformed


class ApplicationsApi(ApiBase):
    @http("POST", f"{API}/applications")
    def submit_application(self, request: Request) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return self.audited(request, malformed(problem))
        response = self.call(lambda: self.applications.submit(payload), 201)
        return self.audited(request, response, subject=_created_id(response))

    @http("GET", f"{API}/applications")
    def list_applications(self, request: Request) -> Response:
        status = request.args.get("status") or None
        limit = request.args.get("limit", "100")
        if not limit.isdigit() or not 1 <= int(limit) <= 500:
            return invalid({"limit": ["must be a whole number from 1 to 500"]})
        return self.call(lambda: self.applications.list(status=status, limit=int(limit)))

    @http("GET", f"{API}/applications/<string:application_id>")
    def get_application(self, request: Request, application_id: str) -> Response:
        return self.call(lambda: self.applications.get(application_id))

    @http("POST", f"{API}/applications/<string:application_id>/decision")
    def decide(self, request: Request, application_id: str) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return self.audited(request, malformed(problem), application_id)
        response = self.call(lambda: self.applications.decide(application_id, payload))
        return self.audited(request, response, application_id)

    @http("GET", f"{API}/applications/<string:application_id>/notifications")
    def application_notifications(self, request: Request, application_id: str) -> Response:
        return self.call(lambda: self.notifications.deliveries_for(application_id))


def _created_id(response: Response) -> str | None:
    if response.status_code != 201:
        return None
    return json.loads(response.get_data()).get("id")
