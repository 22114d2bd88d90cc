"""Accounts and tokens through the real gateway: login, me, refresh, logout, rate limit,
accounts (admin), the audit trail, and a service refusing an RPC call without a valid
token (docs/security.md)."""

from __future__ import annotations

import pytest
import requests
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcClient

from wpis_common.caller import TOKEN_CONTEXT_KEY
from wpis_common.signing import AUTH_KEY_STEM, generate_key_pair, load_private_key
from wpis_common.testing import access_token, auth_headers, login

TIMEOUT = 15


def api(suite) -> str:
    return f"{suite.gateway_url}/api/v1"


def test_login_me_refresh_and_logout_revokes_both_tokens(suite):
    tokens = login(suite.gateway_url, "officer")
    assert tokens["token_type"] == "bearer"
    assert (tokens["role"], tokens["username"]) == ("decision_officer", "officer")
    assert tokens["expires_in"] > 0
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = requests.get(f"{api(suite)}/auth/me", headers=bearer, timeout=TIMEOUT)
    assert me.status_code == 200
    assert me.json()["role"] == "decision_officer"

    refreshed = requests.post(
        f"{api(suite)}/auth/refresh",
        json={"refresh_token": tokens["refresh_token"]},
        timeout=TIMEOUT,
    )
    assert refreshed.status_code == 200
    again = requests.post(
        f"{api(suite)}/auth/refresh",
        json={"refresh_token": tokens["refresh_token"]},
        timeout=TIMEOUT,
    )
    assert again.status_code == 401, "a refresh token is used up by one refresh"

    new = refreshed.json()
    new_bearer = {"Authorization": f"Bearer {new['access_token']}"}
    out = requests.post(
        f"{api(suite)}/auth/logout",
        json={"refresh_token": new["refresh_token"]},
        headers=new_bearer,
        timeout=TIMEOUT,
    )
    assert out.status_code == 200
    after = requests.get(f"{api(suite)}/auth/me", headers=new_bearer, timeout=TIMEOUT)
    assert after.status_code == 401
    assert "revoked" in after.json()["error"]["message"]
    dead_refresh = requests.post(
        f"{api(suite)}/auth/refresh",
        json={"refresh_token": new["refresh_token"]},
        timeout=TIMEOUT,
    )
    assert dead_refresh.status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_401_then_429(suite):
    wrong = requests.post(
        f"{api(suite)}/auth/login",
        json={"username": "auditor", "password": "nope-nope-nope"},
        timeout=TIMEOUT,
    )
    unknown = requests.post(
        f"{api(suite)}/auth/login",
        json={"username": "nobody", "password": "nope-nope-nope"},
        timeout=TIMEOUT,
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    statuses = [
        requests.post(
            f"{api(suite)}/auth/login",
            json={"username": "nobody", "password": "guess"},
            timeout=TIMEOUT,
        )
        for _ in range(6)
    ]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert int(limited[0].headers["Retry-After"]) >= 1
    missing = requests.post(f"{api(suite)}/auth/login", json={"username": "x"}, timeout=TIMEOUT)
    assert missing.status_code == 422
    assert "password" in missing.json()["errors"]


def test_admin_creates_and_deactivates_accounts_and_the_audit_trail_records_it(suite):
    admin = auth_headers(suite, "admin")
    bad = requests.post(
        f"{api(suite)}/accounts",
        headers=admin,
        json={"username": "Bad Name", "password": "short", "role": "wizard"},
        timeout=TIMEOUT,
    )
    assert bad.status_code == 422
    assert {"username", "password", "role"} <= set(bad.json()["errors"])
    payload = {
        "username": "kentron",
        "password": "kentron-password-1",
        "role": "employer",
        "tax_id": "07654321",
        "display_name": "Kentron LLC",
        "language": "hy",
    }
    created = requests.post(f"{api(suite)}/accounts", headers=admin, json=payload, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    assert "password" not in created.json() and "password_hash" not in created.json()
    again = requests.post(f"{api(suite)}/accounts", headers=admin, json=payload, timeout=TIMEOUT)
    assert again.status_code == 409
    listed = requests.get(f"{api(suite)}/accounts", headers=admin, timeout=TIMEOUT).json()
    assert {"kentron", "officer", "ararat"} <= {a["username"] for a in listed}
    login(suite.gateway_url, "kentron", "kentron-password-1")
    gone = requests.post(
        f"{api(suite)}/accounts/kentron/deactivate", headers=admin, timeout=TIMEOUT
    )
    assert gone.status_code == 200 and gone.json()["active"] is False
    refused = requests.post(
        f"{api(suite)}/auth/login",
        json={"username": "kentron", "password": "kentron-password-1"},
        timeout=TIMEOUT,
    )
    assert refused.status_code == 401

    trail = requests.get(
        f"{api(suite)}/audit",
        params={"actor": "admin", "method": "POST"},
        headers=auth_headers(suite, "auditor"),
        timeout=TIMEOUT,
    )
    assert trail.status_code == 200
    entries = trail.json()
    assert {(e["path"], e["status"]) for e in entries} >= {
        ("/api/v1/accounts", 201),
        ("/api/v1/accounts", 409),
        ("/api/v1/accounts/kentron/deactivate", 200),
    }
    assert all(e["role"] == "admin" and e["remote_addr"] for e in entries)
    logins = requests.get(
        f"{api(suite)}/audit",
        params={"path": "/api/v1/auth/login"},
        headers=auth_headers(suite, "supervisor"),
        timeout=TIMEOUT,
    ).json()
    assert any(e["actor"] == "anonymous" and e["status"] == 401 for e in logins)
    assert any(
        e["actor"] == "admin" and e["role"] == "admin" and e["status"] == 200 for e in logins
    )
    bad_filter = requests.get(
        f"{api(suite)}/audit",
        params={"limit": "lots", "colour": "red"},
        headers=auth_headers(suite, "auditor"),
        timeout=TIMEOUT,
    )
    assert bad_filter.status_code == 422
    assert set(bad_filter.json()["errors"]) == {"colour"}
    for role in ("officer", "ararat", "agency"):
        denied = requests.get(
            f"{api(suite)}/audit", headers=auth_headers(suite, role), timeout=TIMEOUT
        )
        assert denied.status_code == 403


@pytest.mark.parametrize("token_kind", ["absent", "forged", "expired"])
def test_a_service_called_over_rpc_directly_refuses_a_caller_without_a_valid_token(
    suite, tmp_path, token_kind
):
    """A client that reaches RabbitMQ cannot skip the gateway's checks: the services
    verify the token themselves."""
    if token_kind == "absent":
        context: dict = {}
    else:
        private_path, _, _ = generate_key_pair(tmp_path, AUTH_KEY_STEM)  # not the gateway's key
        key = load_private_key(private_path)
        if token_kind == "expired":  # the gateway's own key, but too old
            key = load_private_key(suite.base_dir / "keys" / f"{AUTH_KEY_STEM}.pem")
        ttl = -3600 if token_kind == "expired" else 900
        context = {TOKEN_CONTEXT_KEY: access_token(key, "mallory", "supervisor", ttl=ttl)}
    with ClusterRpcClient(uri=suite.amqp_uri, timeout=30, context_data=context) as rpc:
        for call in (
            lambda: rpc.applications.search({}),
            lambda: rpc.applications.get("00000000-0000-4000-8000-000000000000"),
            lambda: rpc.permits.revoke("WP-0000-000000", {"reason": "x"}),
        ):
            with pytest.raises(RemoteError) as refused:
                call()
            assert refused.value.exc_type == "Unauthenticated"


def test_a_valid_token_over_rpc_still_meets_the_services_role_rules(suite):
    key = load_private_key(suite.base_dir / "keys" / f"{AUTH_KEY_STEM}.pem")
    context = {TOKEN_CONTEXT_KEY: access_token(key, "clerk", "agency")}
    with ClusterRpcClient(uri=suite.amqp_uri, timeout=30, context_data=context) as rpc:
        with pytest.raises(RemoteError) as refused:
            rpc.applications.search({})
        assert refused.value.exc_type == "Forbidden"
        with pytest.raises(RemoteError) as refused:
            rpc.permits.revoke("WP-0000-000000", {"reason": "x"})
        assert refused.value.exc_type == "Forbidden"
        assert rpc.permits.credential_key()  # public
