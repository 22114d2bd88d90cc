"""The envelope, event specs and the catalog check in the unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from marshmallow import Schema, ValidationError, fields
from sqlalchemy import MetaData, func, select

from wpis_common.db import UnitOfWork, create_db_engine, make_session_factory
from wpis_common.envelope import Envelope, EventCatalog, EventSpec
from wpis_common.tables import messaging_tables
from wpis_common.testing import fresh_database


class ThingSchema(Schema):
    thing_id = fields.String(required=True)
    due_on = fields.Date(required=True)
    noted_at = fields.AwareDateTime(required=True, format="iso")
    tags = fields.List(fields.String(), load_default=list)


THING_HAPPENED = EventSpec("thing_happened", ThingSchema, version=2)
CATALOG = EventCatalog(THING_HAPPENED)


def make_envelope(**changes) -> Envelope:
    values = {
        "event_id": str(uuid.uuid4()),
        "event_type": "thing_happened",
        "schema_version": 2,
        "occurred_at": datetime(2027, 3, 4, 5, 6, 7, 123456, tzinfo=UTC),
        "producer": "lib_source",
        "sequence": 7,
        "data": {"thing_id": "t-1", "nested": {"n": [1, 2]}},
    }
    values.update(changes)
    return Envelope(**values)


def test_envelope_round_trips_through_its_message_form():
    envelope = make_envelope()
    message = envelope.to_message()

    assert message == {
        "event_id": envelope.event_id,
        "event_type": "thing_happened",
        "schema_version": 2,
        "occurred_at": "2027-03-04T05:06:07.123456+00:00",
        "producer": "lib_source",
        "sequence": 7,
        "data": {"thing_id": "t-1", "nested": {"n": [1, 2]}},
    }
    assert Envelope.parse(message) == envelope


def test_envelope_message_states_time_in_utc():
    yerevan = timezone(timedelta(hours=4))
    envelope = make_envelope(occurred_at=datetime(2027, 3, 4, 9, 0, tzinfo=yerevan))

    message = envelope.to_message()

    assert message["occurred_at"] == "2027-03-04T05:00:00+00:00"
    parsed = Envelope.parse(message)
    assert parsed.occurred_at == envelope.occurred_at
    assert parsed.occurred_at.utcoffset() == timedelta(0)


def _message(**changes):
    message = make_envelope().to_message()
    for key, value in changes.items():
        if value is _MISSING:
            del message[key]
        else:
            message[key] = value
    return message


_MISSING = object()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="null"),
        pytest.param("thing_happened", id="string"),
        pytest.param([1, 2], id="list"),
        pytest.param(b'{"event_id": 1}', id="bytes"),
        pytest.param({}, id="empty-object"),
        pytest.param(_message(event_id="not-a-uuid"), id="bad-event-id"),
        pytest.param(_message(event_id=_MISSING), id="no-event-id"),
        pytest.param(_message(event_type=""), id="empty-event-type"),
        pytest.param(_message(schema_version=0), id="version-zero"),
        pytest.param(_message(occurred_at="2027-03-04T05:06:07"), id="naive-time"),
        pytest.param(_message(occurred_at="yesterday"), id="bad-time"),
        pytest.param(_message(producer=_MISSING), id="no-producer"),
        pytest.param(_message(sequence=0), id="sequence-zero"),
        pytest.param(_message(sequence="seven"), id="sequence-text"),
        pytest.param(_message(data=[1, 2]), id="data-not-object"),
        pytest.param(_message(data=_MISSING), id="no-data"),
    ],
)
def test_malformed_bodies_are_refused(body):
    with pytest.raises(ValidationError):
        Envelope.parse(body)


def test_event_spec_accepts_python_values_or_iso_strings_alike():
    from_python = THING_HAPPENED.serialize(
        {
            "thing_id": "t-1",
            "due_on": date(2027, 1, 15),
            "noted_at": datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC),
            "tags": ("a", "b"),
        }
    )
    from_strings = THING_HAPPENED.serialize(
        {
            "thing_id": "t-1",
            "due_on": "2027-01-15",
            "noted_at": "2027-01-02T03:04:05+00:00",
            "tags": ["a", "b"],
        }
    )

    assert from_python == from_strings
    assert from_python["due_on"] == "2027-01-15"
    assert datetime.fromisoformat(from_python["noted_at"]) == datetime(
        2027, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert from_python["tags"] == ["a", "b"]


def test_event_spec_fills_schema_defaults():
    data = THING_HAPPENED.serialize(
        {"thing_id": "t-1", "due_on": "2027-01-15", "noted_at": "2027-01-02T03:04:05+00:00"}
    )
    assert data["tags"] == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"due_on": "2027-01-15", "noted_at": "2027-01-02T03:04:05Z"}, id="missing"),
        pytest.param(
            {"thing_id": "t", "due_on": "15/01/2027", "noted_at": "2027-01-02T03:04:05Z"},
            id="bad-date",
        ),
        pytest.param(
            {"thing_id": "t", "due_on": "2027-01-15", "noted_at": "2027-01-02T03:04:05"},
            id="naive-datetime",
        ),
        pytest.param(
            {
                "thing_id": "t",
                "due_on": "2027-01-15",
                "noted_at": "2027-01-02T03:04:05Z",
                "passport_number": "Z1234567",
            },
            id="unknown-field",
        ),
    ],
)
def test_event_spec_refuses_data_that_breaks_the_schema(data):
    with pytest.raises(ValidationError):
        THING_HAPPENED.serialize(data)


def test_catalog_looks_up_specs_and_names_unknown_types():
    assert CATALOG.spec("thing_happened") is THING_HAPPENED
    with pytest.raises(KeyError, match="thing_vanished"):
        CATALOG.spec("thing_vanished")


@pytest.fixture
def messaging_db(tmp_path):
    metadata = MetaData()
    tables = messaging_tables(metadata)
    with fresh_database(tmp_path, "lib") as url:
        engine = create_db_engine(url)
        metadata.create_all(engine)
        try:
            yield make_session_factory(engine), tables
        finally:
            engine.dispose()


def _outbox_count(session_factory, tables) -> int:
    with session_factory() as session:
        return session.execute(select(func.count()).select_from(tables.outbox)).scalar_one()


def test_unit_of_work_refuses_an_event_type_not_in_the_catalog(messaging_db):
    session_factory, tables = messaging_db
    committed = []

    with (
        pytest.raises(KeyError, match="thing_vanished"),
        UnitOfWork(session_factory, tables, "lib_source", CATALOG, committed.append) as uow,
    ):
        uow.emit("thing_vanished", {"thing_id": "t-1"})

    assert _outbox_count(session_factory, tables) == 0


def test_unit_of_work_refuses_event_data_that_breaks_the_schema(messaging_db):
    session_factory, tables = messaging_db

    with (
        pytest.raises(ValidationError),
        UnitOfWork(session_factory, tables, "lib_source", CATALOG) as uow,
    ):
        uow.emit("thing_happened", {"thing_id": "t-1", "due_on": "soon"})

    assert _outbox_count(session_factory, tables) == 0


def test_unit_of_work_writes_the_serialized_event_on_commit(messaging_db):
    session_factory, tables = messaging_db
    woken = []

    with UnitOfWork(
        session_factory, tables, "lib_source", CATALOG, lambda: woken.append(True)
    ) as uow:
        event_id = uow.emit(
            "thing_happened",
            {
                "thing_id": "t-1",
                "due_on": date(2027, 1, 15),
                "noted_at": datetime(2027, 1, 2, tzinfo=UTC),
            },
        )
        assert uow.emitted_types == ["thing_happened"]
        assert woken == []

    assert woken == [True]
    with session_factory() as session:
        row = session.execute(select(tables.outbox)).one()
    assert row.event_id == event_id
    assert uuid.UUID(row.event_id)
    assert row.event_type == "thing_happened"
    assert row.schema_version == 2
    assert row.producer == "lib_source"
    assert row.occurred_at.tzinfo is not None
    assert row.data["due_on"] == "2027-01-15"
    assert row.sequence is None
    assert row.published_at is None


def test_unit_of_work_without_events_does_not_wake_the_relay(messaging_db):
    session_factory, tables = messaging_db
    woken = []

    with UnitOfWork(session_factory, tables, "lib_source", CATALOG, lambda: woken.append(1)):
        pass

    assert woken == []
