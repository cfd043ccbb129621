"""retention: classification, adopted schedules, verifications, holds, dispositions, certificates

Revision ID: 0005_retention
Revises: 0004_audit_log
Create Date: 2026-12-03 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_retention"
down_revision = "0004_audit_log"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "item_retention",
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=True),
        sa.Column("schedule", sa.String(length=64), nullable=True),
        sa.Column("series_source", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("trigger_at", TS, nullable=True),
        sa.Column("retain_until", TS, nullable=True),
        sa.Column("retain_floor", TS, nullable=True),
        sa.Column("waits_for", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("classified_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["item_pk"], ["items.id"], name=op.f("fk_item_retention_item_pk_items")),
        sa.PrimaryKeyConstraint("item_pk", name=op.f("pk_item_retention")),
    )
    op.create_index(op.f("ix_item_retention_series"), "item_retention", ["series"], unique=False)
    op.create_table(
        "adopted_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("district", sa.String(length=255), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=255), nullable=False),
        sa.Column("approved_on", sa.String(length=32), nullable=False),
        sa.Column("approval_reference", sa.Text(), nullable=False),
        sa.Column("adopted_by", sa.String(length=255), nullable=False),
        sa.Column("adopted_at", TS, nullable=False),
        sa.Column("retired_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adopted_schedules")),
    )
    op.create_index(op.f("ix_adopted_schedules_state"), "adopted_schedules", ["state"], unique=False)
    op.create_table(
        "series_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("series_digest", sa.String(length=64), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("verified_by", sa.String(length=255), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("verified_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series_verifications")),
    )
    op.create_index(op.f("ix_series_verifications_series"), "series_verifications", ["series"], unique=False)
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=300), nullable=True),
        sa.Column("since", TS, nullable=True),
        sa.Column("until", TS, nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("released_by", sa.String(length=255), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index(op.f("ix_holds_request_id"), "holds", ["request_id"], unique=False)
    op.create_table(
        "hold_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["hold_id"], ["holds.id"], name=op.f("fk_hold_items_hold_id_holds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hold_items")),
        sa.UniqueConstraint("hold_id", "platform", "item_id", name=op.f("uq_hold_items_hold_id")),
    )
    op.create_index(op.f("ix_hold_items_hold_id"), "hold_items", ["hold_id"], unique=False)
    op.create_table(
        "object_retention",
        sa.Column("warc_name", sa.String(length=255), nullable=False),
        sa.Column("lock_until", TS, nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("warc_name", name=op.f("pk_object_retention")),
    )
    op.create_table(
        "destruction_certificates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("approver", sa.String(length=255), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=255), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destruction_certificates")),
    )
    op.create_table(
        "dispositions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("account", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=True),
        sa.Column("deleted_at", TS, nullable=True),
        sa.Column("retain_until", TS, nullable=False),
        sa.Column("disposed_at", TS, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("certificate_id", sa.String(length=64), nullable=False),
        sa.Column("objects", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispositions")),
        sa.UniqueConstraint("platform", "item_id", name=op.f("uq_dispositions_platform")),
    )
    op.create_index(op.f("ix_dispositions_certificate_id"), "dispositions", ["certificate_id"], unique=False)
    op.create_index(op.f("ix_dispositions_series"), "dispositions", ["series"], unique=False)


def downgrade() -> None:
    for table in ("dispositions", "destruction_certificates", "object_retention", "hold_items", "holds",
                  "series_verifications", "adopted_schedules", "item_retention"):
        op.drop_table(table)
