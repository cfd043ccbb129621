"""`items list` read with the database's own driver alone, sqlite3 or psycopg (issue 13: read
commands under 0.3 s as a fresh process).

Importing SQLAlchemy and its ORM, declaring the models and configuring their mappers cost a
fresh `archiver items list` about 0.45 s of CPU, three quarters of it; the page itself is two
index range reads. This module answers the common case without them: a plain `sqlite:///PATH`
or `postgresql+psycopg://...` catalog URL, plain settings (archiver.core.plain_settings), the
catalog at this archiver's head revision. It returns None whenever anything else holds (another
URL form, a missing file, a database it cannot reach, another revision, an account selector that matches nothing, a cursor it
cannot read, any database error); the caller then runs the full path (archiver.services.items),
which reads or refuses exactly as before, so every error stays that path's one line.

The statements are the ones archiver.catalog.queries builds for the same filters (same
indexes, same order, same keyset), and the answers are the same objects (archiver.catalog.views:
ItemSummary, ItemDetail, ItemPage, Cursor): created_at and first_seen_at are read as the
UTCDateTime column type reads them, and the next page's cursor is the same token.
tests/cli/test_fast_start.py compares both paths' output for each filter.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from archiver.catalog.revisions import head_revisions
from archiver.catalog.views import (
    BadCursor,
    Cursor,
    ItemDetail,
    ItemPage,
    ItemSummary,
    VersionView,
    WarcInfo,
)

# SQLAlchemy's SQLite DATETIME storage format (what UTCDateTime binds and reads back).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_COLUMNS = ("i.id, i.item_id, i.platform, a.platform, a.account_id, i.kind, i.parent_id, i.created_at,"
            " i.first_seen_at, i.deleted_at, i.version_count, v.text")
_FROM = (" FROM items AS i JOIN accounts AS a ON a.id = i.account_pk"
         " LEFT OUTER JOIN item_versions AS v ON v.id = i.latest_version_pk")


class _Db(Protocol):
    """What is used of a DB-API connection (sqlite3's and psycopg's)."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Catalog:
    """Where a plain catalog URL points: an SQLite file, or a PostgreSQL conninfo."""

    sqlite_file: Path | None = None
    conninfo: str | None = None


def catalog_at(catalog_url: str) -> Catalog | None:
    """The catalog of a plain URL (an existing `sqlite:///PATH`, or `postgresql+psycopg://`
    with no query options); None for any other form, which the full path reads."""
    if "?" in catalog_url:
        return None
    if catalog_url.startswith("sqlite:///"):
        path = Path(catalog_url[len("sqlite:///"):])
        return Catalog(sqlite_file=path) if path.name and path.is_file() else None
    if catalog_url.startswith("postgresql+psycopg://"):
        return Catalog(conninfo="postgresql://" + catalog_url[len("postgresql+psycopg://"):])
    return None


class _Postgres:
    """psycopg's connection with sqlite3's `?` placeholders (the statements are shared)."""

    def __init__(self, conninfo: str) -> None:
        import psycopg

        self._conn = psycopg.connect(conninfo)

    def execute(self, query: str, params: Any = ()) -> Any:
        return self._conn.execute(query.replace("?", "%s"), params)

    def close(self) -> None:
        self._conn.close()


def _open(catalog: Catalog) -> tuple[_Db, tuple[type[BaseException], ...]] | None:
    """A connection to a catalog at this archiver's head revision, and the driver's errors;
    None when it cannot be reached or is at another revision (the full path says why)."""
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    try:
        db: _Db
        if catalog.sqlite_file is not None:
            db = sqlite3.connect(catalog.sqlite_file)
        else:
            assert catalog.conninfo is not None
            import psycopg

            errors = (psycopg.Error,)
            db = _Postgres(catalog.conninfo)
    except errors:
        return None
    try:
        if frozenset(r[0] for r in db.execute("SELECT version_num FROM alembic_version")) == head_revisions():
            return db, errors
    except errors:
        pass
    db.close()
    return None


def list_page(catalog: Catalog, *, account: str | None, kind: str | None, deleted: bool | None,
              edited: bool | None, limit: int | None, after: str | None) -> ItemPage | None:
    """One page as archiver.services.items.list_items gives it, or None (see the module)."""
    if limit is not None and limit < 1:
        return None
    try:
        cursor = Cursor.parse(after) if after else None
    except BadCursor:
        return None  # the full path refuses it in its words
    opened = _open(catalog)
    if opened is None:
        return None
    db, errors = opened
    try:
        where, params = _filters(db, account, kind, deleted, edited)
        if where is None:
            return None
        rows = _page(db, where, params, None if limit is None else limit + 1, cursor,
                     sqlite=catalog.sqlite_file is not None)
    except errors:
        return None
    finally:
        db.close()
    if limit is None:
        return ItemPage([item for item, _ in rows], None)
    more = len(rows) > limit
    rows = rows[:limit]
    return ItemPage([item for item, _ in rows], rows[-1][1].token() if more and rows else None)


def _filters(db: _Db, account: str | None, kind: str | None, deleted: bool | None,
             edited: bool | None) -> tuple[list[str] | None, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if account is not None:  # as archiver.services.accounts.select_accounts matches a selector
        pks = _account_pks(db, account)
        if not pks:
            return None, []  # the full path says that nothing matches, in its words
        where.append(f"i.account_pk IN ({', '.join('?' * len(pks))})")
        params += pks
    if kind:
        where.append("i.kind = ?")
        params.append(kind)
    if deleted is not None:
        where.append("i.deleted_at IS NOT NULL" if deleted else "i.deleted_at IS NULL")
    if edited is not None:
        where.append("i.version_count > 1" if edited else "i.version_count = 1")
    return where, params


def _account_pks(db: _Db, selector: str) -> list[int]:
    conditions = ["account_id = ?", "name = ?"]
    params: list[Any] = [selector, selector]
    if selector.isdigit() and str(int(selector)) == selector:
        conditions.append("id = ?")
        params.append(int(selector))
    platform, colon, account_id = selector.partition(":")
    if colon:
        conditions.append("(platform = ? AND account_id = ?)")
        params += [platform, account_id]
    query = f"SELECT id FROM accounts WHERE {' OR '.join(conditions)} ORDER BY id"
    return [row[0] for row in db.execute(query, params)]


def _page(db: _Db, where: Sequence[str], params: Sequence[Any], limit: int | None,
          after: Cursor | None, *,
          sqlite: bool) -> list[tuple[ItemSummary, Cursor]]:
    """The dated items newest first, then (when the dated run out) the undated ones, as
    archiver.catalog.queries._page reads them."""
    out: list[tuple[ItemSummary, Cursor]] = []
    if after is None or after.created_at is not None:
        dated, dated_params = [*where, "i.created_at IS NOT NULL"], list(params)
        if after is not None and after.created_at is not None:
            dated.append("(i.created_at, i.id) < (?, ?)")
            when = after.created_at.astimezone(UTC)  # as UTCDateTime binds it (SQLite: its DATETIME text)
            dated_params += [when.strftime(_SQLITE_DATETIME) if sqlite else when, after.pk]
        out += _rows(db, dated, dated_params, "i.created_at DESC, i.id DESC", limit)
    if limit is None or len(out) < limit:
        undated, undated_params = [*where, "i.created_at IS NULL"], list(params)
        if after is not None and after.created_at is None:
            undated.append("i.id < ?")
            undated_params.append(after.pk)
        out += _rows(db, undated, undated_params, "i.id DESC", None if limit is None else limit - len(out))
    return out


def _rows(db: _Db, where: Sequence[str], params: list[Any], order: str,
          limit: int | None) -> list[tuple[ItemSummary, Cursor]]:
    query = f"SELECT {_COLUMNS}{_FROM} WHERE {' AND '.join(where)} ORDER BY {order}"
    if limit is not None:
        query += " LIMIT ?"
        params = [*params, limit]
    out = []
    for pk, item_id, platform, acc_platform, acc_id, kind, parent, created, first_seen, gone, count, text in (
            db.execute(query, params)):
        created_at = _datetime(created)
        out.append((ItemSummary(
            id=item_id, platform=platform, account=f"{acc_platform}:{acc_id}", kind=kind, parent_id=parent,
            created_at=created_at.isoformat() if created_at else None,
            first_seen_at=_iso(first_seen), deleted=gone is not None, versions=int(count), text=text or "",
        ), Cursor(created_at, pk)))
    return out


def _datetime(value: str | datetime | None) -> datetime | None:
    """As UTCDateTime reads the column: SQLite's naive text and any naive value taken as UTC,
    PostgreSQL's aware value converted to UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso(value: str | datetime | None) -> str:
    parsed = _datetime(value)
    return parsed.isoformat() if parsed else ""


_DETAIL = (
    "SELECT i.id, i.item_id, i.platform, i.kind, i.parent_id, i.created_at, i.first_seen_at, i.deleted_at,"
    " a.platform, a.account_id,"
    " t.id, t.detected_at, t.reason, t.detail, t.evidence_file, t.evidence_offset, t.evidence_length,"
    " t.evidence_record_id, t.metadata_record_id, t.last_good_record_id,"
    " r.item_pk, r.state, r.series, r.rule, r.flagged, r.retain_until, r.waits_for,"
    " (SELECT count(*) FROM observations AS o WHERE o.item_pk = i.id),"
    " v.id, v.version_no, v.observed_at, v.content_sha256, v.text, v.author, v.url, v.warc_file, v.warc_offset,"
    " v.warc_length, v.warc_record_id, v.media"
    " FROM items AS i LEFT OUTER JOIN accounts AS a ON a.id = i.account_pk"
    " LEFT OUTER JOIN tombstones AS t ON t.item_pk = i.id LEFT OUTER JOIN item_retention AS r ON r.item_pk = i.id"
    " LEFT OUTER JOIN item_versions AS v ON v.item_pk = i.id"
    " WHERE i.id = (SELECT id FROM items WHERE item_id = ? ORDER BY id LIMIT 1) ORDER BY v.version_no")



def show_item(catalog: Catalog, item_id: str) -> ItemDetail | None:
    """`items show` as archiver.services.items.show_item gives it (queries.item_detail and
    item_thread, statement for statement), or None (see the module; an unknown id too)."""
    sqlite = catalog.sqlite_file is not None
    opened = _open(catalog)
    if opened is None:
        return None
    db, errors = opened
    try:
        rows = list(db.execute(_DETAIL, [item_id]))
        if not rows:
            return None
        return _detail(db, rows, sqlite)
    except errors:
        return None
    finally:
        db.close()


def _detail(db: _Db, rows: list[Any], sqlite: bool) -> ItemDetail:
    first = rows[0]
    (pk, item_id, platform, kind, parent_id, created, first_seen, gone, acc_platform, acc_id) = first[:10]
    versions, media_keys, version_files = [], set(), []
    for row in rows:
        if row[28] is None:
            continue
        (_, number, observed, sha, text, author, url, w_file, w_offset, w_length, w_record, media) = row[28:40]
        media = json.loads(media) if sqlite and isinstance(media, str) else media
        media_keys |= {m["media_key"] for m in (media or [])}
        version_files.append(w_file)
        versions.append(VersionView(
            version=number, observed_at=_iso(observed), content_sha256=sha, text=text, author=author, url=url,
            warc={"file": w_file, "offset": w_offset, "length": w_length, "record_id": w_record}))
    tombstone = None
    if first[10] is not None:
        (_, detected, reason, detail, e_file, e_offset, e_length, e_record, meta_record, last_good) = first[10:20]
        tombstone = {"detected_at": _iso(detected), "reason": reason, "detail": detail,
                     "evidence": {"file": e_file, "offset": e_offset, "length": e_length, "record_id": e_record},
                     "metadata_record_id": meta_record, "last_good_record_id": last_good}
    media_rows: list[dict[str, Any]] = []
    if media_keys:
        marks = ", ".join("?" * len(media_keys))
        media_rows = [{"url": u, "status": st, "size": sz, "file": f, "offset": o, "length": n}
                      for u, st, sz, f, o, n in db.execute(
                          "SELECT url, status, size, warc_file, warc_offset, warc_length FROM media_captures"
                          f" WHERE media_key IN ({marks})", list(media_keys))]
    created_at = _datetime(created)
    summary = ItemSummary(
        id=item_id, platform=platform, account=f"{acc_platform}:{acc_id}" if acc_platform is not None else "",
        kind=kind, parent_id=parent_id, created_at=created_at.isoformat() if created_at else None,
        first_seen_at=_iso(first_seen), deleted=gone is not None, versions=len(versions),
        text=versions[-1].text if versions else "")
    files = version_files + [m["file"] for m in media_rows] + ([tombstone["evidence"]["file"]] if tombstone else [])
    retention = None
    if first[20] is not None:
        state, series, rule, flagged, until, waits_for = first[21:27]
        until_at = _datetime(until)
        retention = {"state": state, "series": series, "rule": rule, "flagged": bool(flagged),
                     "retain_until": until_at.isoformat() if until_at else None, "waits_for": waits_for}
    parent, replies = _thread(db, summary)
    return ItemDetail(summary, versions, tombstone, int(first[27] or 0), media_rows, parent, replies,
                     _failed_fixity(db, {f for f in files if isinstance(f, str) and f}), retention)


def _failed_fixity(db: _Db, names: set[str]) -> dict[str, dict[str, Any]]:
    """queries.failed_fixity: each named WARC whose last check was not 'ok', that check."""
    if not names:
        return {}
    marks = ", ".join("?" * len(names))
    rows = db.execute(
        "SELECT f.warc_name, f.verdict, f.checked_at, f.detail, f.run_id FROM fixity_checks AS f JOIN"
        " (SELECT warc_name, max(id) AS last_id FROM fixity_checks"
        f" WHERE warc_name IN ({marks}) GROUP BY warc_name) AS last ON f.id = last.last_id", list(names))
    return {name: {"verdict": verdict, "checked_at": _iso(checked), "detail": detail, "run_id": run}
            for name, verdict, checked, detail, run in rows if verdict != "ok"}


def _thread(db: _Db, summary: ItemSummary) -> tuple[ItemSummary | None, list[ItemSummary]]:
    """queries.item_thread: the item it answers (same platform) and its replies, oldest first."""
    where, params = ["i.parent_id = ?"], [summary.id]
    if summary.parent_id:
        where, params = ["(i.parent_id = ? OR i.item_id = ?)"], [summary.id, summary.parent_id]
    rows = [row for row, _ in _rows(db, where, params, "i.id", None) if row.platform == summary.platform]
    parent = next((r for r in rows if summary.parent_id and r.id == summary.parent_id), None)
    replies = [r for r in rows if r.parent_id == summary.id and r is not parent]
    replies.sort(key=lambda r: (r.created_at or "", r.id))
    return parent, replies


def list_warcs(catalog: Catalog) -> list[WarcInfo] | None:
    """`warc list`'s rows as archiver.services.warcs.list_warcs gives them (the same statement:
    every WARC in capture order), or None (see the module)."""
    opened = _open(catalog)
    if opened is None:
        return None
    db, errors = opened
    try:
        rows = list(db.execute("SELECT name, size, records, sha256, first_date, store_key FROM warc_files"
                               " ORDER BY first_date, name"))
    except errors:
        return None
    finally:
        db.close()
    return [WarcInfo(name, size, records, sha256, _iso(first), key) for name, size, records, sha256, first, key in rows]
