"""Two issuers at once, each with its own session and transaction, on one
database (PostgreSQL with WPIS_TEST_DB=postgresql): no gap, no duplicate, and
one permit per application even when both issue for the same one."""

from __future__ import annotations

import logging
import uuid
from datetime import date

import eventlet
import pytest
from sqlalchemy import func, select

from permits import domain, register
from permits.models import MESSAGING, Permit
from permits.schemas import EVENTS
from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory
from wpis_common.signing import generate_key_pair, load_private_key, load_public_key
from wpis_common.testing import db_backend

pytestmark = pytest.mark.integration

PER_ISSUER = 15


@pytest.fixture
def issuers(make_database, tmp_path):
    engine = create_db_engine(make_database("permits"), pool_size=4)
    sessions = make_session_factory(engine)
    private_path, public_path, _ = generate_key_pair(tmp_path / "keys")
    yield sessions, load_private_key(private_path), load_public_key(public_path)
    engine.dispose()


def issue(sessions, public_key, approval: dict) -> str | None:
    with UnitOfWork(sessions, MESSAGING, "permits", EVENTS) as uow:
        permit = register.issue_for_approval(uow, approval, public_key, domain.ValidityRules())
        return permit.number if permit else None


def race(sessions, public_key, first: list[dict], second: list[dict]) -> list[str | None]:
    """Both issuers run at once, interleaving at every database round trip."""

    def run(approvals: list[dict]) -> list[str | None]:
        return [issue(sessions, public_key, approval) for approval in approvals]

    threads = [eventlet.spawn(run, first), eventlet.spawn(run, second)]
    return [number for thread in threads for number in thread.wait()]


def test_two_issuers_at_once_leave_no_gap_and_no_duplicate(issuers, kit):
    sessions, private_key, public_key = issuers
    batches = [[kit.approval(private_key) for _ in range(PER_ISSUER)] for _ in range(2)]
    numbers = race(sessions, public_key, *batches)

    year = date.today().year
    assert sorted(numbers) == [domain.permit_number(year, n) for n in range(1, 2 * PER_ISSUER + 1)]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Permit)) == 2 * PER_ISSUER


def test_two_issuers_for_the_same_applications_make_one_permit_each(issuers, kit, caplog):
    caplog.set_level(logging.INFO, logger="permits.register")
    sessions, private_key, public_key = issuers
    same = [kit.approval(private_key, application_id=str(uuid.uuid4())) for _ in range(PER_ISSUER)]
    numbers = race(sessions, public_key, same, same)

    year = date.today().year
    expected = [domain.permit_number(year, n) for n in range(1, PER_ISSUER + 1)]
    assert sorted(set(numbers)) == expected  # each application got one number, in one series
    outbox = MESSAGING.outbox
    with sessions() as session:
        issued_events = session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.event_type == "permit_issued")
        )
    assert issued_events == PER_ISSUER
    if db_backend() == "postgresql":  # the transactions really overlapped
        assert "was issued concurrently" in caplog.text
    # the next application continues the series without a gap
    assert issue(sessions, public_key, kit.approval(private_key)) == domain.permit_number(
        year, PER_ISSUER + 1
    )
