"""SQLite engine settings: WAL, and the synchronous level (ADR-013)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wpis_common.db import SQLITE_SYNCHRONOUS_ENV, create_db_engine

# PRAGMA synchronous answers a number: 1 NORMAL, 2 FULL, 3 EXTRA.
LEVELS = {"NORMAL": 1, "FULL": 2, "EXTRA": 3}


def pragmas(tmp_path, name: str) -> tuple[str, int]:
    engine = create_db_engine(f"sqlite:///{tmp_path / name}")
    with engine.connect() as connection:
        journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
        synchronous = connection.execute(text("PRAGMA synchronous")).scalar_one()
    engine.dispose()
    return journal, synchronous


def test_sqlite_defaults_to_wal_with_a_full_sync(tmp_path, monkeypatch):
    monkeypatch.delenv(SQLITE_SYNCHRONOUS_ENV, raising=False)
    assert pragmas(tmp_path, "default.db") == ("wal", LEVELS["FULL"])


@pytest.mark.parametrize("level", ["full", "EXTRA", "normal"])
def test_the_environment_chooses_the_sync_level(tmp_path, monkeypatch, level):
    monkeypatch.setenv(SQLITE_SYNCHRONOUS_ENV, level)
    assert pragmas(tmp_path, f"{level}.db") == ("wal", LEVELS[level.upper()])


def test_an_unknown_sync_level_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv(SQLITE_SYNCHRONOUS_ENV, "off")
    with pytest.raises(RuntimeError, match="WPIS_SQLITE_SYNCHRONOUS='OFF': use one of"):
        create_db_engine(f"sqlite:///{tmp_path / 'off.db'}")
