"""The IDMS simulator as a real process for the identity gateway's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from identity_gateway.adapter import HttpIdmsAdapter, IdmsSettings
from national_idms.testing import AdminClient, free_port, running_idms

PARTNER_KEY = "identity-gateway-test-key"


@pytest.fixture(scope="module")
def idms_server() -> Iterator[AdminClient]:
    with running_idms(PARTNER_KEY) as admin:
        yield admin


@pytest.fixture
def idms(idms_server: AdminClient) -> Iterator[AdminClient]:
    """The running simulator, with no fault left over from another test."""
    idms_server.clear_fault()
    yield idms_server
    idms_server.clear_fault()


def fast_settings(base_url: str, **overrides: object) -> IdmsSettings:
    """Short timeouts and backoff, so failure paths take milliseconds."""
    values: dict[str, object] = {
        "base_url": base_url,
        "partner_key": PARTNER_KEY,
        "connect_timeout": 0.5,
        "read_timeout": 1.0,
        "attempts": 3,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "breaker_fail_max": 50,
        "breaker_reset_timeout": 30.0,
    }
    values.update(overrides)
    return IdmsSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def adapter(idms: AdminClient) -> HttpIdmsAdapter:
    return HttpIdmsAdapter(fast_settings(idms.base_url))


@pytest.fixture
def adapter_for(idms: AdminClient):
    """``adapter_for(base_url=None, **settings)``: an adapter with other settings."""

    def make(base_url: str | None = None, **overrides: object) -> HttpIdmsAdapter:
        return HttpIdmsAdapter(fast_settings(base_url or idms.base_url, **overrides))

    return make


@pytest.fixture
def closed_port_url() -> str:
    """A local port nothing listens on: connection refused, like a dead IDMS."""
    return f"http://127.0.0.1:{free_port()}"
