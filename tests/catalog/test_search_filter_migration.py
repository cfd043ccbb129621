"""Migration 0020 (the search filters' indexes, issue 15) on a catalog that holds data, on both
engines: the indexes appear, the filters use them, a downgrade removes them and keeps the
data, and the models match the migrated schema."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from archiver.catalog import tables as t
from archiver.catalog.db import Catalog, alembic_config, make_engine
from archiver.catalog.search import SearchFilters, search
from archiver.catalog.search_tables import is_engine_object

WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NEW = {("item_versions", "ix_item_versions_author"), ("items", "ix_items_deleted_kind")}


def _indexes(engine: Engine) -> set[tuple[str, str]]:
    found = inspect(engine)
    return {(table, ix["name"]) for table in ("items", "item_versions") for ix in found.get_indexes(table)
            if ix["name"]}


def test_0020_adds_the_search_filter_indexes_to_a_catalog_with_data(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    command.upgrade(config, "0019_console")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (id, platform, account_id, name, role, api_base, token_ref, status, "
                          "status_message, created_at) VALUES (1, 'facebook', '1000001', 'Lincoln', 'school', '', "
                          "'', 'ok', '', :at)"), {"at": WHEN})
        for pk, kind, deleted in ((1, "post", None), (2, "comment", WHEN), (3, "comment", None)):
            conn.execute(text("INSERT INTO items (id, account_pk, platform, item_id, kind, created_at, first_seen_at, "
                              "last_seen_at, deleted_at, version_count) VALUES (:pk, 1, 'facebook', :iid, :kind, :at, "
                              ":at, :at, :deleted, 1)"),
                         {"pk": pk, "iid": f"i{pk}", "kind": kind, "at": WHEN, "deleted": deleted})
            author = {1: "Lincoln High", 2: "JOSÉ Pérez", 3: "José Pérez"}[pk]
            conn.execute(text("INSERT INTO item_versions (id, item_pk, version_no, content_sha256, content, media, "
                              "text, author, url, observed_at, warc_file, warc_offset, warc_length, warc_record_id) "
                              "VALUES (:pk, :pk, 1, 'x', '{}', '[]', 'the bus is late', :author, '', :at, 'a.warc.gz', "
                              "0, 1, 'r')"), {"pk": pk, "author": author, "at": WHEN})
            conn.execute(text("INSERT INTO search_docs (version_pk, item_pk, body) VALUES (:pk, :pk, 'the bus is late')"),
                         {"pk": pk})
    assert not NEW & _indexes(engine)
    command.upgrade(config, "0020_search_filter_indexes")
    assert _indexes(engine) >= NEW
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_items_deleted_kind'")).scalar()
        else:
            ddl = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_items_deleted_kind'")).scalar()
        assert "deleted_at IS NOT NULL" in str(ddl), ddl  # only the deleted items
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, kind, parent: not is_engine_object(name, kind, parent)})
        assert compare_metadata(context, t.all_models()) == []  # the models are the head's schema
    engine.dispose()

    catalog = Catalog(database_url)
    try:
        with catalog.session() as s:
            assert sorted(search(s, "bus", SearchFilters(author="josé")).ids) == ["i2", "i3"]
            assert search(s, "bus", SearchFilters(author="josé", deleted=True)).ids == ["i2"]
            assert search(s, "bus", SearchFilters(kind="comment", deleted=True)).ids == ["i2"]
            assert search(s, "bus", SearchFilters(kind="post", deleted=True)).ids == []
    finally:
        catalog.dispose()

    engine = make_engine(database_url)
    config = alembic_config(engine)
    try:
        command.downgrade(config, "0019_console")
        assert not NEW & _indexes(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM item_versions")).scalar() == 3  # the data stays
        command.upgrade(config, "head")
        assert _indexes(engine) >= NEW
    finally:
        engine.dispose()
