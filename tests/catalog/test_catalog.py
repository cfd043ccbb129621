"""The catalog on SQLite and PostgreSQL: schema, indexing, and rebuild from WARCs alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from archiver.catalog import tables as t
from archiver.catalog.db import open_catalog
from archiver.catalog.queries import counts, item_detail, list_items
from archiver.preservation.rebuild import rebuild, snapshot
from tests.harness import Harness


def test_migrations_apply_twice_and_keep_times_aware(database_url: str) -> None:
    catalog = open_catalog(database_url)
    catalog.upgrade()  # second run is a no-op
    assert {"accounts", "items", "item_versions", "tombstones", "warc_files"} <= set(catalog.table_names())
    when = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    with catalog.session() as s:
        s.add(t.Account(platform="facebook", account_id="1", created_at=when))
    with catalog.session() as s:
        row = s.scalar(select(t.Account))
        assert row.created_at == when and row.created_at.tzinfo is not None
    catalog.dispose()


def _three_cycles(h: Harness) -> None:
    h.poll()
    live = sorted(h.sandbox.live_item_ids(h.seed.account_id))
    h.sandbox.edit(live[0])
    h.sandbox.publish(h.seed.account_id)
    h.poll()
    h.sandbox.delete(live[-1])
    h.poll()


def test_rebuild_from_warcs_equals_the_live_catalog(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        _three_cycles(h)
        report = rebuild(h.app)
        assert report.warcs == 3
        assert report.equal, [d for d in report.diffs if not d.equal]
        with h.app.catalog.session() as s:
            c = counts(s)
        assert c["deletions"] >= 1 and c["edits"] == 1
    finally:
        h.close()


def test_rebuild_reports_a_difference_and_apply_repairs_it(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        _three_cycles(h)
        before = snapshot(h.app.catalog)
        with h.app.catalog.session() as s:  # a damaged catalog: a tombstone is lost
            tomb = s.scalars(select(t.Tombstone)).first()
            item = s.get(t.Item, tomb.item_pk)
            item.deleted_at = None
            s.delete(tomb)
        report = rebuild(h.app)
        assert not report.equal
        tombs = next(d for d in report.diffs if d.table == "tombstones")
        assert tombs.live == tombs.rebuilt - 1 and tombs.only_rebuilt
        fixed = rebuild(h.app, apply=True)
        assert fixed.applied
        assert snapshot(h.app.catalog) == before
    finally:
        h.close()


def test_indexing_the_same_warc_twice_changes_nothing(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        h.poll()
        before = snapshot(h.app.catalog)
        from archiver.preservation.rebuild import index_all, stored_warc_keys

        index_all(h.app, h.app.catalog, stored_warc_keys(h.app))
        assert snapshot(h.app.catalog) == before
    finally:
        h.close()


def test_queries_filter_and_show(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        _three_cycles(h)
        with h.app.catalog.session() as s:
            every = list_items(s)
            deleted = list_items(s, deleted=True)
            edited = list_items(s, edited=True)
            posts = list_items(s, kind="post", account=f"facebook:{h.seed.account_id}")
            total = s.scalar(select(func.count()).select_from(t.Item))
            detail = item_detail(s, edited[0].id)
        assert len(every) == total
        assert deleted and all(i.deleted for i in deleted)
        assert len(edited) == 1 and edited[0].versions == 2
        assert posts and all(p.kind == "post" for p in posts)
        assert [v.version for v in detail.versions] == [1, 2]
        assert detail.versions[0].text != detail.versions[1].text
    finally:
        h.close()
