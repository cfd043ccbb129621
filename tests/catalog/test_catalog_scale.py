"""The catalog at scale (issue 13): one indexer for capture and rebuild, items that carry their
latest version, keyset pages, an in-place migration, and lookups that never read a table whole."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, insert, select, text, update

from archiver.catalog import tables as t
from archiver.catalog.db import alembic_config, open_catalog
from archiver.catalog.queries import BadCursor, Cursor, list_items, list_page
from archiver.catalog.search_tables import SearchDoc
from archiver.preservation.rebuild import index_all, stored_warc_keys
from archiver.services.items import list_items as list_service
from archiver.services.items import show_item
from tests.harness import Harness

# --- both indexing paths give one catalog ----------------------------------------------------


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def natural(catalog: Any) -> dict[str, set[tuple[Any, ...]]]:
    """Every derived row by natural keys, the issue-13 columns included (no surrogate ids)."""
    with catalog.session() as s:
        accounts = {a.id: f"{a.platform}:{a.account_id}" for a in s.scalars(select(t.Account))}
        items = {i.id: (i.platform, i.item_id) for i in s.scalars(select(t.Item))}
        versions = {v.id: (*items[v.item_pk], v.version_no) for v in s.scalars(select(t.ItemVersion))}
        return {
            "items": {(i.platform, i.item_id, accounts[i.account_pk], i.kind, i.parent_id, _ts(i.created_at),
                       _ts(i.first_seen_at), _ts(i.last_seen_at), _ts(i.deleted_at), i.version_count,
                       versions[i.latest_version_pk] if i.latest_version_pk else None)
                      for i in s.scalars(select(t.Item))},
            "item_versions": {(*versions[v.id], v.content_sha256, json.dumps(v.content, sort_keys=True),
                               json.dumps(v.media, sort_keys=True), v.text, v.author, v.url, _ts(v.observed_at),
                               v.warc_file, v.warc_offset, v.warc_length, v.warc_record_id)
                              for v in s.scalars(select(t.ItemVersion))},
            "observations": {(o.run_id, *items[o.item_pk], versions[o.version_pk], _ts(o.observed_at),
                              o.warc_file, o.warc_offset, o.warc_length)
                             for o in s.scalars(select(t.Observation))},
            "tombstones": {(*items[x.item_pk], _ts(x.detected_at), x.reason, x.detail, x.evidence_file,
                            x.evidence_offset, x.evidence_length, x.evidence_record_id, x.metadata_record_id,
                            x.last_good_record_id)
                           for x in s.scalars(select(t.Tombstone))},
            "media_captures": {(accounts.get(m.account_pk or 0), m.url, m.media_key, m.status, m.content_type,
                                m.size, m.truncated, _ts(m.observed_at), m.warc_file, m.warc_offset,
                                m.warc_length, m.warc_record_id)
                               for m in s.scalars(select(t.MediaCapture))},
            "capture_warnings": {(w.run_id, w.code, w.message, w.item_id, w.warc_file, w.warc_offset,
                                  w.warc_length, _ts(w.created_at))
                                 for w in s.scalars(select(t.CaptureWarning))},
            "search_docs": {(*versions[d.version_pk], d.body) for d in s.scalars(select(SearchDoc))},
            "warc_files": {(w.name, w.run_id, accounts.get(w.account_pk or 0), w.size, w.sha256, w.records,
                            _ts(w.first_date), _ts(w.last_date), w.store_key, w.object_size, w.object_sha256,
                            w.key_id)
                           for w in s.scalars(select(t.WarcFile))},
        }


def test_capture_indexes_without_reading_back_and_matches_a_rebuild(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live capture indexes from what the writer wrote (nothing decrypted after storing);
    `catalog rebuild`'s path reads the stored WARCs back; both give the same catalog."""
    import archiver.preservation.outbox as outbox

    def no_read_back(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the capture path decrypted a stored WARC to index it")

    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        with monkeypatch.context() as m:
            m.setattr(outbox, "decrypt_stream", no_read_back)
            h.poll()
            live = sorted(h.sandbox.live_item_ids(h.seed.account_id))
            for item_id in live[:3]:
                h.sandbox.edit(item_id)
            h.sandbox.publish(h.seed.account_id)
            h.poll()
            h.sandbox.delete(live[-1])
            h.sandbox.delete(live[-2])
            h.poll()
            h.poll()  # nothing changed: observations only
        captured = natural(h.app.catalog)
        rebuilt_catalog = open_catalog(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
        try:
            assert index_all(h.app, rebuilt_catalog, stored_warc_keys(h.app)) == 4
            rebuilt = natural(rebuilt_catalog)
        finally:
            rebuilt_catalog.dispose()
        for table in captured:
            assert captured[table] == rebuilt[table], (
                table, sorted(captured[table] - rebuilt[table], key=str)[:3],
                sorted(rebuilt[table] - captured[table], key=str)[:3])
        edited = [row for row in captured["items"] if row[9] > 1]
        deleted = [row for row in captured["items"] if row[8] is not None]
        assert len(edited) >= 3 and len(deleted) >= 2 and captured["media_captures"]
        assert all(row[10] == (row[0], row[1], row[9]) for row in captured["items"])  # latest = count
        assert {row[0] for row in captured["observations"]} and len(captured["tombstones"]) >= 2
    finally:
        h.close()


# --- migration 0007 upgrades a catalog with data in place ------------------------------------


def test_migration_0007_backfills_an_existing_catalog(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        h.poll()
        h.sandbox.edit(sorted(h.sandbox.live_item_ids(h.seed.account_id))[0])
        h.poll()
        before = natural(h.app.catalog)
        engine = h.app.catalog.engine
        cfg = alembic_config(engine)
        command.downgrade(cfg, "0006_requests")  # the revision before 0007
        with engine.connect() as conn:
            columns = {c["name"] for c in __import__("sqlalchemy").inspect(conn).get_columns("items")}
        assert "latest_version_pk" not in columns and "version_count" not in columns
        command.upgrade(cfg, "head")
        after = natural(h.app.catalog)
        assert after == before
        with h.app.catalog.session() as s:
            assert max(s.scalars(select(t.Item.version_count))) == 2
            assert None not in set(s.scalars(select(t.MediaCapture.account_pk)))
    finally:
        h.close()


# --- keyset pages ----------------------------------------------------------------------------


def test_keyset_pages_walk_every_item_once_dated_first_undated_last(tmp_path: Path, database_url: str) -> None:
    catalog = open_catalog(database_url)
    when = datetime(2026, 5, 1, tzinfo=UTC)
    try:
        with catalog.session() as s:
            account = t.Account(platform="facebook", account_id="1", created_at=when)
            s.add(account)
            s.flush()
            for n in range(23):  # ties on created_at, and items without one
                created = None if n % 5 == 0 else when - timedelta(hours=n // 3)
                s.add(t.Item(account_pk=account.id, platform="facebook", item_id=f"i{n}", kind="post",
                             created_at=created, first_seen_at=when, last_seen_at=when))
        with catalog.session() as s:
            everything = list_items(s)
            walked, after = [], None
            while True:
                page, after = list_page(s, limit=4, after=after)
                walked += page
                if after is None:
                    break
        ids = [i.id for i in everything]
        assert [i.id for i in walked] == ids and len(set(ids)) == 23
        dated = [i for i in everything if i.created_at]
        assert [i.created_at for i in dated] == sorted((i.created_at for i in dated), reverse=True)
        assert all(i.created_at is None for i in everything[len(dated):]) and len(dated) < 23
        assert Cursor.parse(Cursor(when, 7).token()) == Cursor(when, 7)
        assert Cursor.parse(Cursor(None, 7).token()) == Cursor(None, 7)
        with pytest.raises(BadCursor):
            Cursor.parse("bm90IGEgY3Vyc29y")
    finally:
        catalog.dispose()


# --- no lookup and no capture query reads a table whole -------------------------------------

# Tables whose size is configuration, not capture: officers' holds. `anon_N` is a grouped
# subquery's result, not a table. The key-file check (App.check_keys_present) runs once per
# poll cycle, not per account, and lists the distinct key ids of warc_files: reported in
# docs/benchmarks.md as the remaining scan.
_ALLOWED = re.compile(r"^SCAN (holds|anon_\d+)\b")
_KEY_CHECK = "SELECT DISTINCT warc_files.key_id"


def _plan_scans(conn: Any, statement: str, params: Any) -> list[str]:
    if conn.dialect.name == "postgresql":
        # A Seq Scan, or an Index (Only) Scan with no Index Cond (it walks the whole index).
        plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, params)]
        nodes: list[list[str]] = []
        for line in plan:
            if not nodes or "->" in line:
                nodes.append([line.strip()])
            else:
                nodes[-1].append(line.strip())
        # PostgreSQL also "conditions" an index on a column that is not its first, walking all
        # of it: the condition must name the index's leading column.
        leading = dict(conn.exec_driver_sql(
            "SELECT i.relname, a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]").all())
        found = []
        for node in nodes:
            head = node[0]
            if re.search(r" on holds\b", head):
                continue
            using = re.search(r"Index (?:Only )?Scan (?:Backward )?using (\w+)", head)
            conds = " ".join(d for d in node[1:] if d.startswith("Index Cond"))
            if "Seq Scan" in head or (using and not re.search(rf"\b{leading.get(using.group(1), '?')}\b", conds)):
                found.append(head)
        return found
    plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
    # "SCAN t USING [COVERING] INDEX i" reads all of an index: a scan too. (An ordered,
    # LIMITed read from one end of an index is a SEARCH on a range or a bounded scan; see below.)
    return [line for line in plan if line.startswith("SCAN") and not _ALLOWED.match(line)]


def test_capture_and_lookups_read_no_table_whole(tmp_path: Path, database_url: str) -> None:
    """EXPLAIN (QUERY PLAN) of every SELECT a re-capture and the three CLI lookups make. On
    PostgreSQL sequential scans and hash/merge joins are disabled first: a Seq Scan (or an
    index walked without a condition) left means no index can serve the query."""
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        h.poll()
        statements: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                statements.append((statement, params))

        engine = h.app.catalog.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            h.sandbox.edit(sorted(h.sandbox.live_item_ids(h.seed.account_id))[0])
            h.poll()
            page = list_service(h.app, limit=100)
            list_service(h.app, account=h.account.label, limit=100)
            list_service(h.app, limit=5, after=list_service(h.app, limit=5).next_cursor)
            show_item(h.app, page.items[-1].id)
            show_item(h.app, page.items[0].id)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(statements) > 20
        scans = {}
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # tables this small make any plan cheap:
                for knob in ("seqscan", "hashjoin", "mergejoin"):  # ask for index paths only
                    conn.execute(text(f"SET enable_{knob} = off"))
            for statement, params in statements:
                found = _plan_scans(conn, statement, params)
                if found and not statement.lstrip().startswith(_KEY_CHECK):
                    scans[" ".join(statement.split())[:160]] = found
        assert scans == {}, json.dumps(scans, indent=1)
    finally:
        h.close()


def test_the_scan_check_sees_a_scan(tmp_path: Path, database_url: str) -> None:
    """The check above can fail: the lookup it guards, without its index, is a scan."""
    catalog = open_catalog(database_url)
    try:
        with catalog.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_items_item_id"))
        with catalog.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET enable_seqscan = off"))
            compiled = select(t.Item.id).where(t.Item.item_id == "x").compile(conn)
            params: Any = compiled.params if conn.dialect.name == "postgresql" else tuple(compiled.params.values())
            assert _plan_scans(conn, str(compiled), params)
    finally:
        catalog.dispose()


def test_indexer_keeps_latest_version_and_count_on_the_item(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        h.poll()
        target = sorted(h.sandbox.live_item_ids(h.seed.account_id))[0]
        h.sandbox.edit(target)
        h.poll()
        with h.app.catalog.session() as s:
            item = s.scalar(select(t.Item).where(t.Item.item_id == target))
            latest = s.get(t.ItemVersion, item.latest_version_pk)
            assert item.version_count == 2 and latest.version_no == 2 and latest.item_pk == item.id
            s.execute(update(t.Item).where(t.Item.id == item.id).values(version_count=1))
        assert not [i for i in list_service(h.app, edited=True, limit=None).items if i.id == target]
    finally:
        h.close()


def _unknown_item_plans(conn: Any, statement: str, params: Any) -> list[str]:
    """Plan lines that read items by platform alone: every item of the platform (or of the
    table) read to find a few by id."""
    if conn.dialect.name == "postgresql":
        plan = [row[0].strip() for row in conn.exec_driver_sql("EXPLAIN " + statement, params)]
        return [line for line in plan if "Seq Scan on items" in line or (
            line.startswith(("Index Cond:", "Recheck Cond:")) and "platform" in line and "item_id" not in line)]
    plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
    return [line for line in plan if re.match(r"SCAN items\b", line) or (
        "platform=?" in line and "item_id=?" not in line)]


def test_new_accounts_items_are_looked_up_by_key_without_planner_statistics(
        tmp_path: Path, database_url: str) -> None:
    """A new account's first capture asks whether each of its items is already catalogued
    under another account. PostgreSQL planned that lookup (`platform = :p AND item_id IN
    (...)`) from the catalog's statistics; on a catalog that had none (bulk-loaded, rebuilt,
    autovacuum behind or off) it read every item of the platform and filtered by id: 2 s of a
    first capture at 1,000,000 items (issue 13). Each id must reach the (platform, item_id)
    index whatever the statistics say."""
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        engine = h.app.catalog.engine
        now = datetime.now(UTC)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # no ANALYZE may run behind the test's back
                conn.execute(text("ALTER TABLE items SET (autovacuum_enabled = false)"))
            other = conn.execute(insert(t.Account).values(
                platform="facebook", account_id="other-page", created_at=now).returning(t.Account.id)).scalar_one()
            conn.execute(insert(t.Item), [dict(
                account_pk=other, platform="facebook", item_id=f"other_{n}", kind="post", first_seen_at=now,
                last_seen_at=now, version_count=0) for n in range(2000)])
            if conn.dialect.name == "postgresql":
                assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'items'")).scalar() == -1
        lookups: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "items.platform =" in statement:
                lookups.append((statement, params))

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert h.poll().status == "complete"
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert lookups  # the first capture did look its items up
        with engine.connect() as conn:
            bad = {" ".join(s.split())[:200]: found for s, p in lookups if (found := _unknown_item_plans(conn, s, p))}
        assert bad == {}, json.dumps(bad, indent=1)
    finally:
        h.close()
