"""search filter indexes: the author filter and deleted items, from the items' side

A filtered search on SQLite reads every archive-wide match of its words and tests each match's
item against the filters, so a filter that leaves few items cost as much as the word's matches
(issue 15, docs/benchmarks.md "Search filters from the items' side"):

- ix_item_versions_author (author, item_pk): the author filter lists the distinct authors by
  skipping through this index (a few thousand seeks, not a read of every version), matches
  them in Python, and finds their items here; `comment` + author=nobody at 1,000,000 items
  was 0.8 s of per-match `lower(author) LIKE`.
- ix_items_deleted_kind (kind) WHERE deleted_at IS NOT NULL: the deleted items (1% of an
  archive), by kind, so a `deleted` search knows from a small index that its items are fewer
  than the ranking cap and ranks them without counting the word's matches first.

Revision ID: 0020_search_filter_indexes
Revises: 0019_console
Create Date: 2026-12-03 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_search_filter_indexes"
down_revision = "0019_console"
branch_labels = None
depends_on = None

DELETED = sa.text("deleted_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_item_versions_author", "item_versions", ["author", "item_pk"])
    op.create_index("ix_items_deleted_kind", "items", ["kind"], sqlite_where=DELETED, postgresql_where=DELETED)


def downgrade() -> None:
    op.drop_index("ix_items_deleted_kind", table_name="items")
    op.drop_index("ix_item_versions_author", table_name="item_versions")
