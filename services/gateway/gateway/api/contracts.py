"""Routes for the contract register: amend, terminate, record the employment's end,
history, and an employer's contracts. (Reading one contract is in registers.py.)"""

from __future__ import annotations

import re

from werkzeug.wrappers import Request, Response

from gateway import domain
from gateway.api.base import API, ApiBase, http, invalid, malformed, not_found
from gateway.session import allow
from wpis_common.caller import AUDITOR, DECISION_OFFICER, EMPLOYER, INTAKE_OFFICER, SUPERVISOR

READERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR)

TAX_ID = re.compile(r"^\d{8}$")


class ContractsApi(ApiBase):
    @http("PATCH", f"{API}/contracts/<string:contract_id>/amend")
    @allow(DECISION_OFFICER, SUPERVISOR)
    def amend_contract(self, request: Request, contract_id: str) -> Response:
        return self._command(request, contract_id, self.contracts.amend)

    @http("POST", f"{API}/contracts/<string:contract_id>/amend")
    @allow(DECISION_OFFICER, SUPERVISOR)
    def amend_contract_by_post(self, request: Request, contract_id: str) -> Response:
        return self._command(request, contract_id, self.contracts.amend)

    @http("POST", f"{API}/contracts/<string:contract_id>/terminate")
    @allow(DECISION_OFFICER, SUPERVISOR)
    def terminate_contract(self, request: Request, contract_id: str) -> Response:
        return self._command(request, contract_id, self.contracts.terminate)

    @http("POST", f"{API}/contracts/<string:contract_id>/employment-ended")
    @allow(EMPLOYER, DECISION_OFFICER, SUPERVISOR)
    def record_employment_end(self, request: Request, contract_id: str) -> Response:
        return self._command(request, contract_id, self.contracts.record_employment_end)

    @http("GET", f"{API}/contracts/<string:contract_id>/history")
    @allow(*READERS)
    def contract_history(self, request: Request, contract_id: str) -> Response:
        return self.call(lambda: self.contracts.history(contract_id))

    @http("GET", f"{API}/employers/<string:tax_id>/contracts")
    @allow(EMPLOYER, *READERS)
    def employer_contracts(self, request: Request, tax_id: str) -> Response:
        if not TAX_ID.match(tax_id):
            return invalid({"tax_id": ["must be an 8-digit tax id"]})
        caller = self.session.caller
        if caller.role == EMPLOYER and caller.tax_id != tax_id:
            return not_found("no such employer")
        return self.call(lambda: self.contracts.list_for_employer(tax_id))

    def _command(self, request: Request, contract_id: str, method) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return self.audited(request, malformed(problem), contract_id)
        response = self.call(lambda: method(contract_id, payload))
        return self.audited(request, response, contract_id)
