"""Read-side queries for the CLI and exports: plain dataclasses out, no ORM objects leak."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from archiver.catalog import tables as t

# The views are plain dataclasses shared with the driver-only read path (catalog/lite.py).
from archiver.catalog.views import BadCursor as BadCursor
from archiver.catalog.views import Cursor, ItemDetail, ItemSummary, VersionView
from archiver.core.errors import ArchiverError


def failed_fixity(s: Session, warc_names: set[str]) -> dict[str, dict[str, Any]]:
    """For each named WARC whose most recent fixity check was not 'ok', that check."""
    if not warc_names:
        return {}
    last = (
        select(t.FixityCheck.warc_name, func.max(t.FixityCheck.id).label("last_id"))
        .where(t.FixityCheck.warc_name.in_(warc_names))
        .group_by(t.FixityCheck.warc_name)
        .subquery()
    )
    rows = s.scalars(select(t.FixityCheck).join(last, t.FixityCheck.id == last.c.last_id))
    return {r.warc_name: {"verdict": r.verdict, "checked_at": r.checked_at.isoformat(), "detail": r.detail,
                          "run_id": r.run_id}
            for r in rows if r.verdict != "ok"}


def latest_versions(s: Session, account_pk: int) -> list[tuple[t.Item, t.ItemVersion]]:
    """Every item of an account with its newest version, in one query through the account
    index (the newest version is found by the id the indexer keeps on the item)."""
    rows = s.execute(
        select(t.Item, t.ItemVersion)
        .join(t.ItemVersion, t.ItemVersion.id == t.Item.latest_version_pk)
        .where(t.Item.account_pk == account_pk)
    ).all()
    return [(item, version) for item, version in rows]


@dataclass(frozen=True, slots=True)
class KnownRow:
    """What a poll needs to know of one live item (see archiver.capture.cycle.KnownItem)."""

    item_id: str
    kind: str
    parent_id: str | None
    content_sha256: str
    last_record_id: str
    created_at: datetime | None
    signal: str | None = None  # items.signal where the catalog has it (migration 0008)


def known_items(s: Session, account_pk: int) -> list[KnownRow]:
    """The account's live items with their newest version's hash and record id: only this
    account's rows, read through ix_items_account_created, no ORM objects (issue 13)."""
    columns: list[Any] = [t.Item.item_id, t.Item.kind, t.Item.parent_id, t.ItemVersion.content_sha256,
                          t.ItemVersion.warc_record_id, t.Item.created_at, t.Item.signal]
    rows = s.execute(
        select(*columns)
        .join(t.ItemVersion, t.ItemVersion.id == t.Item.latest_version_pk)
        .where(t.Item.account_pk == account_pk, t.Item.deleted_at.is_(None))
    )
    return [KnownRow(*cast("tuple[Any, ...]", row)) for row in rows]


def account_media_keys(s: Session, account_pk: int) -> set[str]:
    """Media the account's captures already hold (HTTP 200), through the account index."""
    return set(s.scalars(
        select(t.MediaCapture.media_key)
        .where(t.MediaCapture.account_pk == account_pk, t.MediaCapture.status == 200)
    ))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def list_items(
    s: Session,
    *,
    account: str | None = None,
    account_pks: list[int] | None = None,
    kind: str | None = None,
    deleted: bool | None = None,
    edited: bool | None = None,
    parent_id: str | None = None,
    item_ids: list[str] | None = None,
    limit: int | None = None,
    after: Cursor | None = None,
) -> list[ItemSummary]:
    """Items newest first (by creation time, then newest row; items without a creation time
    last), at most `limit`, starting after `after`. Two index range reads at most: the dated
    items, then the undated ones once the dated run out."""
    return [summary for summary, _ in _page(
        s, account=account, account_pks=account_pks, kind=kind, deleted=deleted, edited=edited,
        parent_id=parent_id, item_ids=item_ids, limit=limit, after=after)]


def list_page(s: Session, *, limit: int, after: Cursor | None = None,
              **filters: Any) -> tuple[list[ItemSummary], Cursor | None]:
    """One page and the cursor of the next one (None: this was the last page)."""
    rows = _page(s, limit=limit + 1, after=after, **filters)
    more = len(rows) > limit
    rows = rows[:limit]
    return [summary for summary, _ in rows], (rows[-1][1] if more and rows else None)


def _page(s: Session, *, limit: int | None, after: Cursor | None,
          **filters: Any) -> list[tuple[ItemSummary, Cursor]]:
    out: list[tuple[ItemSummary, Cursor]] = []
    if after is None or after.created_at is not None:
        dated = _items_query(**filters).where(t.Item.created_at.is_not(None))
        if after is not None:
            dated = dated.where(tuple_(t.Item.created_at, t.Item.id) < tuple_(
                literal(after.created_at, t.Item.created_at.type), literal(after.pk)))
        dated = dated.order_by(t.Item.created_at.desc(), t.Item.id.desc())
        out += _summaries(s, dated.limit(limit) if limit else dated)
    if limit is None or len(out) < limit:
        undated = _items_query(**filters).where(t.Item.created_at.is_(None))
        if after is not None and after.created_at is None:
            undated = undated.where(t.Item.id < after.pk)
        undated = undated.order_by(t.Item.id.desc())
        out += _summaries(s, undated.limit(limit - len(out)) if limit else undated)
    return out


def _summaries(s: Session, query: Select[Any]) -> list[tuple[ItemSummary, Cursor]]:
    return [
        (ItemSummary(
            id=item.item_id,
            platform=item.platform,
            account=f"{acc.platform}:{acc.account_id}",
            kind=item.kind,
            parent_id=item.parent_id,
            created_at=_iso(item.created_at),
            first_seen_at=_iso(item.first_seen_at) or "",
            deleted=item.deleted_at is not None,
            versions=int(item.version_count),
            text=text or "",
        ), Cursor(item.created_at, item.id))
        for item, acc, text in s.execute(query)
    ]


def count_items(s: Session, **filters: Any) -> int:
    """How many items `list_items` would give without a limit (same filters). Reads every
    matching row's index entry: for scripts and tests, not for a listing's page."""
    return int(s.scalar(select(func.count()).select_from(_items_query(**filters).subquery())) or 0)


def _items_query(
    *,
    account: str | None = None,
    account_pks: list[int] | None = None,
    kind: str | None = None,
    deleted: bool | None = None,
    edited: bool | None = None,
    parent_id: str | None = None,
    item_ids: list[str] | None = None,
) -> Select[Any]:
    # The newest version is joined by the id the indexer keeps on the item: one primary-key
    # lookup per listed row, no aggregate over item_versions (issue 13).
    query = cast("Select[Any]", (
        select(t.Item, t.Account, t.ItemVersion.text)
        .join(t.Account, t.Account.id == t.Item.account_pk)
        .outerjoin(t.ItemVersion, t.ItemVersion.id == t.Item.latest_version_pk)
    ))
    if account:
        chosen = select(t.Account.id).where(
            (t.Account.account_id == account)
            | (t.Account.name == account)
            | ((t.Account.platform + ":" + t.Account.account_id) == account)
        )
        query = query.where(t.Item.account_pk.in_(chosen.scalar_subquery()))
    if kind:
        query = query.where(t.Item.kind == kind)
    if deleted is not None:
        query = query.where(t.Item.deleted_at.is_not(None) if deleted else t.Item.deleted_at.is_(None))
    if edited is not None:
        query = query.where(t.Item.version_count > 1 if edited else t.Item.version_count == 1)
    if account_pks is not None:
        query = query.where(t.Item.account_pk.in_(account_pks))
    if parent_id is not None:
        query = query.where(t.Item.parent_id == parent_id)
    if item_ids is not None:
        query = query.where(t.Item.item_id.in_(item_ids))
    return query


def item_detail(s: Session, item_id: str) -> ItemDetail:
    """One item as `items show` prints it, in three statements at most whatever the item holds
    (issue 13: it took eleven, one round trip each on PostgreSQL): the item with its account,
    tombstone, retention, observation count and every version in one joined query; its media
    captures (only if a version has media); the last fixity check of its evidence files."""
    from archiver.catalog.retention_tables import ItemRetention

    observations = (select(func.count()).where(t.Observation.item_pk == t.Item.id)
                    .correlate(t.Item).scalar_subquery())
    first = (select(t.Item.id).where(t.Item.item_id == item_id)  # ix_items_item_id
             .order_by(t.Item.id).limit(1).scalar_subquery())
    rows = s.execute(
        select(t.Item, t.Account, t.Tombstone, ItemRetention, observations, t.ItemVersion)
        .outerjoin(t.Account, t.Account.id == t.Item.account_pk)
        .outerjoin(t.Tombstone, t.Tombstone.item_pk == t.Item.id)
        .outerjoin(ItemRetention, ItemRetention.item_pk == t.Item.id)
        .outerjoin(t.ItemVersion, t.ItemVersion.item_pk == t.Item.id)
        .where(t.Item.id == first)
        .order_by(t.ItemVersion.version_no)
    ).all()
    if not rows:
        raise ArchiverError(f"No captured item has the id '{item_id}'; see 'archiver items list'")
    item, account, tomb, retention_row, observations_count, _ = rows[0]
    version_rows = [row[5] for row in rows if row[5] is not None]
    versions = [
        VersionView(
            version=v.version_no,
            observed_at=v.observed_at.isoformat(),
            content_sha256=v.content_sha256,
            text=v.text,
            author=v.author,
            url=v.url,
            warc={
                "file": v.warc_file,
                "offset": v.warc_offset,
                "length": v.warc_length,
                "record_id": v.warc_record_id,
            },
        )
        for v in version_rows
    ]
    tombstone = None
    if tomb is not None:
        tombstone = {
            "detected_at": tomb.detected_at.isoformat(),
            "reason": tomb.reason,
            "detail": tomb.detail,
            "evidence": {
                "file": tomb.evidence_file,
                "offset": tomb.evidence_offset,
                "length": tomb.evidence_length,
                "record_id": tomb.evidence_record_id,
            },
            "metadata_record_id": tomb.metadata_record_id,
            "last_good_record_id": tomb.last_good_record_id,
        }
    media_keys = {m["media_key"] for v in version_rows for m in (v.media or [])}
    media = []
    if media_keys:
        for m in s.scalars(select(t.MediaCapture).where(t.MediaCapture.media_key.in_(media_keys))):
            media.append({"url": m.url, "status": m.status, "size": m.size,
                          "file": m.warc_file, "offset": m.warc_offset, "length": m.warc_length})
    summary = ItemSummary(
        id=item.item_id,
        platform=item.platform,
        account=f"{account.platform}:{account.account_id}" if account else "",
        kind=item.kind,
        parent_id=item.parent_id,
        created_at=_iso(item.created_at),
        first_seen_at=item.first_seen_at.isoformat(),
        deleted=item.deleted_at is not None,
        versions=len(versions),
        text=versions[-1].text if versions else "",
    )
    files = [v.warc["file"] for v in versions] + [m["file"] for m in media]
    files += [tomb.evidence_file] if tomb is not None else []
    evidence_files = {f for f in files if isinstance(f, str) and f}
    retention = None
    if retention_row is not None:
        retention = {"state": retention_row.state, "series": retention_row.series, "rule": retention_row.rule,
                     "flagged": retention_row.flagged, "retain_until": _iso(retention_row.retain_until),
                     "waits_for": retention_row.waits_for}
    return ItemDetail(summary, versions, tombstone, int(observations_count or 0), media,
                      failed_fixity=failed_fixity(s, evidence_files), retention=retention)


def item_thread(s: Session, summary: ItemSummary) -> tuple[ItemSummary | None, list[ItemSummary]]:
    """The item `summary` answers (same platform) and the items that answer it, oldest first,
    in one statement (through ix_items_item_id and the parent_id index)."""
    around = t.Item.parent_id == summary.id
    if summary.parent_id:
        around = or_(around, t.Item.item_id == summary.parent_id)
    # The platform is compared here, not in SQL: a platform condition there makes SQLite read
    # the thread through the (platform, item_id) index, i.e. every item of that platform.
    rows = [row for row, _ in _summaries(s, _items_query().where(around).order_by(t.Item.id))
            if row.platform == summary.platform]
    parent = next((r for r in rows if summary.parent_id and r.id == summary.parent_id), None)
    replies = [r for r in rows if r.parent_id == summary.id and r is not parent]
    replies.sort(key=lambda r: (r.created_at or "", r.id))
    return parent, replies


def counts(s: Session) -> dict[str, int]:
    def n(query: Any) -> int:
        return int(s.scalar(query) or 0)

    return {
        "accounts": n(select(func.count()).select_from(t.Account)),
        "posts": n(select(func.count()).where(t.Item.kind == "post")),
        "comments": n(select(func.count()).where(t.Item.kind == "comment")),
        "replies": n(select(func.count()).where(t.Item.kind == "reply")),
        "other_items": n(select(func.count()).where(t.Item.kind.not_in(("post", "comment", "reply")))),
        "edited_items": n(select(func.count()).where(t.Item.version_count > 1)),
        "edits": n(select(func.count()).select_from(t.ItemVersion)) - n(select(func.count()).select_from(t.Item)),
        "deletions": n(select(func.count()).select_from(t.Tombstone)),
        "media": n(select(func.count()).select_from(t.MediaCapture)),
        "warc_files": n(select(func.count()).select_from(t.WarcFile)),
        "warnings": n(select(func.count()).select_from(t.CaptureWarning)),
    }
