"""The web console: server-rendered pages (Jinja2, gateway/console/templates)
for officers and employers, over the same RPC calls as the API.

Pages: sign in/out; the case queue (officers: every case, with filters and
counts; employers: their own cases); a case page with the actions the role and
state allow; filing a new application; uploading documents; the permit page
(PDF, QR) with revoke for a supervisor. Forms use POST and redirect; every form
carries a CSRF token that must match the ``wpis_csrf`` cookie (SameSite=Strict).

Who is calling: the ``wpis_session`` cookie holds the access token (see
gateway/session.py); the ``Session`` provider verifies it and the RPC calls
carry it, so every service applies its own rules. Pages redirect an anonymous
visitor to the sign-in page, and refresh an expired access token with the
``wpis_refresh`` cookie. See docs/console.md.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlencode

import eventlet
from nameko.exceptions import RemoteError, UnknownService
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway import domain
from gateway.api.base import ApiBase, http
from gateway.console import forms
from gateway.console.i18n import CATALOG, Translator, pick_language
from gateway.console.render import qr_svg, render, stylesheet
from gateway.session import PUBLIC, REFRESH_COOKIE, SESSION_COOKIE, LoginFailed, RateLimited, allow
from wpis_common.config import setting

FLASH_COOKIE = "wpis_flash"
CASE_ACTIONS = ("assign", "submit", "approve", "reject", "send-back", "withdraw", "resubmit")
OWN_ERRORS = {"Forbidden": 403, "Unauthenticated": 401}
MULTIPART_OVERHEAD = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Answer:
    """An RPC answer: HTTP-like status and the body (or the error body)."""

    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body

    @property
    def ok(self) -> bool:
        return self.status < 300


class ConsoleApi(ApiBase):
    applications: Any
    permits: Any
    session: Any

    # -- static and entry -------------------------------------------------------------

    @http("GET", "/console/static/console.css")
    @allow(PUBLIC)
    def console_css(self, request: Request) -> Response:
        return Response(
            stylesheet(),
            mimetype="text/css",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    @http("GET", "/")
    @allow(PUBLIC)
    def console_root(self, request: Request) -> Response:
        return _redirect("/console")

    @http("GET", "/console")
    @allow(PUBLIC)
    def console_home(self, request: Request) -> Response:
        caller, refreshed = self._console_caller(request)
        target = "/console/login" if caller is None else "/console/queue"
        return _with_cookies(_redirect(target), refreshed, request)

    # -- signing in and out -----------------------------------------------------------

    @http("GET", "/console/login")
    @allow(PUBLIC)
    def console_login_page(self, request: Request) -> Response:
        flash = None
        if request.args.get("expired"):
            flash = ("bad", "session_expired")
        return self._console_page(
            request, None, "login.html", flash=flash, username="",
            next_path=forms.safe_next(request.args.get("next")),
        )  # fmt: skip

    @http("POST", "/console/login")
    @allow(PUBLIC)
    def console_login(self, request: Request) -> Response:
        if not self._console_csrf_ok(request):
            return self._console_error(request, None, 403, "error_csrf")
        username = (request.form.get("username") or "").strip()[:100]
        next_path = forms.safe_next(request.form.get("next"))
        try:
            tokens = self.session.login(
                username, request.form.get("password") or "", request.remote_addr or ""
            )
        except LoginFailed:
            return self._console_page(request, None, "login.html", status=401,
                                      flash=("bad", "login_failed"), username=username,
                                      next_path=next_path)  # fmt: skip
        except RateLimited as limited:
            wait = int(getattr(limited, "retry_after", 60) or 60)
            response = self._console_page(request, None, "login.html", status=429,
                                          flash=("bad", "login_rate_limited", {"seconds": wait}),
                                          username=username, next_path=next_path)  # fmt: skip
            response.headers["Retry-After"] = str(wait)
            return response
        response = _redirect(next_path)
        _set_tokens(response, request, tokens)
        return response

    @http("POST", "/console/logout")
    @allow(PUBLIC)
    def console_logout(self, request: Request) -> Response:
        if not self._console_csrf_ok(request):
            return self._console_error(request, None, 403, "error_csrf")
        caller, refreshed = self._console_caller(request)  # an expired token: renew to revoke
        if caller is not None:
            refresh_token = (refreshed or {}).get("refresh_token")
            self.session.logout(refresh_token or request.cookies.get(REFRESH_COOKIE))
        response = _redirect("/console/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(REFRESH_COOKIE, path="/")
        _flash(response, "ok", "logged_out")
        return response

    # -- the queue ----------------------------------------------------------------------

    @http("GET", "/console/queue")
    @allow(PUBLIC)
    def console_queue(self, request: Request) -> Response:
        caller, refreshed = self._console_caller(request)
        if (gate := self._console_gate(request, caller, forms.QUEUE_ROLES)) is not None:
            return gate
        filters, current = forms.queue_filters(request.args, caller.username)
        page = self._console_rpc(lambda: self.applications.search(filters))
        if not page.ok:
            return self._console_failed(request, caller, page)
        counted = {key: value for key, value in filters.items() if key not in ("status", "cursor")}
        everything = self._console_rpc(lambda: self.applications.search({**counted, "limit": 500}))
        counts = forms.status_counts(everything.body["items"]) if everything.ok else []
        next_url = None
        if page.body.get("next_cursor"):
            query = {key: value for key, value in current.items() if value}
            next_url = "/console/queue?" + urlencode({**query, "cursor": page.body["next_cursor"]})
        title = "my_applications_title" if caller.role == "employer" else "queue_title"
        response = self._console_page(
            request, caller, "queue.html", nav="queue", title_key=title,
            items=page.body["items"], counts=counts, current=current,
            next_cursor=page.body.get("next_cursor"), next_url=next_url,
        )  # fmt: skip
        return _with_cookies(response, refreshed, request)

    # -- a case -------------------------------------------------------------------------

    @http("GET", "/console/cases/<string:application_id>")
    @allow(PUBLIC)
    def console_case(self, request: Request, application_id: str) -> Response:
        caller, refreshed = self._console_caller(request)
        if (gate := self._console_gate(request, caller, forms.QUEUE_ROLES)) is not None:
            return gate
        case = self._console_rpc(lambda: self.applications.get(application_id))
        if not case.ok:
            return self._console_failed(request, caller, case)
        documents = self._console_rpc(lambda: self.applications.documents_of(application_id))
        response = self._console_page(
            request, caller, "case.html", nav="queue", case=case.body,
            documents=documents.body if documents.ok else [],
            actions=forms.case_actions(case.body, caller.role, caller.username),
            can_upload=caller.role == "employer"
            and case.body.get("status") in ("draft", "returned_for_correction"),
            upload_errors={},
        )  # fmt: skip
        return _with_cookies(response, refreshed, request)

    @http("POST", "/console/cases/<string:application_id>/<string:action>", own_body_limit=True)
    @allow(PUBLIC)
    def console_case_action(self, request: Request, application_id: str, action: str) -> Response:
        caller, refreshed = self._console_caller(request)
        if (gate := self._console_gate(request, caller, forms.QUEUE_ROLES)) is not None:
            return gate
        self.session.subject = application_id
        if not self._console_csrf_ok(request):
            return self._console_error(request, caller, 403, "error_csrf")
        back = f"/console/cases/{quote(application_id)}"
        if action == "documents":
            answer, done = self._console_upload(request, application_id), "flash_uploaded"
        elif action in CASE_ACTIONS:
            answer, done = self._console_act(request, caller.username, application_id, action)
        else:
            return self._console_error(request, caller, 404, "error_not_found")
        if answer.status == 401:
            return _redirect(_login_url(request, back, expired=True))
        response = _redirect(back)
        if answer.ok:
            _flash(response, "ok", done)
        else:
            _flash(response, "bad", "error_refused", forms.error_message(answer.body))
        return _with_cookies(response, refreshed, request)

    def _console_act(self, request: Request, username: str, application_id: str, action: str):
        form = request.form
        calls: dict[str, tuple[Callable[[], Any], str]] = {
            "assign": (lambda: self.applications.assign(application_id, {"officer": username}),
                       "flash_assigned"),
            "approve": (lambda: self.applications.decide(
                application_id, forms.decision_payload(form, "approve")), "flash_approved"),
            "reject": (lambda: self.applications.decide(
                application_id, forms.decision_payload(form, "reject")), "flash_rejected"),
            "send-back": (lambda: self.applications.send_back(
                application_id, forms.send_back_payload(form)), "flash_sent_back"),
            "submit": (lambda: self.applications.submit_draft(application_id), "flash_submitted"),
            "withdraw": (lambda: self.applications.withdraw(application_id, {}),
                         "flash_withdrawn"),
            "resubmit": (lambda: self.applications.resubmit(application_id, {}),
                         "flash_resubmitted"),
        }  # fmt: skip
        call, done = calls[action]
        return self._console_rpc(call), done

    def _console_upload(self, request: Request, application_id: str) -> Answer:
        rules = self._console_rpc(lambda: self.applications.rules())
        if not rules.ok:
            return rules
        limit = int(rules.body["document_max_bytes"])
        too_large = Answer(413, {"errors": {"file": [f"larger than the limit of {limit} bytes"]}})
        if (request.content_length or 0) > limit + MULTIPART_OVERHEAD:
            return too_large
        request.max_content_length = limit + MULTIPART_OVERHEAD
        try:
            upload = request.files.get("file")
            document_type = request.form.get("document_type", "")
        except RequestEntityTooLarge:
            return too_large
        if upload is None:
            return Answer(422, {"errors": {"file": ["choose a file to upload"]}})
        content = upload.read(limit + 1)
        if len(content) > limit:
            return too_large
        payload = {
            "document_type": document_type,
            "filename": upload.filename or "document",
            "content_type": upload.mimetype or None,
            "content": base64.b64encode(content).decode(),
        }
        return self._console_rpc(lambda: self.applications.add_document(application_id, payload))

    # -- filing -------------------------------------------------------------------------

    @http("GET", "/console/applications/new")
    @allow(PUBLIC)
    def console_apply_page(self, request: Request) -> Response:
        caller, refreshed = self._console_caller(request)
        if (gate := self._console_gate(request, caller, {"employer"})) is not None:
            return gate
        values = {"kind": "new", "job.currency": "AMD",
                  "employer.tax_id": caller.tax_id or ""}  # fmt: skip
        response = self._console_apply_form(request, caller, values, {})
        return _with_cookies(response, refreshed, request)

    @http("POST", "/console/applications")
    @allow(PUBLIC)
    def console_apply(self, request: Request) -> Response:
        caller, refreshed = self._console_caller(request)
        if (gate := self._console_gate(request, caller, {"employer"})) is not None:
            return gate
        if not self._console_csrf_ok(request):
            return self._console_error(request, caller, 403, "error_csrf")
        values = {field.name: (request.form.get(field.name) or "")[:300]
                  for field in forms.FILING_FIELDS}  # fmt: skip
        if caller.tax_id:
            values["employer.tax_id"] = caller.tax_id  # an employer files for itself only
        payload = forms.submission_from_form(values)
        draft = request.form.get("draft") == "1"
        if draft:
            payload["draft"] = True
        created = self._console_rpc(lambda: self.applications.submit(payload))
        if created.status == 422:
            errors = forms.field_errors(created.body) or {
                "_schema": [forms.error_message(created.body)]
            }
            return self._console_apply_form(request, caller, values, errors, status=422)
        if not created.ok:
            return self._console_failed(request, caller, created)
        self.session.subject = created.body.get("id")
        response = _redirect(f"/console/cases/{quote(created.body['id'])}")
        _flash(response, "ok", "flash_draft_saved" if draft else "flash_filed")
        return _with_cookies(response, refreshed, request)

    def _console_apply_form(self, request: Request, caller: Any, values: dict, errors: dict,
                            status: int = 200) -> Response:  # fmt: skip
        return self._console_page(
            request, caller, "apply.html", status=status, nav="apply", values=values,
            errors=errors, unplaced=forms.unplaced_errors(errors),
            readonly={"employer.tax_id"} if caller.tax_id else set(),
        )  # fmt: skip

    # -- permits ------------------------------------------------------------------------

    @http("GET", "/console/permits/<string:number>")
    @allow(PUBLIC)
    def console_permit(self, request: Request, number: str) -> Response:
        caller, refreshed = self._console_caller(request)
        if (gate := self._console_gate(request, caller, forms.PERMIT_READERS)) is not None:
            return gate
        permit = self._console_rpc(lambda: self.permits.get(number))
        if not permit.ok:
            return self._console_failed(request, caller, permit)
        base = request.host_url.rstrip("/")
        verify_url = f"{base}/verify?{urlencode({'number': permit.body['number']})}"
        response = self._console_page(
            request, caller, "permit.html", permit=permit.body, verify_url=verify_url,
            qr=qr_svg(verify_url),
            can_revoke=caller.role == "supervisor"
            and "revoke" in (permit.body.get("allowed_actions") or []),
        )  # fmt: skip
        return _with_cookies(response, refreshed, request)

    @http("POST", "/console/permits/<string:number>/revoke")
    @allow(PUBLIC)
    def console_revoke(self, request: Request, number: str) -> Response:
        caller, refreshed = self._console_caller(request)
        if (gate := self._console_gate(request, caller, {"supervisor"})) is not None:
            return gate
        self.session.subject = number
        if not self._console_csrf_ok(request):
            return self._console_error(request, caller, 403, "error_csrf")
        reason = (request.form.get("reason") or "").strip()
        answer = self._console_rpc(lambda: self.permits.revoke(number, {"reason": reason}))
        back = f"/console/permits/{quote(number)}"
        response = _redirect(back)
        if answer.ok:
            _flash(response, "ok", "flash_revoked")
        else:
            _flash(response, "bad", "error_refused", forms.error_message(answer.body))
        return _with_cookies(response, refreshed, request)

    # -- plumbing -----------------------------------------------------------------------

    def _console_caller(self, request: Request) -> tuple[Any, dict | None]:
        """The signed-in caller; an expired access token is renewed with the refresh
        cookie (the new tokens are set on the response by ``_with_cookies``)."""
        caller = self.session.caller
        if caller is not None:
            return caller, None
        refresh_token = request.cookies.get(REFRESH_COOKIE)
        if not refresh_token:
            return None, None
        try:
            tokens = self.session.refresh(refresh_token)
        except Exception:  # an expired or revoked refresh token: sign in again
            return None, None
        caller = self.session.act_as(tokens["access_token"])
        return caller, (tokens if caller is not None else None)

    def _console_gate(self, request: Request, caller: Any, roles: Any) -> Response | None:
        """None when ``caller`` may open the page; else the sign-in redirect or a 403 page."""
        if caller is None:
            return _redirect(_login_url(request, _here(request)))
        if caller.role not in roles:
            return self._console_error(request, caller, 403, "error_forbidden")
        return None

    def _console_rpc(self, call: Callable[[], Any]) -> Answer:
        timeout = float(setting("RPC_TIMEOUT", 10))
        try:
            with eventlet.Timeout(timeout):
                return Answer(200, call())
        except RemoteError as error:
            if error.exc_type in OWN_ERRORS:
                _, body = domain.error_from_remote("WpisError", error.value)
                return Answer(OWN_ERRORS[error.exc_type], body)
            return Answer(*domain.error_from_remote(error.exc_type, error.value))
        except UnknownService:
            return Answer(503, {"error": "service_unavailable", "message": "not running"})
        except eventlet.Timeout:
            return Answer(504, {"error": "timeout", "message": "a service did not answer"})

    def _console_failed(self, request: Request, caller: Any, answer: Answer) -> Response:
        if answer.status == 401:
            return _redirect(_login_url(request, _here(request), expired=True))
        if answer.status == 404:
            return self._console_error(request, caller, 404, "error_not_found")
        if answer.status == 403:
            return self._console_error(request, caller, 403, "error_forbidden")
        if answer.status >= 500:
            return self._console_error(request, caller, 503, "error_unavailable")
        translate = Translator(self._console_language(request, caller))
        message = translate("error_refused", message=forms.error_message(answer.body))
        return self._console_page(
            request, caller, "error.html", status=answer.status, message=message
        )

    def _console_error(self, request: Request, caller: Any, status: int, key: str) -> Response:
        message = Translator(self._console_language(request, caller))(key)
        return self._console_page(request, caller, "error.html", status=status, message=message)

    def _console_csrf_ok(self, request: Request) -> bool:
        return forms.csrf_ok(
            request.cookies.get(forms.CSRF_COOKIE), request.form.get(forms.CSRF_FIELD)
        )

    def _console_language(self, request: Request, caller: Any) -> str:
        return pick_language(
            request.args.get("lang"),
            request.cookies.get(forms.LANG_COOKIE),
            getattr(caller, "language", None),
            request.headers.get("Accept-Language"),
        )

    def _console_page(self, request: Request, caller: Any, template: str, status: int = 200,
                      flash: tuple | None = None, **context: Any) -> Response:  # fmt: skip
        language = self._console_language(request, caller)
        csrf = request.cookies.get(forms.CSRF_COOKIE)
        new_csrf = None if csrf and len(csrf) >= 32 else forms.new_csrf_token()
        shown = flash or _read_flash(request)
        page, _missing = render(
            template, language, user=caller, csrf=new_csrf or csrf,
            flash=_flash_view(shown, language), nav=context.pop("nav", None), **context,
        )  # fmt: skip
        response = Response(page, status=status, mimetype="text/html", headers=SECURITY_HEADERS)
        secure = request.scheme == "https"
        if new_csrf:
            response.set_cookie(forms.CSRF_COOKIE, new_csrf, httponly=True, samesite="Strict",
                                secure=secure, path="/")  # fmt: skip
        chosen = request.args.get("lang")
        if chosen in CATALOG:
            response.set_cookie(forms.LANG_COOKIE, chosen, samesite="Lax", secure=secure,
                                max_age=365 * 24 * 3600, path="/")  # fmt: skip
        if request.cookies.get(FLASH_COOKIE):
            response.delete_cookie(FLASH_COOKIE, path="/console")
        return response


# -- helpers --------------------------------------------------------------------------


def _redirect(location: str) -> Response:
    return Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _here(request: Request) -> str:
    """Where to come back to after signing in: this page, or the start after a form."""
    return request.full_path.rstrip("?") if request.method == "GET" else "/console"


def _login_url(request: Request, back: str, expired: bool = False) -> str:
    query = {"next": forms.safe_next(back)}
    if expired:
        query["expired"] = "1"
    return "/console/login?" + urlencode(query)


def _set_tokens(response: Response, request: Request, tokens: dict[str, Any]) -> None:
    secure = request.scheme == "https"
    response.set_cookie(SESSION_COOKIE, tokens["access_token"], httponly=True, samesite="Strict",
                        secure=secure, max_age=int(tokens["expires_in"]), path="/")  # fmt: skip
    if tokens.get("refresh_token"):
        response.set_cookie(REFRESH_COOKIE, tokens["refresh_token"], httponly=True,
                            samesite="Strict", secure=secure, path="/")  # fmt: skip


def _with_cookies(response: Response, refreshed: dict | None, request: Request) -> Response:
    """Set renewed tokens (after a refresh) on the answer."""
    if refreshed:
        _set_tokens(response, request, refreshed)
    return response


def _flash(response: Response, kind: str, key: str, detail: str | None = None) -> None:
    """A one-time message for the next page (a catalog key, and a detail for errors)."""
    value = json.dumps([kind, key, (detail or "")[:500]])
    response.set_cookie(FLASH_COOKIE, quote(value), httponly=True, samesite="Strict",
                        path="/console")  # fmt: skip


def _read_flash(request: Request) -> tuple | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        kind, key, detail = json.loads(unquote(raw))
    except (ValueError, TypeError):
        return None
    if (
        kind not in ("ok", "bad")
        or not isinstance(key, str)
        or not key.startswith(("flash_", "error_", "logged_", "login_", "session_"))
    ):
        return None
    return (kind, key, {"message": detail} if key == "error_refused" else {})


def _flash_view(flash: tuple | None, language: str) -> dict[str, str] | None:
    if not flash:
        return None
    kind, key, *rest = flash
    values = rest[0] if rest else {}
    return {"kind": kind, "text": Translator(language)(key, **values)}
