"""incremental capture: item change signals and reconciliation windows

Revision ID: 0008_incremental_capture
Revises: 0006_requests
Create Date: 2026-12-03 12:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_incremental_capture"
down_revision = "0006_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("signal", sa.String(length=255), nullable=True))
    op.create_table(
        "reconcile_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("window", sa.String(length=16), nullable=False),
        sa.Column("position", sa.String(length=320), nullable=False),
        sa.Column("pass_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_pk"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_pk", "window"),
    )
    op.create_index("ix_reconcile_windows_account_pk", "reconcile_windows", ["account_pk"])


def downgrade() -> None:
    op.drop_index("ix_reconcile_windows_account_pk", table_name="reconcile_windows")
    op.drop_table("reconcile_windows")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("signal")
