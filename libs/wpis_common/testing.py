"""Test helpers shared by every service's tests: databases and waiting.

Not used at run time. ``WPIS_TEST_DB=postgresql`` switches every test
database from a SQLite file to a fresh PostgreSQL database (dropped after).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from wpis_common.migrate import upgrade

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


def api_auth_headers(role: str, actor: str | None = None, gateway_url: str = "") -> dict[str, str]:
    """HTTP headers that make a test's request act as ``role`` (and ``actor``).

    The one place tests say who is calling the HTTP API. Today: the
    ``X-WPIS-Role`` / ``X-WPIS-Actor`` stand-in headers. When accounts land
    (W6), this logs in as a seeded account of the role at ``gateway_url``
    (``POST /api/v1/auth/login``) and returns ``Authorization: Bearer <token>``.
    """
    headers = {"X-WPIS-Role": role}
    if actor:
        headers["X-WPIS-Actor"] = actor
    return headers
