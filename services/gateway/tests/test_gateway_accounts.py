"""Accounts, passwords and tokens (gateway/accounts.py) on a real, migrated database,
and the role rules of ``@allow`` (gateway/session.py). No broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from gateway import accounts
from gateway.models import Account, RefreshToken
from gateway.session import ANY_ROLE, PUBLIC, allow
from wpis_common import caller as auth
from wpis_common.db import create_db_engine, make_session_factory
from wpis_common.errors import Conflict, InvalidInput, NotFound
from wpis_common.signing import KeyRing

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OFFICER = {"username": "anna", "password": "correct horse battery", "role": "decision_officer",
           "display_name": "Anna Petrosyan", "language": "hy"}  # fmt: skip


@pytest.fixture
def session(make_database):
    engine = create_db_engine(make_database("gateway"), pool_size=1)
    with make_session_factory(engine)() as session:
        yield session
        session.rollback()
    engine.dispose()


@pytest.fixture
def policy() -> accounts.TokenPolicy:
    return accounts.TokenPolicy(signing_key=Ed25519PrivateKey.generate())


def test_a_new_account_keeps_an_argon2_hash_never_the_password(session):
    view = accounts.create_account(session, OFFICER, NOW)
    assert view == {"username": "anna", "role": "decision_officer", "tax_id": None,
                    "display_name": "Anna Petrosyan", "language": "hy", "active": True,
                    "created_at": NOW.isoformat()}  # fmt: skip
    stored = session.scalar(select(Account))
    assert stored.password_hash.startswith("$argon2id$")
    assert OFFICER["password"] not in stored.password_hash
    with pytest.raises(Conflict):
        accounts.create_account(session, OFFICER, NOW)


def test_bad_account_fields_are_named_with_the_reason():
    with pytest.raises(InvalidInput) as refused:
        accounts.validate_account({"username": "A B", "password": "short", "role": "wizard",
                                   "language": "fr", "colour": "red"})  # fmt: skip
    assert set(refused.value.details["errors"]) == {"username", "password", "role", "language",
                                                    "colour"}  # fmt: skip
    with pytest.raises(InvalidInput) as employer:
        accounts.validate_account({**OFFICER, "role": "employer"})
    assert employer.value.details["errors"] == {
        "tax_id": ["an employer account needs its 8-digit tax id"]
    }
    with pytest.raises(InvalidInput) as officer:
        accounts.validate_account({**OFFICER, "tax_id": "02563412"})
    assert "tax_id" in officer.value.details["errors"]


def test_login_gives_a_verifiable_access_token_and_the_same_failure_for_every_mistake(
    session, policy
):
    accounts.create_account(session, OFFICER, NOW)
    tokens = accounts.login(session, "anna", OFFICER["password"], policy, NOW)
    assert (tokens["token_type"], tokens["expires_in"], tokens["role"]) == (
        "bearer", 900, "decision_officer",
    )  # fmt: skip
    ring = KeyRing.of([policy.signing_key.public_key()])
    caller = auth.verify_access_token(ring, tokens["access_token"], now=NOW)
    assert (caller.username, caller.role, caller.language) == ("anna", "decision_officer", "hy")
    for username, password in (("anna", "wrong password"), ("nobody", "x"), (None, None),
                               ("anna", 42)):  # fmt: skip
        with pytest.raises(accounts.LoginFailed):
            accounts.login(session, username, password, policy, NOW)
    accounts.deactivate(session, "anna", NOW)
    with pytest.raises(accounts.LoginFailed):
        accounts.login(session, "anna", OFFICER["password"], policy, NOW)


def test_a_refresh_token_works_once_and_logout_revokes_it_and_the_access_token(session, policy):
    accounts.create_account(session, OFFICER, NOW)
    first = accounts.login(session, "anna", OFFICER["password"], policy, NOW)
    assert first["refresh_token"] not in {
        t.token_hash for t in session.scalars(select(RefreshToken))
    }
    second = accounts.refresh(session, first["refresh_token"], policy, NOW + timedelta(minutes=5))
    with pytest.raises(accounts.LoginFailed):  # used up
        accounts.refresh(session, first["refresh_token"], policy, NOW + timedelta(minutes=6))
    ring = KeyRing.of([policy.signing_key.public_key()])
    caller = auth.verify_access_token(ring, second["access_token"], now=NOW)
    accounts.logout(session, caller, NOW + timedelta(minutes=20), second["refresh_token"], NOW)
    assert accounts.is_revoked(session, caller.jti)
    with pytest.raises(accounts.LoginFailed):
        accounts.refresh(session, second["refresh_token"], policy, NOW + timedelta(minutes=7))
    late = accounts.login(session, "anna", OFFICER["password"], policy, NOW)
    with pytest.raises(accounts.LoginFailed):  # expired
        accounts.refresh(session, late["refresh_token"], policy, NOW + timedelta(hours=9))


def test_deactivating_an_unknown_account_is_not_found(session):
    with pytest.raises(NotFound):
        accounts.deactivate(session, "ghost", NOW)


def test_the_demo_accounts_cover_every_role_and_the_seeded_employer():
    roles = {account["role"] for account in accounts.DEMO_ACCOUNTS}
    assert roles == set(auth.ROLES)
    ararat = next(a for a in accounts.DEMO_ACCOUNTS if a["username"] == "ararat")
    assert ararat["tax_id"] == "02563412"
    for account in accounts.DEMO_ACCOUNTS:
        accounts.validate_account({**account, "password": accounts.demo_password("x" * 5)})


# -- @allow ------------------------------------------------------------------------------


class FakeRoute:
    def __init__(self, caller: auth.Caller | None):
        self.session = SimpleNamespace(caller=caller, problem=None)

    @allow("supervisor")
    def supervisors(self, request):
        return "ran"

    @allow(ANY_ROLE)
    def anyone_logged_in(self, request):
        return "ran"

    @allow(PUBLIC)
    def everyone(self, request):
        return "ran"

    @allow("supervisor", redirect="/console/login")
    def page(self, request):
        return "ran"


@pytest.mark.parametrize(
    ("role", "supervisors", "anyone_logged_in", "everyone", "page"),
    [
        (None, 401, 401, "ran", 303),
        ("auditor", 403, "ran", "ran", 403),
        ("supervisor", "ran", "ran", "ran", "ran"),
    ],
)
def test_allow_answers_401_403_or_runs_the_route(role, supervisors, anyone_logged_in, everyone,
                                                 page):  # fmt: skip
    route = FakeRoute(None if role is None else auth.Caller("someone", role))
    for name, expected in (("supervisors", supervisors), ("anyone_logged_in", anyone_logged_in),
                           ("everyone", everyone), ("page", page)):  # fmt: skip
        answer = getattr(route, name)(None)
        assert (answer if answer == "ran" else answer.status_code) == expected, name
    assert FakeRoute.supervisors.wpis_roles == frozenset({"supervisor"})


def test_password_hashing_leaves_the_other_green_threads_running():
    """argon2 runs in a real thread: while it works, the gateway's hub serves others."""
    import eventlet

    ticks: list[int] = []

    def ticker() -> None:
        while True:
            ticks.append(1)
            eventlet.sleep(0)

    other = eventlet.spawn(ticker)
    accounts._hash("correct horse battery")
    other.kill()
    assert ticks, "the hub was blocked while the password was hashed"
