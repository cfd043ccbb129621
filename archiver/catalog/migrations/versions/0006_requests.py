"""public records requests and full-text search

Revision ID: 0006_requests
Revises: 0004_audit_log
Create Date: 2026-12-03 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_requests"
down_revision = "0004_audit_log"
branch_labels = None
depends_on = None

_FTS5 = (
    "CREATE VIRTUAL TABLE search_fts USING fts5(body, content='search_docs', "
    "content_rowid='version_pk', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN "
    "INSERT INTO search_fts(rowid, body) VALUES (new.version_pk, new.body); END",
    "CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.version_pk, old.body); END",
    "CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.version_pk, old.body); "
    "INSERT INTO search_fts(rowid, body) VALUES (new.version_pk, new.body); END",
)


def upgrade() -> None:
    op.create_table(
        "records_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("requester", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("received", sa.Date(), nullable=False),
        sa.Column("legally_received", sa.Date(), nullable=False),
        sa.Column("first_response_due", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("statutory_due", sa.Date(), nullable=False),
        sa.Column("due_earliest", sa.Date(), nullable=False),
        sa.Column("due_latest", sa.Date(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=255), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_requests")),
    )
    op.create_index(op.f("ix_records_requests_status"), "records_requests", ["status"])
    op.create_table(
        "request_extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["records_requests.id"],
                                name=op.f("fk_request_extensions_request_id_records_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_extensions")),
    )
    op.create_index(op.f("ix_request_extensions_request_id"), "request_extensions", ["request_id"])
    op.create_table(
        "request_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["records_requests.id"],
                                name=op.f("fk_request_searches_request_id_records_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_searches")),
    )
    op.create_index(op.f("ix_request_searches_request_id"), "request_searches", ["request_id"])
    op.create_table(
        "request_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("search_id", sa.Integer(), nullable=True),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["records_requests.id"],
                                name=op.f("fk_request_items_request_id_records_requests")),
        sa.ForeignKeyConstraint(["search_id"], ["request_searches.id"],
                                name=op.f("fk_request_items_search_id_request_searches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_items")),
        sa.UniqueConstraint("request_id", "platform", "item_id", name=op.f("uq_request_items_request_id")),
    )
    op.create_index(op.f("ix_request_items_request_id"), "request_items", ["request_id"])
    op.create_table(
        "request_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("exemption", sa.String(length=255), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["records_requests.id"],
                                name=op.f("fk_request_decisions_request_id_records_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_decisions")),
    )
    op.create_index(op.f("ix_request_decisions_request_id"), "request_decisions", ["request_id"])
    op.create_table(
        "request_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("hold_id", sa.String(length=64), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["records_requests.id"],
                                name=op.f("fk_request_holds_request_id_records_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_holds")),
    )
    op.create_index(op.f("ix_request_holds_request_id"), "request_holds", ["request_id"])

    op.create_table(
        "search_docs",
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_pk"], ["item_versions.id"], ondelete="CASCADE",
                                name=op.f("fk_search_docs_version_pk_item_versions")),
        sa.PrimaryKeyConstraint("version_pk", name=op.f("pk_search_docs")),
    )
    op.create_index(op.f("ix_search_docs_item_pk"), "search_docs", ["item_pk"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # A stored vector: ranking reads it instead of re-parsing every matching body.
        op.execute("ALTER TABLE search_docs ADD COLUMN tsv tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED")
        op.execute("CREATE INDEX ix_search_docs_tsv ON search_docs USING gin (tsv)")
    elif bind.dialect.name == "sqlite":
        for statement in _FTS5:
            op.execute(statement)
    # Versions captured before this revision become searchable now.
    from archiver.catalog.search import reindex_all

    reindex_all(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("search_docs_ai", "search_docs_ad", "search_docs_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_docs")
    for table in ("request_holds", "request_decisions", "request_items", "request_searches",
                  "request_extensions", "records_requests"):
        op.drop_table(table)
