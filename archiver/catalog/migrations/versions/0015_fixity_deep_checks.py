"""fixity deep checks: the plaintext sha256 under which each object's record digests last passed

Revision ID: 0015_fixity_deep_checks
Revises: 0013_quota_budgets
Create Date: 2026-12-03 14:50:00.000000

A routine `verify` re-checks an object's WARC record digests only when its plaintext sha256
differs from the one recorded here (or none is): the same plaintext cannot have different
record digests. `fixity_checks.level` says which check each logged verdict came from.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_fixity_deep_checks"
down_revision = "0013_quota_budgets"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fixity_deep_checks",
        sa.Column("warc_name", sa.String(length=255), nullable=False),
        sa.Column("plaintext_sha256", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("checked_at", TS, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("warc_name", name=op.f("pk_fixity_deep_checks")),
    )
    # No foreign key points at fixity_checks: a plain ADD COLUMN (NULL for older verdicts).
    op.add_column("fixity_checks", sa.Column("level", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("fixity_checks", "level")
    op.drop_table("fixity_deep_checks")
