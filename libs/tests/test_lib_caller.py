"""Access tokens and the role rule every service applies (wpis_common.caller)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wpis_common import caller as auth
from wpis_common.signing import KeyRing

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ARARAT = {"username": "ararat", "role": "employer", "tax_id": "02563412",
          "display_name": "Ararat Build LLC", "language": "hy"}  # fmt: skip


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_a_token_names_its_caller_and_is_checked_with_the_public_key_alone(key):
    token, jti = auth.issue_access_token(key, ARARAT, NOW, timedelta(minutes=15))
    caller = auth.verify_access_token(KeyRing.of([key.public_key()]), token, now=NOW)
    assert caller == auth.Caller("ararat", "employer", "02563412", "Ararat Build LLC", "hy", jti)


def test_expired_forged_tampered_and_missing_tokens_are_unauthenticated(key):
    ring = KeyRing.of([key.public_key()])
    token, _ = auth.issue_access_token(key, ARARAT, NOW, timedelta(minutes=15))
    with pytest.raises(auth.Unauthenticated, match="expired"):
        auth.verify_access_token(ring, token, now=NOW + timedelta(minutes=16))
    other = Ed25519PrivateKey.generate()
    forged, _ = auth.issue_access_token(other, {**ARARAT, "role": "supervisor"}, NOW,
                                        timedelta(minutes=15))  # fmt: skip
    with pytest.raises(auth.Unauthenticated, match="unknown key"):
        auth.verify_access_token(ring, forged, now=NOW)
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    raised = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps({**claims, "role": "supervisor"}).encode()
    ).decode()
    with pytest.raises(auth.Unauthenticated, match="not valid"):
        auth.verify_access_token(ring, f"{header}.{raised}.{signature}", now=NOW)
    hs256 = jwt.encode({**claims}, "s" * 32, algorithm="HS256", headers={"kid": ring.key_ids[0]})
    with pytest.raises(auth.Unauthenticated):
        auth.verify_access_token(ring, hs256, now=NOW)
    for nothing in (None, "", 42, "not.a.token"):
        with pytest.raises(auth.Unauthenticated):
            auth.verify_access_token(ring, nothing, now=NOW)


def test_a_token_with_a_role_outside_the_list_is_refused(key):
    token, _ = auth.issue_access_token(key, {**ARARAT, "role": "system"}, NOW, timedelta(hours=1))
    with pytest.raises(auth.Unauthenticated):
        auth.verify_access_token(KeyRing.of([key.public_key()]), token, now=NOW)


@pytest.mark.parametrize(
    ("role", "allowed", "outcome"),
    [
        ("supervisor", ("supervisor",), "ok"),
        ("decision_officer", ("supervisor",), "forbidden"),
        ("system", ("supervisor",), "ok"),
        (None, ("supervisor",), "unauthenticated"),
    ],
)
def test_require_lets_the_listed_roles_and_system_through(role, allowed, outcome):
    caller = None if role is None else auth.Caller("someone", role)
    if outcome == "ok":
        assert auth.require(caller, allowed) is caller
    elif outcome == "forbidden":
        with pytest.raises(auth.Forbidden) as raised:
            auth.require(caller, allowed, "revoke permits")
        assert raised.value.details["allowed_roles"] == ["supervisor"]
    else:
        with pytest.raises(auth.Unauthenticated):
            auth.require(caller, allowed)
