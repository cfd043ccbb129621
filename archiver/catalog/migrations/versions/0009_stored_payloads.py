"""stored payloads: the latest payload per account and target URI, for WARC revisit records

Revision ID: 0009_stored_payloads
Revises: 0013_quota_budgets
Create Date: 2026-12-03 12:10:00.000000

The table starts empty: captures after the upgrade fill it (the first poll stores full
responses, later identical ones become revisits). `archiver catalog rebuild --apply` fills it
from the older WARCs too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_stored_payloads"
down_revision = "0013_quota_budgets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_payloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_pk", sa.Integer(), nullable=False),
        sa.Column("uri_sha256", sa.String(length=64), nullable=False),
        sa.Column("target_uri", sa.Text(), nullable=False),
        sa.Column("payload_digest", sa.String(length=80), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("warc_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warc_file", sa.String(length=255), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_pk"], ["accounts.id"],
                                name=op.f("fk_stored_payloads_account_pk_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_payloads")),
        sa.UniqueConstraint("account_pk", "uri_sha256", name=op.f("uq_stored_payloads_account_pk")),
    )
    with op.batch_alter_table("stored_payloads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_payloads_warc_file"), ["warc_file"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_payloads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_payloads_warc_file"))
    op.drop_table("stored_payloads")
