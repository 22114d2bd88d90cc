"""Sending deliveries in groups: one unit of work claims a group, the next records it.

On a real (SQLite or PostgreSQL) database, with channels that only note what they
were asked to send."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select

from notifications import deliveries, domain
from notifications.channels import Channels, Outgoing, SendError
from notifications.models import MESSAGING, Delivery
from notifications.schemas import EVENTS
from wpis_common.db import create_db_engine, make_session_factory
from wpis_common.dependencies import DatabaseHandle
from wpis_common.envelope import Envelope
from wpis_common.testing import migrated_database, wait_for

pytestmark = pytest.mark.integration

POLICY = deliveries.SendingPolicy(
    domain.RetryPolicy(max_attempts=3, base_seconds=30, max_seconds=60),
    claim_seconds=60,
    group_size=4,
)


class Crash(BaseException):
    """The process dying mid-send (not an error a sender reports and retries)."""


class Recorder:
    """A channel that notes every send; it can fail, crash, or take (fake) time."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail: set[str] = set()
        self.crash_on: int | None = None
        self.on_send = lambda outgoing: None

    def send(self, outgoing: Outgoing) -> None:
        if self.crash_on is not None and len(self.sent) + 1 == self.crash_on:
            self.crash_on = None
            raise Crash
        self.on_send(outgoing)
        self.sent.append(outgoing.delivery_id)
        if outgoing.delivery_id in self.fail:
            raise SendError("refused")

    def describe(self) -> str:
        return "recorder"


class Store:
    def __init__(self, url: str):
        self.engine = create_db_engine(url)
        self.db = DatabaseHandle(
            make_session_factory(self.engine), MESSAGING, "notifications", EVENTS, None
        )
        self.writes = 0
        self._dirty: set[int] = set()
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        event.listen(self.engine, "commit", self._on_commit)

    def _on_execute(self, connection, cursor, statement, *args) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self._dirty.add(id(connection.connection.dbapi_connection))

    def _on_commit(self, connection) -> None:
        key = id(connection.connection.dbapi_connection)
        if key in self._dirty:
            self._dirty.discard(key)
            self.writes += 1

    def plan(self, cases: int) -> list[str]:
        """``cases`` submitted applications: three deliveries each (two e-mails, an SMS)."""
        ids: list[str] = []
        for n in range(cases):
            data = {
                "application_id": str(uuid.uuid4()),
                "employer": {"name": "Ararat Build LLC", "email": "hr@ararat.example"},
                "worker": {
                    "given_names": "Ravi",
                    "surname": f"Kumar {n}",
                    "email": f"ravi{n}@example.org",
                    "phone": "+37491234567",
                },
            }
            event_ = Envelope(
                str(uuid.uuid4()),
                "application_submitted",
                1,
                datetime.now(UTC),
                "applications",
                n + 1,
                data,
            )
            with self.db.unit_of_work() as uow:
                contacts = deliveries.remember_contacts(uow, data)
                ids += deliveries.plan_for_event(uow, event_, contacts)
        return ids

    def rows(self, ids: list[str]) -> list[Delivery]:
        with self.db.session_factory() as session:
            found = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
        return [found[delivery_id] for delivery_id in ids]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with migrated_database(tmp_path, "notifications") as url:
        handle = Store(url)
        try:
            yield handle
        finally:
            handle.engine.dispose()


@pytest.fixture
def channel() -> Recorder:
    return Recorder()


def channels(recorder: Recorder) -> Channels:
    return Channels(recorder, recorder, recorder)


def test_a_group_is_claimed_in_one_unit_of_work_and_recorded_in_the_next(store, channel):
    ids = store.plan(3)  # 9 deliveries: groups of 4, 4 and 1
    writes = store.writes

    assert deliveries.send_all(store.db.unit_of_work, channels(channel), POLICY, ids) == 9

    assert channel.sent == ids  # each once, in order
    assert [row.status for row in store.rows(ids)] == [domain.SENT] * 9
    assert [row.attempts for row in store.rows(ids)] == [1] * 9
    assert store.writes - writes == 4  # claim 1-4; record 1-4 + claim 5-8; ...; record 9


def test_failures_in_a_group_get_the_same_retries_and_backoff(store, channel):
    ids = store.plan(2)
    channel.fail = {ids[1], ids[4]}
    started = datetime.now(UTC)

    assert deliveries.send_all(store.db.unit_of_work, channels(channel), POLICY, ids) == 6
    finished = datetime.now(UTC)

    rows = store.rows(ids)
    assert [row.status for row in rows] == [
        domain.RETRYING if delivery_id in channel.fail else domain.SENT for delivery_id in ids
    ]
    for row in rows:
        if row.status == domain.RETRYING:
            assert row.last_error == "refused"
            # the first retry is due base_seconds after its own send failed
            retry_at = row.next_attempt_at
            assert started + timedelta(seconds=30) <= retry_at <= finished + timedelta(seconds=30)
            assert row.sent_at is None


def test_a_crash_mid_group_leaves_its_claims_until_they_lapse(store, channel):
    policy = deliveries.SendingPolicy(POLICY.retry, claim_seconds=3, group_size=3)
    ids = store.plan(1)
    channel.crash_on = 2  # the first went out, then the process died

    with pytest.raises(Crash):
        deliveries.send_all(store.db.unit_of_work, channels(channel), policy, ids)

    rows = store.rows(ids)
    assert [(row.status, row.attempts) for row in rows] == [(domain.SENDING, 1)] * 3
    # no other sender takes them while the claims hold
    assert deliveries.send_due(store.db.unit_of_work, channels(channel), policy) == 0
    assert channel.sent == ids[:1]

    # once they lapse, all three are sent (the first again: it was never recorded)
    wait_for(
        lambda: deliveries.send_due(store.db.unit_of_work, channels(channel), policy),
        what="the lapsed claims to be sent",
    )
    assert sorted(channel.sent) == sorted([ids[0], *ids])
    assert [(row.status, row.attempts) for row in store.rows(ids)] == [(domain.SENT, 2)] * 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_slow_group_renews_the_claims_of_what_it_has_not_sent_yet(store, channel):
    ids = store.plan(1)
    clock = FakeClock()
    leases: list[datetime] = []

    def slow_send(outgoing: Outgoing) -> None:
        [row] = store.rows([outgoing.delivery_id])
        leases.append(row.next_attempt_at)
        clock.now += 0.6  # each send takes more than a tenth of the lease

    channel.on_send = slow_send
    policy = deliveries.SendingPolicy(POLICY.retry, claim_seconds=5, group_size=3)
    writes = store.writes

    sent = deliveries.send_all(store.db.unit_of_work, channels(channel), policy, ids, clock=clock)

    assert sent == 3
    assert channel.sent == ids
    # the second and third sends each started on a renewed lease
    assert leases[0] < leases[1] < leases[2]
    assert [row.status for row in store.rows(ids)] == [domain.SENT] * 3
    assert store.writes - writes == 4  # claim; record 1 + renew; record 2 + renew; record 3


def test_a_claim_another_sender_holds_is_not_sent(store, channel):
    ids = store.plan(1)
    with store.db.unit_of_work() as uow:
        assert deliveries.claim(uow, ids[1], datetime.now(UTC), 60) is not None

    assert deliveries.send_all(store.db.unit_of_work, channels(channel), POLICY, ids) == 2
    assert channel.sent == [ids[0], ids[2]]
    assert store.rows(ids)[1].status == domain.SENDING
