"""Routes for the permit and contract registers and public verification."""

from __future__ import annotations

from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response

from gateway.api.base import API, ApiBase


class RegistersApi(ApiBase):
    @http("GET", f"{API}/permits/<string:number>")
    def get_permit(self, request: Request, number: str) -> Response:
        return self.call(lambda: self.permits.get(number))

    @http("GET", f"{API}/contracts/<string:contract_id>")
    def get_contract(self, request: Request, contract_id: str) -> Response:
        return self.call(lambda: self.contracts.get(contract_id))

    @http("GET", f"{API}/verify/<string:number>")
    def verify_permit(self, request: Request, number: str) -> Response:
        return self.call(lambda: self.permits.verify(number))
