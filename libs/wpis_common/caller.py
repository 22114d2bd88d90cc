"""Who is calling: access tokens, and the ``Caller`` every service checks.

The gateway signs short-lived access tokens (JWT, EdDSA with an Ed25519 key
that only the gateway holds) and puts the caller's token into the Nameko
worker context (``context_data["wpis_token"]``). Nameko copies the worker
context into the headers of every RPC call and event the worker makes, so the
token travels with the request through every service. A receiving service
verifies it with the public key alone (:class:`CallerProvider`): a client that
calls a service over RPC directly cannot declare its own role.

Internal entrypoints (event handlers, timers, consumers) act as
:data:`SYSTEM`: a client cannot reach them with a role of its choosing.

Config (every service): ``AUTH_PUBLIC_KEYS`` (comma-separated key sources, as
in :func:`wpis_common.signing.load_key_ring`: PEM files, directories of
``*.pub.pem``, or ``env:NAME``). The gateway also needs ``AUTH_SIGNING_KEY``.
See docs/security.md.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.web.handlers import HttpRequestHandler

from wpis_common.config import setting
from wpis_common.errors import WpisError
from wpis_common.signing import KeyRing, key_id, load_key_ring

log = logging.getLogger(__name__)
TOKEN_CONTEXT_KEY = "wpis_token"
ISSUER = "wpis"
ALGORITHM = "EdDSA"
LEEWAY_SECONDS = 5

EMPLOYER = "employer"
INTAKE_OFFICER = "intake_officer"
DECISION_OFFICER = "decision_officer"
SUPERVISOR = "supervisor"
AUDITOR = "auditor"
AGENCY = "agency"
ADMIN = "admin"
SYSTEM_ROLE = "system"
ROLES = (EMPLOYER, INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR, AGENCY, ADMIN)
OFFICERS = frozenset({INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR})
LANGUAGES = ("en", "hy", "ru")


class Unauthenticated(WpisError):
    """No valid access token (HTTP 401)."""

    http_status = 401


class Forbidden(WpisError):
    """A valid caller whose role may not do this (HTTP 403)."""

    http_status = 403


AUTH_ERRORS = (Unauthenticated, Forbidden)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller (or the internal ``system`` one)."""

    username: str
    role: str
    tax_id: str | None = None
    display_name: str | None = None
    language: str = "en"
    jti: str | None = None

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM_ROLE

    def has(self, *roles: str) -> bool:
        return self.role in roles

    def as_dict(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role, "tax_id": self.tax_id,
                "display_name": self.display_name, "language": self.language}  # fmt: skip


SYSTEM = Caller("system", SYSTEM_ROLE)


def require(caller: Caller | None, roles: Iterable[str], what: str = "do this") -> Caller:
    """``caller`` if its role is one of ``roles`` (system always passes); else
    Unauthenticated (no caller) or Forbidden."""
    if caller is None:
        raise Unauthenticated("log in first: this needs an access token")
    allowed = sorted(set(roles))
    if caller.is_system or caller.role in allowed:
        return caller
    raise Forbidden(f"a {caller.role} may not {what}", allowed_roles=allowed)


# -- tokens --------------------------------------------------------------------------


def issue_access_token(
    private_key: Ed25519PrivateKey,
    account: dict[str, Any],
    now: datetime,
    ttl: timedelta,
    jti: str | None = None,
) -> tuple[str, str]:
    """(token, jti) for an account dict (username, role, tax_id, display_name, language)."""
    jti = jti or uuid.uuid4().hex
    claims = {
        "iss": ISSUER,
        "sub": account["username"],
        "role": account["role"],
        "tax_id": account.get("tax_id"),
        "name": account.get("display_name"),
        "lang": account.get("language") or "en",
        "typ": "access",
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    headers = {"kid": key_id(private_key.public_key())}
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers=headers), jti


def verify_access_token(keys: KeyRing, token: Any, now: datetime | None = None) -> Caller:
    """The caller a token names; raises Unauthenticated for anything wrong with it."""
    if not isinstance(token, str) or not token:
        raise Unauthenticated("log in first: this needs an access token")
    try:
        header = jwt.get_unverified_header(token)
        key = keys.keys.get(header.get("kid", ""))
        if key is None:
            raise Unauthenticated("the access token was signed by an unknown key")
        options = {"require": ["exp", "iat", "sub", "jti"]}
        if now is not None:
            options["verify_exp"] = False
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], issuer=ISSUER, options=options,
            leeway=LEEWAY_SECONDS,
        )  # fmt: skip
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired; refresh it or log in") from None
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"the access token is not valid: {error}") from None
    if now is not None and claims["exp"] + LEEWAY_SECONDS < now.timestamp():
        raise Unauthenticated("the access token has expired; refresh it or log in")
    if claims.get("typ") != "access" or claims.get("role") not in ROLES:
        raise Unauthenticated("the access token is not valid: not an access token")
    return Caller(
        username=claims["sub"],
        role=claims["role"],
        tax_id=claims.get("tax_id"),
        display_name=claims.get("name"),
        language=claims.get("lang") or "en",
        jti=claims["jti"],
    )


def load_public_keys() -> KeyRing:
    return load_key_ring(setting("AUTH_PUBLIC_KEYS", "var/keys/auth_signing_key.pub.pem"))


# -- the dependency provider ------------------------------------------------------------


class CallerAccess:
    """What an entrypoint sees as ``self.caller``."""

    def __init__(self, caller: Caller | None, problem: Unauthenticated | None):
        self.caller = caller
        self.problem = problem

    def require(self, *roles: str, what: str = "do this") -> Caller:
        """The caller, if its role is one of ``roles``; raises Unauthenticated/Forbidden."""
        if self.caller is None and self.problem is not None:
            raise self.problem
        return require(self.caller, roles, what)

    def any(self) -> Caller:
        """Any authenticated caller."""
        return self.require(*ROLES, SYSTEM_ROLE)


class CallerProvider(DependencyProvider):
    """``caller = CallerProvider()``: verifies the token in the worker context.

    RPC and HTTP entrypoints get the token's caller (or none, with the reason);
    every other entrypoint (events, timers, consumers) is the ``system`` caller.
    """

    def setup(self) -> None:
        try:
            self.keys = load_public_keys()
        except (OSError, ValueError) as error:
            # Without a key no token verifies: every request is refused (401), while
            # events and timers (the system caller) still run.
            log.error("no access-token public key (AUTH_PUBLIC_KEYS): %s", error)
            self.keys = KeyRing({})

    def get_dependency(self, worker_ctx: Any) -> CallerAccess:
        if not isinstance(worker_ctx.entrypoint, (Rpc, HttpRequestHandler)):
            return CallerAccess(SYSTEM, None)
        token = worker_ctx.context_data.get(TOKEN_CONTEXT_KEY)
        try:
            return CallerAccess(verify_access_token(self.keys, token), None)
        except Unauthenticated as problem:
            return CallerAccess(None, problem)
