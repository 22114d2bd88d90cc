"""The queue of checks on a real database with a fake IDMS that records how many calls
are in flight: checks that waited run one by one, in order; fresh ones run a few at a
time; a check already held by another worker is left alone."""

from __future__ import annotations

import uuid
from datetime import timedelta

import eventlet
import pytest
from sqlalchemy import select

from identity_gateway import checks
from identity_gateway.adapter import FeedPage, IdentityQuery
from identity_gateway.domain import IdmsAnswer
from identity_gateway.models import MESSAGING, Verification
from identity_gateway.schemas import EVENTS
from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory
from wpis_common.envelope import utc_now
from wpis_common.signing import generate_key_pair, load_private_key

WORKER = {
    "given_names": "Ravi",
    "surname": "Kumar",
    "date_of_birth": "1990-04-12",
    "sex": "M",
    "nationality": "IND",
    "passport": {"number": "Z1234567", "issuing_country": "IND", "expiry_date": "2031-01-01"},
}


class SlowIdms:
    """Answers after a pause; remembers the order of calls and the most in flight."""

    def __init__(self, answer: IdmsAnswer, pause: float = 0.02):
        self.answer, self.pause = answer, pause
        self.in_flight = self.most_in_flight = 0
        self.seen: list[str] = []

    def authenticate(self, query: IdentityQuery, purpose: str) -> IdmsAnswer:
        self.seen.append(purpose.rsplit(" ", 1)[-1])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        eventlet.sleep(self.pause)
        self.in_flight -= 1
        return self.answer

    def identity_events(self, after: int, limit: int) -> FeedPage:
        return FeedPage([], after)


VERIFIED = IdmsAnswer(True, person_token="tok", calls=1)
DOWN = IdmsAnswer(False, unavailable=True, idms_down=True, detail="HTTP 503", calls=1)


@pytest.fixture
def uow_factory(make_database):
    engine = create_db_engine(make_database("identity_gateway"), pool_size=10)
    factory = make_session_factory(engine)
    yield lambda: UnitOfWork(factory, MESSAGING, "identity_gateway", EVENTS)
    engine.dispose()


@pytest.fixture
def attester(tmp_path):
    private_path, _, _ = generate_key_pair(tmp_path)
    return checks.Attester(load_private_key(private_path), timedelta(days=30))


POLICY = checks.RetryPolicy(base_seconds=0.0, max_seconds=0.0, lease_seconds=60, concurrency=4)


def request(uow_factory, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        application_id = str(uuid.uuid4())
        with uow_factory() as uow:
            checks.request_check(uow, application_id, WORKER, "test")
        ids.append(application_id)
    return ids


def statuses(uow_factory) -> dict[str, str]:
    with uow_factory() as uow:
        rows = uow.session.execute(select(Verification.application_id, Verification.status))
        return dict(rows.all())


def test_fresh_checks_run_a_few_at_a_time(uow_factory, attester):
    ids = request(uow_factory, 8)
    idms = SlowIdms(VERIFIED)

    assert checks.run_due(uow_factory, idms, attester, POLICY) == 8

    assert idms.most_in_flight == 4
    assert sorted(idms.seen) == sorted(ids)
    assert set(statuses(uow_factory).values()) == {"completed"}


def test_checks_that_waited_run_one_by_one_in_order_and_stop_while_the_idms_is_down(
    uow_factory, attester
):
    ids = request(uow_factory, 5)
    down = SlowIdms(DOWN)
    checks.run_due(uow_factory, down, attester, POLICY)  # the first ones find it down
    assert set(statuses(uow_factory).values()) == {"pending"}

    again = SlowIdms(DOWN)
    checks.run_due(uow_factory, again, attester, POLICY)
    assert again.seen == ids[:1]  # the head is tried; the rest wait behind it

    back = SlowIdms(VERIFIED)
    assert checks.run_due(uow_factory, back, attester, POLICY) == 5
    assert back.seen == ids and back.most_in_flight == 1
    assert set(statuses(uow_factory).values()) == {"completed"}


def test_a_check_held_by_another_worker_is_left_alone(uow_factory, attester):
    [application_id] = request(uow_factory, 1)
    with uow_factory() as uow:
        held = uow.session.scalars(select(Verification)).one()
        held.lease_until = utc_now() + timedelta(seconds=30)
    idms = SlowIdms(VERIFIED)

    assert checks.run_due(uow_factory, idms, attester, POLICY) == 0
    assert idms.seen == [] and statuses(uow_factory) == {application_id: "pending"}
