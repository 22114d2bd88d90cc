"""the public verification read model and its log of checks (ADR-014)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:30:00
"""

import sqlalchemy as sa
from alembic import op

import wpis_common.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_entries",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("employer_name", sa.String(length=200), nullable=False),
        sa.Column("job_title", sa.String(length=120), nullable=True),
        sa.Column("holder_birth_date", sa.Date(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "verification_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", wpis_common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("permit_number", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_checks", schema=None) as batch_op:
        batch_op.create_index("ix_verification_checks_client_at", ["client", "at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_verification_checks_permit_number"), ["permit_number"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_checks_permit_number"))
        batch_op.drop_index("ix_verification_checks_client_at")
    op.drop_table("verification_checks")
    op.drop_table("verification_entries")
