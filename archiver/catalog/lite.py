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
indexes, same order, same keyset), and the rows are the same values: ListedItem has
ItemSummary's fields in its order, created_at and first_seen_at are read as the UTCDateTime
column type reads them, and the next page's cursor is queries.Cursor's token.
tests/cli/test_fast_start.py compares both paths' output for each filter.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from archiver.catalog.revisions import head_revisions

# SQLAlchemy's SQLite DATETIME storage format (what UTCDateTime binds and reads back).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_COLUMNS = ("i.id, i.item_id, i.platform, a.platform, a.account_id, i.kind, i.parent_id, i.created_at,"
            " i.first_seen_at, i.deleted_at, i.version_count, v.text")
_FROM = (" FROM items AS i JOIN accounts AS a ON a.id = i.account_pk"
         " LEFT OUTER JOIN item_versions AS v ON v.id = i.latest_version_pk")


@dataclass(frozen=True)
class ListedItem:
    """archiver.catalog.queries.ItemSummary's fields, in its order (its JSON is the same)."""

    id: str
    platform: str
    account: str
    kind: str
    parent_id: str | None
    created_at: str | None
    first_seen_at: str
    deleted: bool
    versions: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ListedPage:
    items: list[ListedItem]
    next_cursor: str | None

    @property
    def more(self) -> bool:
        return self.next_cursor is not None


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


def list_page(catalog: Catalog, *, account: str | None, kind: str | None, deleted: bool | None,
              edited: bool | None, limit: int | None, after: str | None) -> ListedPage | None:
    """One page as archiver.services.items.list_items gives it, or None (see the module)."""
    if limit is not None and limit < 1:
        return None
    cursor = _parse_cursor(after) if after else None
    if after and cursor is None:
        return None
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
        if frozenset(r[0] for r in db.execute("SELECT version_num FROM alembic_version")) != head_revisions():
            return None
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
        return ListedPage([item for item, _ in rows], None)
    more = len(rows) > limit
    rows = rows[:limit]
    return ListedPage([item for item, _ in rows], _token(*rows[-1][1]) if more and rows else None)


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
          after: tuple[datetime | None, int] | None, *,
          sqlite: bool) -> list[tuple[ListedItem, tuple[datetime | None, int]]]:
    """The dated items newest first, then (when the dated run out) the undated ones, as
    archiver.catalog.queries._page reads them."""
    out: list[tuple[ListedItem, tuple[datetime | None, int]]] = []
    if after is None or after[0] is not None:
        dated, dated_params = [*where, "i.created_at IS NOT NULL"], list(params)
        if after is not None and after[0] is not None:
            dated.append("(i.created_at, i.id) < (?, ?)")
            when = after[0].astimezone(UTC)  # as UTCDateTime binds it (SQLite: its DATETIME text)
            dated_params += [when.strftime(_SQLITE_DATETIME) if sqlite else when, after[1]]
        out += _rows(db, dated, dated_params, "i.created_at DESC, i.id DESC", limit)
    if limit is None or len(out) < limit:
        undated, undated_params = [*where, "i.created_at IS NULL"], list(params)
        if after is not None and after[0] is None:
            undated.append("i.id < ?")
            undated_params.append(after[1])
        out += _rows(db, undated, undated_params, "i.id DESC", None if limit is None else limit - len(out))
    return out


def _rows(db: _Db, where: Sequence[str], params: list[Any], order: str,
          limit: int | None) -> list[tuple[ListedItem, tuple[datetime | None, int]]]:
    query = f"SELECT {_COLUMNS}{_FROM} WHERE {' AND '.join(where)} ORDER BY {order}"
    if limit is not None:
        query += " LIMIT ?"
        params = [*params, limit]
    out = []
    for pk, item_id, platform, acc_platform, acc_id, kind, parent, created, first_seen, gone, count, text in (
            db.execute(query, params)):
        created_at = _datetime(created)
        out.append((ListedItem(
            id=item_id, platform=platform, account=f"{acc_platform}:{acc_id}", kind=kind, parent_id=parent,
            created_at=created_at.isoformat() if created_at else None,
            first_seen_at=_iso(first_seen), deleted=gone is not None, versions=int(count), text=text or "",
        ), (created_at, pk)))
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


def _token(created_at: datetime | None, pk: int) -> str:
    """archiver.catalog.queries.Cursor.token."""
    raw = json.dumps([created_at.isoformat() if created_at else None, pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_cursor(token: str) -> tuple[datetime | None, int] | None:
    """archiver.catalog.queries.Cursor.parse, None where it would refuse the token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        when, pk = json.loads(raw)
        created = datetime.fromisoformat(when) if when is not None else None
    except (ValueError, TypeError, binascii.Error):
        return None
    if not isinstance(pk, int) or (created is not None and created.tzinfo is None):
        return None
    return created, pk
