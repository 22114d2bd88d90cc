"""Test helpers shared by every service's tests: databases, waiting, callers.

Not used at run time. ``WPIS_TEST_DB=postgresql`` switches every test
database from a SQLite file to a fresh PostgreSQL database (dropped after).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from wpis_common.migrate import upgrade
from wpis_common.signing import AUTH_KEY_STEM, generate_key_pair, load_private_key

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")


def db_backend() -> str:
    return os.environ.get("WPIS_TEST_DB", "sqlite")


@contextmanager
def fresh_database(directory: Path, name: str) -> Iterator[str]:
    """A new, empty database for one test; yields its URL."""
    if db_backend() != "postgresql":
        yield f"sqlite:///{directory / (name + '.db')}"
        return
    server_url = make_url(os.environ.get("WPIS_TEST_PG_URL", DEFAULT_PG_URL))
    database = f"wpis_test_{name}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        yield server_url.set(database=database).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def migrated_database(directory: Path, package: str) -> Iterator[str]:
    with fresh_database(directory, package) as url:
        upgrade(package, url)
        yield url


def wait_for(
    probe: Callable[[], T | None],
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


# The demo account that acts in each role (gateway/accounts.py DEMO_ACCOUNTS).
DEMO_USER_OF_ROLE = {
    "employer": "ararat",
    "intake_officer": "intake",
    "decision_officer": "officer",
    "supervisor": "supervisor",
    "auditor": "auditor",
    "agency": "agency",
    "admin": "admin",
}


def api_auth_headers(role: str, actor: str | None = None, gateway_url: str = "") -> dict[str, str]:
    """HTTP headers that make a test's request act as ``role``: the bearer token of
    the suite's demo account for that role (``actor`` is kept for readability; the
    account's username is who acts)."""
    return auth_headers_at(gateway_url, DEMO_USER_OF_ROLE[role])


# -- callers (docs/security.md) ---------------------------------------------------------

DEMO_PASSWORD_PREFIX = "demo-"  # the demo accounts' passwords: demo-<username> (dev only)


def auth_keys(directory: Path) -> tuple[Any, str]:
    """A token key pair in ``directory``: (private key, public key path for AUTH_PUBLIC_KEYS)."""
    private_path, public_path, _ = generate_key_pair(directory, AUTH_KEY_STEM)
    return load_private_key(private_path), str(public_path)


def access_token(
    private_key: Any, username: str, role: str, tax_id: str | None = None, ttl: float = 900
) -> str:
    from datetime import UTC, datetime, timedelta

    from wpis_common.caller import issue_access_token

    account = {"username": username, "role": role, "tax_id": tax_id}
    token, _ = issue_access_token(private_key, account, datetime.now(UTC), timedelta(seconds=ttl))
    return token


def caller_context(
    private_key: Any, username: str, role: str, tax_id: str | None = None
) -> dict[str, str]:
    """Worker context data carrying a caller's token (``entrypoint_hook(..., context_data=)``
    or ``ClusterRpcClient(context_data=)``)."""
    from wpis_common.caller import TOKEN_CONTEXT_KEY

    return {TOKEN_CONTEXT_KEY: access_token(private_key, username, role, tax_id)}


def login(gateway_url: str, username: str, password: str | None = None) -> dict[str, Any]:
    """Log a demo account in through the gateway; the token answer."""
    import requests

    password = password or DEMO_PASSWORD_PREFIX + username
    response = requests.post(
        f"{gateway_url}/api/v1/auth/login",
        json={"username": username, "password": password},
        timeout=15,
    )
    assert response.status_code == 200, (
        f"login as {username}: {response.status_code} {response.text}"
    )
    return response.json()


class Callers:
    """Callers for tests of one service in a Nameko container: ``config`` goes into the
    container's config, ``context(role, ...)`` is the worker context data of a call
    (``entrypoint_hook(container, "get", context_data=callers.context("auditor"))``)."""

    EMPLOYER_TAX_ID = "02563412"  # Ararat Build LLC, the seeded demo employer

    def __init__(self, directory: Path):
        self.private_key, public_path = auth_keys(directory)
        self.config = {"AUTH_PUBLIC_KEYS": public_path}

    def context(
        self, role: str, username: str | None = None, tax_id: str | None = None
    ) -> dict[str, str]:
        if role == "employer" and tax_id is None:
            tax_id = self.EMPLOYER_TAX_ID
        return caller_context(self.private_key, username or role, role, tax_id)


# (gateway URL, username) -> (access token, when to log in again, on the monotonic clock)
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def auth_headers_at(gateway_url: str, username: str) -> dict[str, str]:
    """``{"Authorization": "Bearer ..."}`` for a demo account at a gateway, cached per
    (gateway, user) since logins are rate limited; logs in again shortly before the
    token expires (access tokens last 15 minutes unless the gateway says otherwise)."""
    key = (gateway_url, username)
    with _TOKENS_LOCK:  # clients in threads: one login each, not one per thread
        token, renew_at = _TOKENS.get(key, ("", 0.0))
        now = time.monotonic()
        if now >= renew_at:
            answer = login(gateway_url, username)
            lifetime = float(answer.get("expires_in") or 900)
            token = answer["access_token"]
            _TOKENS[key] = token, now + lifetime - min(60.0, lifetime / 4)
    return {"Authorization": f"Bearer {token}"}


def auth_headers(suite: Any, username: str) -> dict[str, str]:
    """``auth_headers_at`` for a running suite (``wpis_common.suite``)."""
    return auth_headers_at(suite.gateway_url, username)
