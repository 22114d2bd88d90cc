"""The agency subscriber's rules without a broker: order, gaps, duplicates, failures,
restarts. (tests/e2e/test_agency_subscriber_e2e.py runs it against the real suite.)"""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from agency_subscriber import Binding, Event, Store, Subscriber, SubscriberConfig
from agency_subscriber.subscriber import NotAnEvent, ReplayUnavailable, parse_bindings


class FakeLog:
    """A producer's log as the replay endpoint serves it."""

    def __init__(self) -> None:
        self.events: dict[str, list[Event]] = {}
        self.calls = 0
        self.down = False

    def publish(self, producer: str, event_type: str) -> Event:
        log = self.events.setdefault(producer, [])
        event = Event(
            event_id=str(uuid.uuid4()),
            event_type=event_type,
            schema_version=1,
            occurred_at="2027-01-15T09:30:00+00:00",
            producer=producer,
            sequence=len(log) + 1,
            data={"n": len(log) + 1},
        )
        log.append(event)
        return event

    def page(self, producer: str, after: int, limit: int) -> dict:
        self.calls += 1
        if self.down:
            raise ReplayUnavailable("gateway down")
        events = [e.as_message() for e in self.events.get(producer, []) if e.sequence > after]
        return {"events": events[:limit], "last_sequence": len(self.events.get(producer, []))}


class Recorder:
    def __init__(self) -> None:
        self.failing: set[str] = set()

    def __call__(self, event: Event, tx: sqlite3.Connection) -> None:
        tx.execute("CREATE TABLE IF NOT EXISTS got (producer TEXT, sequence INTEGER, id TEXT)")
        tx.execute(
            "INSERT INTO got VALUES (?, ?, ?)", (event.producer, event.sequence, event.event_id)
        )
        if event.event_id in self.failing:
            raise RuntimeError("our system is down")


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def make_subscriber(tmp_path, log):
    state = tmp_path / "agency.db"
    handler = Recorder()
    stores = []

    def make(page_size: int = 500) -> Subscriber:
        config = SubscriberConfig(
            amqp_uri="amqp://unused",
            api_url="http://unused",
            queue="agency.test",
            bindings=parse_bindings(["permits:permit_issued", "permits:permit_revoked"]),
            state_path=str(state),
            page_size=page_size,
        )
        store = Store(state)
        stores.append(store)
        return Subscriber(config, handler, store=store, replay=log)

    make.handler = handler
    yield make
    for store in stores:
        store.close()


def got(subscriber: Subscriber) -> list[tuple[str, int]]:
    try:
        rows = subscriber.store.connection.execute(
            "SELECT producer, sequence FROM got ORDER BY rowid"
        )
    except sqlite3.OperationalError:
        return []
    return [tuple(row) for row in rows]


def test_live_events_in_order_are_handled_without_asking_the_log(make_subscriber, log):
    subscriber = make_subscriber()
    first, second = log.publish("permits", "permit_issued"), log.publish("permits", "permit_issued")

    assert subscriber.on_event(first) == "handled"
    assert subscriber.on_event(second) == "handled"
    assert got(subscriber) == [("permits", 1), ("permits", 2)]
    assert log.calls == 0
    assert subscriber.store.position("permits") == 2


def test_a_redelivered_event_is_skipped(make_subscriber, log):
    subscriber = make_subscriber()
    event = log.publish("permits", "permit_issued")
    subscriber.on_event(event)

    assert subscriber.on_event(event) == "duplicate"
    assert got(subscriber) == [("permits", 1)]


def test_a_gap_is_filled_from_the_log_in_sequence_order(make_subscriber, log):
    subscriber = make_subscriber()
    events = [
        log.publish("permits", t) for t in ("permit_issued", "permit_flagged", "permit_revoked")
    ]
    events.append(log.publish("permits", "permit_issued"))

    # Only the last arrives live (the others were lost or are still behind it).
    assert subscriber.on_event(events[3]) == "handled"
    assert got(subscriber) == [("permits", 1), ("permits", 3), ("permits", 4)]  # 2 is not ours
    assert subscriber.store.position("permits") == 4
    for late in events[:3]:
        assert subscriber.on_event(late) == "duplicate"


def test_a_failing_handler_rolls_back_and_nothing_after_it_is_handled(make_subscriber, log):
    subscriber = make_subscriber()
    first, second = log.publish("permits", "permit_issued"), log.publish("permits", "permit_issued")
    make_subscriber.handler.failing.add(first.event_id)

    with pytest.raises(RuntimeError):
        subscriber.on_event(first)
    with pytest.raises(RuntimeError):  # the gap-fill meets the same failure first
        subscriber.on_event(second)
    assert got(subscriber) == []
    assert subscriber.store.position("permits") == 0

    make_subscriber.handler.failing.clear()
    assert subscriber.on_event(second) == "handled"
    assert got(subscriber) == [("permits", 1), ("permits", 2)]


def test_a_restarted_subscriber_replays_from_its_position(make_subscriber, log):
    subscriber = make_subscriber(page_size=2)
    subscriber.on_event(log.publish("permits", "permit_issued"))
    for _ in range(4):  # published while it was down
        log.publish("permits", "permit_issued")

    restarted = make_subscriber(page_size=2)
    assert restarted.catch_up("permits") == 4
    assert [seq for _, seq in got(restarted)] == [1, 2, 3, 4, 5]
    assert restarted.catch_up("permits") == 0


def test_events_of_other_producers_are_ignored(make_subscriber, log):
    subscriber = make_subscriber()
    assert subscriber.on_event(log.publish("contracts", "contract_registered")) == "ignored"


def test_while_the_log_is_unreachable_a_gap_is_not_skipped(make_subscriber, log):
    subscriber = make_subscriber()
    log.publish("permits", "permit_issued")
    later = log.publish("permits", "permit_issued")
    log.down = True

    with pytest.raises(ReplayUnavailable):
        subscriber.on_event(later)
    assert subscriber.store.position("permits") == 0


@pytest.mark.parametrize(
    "message",
    [None, "text", {"event_id": "x"}, {**dict.fromkeys(Event.__dataclass_fields__), "sequence": 0}],
)
def test_messages_that_are_not_events_are_refused(message):
    with pytest.raises(NotAnEvent):
        Event.from_message(message)


def test_bindings_are_producer_colon_event_type():
    assert Binding.parse("permits:permit_issued") == Binding("permits", "permit_issued")
    with pytest.raises(ValueError):
        Binding.parse("permit_issued")
