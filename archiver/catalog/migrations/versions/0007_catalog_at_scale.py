"""catalog at scale: latest version and version count on items, lookup indexes, media owner

Revision ID: 0007_catalog_at_scale
Revises: 0006_requests
Create Date: 2026-12-03 12:20:00.000000

Upgrades a catalog in place: the new columns are filled from the rows already there (one
correlated UPDATE each, driven by the unique (item_pk, version_no) index and the unique WARC
name), then the indexes are built. Nothing is rewritten or dropped, so a catalog of a million
items upgrades in minutes and `downgrade` gives back the 0006 schema exactly.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_catalog_at_scale"
down_revision = "0006_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("latest_version_pk", sa.Integer(), nullable=True))
    op.add_column("items", sa.Column("version_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("media_captures", sa.Column("account_pk", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE items SET "
        "version_count = (SELECT COUNT(*) FROM item_versions v WHERE v.item_pk = items.id), "
        "latest_version_pk = (SELECT v.id FROM item_versions v WHERE v.item_pk = items.id "
        "ORDER BY v.version_no DESC LIMIT 1)"
    )
    op.execute(
        "UPDATE media_captures SET account_pk = "
        "(SELECT w.account_pk FROM warc_files w WHERE w.name = media_captures.warc_file)"
    )
    op.create_index("ix_items_item_id", "items", ["item_id"])
    op.create_index("ix_items_account_created", "items", ["account_pk", "created_at", "id"])
    op.create_index("ix_items_created", "items", ["created_at", "id"])
    op.create_index("ix_media_captures_account_pk", "media_captures", ["account_pk", "status"])
    # What each capture's retention step (services.holds.sync_object_locks) and crash check
    # (Poller.recover) look up: without them every poll read these tables whole.
    op.create_index("ix_item_versions_warc_file", "item_versions", ["warc_file"])
    op.create_index("ix_observations_warc_file", "observations", ["warc_file"])
    op.create_index("ix_tombstones_evidence_file", "tombstones", ["evidence_file"])
    op.create_index("ix_capture_runs_status", "capture_runs", ["status"])
    op.create_index("ix_accounts_account_id", "accounts", ["account_id"])
    op.create_index("ix_accounts_name", "accounts", ["name"])


def downgrade() -> None:
    op.drop_index("ix_accounts_name", table_name="accounts")
    op.drop_index("ix_accounts_account_id", table_name="accounts")
    op.drop_index("ix_capture_runs_status", table_name="capture_runs")
    op.drop_index("ix_tombstones_evidence_file", table_name="tombstones")
    op.drop_index("ix_observations_warc_file", table_name="observations")
    op.drop_index("ix_item_versions_warc_file", table_name="item_versions")
    op.drop_index("ix_media_captures_account_pk", table_name="media_captures")
    op.drop_index("ix_items_created", table_name="items")
    op.drop_index("ix_items_account_created", table_name="items")
    op.drop_index("ix_items_item_id", table_name="items")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): none of these columns is indexed now.
    op.drop_column("media_captures", "account_pk")
    op.drop_column("items", "version_count")
    op.drop_column("items", "latest_version_pk")
