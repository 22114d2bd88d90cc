"""Routes for identity checks: what the identity gateway asked the IDMS about an
application, when, with which outcome, and its audit trail (auditor role, once
roles exist)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway.api.base import API, ApiBase, http


class IdentityApi(ApiBase):
    @http("GET", f"{API}/applications/<string:application_id>/identity-checks")
    def identity_checks(self, request: Request, application_id: str) -> Response:
        return self.call(lambda: self.identity_gateway.checks_for_application(application_id))
