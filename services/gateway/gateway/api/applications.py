"""Routes for applications: file, list and search, read, act on a case (decide,
send back, resubmit, withdraw, close, assign, pay), documents, history, notices.

Who is acting is the logged-in caller (gateway/session.py): its access token
travels in the worker context with every RPC call, and the applications
service checks the role against its transition table (403 for a role that may
not act, 409 for a state that does not allow the action; an employer gets 404
for another employer's case). ``@allow`` is the gateway's first, coarser check.
See docs/applications.md and docs/security.md.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from nameko.exceptions import RemoteError
from werkzeug.exceptions import RequestEntityTooLarge
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
)
from gateway.session import PUBLIC, allow
from wpis_common.caller import (
    AUDITOR,
    DECISION_OFFICER,
    EMPLOYER,
    INTAKE_OFFICER,
    SUPERVISOR,
)

LIST_PARAMS = frozenset(
    {"status", "kind", "employer", "nationality", "submitted_from", "submitted_to", "overdue",
     "assigned_to", "q", "limit", "cursor"}
)  # fmt: skip
MULTIPART_OVERHEAD = 64 * 1024  # form fields and part headers around the file
SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# Errors of the applications service the shared mapping does not know.
EXTRA_ERRORS: dict[str, tuple[int, str]] = {}
OFFICERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR)
CASE_READERS = (EMPLOYER, *OFFICERS, AUDITOR)
DOCUMENT_READERS = (EMPLOYER, *OFFICERS)  # not the auditor: documents hold personal data


class ApplicationsApi(ApiBase):
    applications: Any
    notifications: Any

    # -- filing, reading, listing ----------------------------------------------------

    @http("POST", f"{API}/applications")
    @allow(EMPLOYER)
    def submit_application(self, request: Request) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return self.audited(request, malformed(problem))
        response = self._call(lambda: self.applications.submit(payload), 201)
        return self.audited(request, response, subject=_created_id(response))

    @http("GET", f"{API}/applications")
    @allow(*CASE_READERS)
    def list_applications(self, request: Request) -> Response:
        unknown = sorted(set(request.args) - LIST_PARAMS)
        if unknown:
            return invalid({name: ["unknown query parameter"] for name in unknown})
        filters = _list_filters(request)
        response = self._call(lambda: self.applications.search(filters))
        if response.status_code != 200:
            return response
        page = json.loads(response.get_data())
        answer = json_response(200, page["items"])
        if page["next_cursor"]:
            answer.headers["X-Next-Cursor"] = page["next_cursor"]
            query = {key: value for key, value in request.args.items() if key != "cursor"}
            query["cursor"] = page["next_cursor"]
            answer.headers["Link"] = f'<{request.path}?{urlencode(query)}>; rel="next"'
        return answer

    @http("GET", f"{API}/applications/<string:application_id>")
    @allow(*CASE_READERS)
    def get_application(self, request: Request, application_id: str) -> Response:
        return self._call(lambda: self.applications.get(application_id))

    @http("GET", f"{API}/applications/<string:application_id>/history")
    @allow(*CASE_READERS)
    def application_history(self, request: Request, application_id: str) -> Response:
        return self._call(lambda: self.applications.history(application_id))

    @http("GET", f"{API}/application-rules")
    @allow(PUBLIC)
    def application_rules(self, request: Request) -> Response:
        return self._call(lambda: self.applications.rules())

    @http("GET", f"{API}/applications/<string:application_id>/notifications")
    @allow(*OFFICERS, AUDITOR)
    def application_notifications(self, request: Request, application_id: str) -> Response:
        return self.call(lambda: self.notifications.deliveries_for(application_id))

    # -- acting on a case --------------------------------------------------------------

    @http("POST", f"{API}/applications/<string:application_id>/decision")
    @allow(DECISION_OFFICER, SUPERVISOR)
    def decide(self, request: Request, application_id: str) -> Response:
        return self._act(request, application_id, self.applications.decide)

    @http("POST", f"{API}/applications/<string:application_id>/send-back")
    @allow(*OFFICERS)
    def send_back(self, request: Request, application_id: str) -> Response:
        return self._act(request, application_id, self.applications.send_back)

    @http("POST", f"{API}/applications/<string:application_id>/resubmit")
    @allow(EMPLOYER)
    def resubmit(self, request: Request, application_id: str) -> Response:
        return self._act(request, application_id, self.applications.resubmit, empty_ok=True)

    @http("POST", f"{API}/applications/<string:application_id>/withdraw")
    @allow(EMPLOYER)
    def withdraw(self, request: Request, application_id: str) -> Response:
        return self._act(request, application_id, self.applications.withdraw, empty_ok=True)

    @http("POST", f"{API}/applications/<string:application_id>/close")
    @allow(SUPERVISOR)
    def close(self, request: Request, application_id: str) -> Response:
        return self._act(request, application_id, self.applications.close)

    @http("POST", f"{API}/applications/<string:application_id>/assignment")
    @allow(*OFFICERS)
    def assign(self, request: Request, application_id: str) -> Response:
        return self._act(request, application_id, self.applications.assign)

    @http("POST", f"{API}/applications/<string:application_id>/fee")
    @allow(EMPLOYER, INTAKE_OFFICER, SUPERVISOR)
    def pay_fee(self, request: Request, application_id: str) -> Response:
        return self._act(request, application_id, self.applications.pay_fee)

    @http("POST", f"{API}/applications/<string:application_id>/submit")
    @allow(EMPLOYER)
    def submit_draft(self, request: Request, application_id: str) -> Response:
        _payload, problem = _json_body(request, empty_ok=True)
        if problem:
            return self.audited(request, malformed(problem), application_id)
        response = self._call(lambda: self.applications.submit_draft(application_id))
        return self.audited(request, response, application_id)

    # -- documents ---------------------------------------------------------------------

    @http("GET", f"{API}/applications/<string:application_id>/documents")
    @allow(*DOCUMENT_READERS)
    def list_documents(self, request: Request, application_id: str) -> Response:
        return self._call(lambda: self.applications.documents_of(application_id))

    @http("POST", f"{API}/applications/<string:application_id>/documents", own_body_limit=True)
    @allow(EMPLOYER, INTAKE_OFFICER)
    def upload_document(self, request: Request, application_id: str) -> Response:
        response = self._upload(request, application_id)
        return self.audited(request, response, application_id)

    @http("GET", f"{API}/applications/<string:application_id>/documents/<string:document_id>")
    @allow(*DOCUMENT_READERS)
    def download_document(self, request: Request, application_id: str, document_id: str):
        answer = self._call(lambda: self.applications.document(application_id, document_id))
        if answer.status_code != 200:
            return answer
        document = json.loads(answer.get_data())
        filename = SAFE_FILENAME.sub("_", document["filename"])[:100] or "document"
        return Response(
            base64.b64decode(document["content"]),
            mimetype=document["media_type"],
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-Content-Type-Options": "nosniff",
                "ETag": f'"{document["sha256"]}"',
                "Cache-Control": "private, no-store",
            },
        )

    def _upload(self, request: Request, application_id: str) -> Response:
        if request.mimetype != "multipart/form-data":
            return malformed("send the document as multipart/form-data with a 'file' part")
        rules = self._call(lambda: self.applications.rules())
        if rules.status_code != 200:
            return rules
        limit = json.loads(rules.get_data())["document_max_bytes"]
        if (request.content_length or 0) > limit + MULTIPART_OVERHEAD:
            return _too_large(limit)
        request.max_content_length = limit + MULTIPART_OVERHEAD
        try:
            upload = request.files.get("file")
            form = request.form
        except RequestEntityTooLarge:
            return _too_large(limit)
        if upload is None:
            return invalid({"file": ["missing: send the document in a part named 'file'"]})
        content = upload.read(limit + 1)
        if len(content) > limit:
            return _too_large(limit)
        payload = {
            "document_type": form.get("document_type", ""),
            "filename": upload.filename or "document",
            "content_type": upload.mimetype or None,
            "content": base64.b64encode(content).decode(),
        }
        return self._call(lambda: self.applications.add_document(application_id, payload), 201)

    # -- helpers -----------------------------------------------------------------------

    def _act(
        self, request: Request, application_id: str, method: Callable, empty_ok: bool = False
    ) -> Response:
        payload, problem = _json_body(request, empty_ok)
        if problem:
            return self.audited(request, malformed(problem), application_id)
        response = self._call(lambda: method(application_id, payload))
        return self.audited(request, response, application_id)

    def _call(self, rpc_call: Callable[[], Any], success_status: int = 200) -> Response:
        """``ApiBase.call``, plus the applications service's own error types."""
        caught: list[RemoteError] = []

        def guarded() -> Any:
            try:
                return rpc_call()
            except RemoteError as error:
                if error.exc_type not in EXTRA_ERRORS:
                    raise
                caught.append(error)
                return None

        response = self.call(guarded, success_status)
        if not caught:
            return response
        status, code = EXTRA_ERRORS[caught[0].exc_type]
        return json_response(status, domain.body_from_details(code, caught[0].value))


def _json_body(request: Request, empty_ok: bool = False) -> tuple[Any, str | None]:
    if empty_ok and not request.get_data().strip():
        return {}, None
    return domain.parse_json_body(request.get_data())


def _list_filters(request: Request) -> dict[str, Any]:
    filters: dict[str, Any] = {
        key: value for key, value in request.args.items() if value.strip() != ""
    }
    if "status" in filters:
        filters["status"] = [s.strip() for s in filters["status"].split(",") if s.strip()]
    return filters


def _too_large(limit: int) -> Response:
    return error_response(
        413,
        "payload_too_large",
        f"the document is larger than {limit} bytes",
        {"file": [f"larger than the limit of {limit} bytes"]},
    )


def _created_id(response: Response) -> str | None:
    if response.status_code != 201:
        return None
    return json.loads(response.get_data()).get("id")
