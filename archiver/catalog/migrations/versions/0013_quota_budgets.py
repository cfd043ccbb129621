"""quota budgets: what each credential spent per period, and each run's cost

Revision ID: 0013_quota_budgets
Revises: 0008_incremental_capture
Create Date: 2026-12-03 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_quota_budgets"
down_revision = "0008_incremental_capture"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("capture_runs") as batch:
        batch.add_column(sa.Column("quota_spent", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "quota_spend",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("credential", sa.String(length=512), nullable=False),
        sa.Column("period_start", TS, nullable=False),
        sa.Column("period_end", TS, nullable=False),
        sa.Column("spent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "credential", "period_start"),
    )


def downgrade() -> None:
    op.drop_table("quota_spend")
    with op.batch_alter_table("capture_runs") as batch:
        batch.drop_column("quota_spent")
