"""Read-side queries for the CLI and exports: plain dataclasses out, no ORM objects leak."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from archiver.catalog import tables as t
from archiver.core.errors import ArchiverError


@dataclass(frozen=True)
class ItemSummary:
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
class VersionView:
    version: int
    observed_at: str
    content_sha256: str
    text: str
    author: str
    url: str
    warc: dict[str, Any]


@dataclass(frozen=True)
class ItemDetail:
    summary: ItemSummary
    versions: list[VersionView]
    tombstone: dict[str, Any] | None
    observations: int
    media: list[dict[str, Any]] = field(default_factory=list)
    # The thread around the item: what it answers, and the answers to it (oldest first).
    parent: ItemSummary | None = None
    replies: list[ItemSummary] = field(default_factory=list)
    # WARC name -> its last fixity check, for each WARC this item's evidence is in whose last
    # check failed: that evidence must be restored from a replica before it is relied on.
    failed_fixity: dict[str, dict[str, Any]] = field(default_factory=dict)
    # series, rule, flagged, retain_until, waits_for (see archiver/retention); None: unclassified
    retention: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary.as_dict(),
            "observations": self.observations,
            "version_history": [asdict(v) for v in self.versions],
            "tombstone": self.tombstone,
            "media": self.media,
            "parent": self.parent.as_dict() if self.parent else None,
            "replies": [r.as_dict() for r in self.replies],
            "failed_fixity": self.failed_fixity,
            "retention": self.retention,
        }


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


def known_items(s: Session, account_pk: int) -> list[KnownRow]:
    """The account's live items with their newest version's hash and record id: only this
    account's rows, read through ix_items_account_created, no ORM objects (issue 13)."""
    rows = s.execute(
        select(t.Item.item_id, t.Item.kind, t.Item.parent_id, t.ItemVersion.content_sha256,
               t.ItemVersion.warc_record_id, t.Item.created_at)
        .join(t.ItemVersion, t.ItemVersion.id == t.Item.latest_version_pk)
        .where(t.Item.account_pk == account_pk, t.Item.deleted_at.is_(None))
    )
    return [KnownRow(*row) for row in rows]


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
) -> list[ItemSummary]:
    query = _items_query(account=account, account_pks=account_pks, kind=kind, deleted=deleted,
                         edited=edited, parent_id=parent_id, item_ids=item_ids)
    if limit:
        query = query.limit(limit)
    return [
        ItemSummary(
            id=item.item_id,
            platform=item.platform,
            account=f"{acc.platform}:{acc.account_id}",
            kind=item.kind,
            parent_id=item.parent_id,
            created_at=_iso(item.created_at),
            first_seen_at=_iso(item.first_seen_at) or "",
            deleted=item.deleted_at is not None,
            versions=int(n),
            text=text or "",
        )
        for item, acc, n, text in s.execute(query)
    ]


def count_items(s: Session, **filters: Any) -> int:
    """How many items `list_items` would give without a limit (same filters)."""
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
    counts = (
        select(
            t.ItemVersion.item_pk,
            func.count().label("n"),
            func.max(t.ItemVersion.version_no).label("latest"),
        )
        .group_by(t.ItemVersion.item_pk)
        .subquery()
    )
    query = (
        select(t.Item, t.Account, counts.c.n, t.ItemVersion.text)
        .join(t.Account, t.Account.id == t.Item.account_pk)
        .join(counts, counts.c.item_pk == t.Item.id)
        .join(
            t.ItemVersion,
            (t.ItemVersion.item_pk == t.Item.id) & (t.ItemVersion.version_no == counts.c.latest),
        )
        .order_by(t.Item.created_at.desc(), t.Item.id)
    )
    if account:
        query = query.where(
            (t.Account.account_id == account)
            | (t.Account.name == account)
            | ((t.Account.platform + ":" + t.Account.account_id) == account)
        )
    if kind:
        query = query.where(t.Item.kind == kind)
    if deleted is not None:
        query = query.where(t.Item.deleted_at.is_not(None) if deleted else t.Item.deleted_at.is_(None))
    if edited is not None:
        query = query.where(counts.c.n > 1 if edited else counts.c.n == 1)
    if account_pks is not None:
        query = query.where(t.Item.account_pk.in_(account_pks))
    if parent_id is not None:
        query = query.where(t.Item.parent_id == parent_id)
    if item_ids is not None:
        query = query.where(t.Item.item_id.in_(item_ids))
    return query


def item_detail(s: Session, item_id: str) -> ItemDetail:
    rows = list(s.scalars(select(t.Item).where(t.Item.item_id == item_id)))
    if not rows:
        raise ArchiverError(f"No captured item has the id '{item_id}'; see 'archiver items list'")
    item = rows[0]
    account = s.get(t.Account, item.account_pk)
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
        for v in item.versions
    ]
    tomb = item.tombstone
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
    observations = s.scalar(select(func.count()).where(t.Observation.item_pk == item.id)) or 0
    media_keys = {m["media_key"] for v in item.versions for m in (v.media or [])}
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
    return ItemDetail(summary, versions, tombstone, int(observations), media,
                      failed_fixity=failed_fixity(s, evidence_files),
                      retention=_retention(s, item.id))


def _retention(s: Session, item_pk: int) -> dict[str, Any] | None:
    from archiver.catalog.retention_tables import ItemRetention

    row = s.get(ItemRetention, item_pk)
    if row is None:
        return None
    return {"state": row.state, "series": row.series, "rule": row.rule, "flagged": row.flagged,
            "retain_until": _iso(row.retain_until), "waits_for": row.waits_for}


def counts(s: Session) -> dict[str, int]:
    def n(query: Any) -> int:
        return int(s.scalar(query) or 0)

    edited = (
        select(t.ItemVersion.item_pk)
        .group_by(t.ItemVersion.item_pk)
        .having(func.count() > 1)
        .subquery()
    )
    return {
        "accounts": n(select(func.count()).select_from(t.Account)),
        "posts": n(select(func.count()).where(t.Item.kind == "post")),
        "comments": n(select(func.count()).where(t.Item.kind == "comment")),
        "replies": n(select(func.count()).where(t.Item.kind == "reply")),
        "other_items": n(select(func.count()).where(t.Item.kind.not_in(("post", "comment", "reply")))),
        "edited_items": n(select(func.count()).select_from(edited)),
        "edits": n(select(func.count()).select_from(t.ItemVersion)) - n(select(func.count()).select_from(t.Item)),
        "deletions": n(select(func.count()).select_from(t.Tombstone)),
        "media": n(select(func.count()).select_from(t.MediaCapture)),
        "warc_files": n(select(func.count()).select_from(t.WarcFile)),
        "warnings": n(select(func.count()).select_from(t.CaptureWarning)),
    }
