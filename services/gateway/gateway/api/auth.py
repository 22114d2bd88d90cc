"""Routes for logging in and out, accounts (admin) and the audit trail.

``POST /api/v1/auth/login``   {username, password} -> access + refresh token
``POST /api/v1/auth/refresh`` {refresh_token}      -> new tokens (the old refresh is used up)
``POST /api/v1/auth/logout``  [{refresh_token}]    revokes the access token and refresh token
``GET  /api/v1/auth/me``                           the caller
``/api/v1/accounts``                               create, list, deactivate (admin)
``GET  /api/v1/audit``                             the audit trail (auditor, supervisor, admin)

A wrong password and an unknown user get the same 401; login attempts are
rate limited per username and client address (429 with Retry-After).
See docs/security.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from gateway import accounts, domain
from gateway.api.base import API, ApiBase, error_response, http, invalid, json_response, malformed
from gateway.models import AuditEntry
from gateway.session import ANY_ROLE, PUBLIC, allow
from wpis_common import caller as roles
from wpis_common.envelope import utc_now
from wpis_common.errors import WpisError

AUDIT_READERS = (roles.AUDITOR, roles.SUPERVISOR, roles.ADMIN)
AUDIT_FILTERS = frozenset({"actor", "role", "method", "subject", "path", "status", "from", "to",
                           "limit", "before_id"})  # fmt: skip
AUDIT_MAX_LIMIT = 500


class AuthApi(ApiBase):
    session: Any

    @http("POST", f"{API}/auth/login")
    @allow(PUBLIC)
    def login(self, request: Request) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return malformed(problem)
        if not isinstance(payload, dict):
            return invalid({"_schema": ["send a JSON object with username and password"]})
        errors = {
            name: ["required: a string"]
            for name in ("username", "password")
            if not isinstance(payload.get(name), str) or not payload.get(name)
        }
        if errors:
            return invalid(errors)
        self.session.subject = str(payload["username"])[:64]
        try:
            tokens = self.session.login(
                payload["username"], payload["password"], request.remote_addr or ""
            )
        except accounts.RateLimited as limited:
            return error_response(
                429,
                "rate_limited",
                "too many login attempts; retry later",
                details={"retry_after": limited.retry_after},
                headers={"Retry-After": str(limited.retry_after)},
            )
        except accounts.LoginFailed:
            return _login_failed()
        self.session.audit_as = (tokens["username"], tokens["role"])
        return _no_store(json_response(200, tokens))

    @http("POST", f"{API}/auth/refresh")
    @allow(PUBLIC)
    def refresh(self, request: Request) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return malformed(problem)
        token = payload.get("refresh_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            return invalid({"refresh_token": ["required: the refresh token from login"]})
        try:
            tokens = self.session.refresh(token)
        except accounts.LoginFailed:
            message = "the refresh token is not valid (expired, used or revoked)"
            return error_response(401, "unauthenticated", message)
        self.session.subject = tokens["username"]
        self.session.audit_as = (tokens["username"], tokens["role"])
        return _no_store(json_response(200, tokens))

    @http("POST", f"{API}/auth/logout")
    @allow(ANY_ROLE)
    def logout(self, request: Request) -> Response:
        payload: Any = {}
        if request.get_data().strip():
            payload, problem = domain.parse_json_body(request.get_data())
            if problem:
                return malformed(problem)
        token = payload.get("refresh_token") if isinstance(payload, dict) else None
        self.session.logout(token)
        response = json_response(200, {"status": "logged_out"})
        response.delete_cookie("wpis_session", path="/")
        return response

    @http("GET", f"{API}/auth/me")
    @allow(ANY_ROLE)
    def me(self, request: Request) -> Response:
        return json_response(200, self.session.caller.as_dict())

    # -- accounts (admin) ------------------------------------------------------------

    @http("POST", f"{API}/accounts")
    @allow(roles.ADMIN)
    def create_account(self, request: Request) -> Response:
        payload, problem = domain.parse_json_body(request.get_data())
        if problem:
            return malformed(problem)
        if isinstance(payload, dict):
            self.session.subject = str(payload.get("username", ""))[:64] or None
        return self._local(lambda s: accounts.create_account(s, payload, utc_now()), 201)

    @http("GET", f"{API}/accounts")
    @allow(roles.ADMIN)
    def list_accounts(self, request: Request) -> Response:
        return self._local(accounts.list_accounts)

    @http("POST", f"{API}/accounts/<string:username>/deactivate")
    @allow(roles.ADMIN)
    def deactivate_account(self, request: Request, username: str) -> Response:
        self.session.subject = username[:64]
        if username == self.session.caller.username:
            return error_response(409, "conflict", "an admin may not deactivate itself")
        return self._local(lambda s: accounts.deactivate(s, username, utc_now()))

    # -- the audit trail -------------------------------------------------------------

    @http("GET", f"{API}/audit")
    @allow(*AUDIT_READERS)
    def audit_trail(self, request: Request) -> Response:
        unknown = sorted(set(request.args) - AUDIT_FILTERS)
        if unknown:
            return invalid({name: ["unknown query parameter"] for name in unknown})
        query, errors = _audit_query(request.args)
        if errors:
            return invalid(errors)
        with self.db.unit_of_work() as uow:
            rows = [_audit_view(entry) for entry in uow.session.scalars(query)]
        return json_response(200, rows)

    def _local(self, work: Any, success_status: int = 200) -> Response:
        try:
            with self.db.unit_of_work() as uow:
                result = work(uow.session)
        except WpisError as error:
            status, body = domain.error_from_remote(type(error).__name__, str(error))
            return json_response(status, body)
        return json_response(success_status, result)


def _login_failed() -> Response:
    return error_response(
        401,
        "unauthenticated",
        "wrong username or password",
        headers={"WWW-Authenticate": 'Bearer realm="wpis"'},
    )


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _audit_query(args: Any) -> tuple[Any, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    query = select(AuditEntry)
    for name, column in (("actor", AuditEntry.actor), ("role", AuditEntry.role),
                         ("subject", AuditEntry.subject)):  # fmt: skip
        if args.get(name):
            query = query.where(column == args[name])
    if args.get("method"):
        query = query.where(AuditEntry.method == args["method"].upper())
    if args.get("path"):
        query = query.where(AuditEntry.path.startswith(args["path"], autoescape=True))
    for name, column in (("status", AuditEntry.status), ("before_id", AuditEntry.id)):
        if args.get(name):
            if not args[name].isdigit():
                errors[name] = ["must be a whole number"]
            elif name == "status":
                query = query.where(column == int(args[name]))
            else:
                query = query.where(column < int(args[name]))
    for name, comparison in (("from", "ge"), ("to", "lt")):
        if args.get(name):
            try:
                moment = datetime.fromisoformat(args[name])
            except ValueError:
                errors[name] = ["must be an ISO 8601 date or date-time"]
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=utc_now().tzinfo)
            query = query.where(
                AuditEntry.at >= moment if comparison == "ge" else AuditEntry.at < moment
            )
    limit = args.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= AUDIT_MAX_LIMIT:
        errors["limit"] = [f"must be 1-{AUDIT_MAX_LIMIT}"]
        limit = "100"
    return query.order_by(AuditEntry.id.desc()).limit(int(limit)), errors


def _audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "method": entry.method,
        "path": entry.path,
        "subject": entry.subject,
        "status": entry.status,
        "remote_addr": entry.remote_addr,
    }
