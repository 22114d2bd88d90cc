"""contract terms (hours, permit coverage), version history, termination and reporting

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 13:34:34.640919
"""

import sqlalchemy as sa
from alembic import op

import wpis_common.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Contracts registered before this revision: full-time hours, and no copy of what
# their permit covers (an empty coverage is never a mismatch).
BACKFILL = (
    "UPDATE contracts SET weekly_hours = 40, permit_coverage = '{}', permit_mismatches = '[]'"
)


def upgrade() -> None:
    op.create_table(
        "contract_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", wpis_common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract_id", "version"),
    )
    with op.batch_alter_table("contract_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contract_versions_contract_id"), ["contract_id"], unique=False
        )

    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weekly_hours", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("permit_coverage", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("permit_mismatches", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("employment_ended_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("terminated_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("termination_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("terminated_by", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("reported_at", wpis_common.tables.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("reported_late", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("report_due_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "report_overdue_at", wpis_common.tables.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_contracts_report_overdue_at"), ["report_overdue_at"], unique=False
        )
    op.execute(BACKFILL)
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.alter_column("weekly_hours", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("permit_coverage", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("permit_mismatches", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_report_overdue_at"))
        batch_op.drop_column("report_overdue_at")
        batch_op.drop_column("report_due_on")
        batch_op.drop_column("reported_late")
        batch_op.drop_column("reported_at")
        batch_op.drop_column("terminated_by")
        batch_op.drop_column("termination_reason")
        batch_op.drop_column("terminated_on")
        batch_op.drop_column("employment_ended_on")
        batch_op.drop_column("permit_mismatches")
        batch_op.drop_column("permit_coverage")
        batch_op.drop_column("weekly_hours")

    with op.batch_alter_table("contract_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_versions_contract_id"))

    op.drop_table("contract_versions")
