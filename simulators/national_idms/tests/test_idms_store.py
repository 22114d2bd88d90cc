"""Tests of the SQLite store on a file: folder creation, persistence, seeding once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from national_idms.store import Store, load_seed

TODAY = date(2026, 12, 1)


def test_file_store_creates_folder_persists_and_seeds_once(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "var" / "idms.db"
    store = Store(str(db))
    assert store.seed_if_empty(TODAY) == len(load_seed())
    store.close()
    assert db.exists()

    reopened = Store(str(db))
    try:
        assert reopened.seed_if_empty(TODAY) == 0
        assert reopened.count_persons() == len(load_seed())
        found = reopened.find_by_document("z1234567", "ind")
        assert found is not None
        person, document = found
        assert (person.given_names, person.surname) == ("Ravi", "Kumar")
        assert document.expiry_date == date(2031, 1, 1)
    finally:
        reopened.close()


def test_seeded_ids_are_stable(tmp_path: Path) -> None:
    store = Store(":memory:")
    try:
        store.seed_if_empty(TODAY)
        found = store.find_by_document("Z1234567", "IND")
        assert found is not None
        assert found[0].person_id == load_seed()[0]["person_id"]
    finally:
        store.close()
