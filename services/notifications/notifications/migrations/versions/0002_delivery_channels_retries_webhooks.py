"""delivery channels, retries, webhooks

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 13:35:15.702196

Deliveries become one per (event, channel, recipient) instead of one per
(event, recipient role), with attempts and a retry schedule; case contacts
gain phone numbers, languages and the employer's name; agencies' webhook
endpoints and held events get their tables.
"""

import sqlalchemy as sa
from alembic import op

import wpis_common.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# 0001 left the (event_id, recipient_role) unique constraint unnamed: PostgreSQL
# named it itself, and batch mode on SQLite names it by this convention.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
OLD_UNIQUE = {"postgresql": "deliveries_event_id_recipient_role_key"}


def upgrade() -> None:
    op.create_table(
        "held_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("held_at", wpis_common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("held_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_held_events_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", wpis_common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", wpis_common.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("employer_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("employer_phone", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("employer_language", sa.String(length=5), server_default="en", nullable=False)
        )
        batch_op.add_column(sa.Column("worker_phone", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("worker_language", sa.String(length=5), server_default="en", nullable=False)
        )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_key", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("language", sa.String(length=5), server_default="en", nullable=False)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column(
                "next_attempt_at", wpis_common.tables.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("sent_at", wpis_common.tables.UTCDateTime(timezone=True), nullable=True)
        )
    # Rows logged before channels existed were for people: their key is their role.
    op.execute("UPDATE deliveries SET recipient_key = recipient_role")
    old_unique = OLD_UNIQUE.get(op.get_bind().dialect.name, "uq_deliveries_event_id")
    with op.batch_alter_table("deliveries", schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(old_unique, type_="unique")
        batch_op.alter_column("recipient_key", existing_type=sa.String(length=36), nullable=False)
        batch_op.alter_column(
            "recipient",
            existing_type=sa.VARCHAR(length=254),
            type_=sa.String(length=500),
            existing_nullable=False,
        )
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_unique_constraint(
            "uq_deliveries_once", ["event_id", "channel", "recipient_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_deliveries_once", type_="unique")
        batch_op.drop_index("ix_deliveries_due")
        batch_op.alter_column(
            "recipient",
            existing_type=sa.String(length=500),
            type_=sa.VARCHAR(length=254),
            existing_nullable=False,
        )
        batch_op.drop_column("sent_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("language")
        batch_op.drop_column("recipient_key")
        batch_op.create_unique_constraint(
            OLD_UNIQUE.get(op.get_bind().dialect.name, "uq_deliveries_event_id"),
            ["event_id", "recipient_role"],
        )

    with op.batch_alter_table("case_contacts", schema=None) as batch_op:
        batch_op.drop_column("worker_language")
        batch_op.drop_column("worker_phone")
        batch_op.drop_column("employer_language")
        batch_op.drop_column("employer_phone")
        batch_op.drop_column("employer_name")

    op.drop_table("webhook_endpoints")
    with op.batch_alter_table("held_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_events_application_id"))

    op.drop_table("held_events")
