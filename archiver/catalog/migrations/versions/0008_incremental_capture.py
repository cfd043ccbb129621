"""incremental capture: item change signals and reconciliation windows

Revision ID: 0008_incremental_capture
Revises: 0007_catalog_at_scale
Create Date: 2026-12-03 12:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_incremental_capture"
down_revision = "0007_catalog_at_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("signal", sa.String(length=255), nullable=True))
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
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of `items` would have to
    # drop a table other tables' foreign keys point at.
    op.drop_column("items", "signal")
