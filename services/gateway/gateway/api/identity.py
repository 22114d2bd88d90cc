"""Routes for identity checks: what the identity gateway asked the IDMS about an
application, when, with which outcome, and its audit trail (officers and auditors)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway.api.base import API, ApiBase, http
from gateway.session import allow
from wpis_common.caller import AUDITOR, DECISION_OFFICER, INTAKE_OFFICER, SUPERVISOR

READERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR)


class IdentityApi(ApiBase):
    @http("GET", f"{API}/applications/<string:application_id>/identity-checks")
    @allow(*READERS)
    def identity_checks(self, request: Request, application_id: str) -> Response:
        return self.call(lambda: self.identity_gateway.checks_for_application(application_id))
