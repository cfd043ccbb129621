"""initial catalog

Revision ID: 0001
Revises:
Create Date: 2026-11-23 00:57:12.942385
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("api_base", sa.String(length=512), nullable=False),
        sa.Column("token_ref", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("next_poll_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("platform", "account_id", name=op.f("uq_accounts_platform")),
    )
    op.create_table(
        "capture_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("warc_file", sa.String(length=255), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_warnings")),
    )
    with op.batch_alter_table("capture_warnings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_capture_warnings_run_id"), ["run_id"], unique=False)

    op.create_table(
        "media_captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("media_key", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warc_file", sa.String(length=255), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.BigInteger(), nullable=False),
        sa.Column("warc_record_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_captures")),
    )
    with op.batch_alter_table("media_captures", schema=None) as batch_op:
        batch_op.create_index("ix_media_captures_media_key", ["media_key"], unique=False)

    op.create_table(
        "capture_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("exchanges", sa.Integer(), nullable=False),
        sa.Column("new_items", sa.Integer(), nullable=False),
        sa.Column("edited_items", sa.Integer(), nullable=False),
        sa.Column("unchanged_items", sa.Integer(), nullable=False),
        sa.Column("deleted_items", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.id"], name=op.f("fk_capture_runs_account_pk_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_runs")),
    )
    with op.batch_alter_table("capture_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_capture_runs_account_pk"), ["account_pk"], unique=False
        )

    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.id"], name=op.f("fk_items_account_pk_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("platform", "item_id", name=op.f("uq_items_platform")),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_account_pk"), ["account_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_items_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "warc_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("account_pk", sa.Integer(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("store_key", sa.String(length=512), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("object_size", sa.BigInteger(), nullable=True),
        sa.Column("object_sha256", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=255), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.id"], name=op.f("fk_warc_files_account_pk_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warc_files")),
        sa.UniqueConstraint("name", name=op.f("uq_warc_files_name")),
    )
    with op.batch_alter_table("warc_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warc_files_run_id"), ["run_id"], unique=False)

    op.create_table(
        "item_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warc_file", sa.String(length=255), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.BigInteger(), nullable=False),
        sa.Column("warc_record_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_pk"], ["items.id"], name=op.f("fk_item_versions_item_pk_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_versions")),
        sa.UniqueConstraint("item_pk", "version_no", name=op.f("uq_item_versions_item_pk")),
    )
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_versions_item_pk"), ["item_pk"], unique=False)

    op.create_table(
        "tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("evidence_file", sa.String(length=255), nullable=False),
        sa.Column("evidence_offset", sa.BigInteger(), nullable=False),
        sa.Column("evidence_length", sa.BigInteger(), nullable=False),
        sa.Column("evidence_record_id", sa.String(length=64), nullable=False),
        sa.Column("metadata_record_id", sa.String(length=64), nullable=False),
        sa.Column("last_good_record_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_pk"], ["items.id"], name=op.f("fk_tombstones_item_pk_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstones")),
        sa.UniqueConstraint("item_pk", name=op.f("uq_tombstones_item_pk")),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warc_file", sa.String(length=255), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_pk"], ["items.id"], name=op.f("fk_observations_item_pk_items")
        ),
        sa.ForeignKeyConstraint(
            ["version_pk"],
            ["item_versions.id"],
            name=op.f("fk_observations_version_pk_item_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("run_id", "item_pk", name=op.f("uq_observations_run_id")),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observations_item_pk"), ["item_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_observations_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_run_id"))
        batch_op.drop_index(batch_op.f("ix_observations_item_pk"))

    op.drop_table("observations")
    op.drop_table("tombstones")
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_versions_item_pk"))

    op.drop_table("item_versions")
    with op.batch_alter_table("warc_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_warc_files_run_id"))

    op.drop_table("warc_files")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_parent_id"))
        batch_op.drop_index(batch_op.f("ix_items_account_pk"))

    op.drop_table("items")
    with op.batch_alter_table("capture_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capture_runs_account_pk"))

    op.drop_table("capture_runs")
    with op.batch_alter_table("media_captures", schema=None) as batch_op:
        batch_op.drop_index("ix_media_captures_media_key")

    op.drop_table("media_captures")
    with op.batch_alter_table("capture_warnings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capture_warnings_run_id"))

    op.drop_table("capture_warnings")
    op.drop_table("accounts")
