"""The full-text search index's rows: one per item version, derived from item_versions.

`body` is the version's text as words (see search_text.index_body). PostgreSQL indexes it with
a GIN index on to_tsvector('simple', body); SQLite with an FTS5 table `search_fts` over these
rows, kept in step by triggers (both made by migration 0006). Deleting a version (rebuild,
disposition) deletes its row by cascade, and the trigger takes it out of FTS5.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from archiver.catalog.tables import Base


class SearchDoc(Base):
    __tablename__ = "search_docs"

    version_pk: Mapped[int] = mapped_column(
        ForeignKey("item_versions.id", ondelete="CASCADE"), primary_key=True
    )
    item_pk: Mapped[int] = mapped_column(Integer, index=True)
    body: Mapped[str] = mapped_column(Text)


# The engines' own index structures are made by the migration, not models, and the migration
# test skips them: SQLite's FTS5 table (and its shadow tables); on PostgreSQL a stored generated
# column search_docs.tsv = to_tsvector('simple', body) and its GIN index.
FTS5_TABLE = "search_fts"
PG_INDEX = "ix_search_docs_tsv"
PG_VECTOR = "tsv"


def is_engine_object(name: str | None, kind: str = "", parent: dict[str, Any] | None = None) -> bool:
    """For alembic's include_name: search_fts*, ix_search_docs_tsv and search_docs.tsv."""
    if not name:
        return False
    if kind == "column":
        return name == PG_VECTOR and (parent or {}).get("table_name") == SearchDoc.__tablename__
    return name.startswith(FTS5_TABLE) or name == PG_INDEX
