"""Every service's migrations reach head, are idempotent and match its models."""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, String, event, inspect

from wpis_common.db import create_db_engine
from wpis_common.migrate import SERVICES_WITH_DATABASES, alembic_config, upgrade
from wpis_common.testing import fresh_database

PACKAGES = [
    "applications",
    "identity_gateway",
    "permits",
    "contracts",
    "notifications",
    "gateway",
    "wpis_statistics",
]
WRITES = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")


def test_every_service_with_a_database_is_covered():
    assert sorted(SERVICES_WITH_DATABASES) == sorted(PACKAGES)


@contextmanager
def recorded_statements():
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.strip())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _head(package: str, url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(package, url)).get_current_head()


@pytest.mark.parametrize("package", PACKAGES)
def test_migrations_reach_head_idempotently_and_match_the_models(tmp_path, package):
    models = importlib.import_module(f"{package}.models")
    with fresh_database(tmp_path, package) as url:
        with recorded_statements() as first_run:
            upgrade(package, url)
        assert any(s.upper().startswith("CREATE TABLE") for s in first_run)

        with recorded_statements() as second_run:
            upgrade(package, url)
        assert second_run  # it looked at the version table
        writes = [s for s in second_run if s.upper().startswith(WRITES)]
        assert writes == [], f"second upgrade of {package} was not a no-op"

        engine = create_db_engine(url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection,
                    opts={"compare_type": True, "compare_server_default": True},
                )
                assert context.get_current_revision() == _head(package, url)
                differences = compare_metadata(context, models.Base.metadata)
            assert differences == [], (
                f"{package}: models and migrations differ (add a migration): {differences}"
            )
            tables = set(inspect(engine).get_table_names())
            assert {"outbox", "outbox_sequence", "inbox", "alembic_version"} <= tables
        finally:
            engine.dispose()


@pytest.mark.parametrize("package", PACKAGES)
def test_migrations_downgrade_to_base_and_back(tmp_path, package):
    with fresh_database(tmp_path, package) as url:
        cfg = alembic_config(package, url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")

        engine = create_db_engine(url)
        try:
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        finally:
            engine.dispose()
        command.upgrade(cfg, "head")


def test_the_model_comparison_sees_a_model_change_without_a_migration(tmp_path):
    from permits.models import Base

    changed = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["permits"].append_column(Column("nickname", String(40), nullable=True))
    changed.tables["outbox"].c.event_type.type = String(150)

    with fresh_database(tmp_path, "permits") as url:
        upgrade("permits", url)
        engine = create_db_engine(url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                differences = compare_metadata(context, changed)
        finally:
            engine.dispose()

    flat = [d for diff in differences for d in (diff if isinstance(diff, list) else [diff])]
    found = {(d[0], d[2], d[3] if isinstance(d[3], str) else d[3].name) for d in flat}
    assert ("add_column", "permits", "nickname") in found
    assert ("modify_type", "outbox", "event_type") in found
