"""Routes for the permit and contract registers and public verification.

Officer and employer actions on a permit go to the permits service, which
owns the state machine (409 for an action the permit's status does not
allow). Public verification (JSON API and the HTML page at ``/verify``) is
rate limited per client address (429 with Retry-After) and answered from the
gateway's read model (gateway/verification.py, ADR-014).
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources
from string import Template
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway import domain
from gateway.api.base import (
    API,
    ApiBase,
    error_response,
    http,
    invalid,
    json_response,
    malformed,
    not_found,
)
from gateway.session import PUBLIC, allow
from wpis_common.caller import AUDITOR, DECISION_OFFICER, INTAKE_OFFICER, SUPERVISOR
from wpis_common.errors import InvalidInput

READERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR)

PERMIT_ACTIONS = frozenset({"extend", "amend", "suspend", "reinstate", "revoke", "cancel"})


RATE_CHECKED = "wpis.verify_rate_checked"


def rate_limited(buckets: Any, request: Request) -> Response | None:
    wait = buckets.take(request.remote_addr or "unknown")
    if not wait:
        return None
    return error_response(
        429,
        "rate_limited",
        "too many checks; retry later",
        details={"retry_after": wait},
        headers={"Retry-After": str(wait)},
    )


def verify_directly(providers: dict[str, Any], request: Request, number: str) -> Response | None:
    """``GET /api/v1/verify/<number>`` from the read model, in the web server's green
    thread (no worker, no RPC; ADR-014); None for a number it does not hold."""
    request.environ[RATE_CHECKED] = True
    if limited := rate_limited(providers["verify_limit"].buckets, request):
        return limited
    return from_read_model(providers["verification"], number, _verify_options(request))


def from_read_model(checks: Any, number: str, options: dict[str, Any]) -> Response | None:
    """The read model's answer (or a 422 naming the field); None when it lacks the number."""
    try:
        answer = checks.check(number, options)
    except InvalidInput as error:
        return invalid(error.details["errors"])
    return None if answer is None else json_response(200, answer)


class RegistersApi(ApiBase):
    verify_limit: Any
    verification: Any

    @http("GET", f"{API}/permits/<string:number>")
    @allow(*READERS)
    def get_permit(self, request: Request, number: str) -> Response:
        return self.call(lambda: self.permits.get(number))

    @http("POST", f"{API}/permits/<string:number>/<string:action>")
    @allow(DECISION_OFFICER, SUPERVISOR)
    def change_permit(self, request: Request, number: str, action: str) -> Response:
        if action not in PERMIT_ACTIONS:
            allowed = {"allowed": sorted(PERMIT_ACTIONS)}
            return not_found(f"no permit action {action!r}", allowed)
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return self.audited(request, malformed(problem), number)
        response = self.call(lambda: getattr(self.permits, action)(number, payload))
        return self.audited(request, response, number)

    @http("GET", f"{API}/permits/<string:number>/document")
    @allow(*READERS)
    def permit_document(self, request: Request, number: str) -> Response:
        answer = self.call(lambda: self.permits.document(number))
        if answer.status_code != 200:
            return answer
        document = json.loads(answer.get_data())
        return Response(
            base64.b64decode(document["pdf_base64"]),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{document["filename"]}"'},
        )

    @http("GET", f"{API}/contracts/<string:contract_id>")
    @allow(*READERS)
    def get_contract(self, request: Request, contract_id: str) -> Response:
        return self.call(lambda: self.contracts.get(contract_id))

    # -- public verification ------------------------------------------------------

    @http("GET", f"{API}/verify/keys")
    @allow(PUBLIC)
    def verify_keys(self, request: Request) -> Response:
        return self.call(lambda: self.permits.credential_key())

    @http("GET", f"{API}/verify/<string:number>", direct=verify_directly)
    @allow(PUBLIC)
    def verify_permit(self, request: Request, number: str) -> Response:
        """Reached only for what ``verify_directly`` left: numbers the read model
        does not hold, asked of the register."""
        if not request.environ.get(RATE_CHECKED) and (limited := self._rate_limited(request)):
            return limited
        return self.call(lambda: self.permits.verify(number, _verify_options(request)))

    @http("GET", f"{API}/verify/token/<string:token>")
    @allow(PUBLIC)
    def verify_by_token(self, request: Request, token: str) -> Response:
        if limited := self._rate_limited(request):
            return limited
        return self.call(lambda: self.permits.verify_token(token, _verify_options(request)))

    @http("GET", "/verify")
    @allow(PUBLIC)
    def verify_page(self, request: Request) -> Response:
        number = request.args.get("number", "").strip()
        if not number:
            return _page(number, "", "")
        if limited := self._rate_limited(request):
            return _page(number, "", _verdict_html(429, json.loads(limited.get_data())), limited)
        answer = self._check(number, _verify_options(request))
        fragment = _verdict_html(answer.status_code, json.loads(answer.get_data()))
        return _page(number, request.args.get("date_of_birth", ""), fragment)

    @http("GET", "/verify/token/<string:token>")
    @allow(PUBLIC)
    def verify_page_by_token(self, request: Request, token: str) -> Response:
        if limited := self._rate_limited(request):
            return _page("", "", _verdict_html(429, json.loads(limited.get_data())), limited)
        answer = self.call(lambda: self.permits.verify_token(token, _verify_options(request)))
        body = json.loads(answer.get_data())
        return _page(body.get("number") or "", "", _verdict_html(answer.status_code, body))

    def _check(self, number: str, options: dict[str, Any]) -> Response:
        """From the read model (ADR-014); a number it does not hold, from the register."""
        answered = from_read_model(self.verification, number, options)
        if answered is not None:
            return answered
        return self.call(lambda: self.permits.verify(number, options))

    def _rate_limited(self, request: Request) -> Response | None:
        return rate_limited(self.verify_limit, request)


def _verify_options(request: Request) -> dict[str, Any]:
    options: dict[str, Any] = {"client": (request.remote_addr or "")[:64] or None}
    if request.args.get("date_of_birth"):
        options["date_of_birth"] = request.args["date_of_birth"]
    return options


def _page(number: str, date_of_birth: str, result: str, status_from: Response | None = None):
    template = Template(resources.files("gateway").joinpath("static/verify.html").read_text())
    page = template.substitute(
        number=html.escape(number), date_of_birth=html.escape(date_of_birth), result=result
    )
    response = Response(page, mimetype="text/html")
    if status_from is not None:
        response.status_code = status_from.status_code
        response.headers["Retry-After"] = status_from.headers.get("Retry-After", "")
    return response


def _verdict_html(status: int, body: dict[str, Any]) -> str:
    if status != 200:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        reasons = [r for rs in (error.get("fields") or {}).values() for r in rs]
        text = "; ".join(reasons) or error.get("message") or "the check could not be made"
        return f'<div class="verdict error"><p>{html.escape(text)}</p></div>'
    result = body.get("result", "unknown")
    headline = {"valid": "Valid", "not_valid": "Not valid", "unknown": "Unknown"}[result]
    rows = [
        ("Permit", body.get("number")),
        ("Why", body.get("message") if result != "valid" else None),
        ("Valid from", body.get("valid_from")),
        ("Valid until", body.get("valid_until")),
        ("Employer", body.get("employer_name")),
        ("Job", body.get("job_title")),
        ("Checked at", body.get("checked_at")),
    ]
    details = "".join(
        f"<dt>{label}</dt><dd>{html.escape(str(value))}</dd>" for label, value in rows if value
    )
    return f'<div class="verdict {result}"><h2>{headline}</h2><dl>{details}</dl></div>'
