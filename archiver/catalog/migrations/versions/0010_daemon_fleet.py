"""daemon fleet: worker heartbeats, alerts, scheduled jobs, accounts.last_success_at

Revision ID: 0010_daemon_fleet
Revises: 0009_stored_payloads
Create Date: 2026-12-03 12:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_daemon_fleet"
down_revision = "0009_stored_payloads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True))
    # Existing accounts: their last completed run, so a gap alert does not fire for all of them
    # on the first start after the upgrade.
    op.execute(
        "UPDATE accounts SET last_success_at = (SELECT MAX(r.finished_at) FROM capture_runs r "
        "WHERE r.account_pk = accounts.id AND r.status = 'complete')"
    )
    op.create_table(
        "daemon_workers",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("current", sa.JSON(), nullable=False),
        sa.Column("captured", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daemon_workers")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_key", sa.String(length=300), nullable=True),
        sa.Column("raise_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clear_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alerts_open_key")),
    )
    op.create_table(
        "daemon_jobs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=32), nullable=False),
        sa.Column("last_message", sa.Text(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_daemon_jobs")),
    )


def downgrade() -> None:
    op.drop_table("daemon_jobs")
    op.drop_table("alerts")
    op.drop_table("daemon_workers")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of `accounts` would have
    # to drop a table other tables' foreign keys point at.
    op.drop_column("accounts", "last_success_at")
