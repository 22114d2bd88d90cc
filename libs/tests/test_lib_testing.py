"""The demo-account token cache the tests and benchmarks share."""

from __future__ import annotations

import uuid

import pytest

from wpis_common import testing


@pytest.fixture
def logins(monkeypatch):
    """Fake gateway logins: each answers a new token that lasts 900 s; the clock is ours."""
    calls: list[tuple[str, str]] = []
    clock = {"now": 1000.0}

    def fake_login(gateway_url: str, username: str) -> dict:
        calls.append((gateway_url, username))
        return {"access_token": f"token-{len(calls)}", "expires_in": 900}

    monkeypatch.setattr(testing, "login", fake_login)
    monkeypatch.setattr(testing.time, "monotonic", lambda: clock["now"])
    return calls, clock


def test_one_login_per_gateway_and_user_while_the_token_lasts(logins):
    calls, clock = logins
    gateway = f"http://gateway-{uuid.uuid4().hex}"
    first = testing.auth_headers_at(gateway, "officer")
    clock["now"] += 600
    assert (
        testing.auth_headers_at(gateway, "officer") == first == {"Authorization": "Bearer token-1"}
    )
    assert testing.auth_headers_at(gateway, "ararat") == {"Authorization": "Bearer token-2"}
    assert calls == [(gateway, "officer"), (gateway, "ararat")]


def test_logs_in_again_shortly_before_the_token_expires(logins):
    calls, clock = logins
    gateway = f"http://gateway-{uuid.uuid4().hex}"
    testing.auth_headers_at(gateway, "officer")
    clock["now"] += 870  # 30 s left of 900
    assert testing.auth_headers_at(gateway, "officer") == {"Authorization": "Bearer token-2"}
    assert len(calls) == 2


def test_the_aliases_share_the_cache(logins):
    calls, _ = logins
    gateway = f"http://gateway-{uuid.uuid4().hex}"

    class Suite:
        gateway_url = gateway

    headers = testing.api_auth_headers("decision_officer", "officer.anna", gateway)
    assert testing.auth_headers(Suite(), "officer") == headers
    assert calls == [(gateway, "officer")]
