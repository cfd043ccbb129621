"""console: an index for what retention comes to next (the dashboard)

The dashboard lists the ten items whose retain-until comes first. Without an index that is a
sort of every item_retention row: 175-197 ms warm on a 1,000,000-item SQLite catalog, against
2.5-5.7 ms with it (docs/benchmarks.md, issue 15).

Revision ID: 0019_console
Revises: 0013_quota_budgets
Create Date: 2026-12-03 15:15:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0019_console"
down_revision = "0015_fixity_deep_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_retention_due", "item_retention", ["retain_until", "item_pk"])


def downgrade() -> None:
    op.drop_index("ix_item_retention_due", table_name="item_retention")
