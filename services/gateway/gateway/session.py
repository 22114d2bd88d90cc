"""The caller of each HTTP request, its token in the worker context, and the audit trail.

``Session`` (a dependency provider, ``self.session`` in routes) reads the access
token from ``Authorization: Bearer <token>`` or the ``wpis_session`` cookie,
checks its signature, expiry and that it was not revoked (logout), and puts it
into the worker context: Nameko sends the worker context with every RPC call
the route makes, so each service sees the caller's token, verifies it itself
(wpis_common.caller) and enforces its own rules. Public routes ignore a bad
token; protected ones answer 401.

``@allow(*roles)`` (below ``@http``) is the gateway's first check of a route;
every route carries one (tests/e2e/test_authorization_matrix.py checks).

After a state-changing request (POST/PUT/PATCH/DELETE) the provider records it
in the audit trail: who, role, method, path, subject, status, address, when.

Config: ``AUTH_SIGNING_KEY`` (the private key, a PEM file or ``env:NAME``),
``AUTH_PUBLIC_KEYS``, ``ACCESS_TOKEN_TTL`` (seconds, 900), ``REFRESH_TOKEN_TTL``
(seconds, 28800), ``LOGIN_RATE_PER_MINUTE`` (5) and ``LOGIN_RATE_BURST`` (5)
per username and client address.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Request, Response

from gateway import accounts, domain
from gateway.models import AuditEntry
from gateway.ratelimit import TokenBuckets
from wpis_common import caller as auth
from wpis_common.config import setting
from wpis_common.dependencies import Database
from wpis_common.envelope import utc_now
from wpis_common.signing import load_signing_key

log = logging.getLogger(__name__)

SESSION_COOKIE = "wpis_session"
REFRESH_COOKIE = "wpis_refresh"
PUBLIC = "*public*"
ANY_ROLE = "*any*"
LoginFailed = accounts.LoginFailed
RateLimited = accounts.RateLimited


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


class SessionHandle:
    """What a route sees as ``self.session``."""

    def __init__(self, provider: Session, worker_ctx: Any):
        self.provider = provider
        self.worker_ctx = worker_ctx
        self.caller: auth.Caller | None = None
        self.token: str | None = None
        self.problem: auth.Unauthenticated | None = None
        self.subject: str | None = None
        self.expires_at: datetime | None = None
        # who the audit entry names when the request had no caller (a successful login)
        self.audit_as: tuple[str, str] | None = None

    # -- the request's caller -------------------------------------------------------

    def act_as(self, token: str | None) -> auth.Caller | None:
        """Verify ``token`` and make it this worker's caller (and the RPC calls' token)."""
        self.caller, self.token, self.problem = None, None, None
        self.worker_ctx.context_data.pop(auth.TOKEN_CONTEXT_KEY, None)
        if not token:
            return None
        try:
            caller = auth.verify_access_token(self.provider.keys, token)
            with self.provider.db().unit_of_work() as uow:
                if accounts.is_revoked(uow.session, caller.jti):
                    raise auth.Unauthenticated("the access token was revoked (logged out)")
        except auth.Unauthenticated as problem:
            self.problem = problem
            return None
        self.caller, self.token = caller, token
        self.expires_at = _expiry(token)
        self.worker_ctx.context_data[auth.TOKEN_CONTEXT_KEY] = token
        return caller

    # -- logging in and out ---------------------------------------------------------

    def login(self, username: Any, password: Any, address: str) -> dict[str, Any]:
        """Tokens for valid credentials; raises LoginFailed or RateLimited."""
        key = f"{str(username)[:64]}|{address}"
        wait = self.provider.login_limit.take(key)
        if wait:
            raise RateLimited(wait)
        with self.provider.db().unit_of_work() as uow:
            return accounts.login(uow.session, username, password, self.provider.policy, _now())

    def refresh(self, refresh_token: Any) -> dict[str, Any]:
        with self.provider.db().unit_of_work() as uow:
            return accounts.refresh(uow.session, refresh_token, self.provider.policy, _now())

    def logout(self, refresh_token: Any = None) -> None:
        """Revoke this request's access token (its jti) and the given refresh token."""
        with self.provider.db().unit_of_work() as uow:
            accounts.logout(uow.session, self.caller, self.expires_at, refresh_token, _now())


class Session(DependencyProvider):
    def setup(self) -> None:
        self.keys = auth.load_public_keys()
        signing_key = load_signing_key(setting("AUTH_SIGNING_KEY", "var/keys/auth_signing_key.pem"))
        self.policy = accounts.TokenPolicy(
            signing_key=signing_key,
            access_ttl=timedelta(seconds=int(setting("ACCESS_TOKEN_TTL", 900))),
            refresh_ttl=timedelta(seconds=int(setting("REFRESH_TOKEN_TTL", 28800))),
        )
        self.login_limit = TokenBuckets(
            per_minute=float(setting("LOGIN_RATE_PER_MINUTE", 5)),
            burst=int(setting("LOGIN_RATE_BURST", 5)),
        )
        self._handles: dict[int, SessionHandle] = {}

    def db(self) -> Any:
        for provider in self.container.dependencies:
            if isinstance(provider, Database):
                return provider.get_dependency(None)
        raise RuntimeError("the gateway has no Database dependency")

    def get_dependency(self, worker_ctx: Any) -> SessionHandle:
        handle = SessionHandle(self, worker_ctx)
        if isinstance(worker_ctx.entrypoint, HttpRequestHandler) and worker_ctx.args:
            handle.act_as(bearer_token(worker_ctx.args[0]))
        self._handles[id(worker_ctx)] = handle
        return handle

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        handle = self._handles.get(id(worker_ctx))
        if handle is None or not isinstance(worker_ctx.entrypoint, HttpRequestHandler):
            return
        request = worker_ctx.args[0] if worker_ctx.args else None
        if request is None or request.method not in domain.STATE_CHANGING_METHODS:
            return
        status = result.status_code if isinstance(result, Response) else 500
        caller = handle.caller
        actor, role = (
            (caller.username, caller.role) if caller else (handle.audit_as or ("anonymous", None))
        )
        try:
            with self.db().unit_of_work() as uow:
                uow.session.add(
                    AuditEntry(
                        at=utc_now(),
                        actor=actor,
                        role=role,
                        method=request.method,
                        path=request.path[:500],
                        status=status,
                        remote_addr=(request.remote_addr or "")[:64] or None,
                        subject=(handle.subject or None) and str(handle.subject)[:64],
                    )
                )
        except Exception:  # the answer has gone; a lost audit line must be loud
            log.exception("could not record the audit entry for %s %s", request.method,
                          request.path)  # fmt: skip

    def worker_teardown(self, worker_ctx: Any) -> None:
        self._handles.pop(id(worker_ctx), None)


def allow(*roles: str, redirect: str | None = None) -> Callable:
    """Who may call a route: roles, ``PUBLIC`` (anyone) or ``ANY_ROLE`` (logged in).

    Anonymous callers of a protected route get 401 (or a 303 to ``redirect``),
    other roles 403. The services check again with their own rules."""
    allowed = frozenset(roles)

    def decorate(route: Callable) -> Callable:
        @functools.wraps(route)
        def guarded(self: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
            if PUBLIC not in allowed:
                session = self.session
                if session.caller is None:
                    if redirect:
                        return Response(status=303, headers={"Location": redirect})
                    problem = session.problem or auth.Unauthenticated(
                        "log in first: this needs an access token"
                    )
                    return unauthenticated(problem.message)
                if ANY_ROLE not in allowed and session.caller.role not in allowed:
                    return forbidden(session.caller.role, sorted(allowed))
            return route(self, request, *args, **kwargs)

        guarded.wpis_roles = allowed  # type: ignore[attr-defined]
        return guarded

    return decorate


def unauthenticated(message: str) -> Response:
    from gateway.api.base import error_response

    return error_response(
        401, "unauthenticated", message, headers={"WWW-Authenticate": 'Bearer realm="wpis"'}
    )


def forbidden(role: str, allowed: list[str]) -> Response:
    from gateway.api.base import error_response

    message = f"a {role} may not do this"
    return error_response(403, "forbidden", message, details={"allowed_roles": allowed})


def _now() -> datetime:
    return datetime.now(UTC)


def _expiry(token: str) -> datetime | None:
    import jwt

    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int) else None
