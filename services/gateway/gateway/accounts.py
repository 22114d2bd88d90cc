"""Accounts, passwords and tokens: log in, refresh, log out, create, list, deactivate.

Passwords are argon2id hashes (argon2-cffi). Access tokens are short-lived
EdDSA JWTs (wpis_common.caller); refresh tokens are random strings stored as
their SHA-256, rotated on every refresh and revoked by logout. A logout also
revokes the access token's jti until it would have expired anyway.

Functions take a SQLAlchemy session (from the gateway's unit of work) and the
time, so they are tested without a broker.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventlet import tpool
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.models import Account, RefreshToken, RevokedToken
from wpis_common import caller as auth
from wpis_common.errors import Conflict, InvalidInput, NotFound

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TAX_ID = re.compile(r"^\d{8}$")
MIN_PASSWORD = 10
HASHER = PasswordHasher()
# Verified against when the username is unknown, so both failures cost the same.
_DUMMY_HASH = HASHER.hash("not-a-password-of-anyone")


def _hash(password: str) -> str:
    """argon2 costs tens of milliseconds of CPU (more on a busy machine): in a real
    thread (the C code releases the GIL), so the gateway's other requests go on."""
    return tpool.execute(HASHER.hash, password)


def _verify(stored: str, password: str) -> bool:
    return tpool.execute(HASHER.verify, stored, password)


# Demo accounts for `make run` and the e2e suite (dev only; the password is demo-<username>).
DEMO_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"username": "admin", "role": "admin", "display_name": "Administrator"},
    {"username": "officer", "role": "decision_officer", "display_name": "Anna Petrosyan"},
    {"username": "intake", "role": "intake_officer", "display_name": "Davit Hakobyan"},
    {"username": "supervisor", "role": "supervisor", "display_name": "Lilit Sargsyan"},
    {"username": "auditor", "role": "auditor", "display_name": "Aram Grigoryan", "language": "hy"},
    {"username": "agency", "role": "agency", "display_name": "State Employment Agency"},
    {"username": "ararat", "role": "employer", "tax_id": "02563412",
     "display_name": "Ararat Build LLC"},
    {"username": "sevan", "role": "employer", "tax_id": "00817345",
     "display_name": "Sevan Hospitality CJSC", "language": "ru"},
    {"username": "gyumri", "role": "employer", "tax_id": "01234567",
     "display_name": "Gyumri Textiles LLC"},
)  # fmt: skip


def demo_password(username: str) -> str:
    return f"demo-{username}"


class LoginFailed(Exception):
    """Unknown user, wrong password or inactive account: one answer for all (401)."""


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"too many login attempts; retry in {retry_after}s")


@dataclass(frozen=True)
class TokenPolicy:
    signing_key: Ed25519PrivateKey
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(hours=8)


def validate_account(payload: Any) -> dict[str, Any]:
    """A new account's fields, checked; InvalidInput names each bad field."""
    if not isinstance(payload, dict):
        raise InvalidInput({"_schema": ["send a JSON object"]})
    errors: dict[str, list[str]] = {}
    allowed = {"username", "password", "role", "tax_id", "display_name", "language"}
    for name in sorted(set(payload) - allowed):
        errors[name] = ["unknown field"]
    username = payload.get("username")
    if not isinstance(username, str) or not USERNAME.match(username):
        errors["username"] = ["2-64 characters: lower-case letters, digits, '.', '_' or '-'"]
    password = payload.get("password")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or len(password) > 200:
        errors["password"] = [f"must be {MIN_PASSWORD}-200 characters"]
    role = payload.get("role")
    if role not in auth.ROLES:
        errors["role"] = [f"must be one of: {', '.join(auth.ROLES)}"]
    tax_id = payload.get("tax_id")
    if role == auth.EMPLOYER:
        if not isinstance(tax_id, str) or not TAX_ID.match(tax_id):
            errors["tax_id"] = ["an employer account needs its 8-digit tax id"]
    elif tax_id not in (None, ""):
        errors["tax_id"] = ["only employer accounts have a tax id"]
    display_name = payload.get("display_name", username)
    if not isinstance(display_name, str) or not 1 <= len(display_name.strip()) <= 200:
        errors["display_name"] = ["must be 1-200 characters"]
    language = payload.get("language", "en")
    if language not in auth.LANGUAGES:
        errors["language"] = [f"must be one of: {', '.join(auth.LANGUAGES)}"]
    if errors:
        raise InvalidInput(errors)
    return {
        "username": username,
        "password": password,
        "role": role,
        "tax_id": tax_id if role == auth.EMPLOYER else None,
        "display_name": display_name.strip(),
        "language": language,
    }


def create_account(session: Session, payload: Any, now: datetime) -> dict[str, Any]:
    data = validate_account(payload)
    if session.scalar(select(Account).where(Account.username == data["username"])):
        raise Conflict("that username is taken", errors={"username": ["already exists"]})
    account = Account(
        username=data["username"],
        password_hash=_hash(data["password"]),
        role=data["role"],
        tax_id=data["tax_id"],
        display_name=data["display_name"],
        language=data["language"],
        active=True,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account_view(account)


def account_view(account: Account) -> dict[str, Any]:
    return {
        "username": account.username,
        "role": account.role,
        "tax_id": account.tax_id,
        "display_name": account.display_name,
        "language": account.language,
        "active": account.active,
        "created_at": account.created_at.isoformat(),
    }


def list_accounts(session: Session) -> list[dict[str, Any]]:
    return [account_view(a) for a in session.scalars(select(Account).order_by(Account.username))]


def deactivate(session: Session, username: str, now: datetime) -> dict[str, Any]:
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise NotFound(f"no account {username!r}")
    if account.active:
        account.active = False
        account.deactivated_at = now
        for token in session.scalars(
            select(RefreshToken).where(
                RefreshToken.username == username, RefreshToken.revoked_at.is_(None)
            )
        ):
            token.revoked_at = now
    return account_view(account)


def authenticate(session: Session, username: Any, password: Any) -> Account:
    """The active account these credentials name; LoginFailed otherwise."""
    account = None
    if isinstance(username, str) and len(username) <= 64:
        account = session.scalar(select(Account).where(Account.username == username))
    stored = account.password_hash if account is not None else _DUMMY_HASH
    try:
        _verify(stored, password if isinstance(password, str) else "")
    except (VerificationError, InvalidHashError):
        raise LoginFailed() from None
    if account is None or not account.active:
        raise LoginFailed()
    if HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = _hash(password)
    return account


def issue_tokens(
    session: Session, account: Account, policy: TokenPolicy, now: datetime
) -> dict[str, Any]:
    access, _jti = auth.issue_access_token(
        policy.signing_key, account_view(account), now, policy.access_ttl
    )
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_digest(refresh),
            username=account.username,
            expires_at=now + policy.refresh_ttl,
        )
    )
    session.flush()
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": int(policy.access_ttl.total_seconds()),
        "role": account.role,
        "username": account.username,
    }


def login(
    session: Session, username: Any, password: Any, policy: TokenPolicy, now: datetime
) -> dict[str, Any]:
    return issue_tokens(session, authenticate(session, username, password), policy, now)


def refresh(session: Session, token: Any, policy: TokenPolicy, now: datetime) -> dict[str, Any]:
    """New tokens for a live refresh token, which is used up (rotation); LoginFailed else."""
    if not isinstance(token, str) or not token:
        raise LoginFailed()
    stored = session.get(RefreshToken, _digest(token))
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise LoginFailed()
    account = session.scalar(select(Account).where(Account.username == stored.username))
    if account is None or not account.active:
        raise LoginFailed()
    stored.revoked_at = now
    return issue_tokens(session, account, policy, now)


def logout(
    session: Session, caller: auth.Caller | None, expires_at: datetime | None,
    refresh_token: Any, now: datetime,
) -> None:  # fmt: skip
    known = caller is not None and caller.jti and expires_at is not None
    if known and session.get(RevokedToken, caller.jti) is None:
        session.add(RevokedToken(jti=caller.jti, expires_at=expires_at))
    if isinstance(refresh_token, str) and refresh_token:
        stored = session.get(RefreshToken, _digest(refresh_token))
        if stored is not None and (caller is None or stored.username == caller.username):
            stored.revoked_at = stored.revoked_at or now
    session.flush()
    # Forget revocations of tokens that have expired anyway.
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))


def is_revoked(session: Session, jti: str | None) -> bool:
    return jti is not None and session.get(RevokedToken, jti) is not None


def ensure_account(session: Session, payload: dict[str, Any], now: datetime) -> bool:
    """Create the account unless the username exists; True if created."""
    if session.scalar(select(Account).where(Account.username == payload["username"])):
        return False
    create_account(session, payload, now)
    return True


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def seed_demo_accounts(database_url: str) -> list[str]:
    """Create the missing demo accounts straight in the gateway's database (dev and tests
    only); the usernames created."""
    from wpis_common.db import create_db_engine, make_session_factory
    from wpis_common.envelope import utc_now

    engine = create_db_engine(database_url, pool_size=1)
    try:
        with make_session_factory(engine)() as session, session.begin():
            return [
                account["username"]
                for account in DEMO_ACCOUNTS
                if ensure_account(
                    session, {**account, "password": demo_password(account["username"])},
                    utc_now(),
                )
            ]  # fmt: skip
    finally:
        engine.dispose()
