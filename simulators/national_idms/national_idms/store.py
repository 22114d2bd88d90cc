"""SQLite store of the simulated register: schema, queries and seeding.

One connection is shared by all server threads and guarded by a lock, so ``:memory:``
works the same as a file. Every write runs in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from national_idms.models import (
    DOCUMENT_REPORTS,
    Document,
    IdentityEvent,
    NewPerson,
    Person,
    PersonPatch,
    Report,
)
from national_idms.validation import parse_new_person

MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
    person_id     TEXT PRIMARY KEY,
    given_names   TEXT NOT NULL,
    surname       TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    sex           TEXT NOT NULL CHECK (sex IN ('M', 'F', 'X')),
    nationality   TEXT NOT NULL,
    entry_ban     INTEGER NOT NULL DEFAULT 0 CHECK (entry_ban IN (0, 1))
);
CREATE TABLE IF NOT EXISTS documents (
    person_id       TEXT NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    doc_type        TEXT NOT NULL,
    number          TEXT NOT NULL,
    issuing_country TEXT NOT NULL,
    expiry_date     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('valid', 'lost', 'stolen', 'revoked')),
    PRIMARY KEY (issuing_country, number)
);
CREATE INDEX IF NOT EXISTS documents_by_person ON documents (person_id);
CREATE TABLE IF NOT EXISTS identity_events (
    sequence        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,
    person_id       TEXT NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    document_number TEXT,
    issuing_country TEXT
);
"""
# Columns added after the first release, for store files made before them.
_ADDED_COLUMNS = {
    "persons": {"deceased": "INTEGER NOT NULL DEFAULT 0 CHECK (deceased IN (0, 1))"},
}


class DuplicateDocumentError(Exception):
    """Documents (by field path) are already registered to someone."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("document already registered")
        self.errors = errors


class UnknownDocumentError(Exception):
    """Documents (by field path) in a PATCH do not belong to the person."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("document not held by this person")
        self.errors = errors


class Store:
    """Thread-safe access to the register."""

    def __init__(self, path: str = MEMORY) -> None:
        if path != MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.executescript(_SCHEMA)
        _add_missing_columns(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock; commit on success, roll back on any exception."""
        with self._lock, self._conn:
            yield self._conn

    # --- reads -------------------------------------------------------------------------

    def count_persons(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM persons").fetchone()
        return int(row[0])

    def get_person(self, person_id: str) -> Person | None:
        with self._lock:
            return _load_person(self._conn, person_id)

    def find_by_document(self, number: str, issuing_country: str) -> tuple[Person, Document] | None:
        """The holder of a document and the document itself, or None."""
        key = (number.upper(), issuing_country.upper())
        with self._lock:
            row = self._conn.execute(
                "SELECT person_id FROM documents WHERE number = ? AND issuing_country = ?", key
            ).fetchone()
            person = _load_person(self._conn, row["person_id"]) if row else None
        if person is None:
            return None
        document = next(d for d in person.documents if (d.number, d.issuing_country) == key)
        return person, document

    # --- writes ------------------------------------------------------------------------

    def create_person(self, new: NewPerson, person_id: str | None = None) -> str:
        """Register a person with all their documents atomically; return the person id."""
        return self.create_persons([(new, person_id)])[0]

    def create_persons(self, people: list[tuple[NewPerson, str | None]]) -> list[str]:
        """Register several persons in one transaction: all of them or none."""
        ids: list[str] = []
        with self._transaction() as conn:
            for new, wanted_id in people:
                person_id = wanted_id or str(uuid.uuid4())
                _reject_registered_documents(conn, new.documents)
                try:
                    _insert_person(conn, person_id, new)
                except sqlite3.IntegrityError as exc:
                    raise DuplicateDocumentError({"documents": ["already registered"]}) from exc
                ids.append(person_id)
        return ids

    def update_person(
        self, person_id: str, patch: PersonPatch, now: datetime | None = None
    ) -> Person | None:
        """Apply an admin patch atomically; None if there is no such person. A document
        newly lost, stolen or revoked, or a new entry ban, is also an identity event."""
        at = now or datetime.now(UTC)
        with self._transaction() as conn:
            person = _load_person(conn, person_id)
            if person is None:
                return None
            _reject_foreign_documents(person, patch)
            if patch.entry_ban is not None:
                if patch.entry_ban and not person.entry_ban:
                    _append_event(conn, "entry_ban_added", person_id, None, at)
                _set_entry_ban(conn, person_id, patch.entry_ban)
            statuses = {(d.number, d.issuing_country): d.status for d in person.documents}
            for change in patch.documents:
                key = (change.number, change.issuing_country)
                if change.status != "valid" and statuses[key] != change.status:
                    _append_event(conn, f"document_{change.status}", person_id, key, at)
                _set_document_status(conn, person_id, key, change.status)
            return _load_person(conn, person_id)

    def report(self, report: Report, now: datetime) -> tuple[IdentityEvent, Person] | None:
        """Record what happened to a document's holder and publish it as an identity event.
        None when no one holds that document."""
        key = (report.number, report.issuing_country)
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT person_id FROM documents WHERE number = ? AND issuing_country = ?", key
            ).fetchone()
            if row is None:
                return None
            person_id = row["person_id"]
            if report.event_type in DOCUMENT_REPORTS:
                _set_document_status(conn, person_id, key, DOCUMENT_REPORTS[report.event_type])
                event = _append_event(conn, report.event_type, person_id, key, now)
            else:
                if report.event_type == "entry_ban_added":
                    _set_entry_ban(conn, person_id, True)
                else:  # person_deceased: their documents are cancelled with them
                    conn.execute(
                        "UPDATE persons SET deceased = 1 WHERE person_id = ?", (person_id,)
                    )
                    conn.execute(
                        "UPDATE documents SET status = 'revoked' "
                        "WHERE person_id = ? AND status = 'valid'",
                        (person_id,),
                    )
                event = _append_event(conn, report.event_type, person_id, None, now)
            person = _load_person(conn, person_id)
        assert person is not None
        return event, person

    def events_after(self, after: int, limit: int) -> tuple[list[IdentityEvent], int]:
        """Identity events with a sequence above ``after``, oldest first, and the last
        sequence there is (so a subscriber knows whether it has caught up)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM identity_events WHERE sequence > ? ORDER BY sequence LIMIT ?",
                (after, limit),
            ).fetchall()
            last = self._conn.execute("SELECT MAX(sequence) FROM identity_events").fetchone()[0]
        return [_event(row) for row in rows], int(last or 0)

    def seed_if_empty(self, today: date, seed: list[dict[str, Any]] | None = None) -> int:
        """Load the demo register when the store holds nobody; return how many were added."""
        if self.count_persons():
            return 0
        records = load_seed() if seed is None else seed
        people = [(_seed_person(record, today), record.get("person_id")) for record in records]
        return len(self.create_persons(people))


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, columns in _ADDED_COLUMNS.items():
        present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, definition in columns.items():
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
    conn.commit()


def _set_entry_ban(conn: sqlite3.Connection, person_id: str, banned: bool) -> None:
    conn.execute("UPDATE persons SET entry_ban = ? WHERE person_id = ?", (int(banned), person_id))


def _set_document_status(
    conn: sqlite3.Connection, person_id: str, key: tuple[str, str], status: str
) -> None:
    conn.execute(
        "UPDATE documents SET status = ? WHERE person_id = ? AND number = ? AND issuing_country = ?",
        (status, person_id, *key),
    )


def _append_event(
    conn: sqlite3.Connection,
    event_type: str,
    person_id: str,
    document: tuple[str, str] | None,
    now: datetime,
) -> IdentityEvent:
    number, country = document or (None, None)
    event_id = str(uuid.uuid4())
    occurred_at = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    cursor = conn.execute(
        "INSERT INTO identity_events (event_id, event_type, occurred_at, person_id, "
        "document_number, issuing_country) VALUES (?, ?, ?, ?, ?, ?)",
        (event_id, event_type, occurred_at, person_id, number, country),
    )
    assert cursor.lastrowid is not None
    return IdentityEvent(
        cursor.lastrowid, event_id, event_type, occurred_at, person_id, number, country
    )


def _event(row: sqlite3.Row) -> IdentityEvent:
    return IdentityEvent(
        sequence=row["sequence"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        occurred_at=row["occurred_at"],
        person_id=row["person_id"],
        document_number=row["document_number"],
        issuing_country=row["issuing_country"],
    )


def load_seed() -> list[dict[str, Any]]:
    """The persons in the shipped ``seed.json``."""
    text = resources.files("national_idms").joinpath("seed.json").read_text(encoding="utf-8")
    persons: list[dict[str, Any]] = json.loads(text)["persons"]
    return persons


def _seed_person(record: dict[str, Any], today: date) -> NewPerson:
    fields = {key: value for key, value in record.items() if key != "person_id"}
    return parse_new_person(fields, today)


def _reject_registered_documents(conn: sqlite3.Connection, documents: tuple[Document, ...]) -> None:
    errors: dict[str, list[str]] = {}
    for index, document in enumerate(documents):
        row = conn.execute(
            "SELECT 1 FROM documents WHERE number = ? AND issuing_country = ?",
            (document.number, document.issuing_country),
        ).fetchone()
        if row:
            label = f"{document.type} {document.number} issued by {document.issuing_country}"
            errors[f"documents[{index}]"] = [f"{label} is already registered"]
    if errors:
        raise DuplicateDocumentError(errors)


def _reject_foreign_documents(person: Person, patch: PersonPatch) -> None:
    held = {(d.number, d.issuing_country) for d in person.documents}
    errors = {
        f"documents[{index}]": ["this person holds no such document"]
        for index, change in enumerate(patch.documents)
        if (change.number, change.issuing_country) not in held
    }
    if errors:
        raise UnknownDocumentError(errors)


def _insert_person(conn: sqlite3.Connection, person_id: str, new: NewPerson) -> None:
    conn.execute(
        "INSERT INTO persons (person_id, given_names, surname, date_of_birth, sex, "
        "nationality, entry_ban) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            person_id,
            new.given_names,
            new.surname,
            new.date_of_birth.isoformat(),
            new.sex,
            new.nationality,
            int(new.entry_ban),
        ),
    )
    conn.executemany(
        "INSERT INTO documents (person_id, doc_type, number, issuing_country, expiry_date, "
        "status) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (person_id, d.type, d.number, d.issuing_country, d.expiry_date.isoformat(), d.status)
            for d in new.documents
        ],
    )


def _load_person(conn: sqlite3.Connection, person_id: str) -> Person | None:
    row = conn.execute("SELECT * FROM persons WHERE person_id = ?", (person_id,)).fetchone()
    if row is None:
        return None
    doc_rows = conn.execute(
        "SELECT * FROM documents WHERE person_id = ? ORDER BY rowid", (person_id,)
    ).fetchall()
    return Person(
        person_id=row["person_id"],
        given_names=row["given_names"],
        surname=row["surname"],
        date_of_birth=date.fromisoformat(row["date_of_birth"]),
        sex=row["sex"],
        nationality=row["nationality"],
        documents=tuple(_document(doc) for doc in doc_rows),
        entry_ban=bool(row["entry_ban"]),
        deceased=bool(row["deceased"]),
    )


def _document(row: sqlite3.Row) -> Document:
    return Document(
        type=row["doc_type"],
        number=row["number"],
        issuing_country=row["issuing_country"],
        expiry_date=date.fromisoformat(row["expiry_date"]),
        status=row["status"],
    )
