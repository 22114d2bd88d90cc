"""0002 upgrades a database that already holds 0001's delivery log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from notifications.models import Delivery
from wpis_common.db import create_db_engine
from wpis_common.migrate import upgrade
from wpis_common.testing import fresh_database


def test_rows_logged_before_channels_keep_their_recipient_and_stay_unique(tmp_path):
    with fresh_database(tmp_path, "notifications") as url:
        upgrade("notifications", url, "0001")
        engine = create_db_engine(url)
        try:
            row = {
                "id": "d-1",
                "event_id": "e-1",
                "event_type": "permit_issued",
                "application_id": "app-1",
                "recipient_role": "worker",
                "recipient": "ravi@example.org",
                "channel": "email",
                "template": "permit_issued",
                "subject": "Work permit issued",
                "body": "…",
                "status": "logged",
                "created_at": datetime(2026, 12, 1, tzinfo=UTC),
            }
            with engine.begin() as connection:
                connection.execute(insert(Delivery.__table__).values(row))

            upgrade("notifications", url)

            with engine.connect() as connection:
                migrated = connection.execute(select(Delivery.__table__)).mappings().one()
            assert migrated["recipient_key"] == "worker"
            assert (migrated["language"], migrated["attempts"]) == ("en", 0)
            assert migrated["status"] == "logged"  # not sendable: it was never meant to go out
        finally:
            engine.dispose()
