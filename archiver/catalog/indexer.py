"""Turn the records of one sealed WARC into catalog rows.

This is the only code that writes items, versions, observations, tombstones, media and
warnings. Live capture and `catalog rebuild` both call it, so the live catalog and a rebuilt
one agree by construction; the tests check that they do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.catalog import search as search_index
from archiver.catalog import tables as t
from archiver.catalog.queries import latest_versions
from archiver.core.errors import CatalogError
from archiver.core.models import AccountRef, Item, ParseWarning, media_key
from archiver.warc.fields import (
    INFO_ACCOUNT,
    INFO_ACCOUNT_NAME,
    INFO_API_BASE,
    INFO_PLATFORM,
    INFO_ROLE,
    INFO_RUN,
    OBSERVATION,
    PURPOSE_HEADER,
    split_location,
)
from archiver.warc.reader import Record
from connectors.base import Connector, parse_guarded


@dataclass
class IndexStats:
    new_items: int = 0
    new_versions: int = 0
    observations: int = 0
    tombstones: int = 0
    media: int = 0
    warnings: int = 0
    item_ids: set[str] = field(default_factory=set)
    tombstoned_ids: set[str] = field(default_factory=set)


# (session, account row id, platform item ids the WARC touched) -> None
AfterIndex = Callable[[Session, int, set[str]], None]


@dataclass(frozen=True, slots=True)
class WarcFacts:
    """What the pipeline knows about a sealed WARC besides its records."""

    name: str
    size: int
    sha256: str
    store_key: str
    stored_at: datetime
    object_size: int | None = None
    object_sha256: str | None = None
    key_id: str | None = None
    wrapped_key: bytes | None = None


class WarcIndexer:
    def __init__(self, session: Session, connector_for: Callable[[str], Connector],
                 after_index: AfterIndex | None = None) -> None:
        self.session = session
        self.connector_for = connector_for
        self.after_index = after_index
        self._cache: dict[str, list] = {}  # item_id -> [Item, latest ItemVersion]
        self._observed: set[str] = set()

    def index(
        self, name: str, records: Iterable[Record], facts: Callable[[], WarcFacts]
    ) -> IndexStats:
        """Index `records` of the WARC `name`; `facts` is asked only after the last record,
        so a caller streaming the file can hand over the digest it computed on the way."""
        s = self.session
        if s.scalar(select(t.WarcFile.id).where(t.WarcFile.name == name)) is not None:
            return IndexStats()  # already indexed: indexing is idempotent
        stats = IndexStats()
        it = iter(records)
        first = next(it, None)
        if first is None or first.rec_type != "warcinfo":
            raise CatalogError(f"{name} does not start with a warcinfo record; not indexed")
        info = first.warc_fields()
        platform, account_id = info.get(INFO_PLATFORM, ""), info.get(INFO_ACCOUNT, "")
        if not platform or not account_id:
            raise CatalogError(f"{name} was not written by this archiver; not indexed")
        account = self._account(info, first.date)
        run_id = info.get(INFO_RUN, name)
        run = s.get(t.CaptureRun, run_id)
        if run is None:
            run = t.CaptureRun(
                id=run_id, account_pk=account.id, started_at=first.date, status="recovered"
            )
            s.add(run)
        self._preload(account.id, run_id)
        connector = self.connector_for(platform)
        ref = AccountRef(
            platform, account_id, account.name, info.get(INFO_API_BASE, ""), account.role
        )
        records_count = 1
        last_date = first.date
        with s.no_autoflush:
            for record in it:
                records_count += 1
                last_date = record.date
                if record.rec_type == "response":
                    if record.headers.get(PURPOSE_HEADER) == "media":
                        self._media(record)
                        stats.media += 1
                        continue
                    # A parser bug quarantines this response (a coded warning), never the WARC.
                    parsed_all = list(parse_guarded(connector, ref, record.exchange()))
                    self._load_missing(
                        platform, [p.item_id for p in parsed_all if isinstance(p, Item)]
                    )
                    for parsed in parsed_all:
                        if isinstance(parsed, ParseWarning):
                            self._warning(run_id, parsed, record)
                            stats.warnings += 1
                        else:
                            self._item(account, run_id, parsed, record, stats)
                elif record.rec_type == "metadata":
                    fields = record.warc_fields()
                    is_deletion = fields.get(OBSERVATION) == "deleted"
                    if is_deletion and self._tombstone(platform, fields, record):
                        stats.tombstones += 1
                        stats.tombstoned_ids.add(fields["item-id"])
        known = facts()
        s.add(
            t.WarcFile(
                name=name,
                run_id=run_id,
                account_pk=account.id,
                size=known.size,
                sha256=known.sha256,
                records=records_count,
                first_date=first.date,
                last_date=last_date,
                store_key=known.store_key,
                stored_at=known.stored_at,
                object_size=known.object_size,
                object_sha256=known.object_sha256,
                key_id=known.key_id,
                wrapped_key=known.wrapped_key,
            )
        )
        fresh = [row for row in s.new if isinstance(row, t.ItemVersion)]
        s.flush()
        search_index.add_versions(s, fresh)  # full-text search over every version (catalog/search.py)
        self._after_index(account.id, stats)
        return stats

    def _after_index(self, account_pk: int, stats: IndexStats) -> None:
        """Retention hook: classify what this WARC touched, in the same transaction
        (archiver.retention.classify.index_hook); kept apart from the indexing above."""
        if self.after_index is not None:
            self.after_index(self.session, account_pk, stats.item_ids | stats.tombstoned_ids)

    # --- rows ------------------------------------------------------------------------------

    def _account(self, info: dict[str, str], when: datetime) -> t.Account:
        platform, account_id = info[INFO_PLATFORM], info[INFO_ACCOUNT]
        account = self.session.scalar(
            select(t.Account).where(
                t.Account.platform == platform, t.Account.account_id == account_id
            )
        )
        if account is None:
            # Rebuilding from WARCs alone: the registration is recreated without its token.
            account = t.Account(
                platform=platform,
                account_id=account_id,
                name=info.get(INFO_ACCOUNT_NAME, ""),
                role=info.get(INFO_ROLE, ""),
                api_base=info.get(INFO_API_BASE, ""),
                token_ref="",
                status="rebuilt",
                status_message="recreated from WARCs; set a token with 'accounts add --replace'",
                created_at=when,
            )
            self.session.add(account)
            self.session.flush()
        return account

    def _item(
        self, account: t.Account, run_id: str, item: Item, record: Record, stats: IndexStats
    ) -> None:
        s = self.session
        when = record.date
        entry = self._cache.get(item.item_id)
        if entry is None:
            latest = None
            row = t.Item(
                account_pk=account.id,
                platform=item.platform,
                item_id=item.item_id,
                kind=str(item.kind),
                parent_id=item.parent_id,
                created_at=item.created_at,
                first_seen_at=when,
                last_seen_at=when,
            )
            s.add(row)
            stats.new_items += 1
            entry = self._cache[item.item_id] = [row, latest]
        row, latest = entry
        row.last_seen_at = max(row.last_seen_at, when)
        if item.signal is not None and row.signal != item.signal:
            row.signal = item.signal
        digest = item.content_sha256
        if latest is None or latest.content_sha256 != digest:
            latest = t.ItemVersion(
                item=row,
                version_no=(latest.version_no + 1) if latest else 1,
                content_sha256=digest,
                content=item.content,
                media=[
                    {
                        "url": m.url,
                        "media_key": media_key(m.url),
                        "kind": m.kind,
                        "media_id": m.media_id,
                    }
                    for m in item.media
                ],
                text=item.text,
                author=item.author,
                url=item.url,
                observed_at=when,
                warc_file=record.pointer.filename,
                warc_offset=record.pointer.offset,
                warc_length=record.pointer.length,
                warc_record_id=record.pointer.record_id,
            )
            s.add(latest)
            entry[1] = latest
            stats.new_versions += 1
        if item.item_id not in self._observed:
            self._observed.add(item.item_id)
            s.add(
                t.Observation(
                    run_id=run_id,
                    item=row,
                    version=latest,
                    observed_at=when,
                    warc_file=record.pointer.filename,
                    warc_offset=record.pointer.offset,
                    warc_length=record.pointer.length,
                )
            )
            stats.observations += 1
        stats.item_ids.add(item.item_id)

    def _load_missing(self, platform: str, item_ids: list[str]) -> None:
        """Items not in the account's preload (seen under another account): one IN query."""
        missing = [i for i in item_ids if i not in self._cache]
        if not missing:
            return
        for row in self.session.scalars(
            select(t.Item).where(t.Item.platform == platform, t.Item.item_id.in_(missing))
        ):
            self._cache[row.item_id] = [row, row.versions[-1] if row.versions else None]

    def _preload(self, account_pk: int, run_id: str) -> None:
        """One query for the account's items and their latest versions, not three per item."""
        s = self.session
        rows = latest_versions(s, account_pk)
        self._cache = {item.item_id: [item, version] for item, version in rows}
        self._observed = set(
            s.scalars(
                select(t.Item.item_id)
                .join(t.Observation, t.Observation.item_pk == t.Item.id)
                .where(t.Observation.run_id == run_id)
            )
        )

    def _tombstone(self, platform: str, fields: dict[str, str], record: Record) -> bool:
        s = self.session
        cached = self._cache.get(fields["item-id"])
        item = (
            cached[0]
            if cached
            else s.scalar(
                select(t.Item).where(
                    t.Item.platform == platform, t.Item.item_id == fields["item-id"]
                )
            )
        )
        if item is None or item.deleted_at is not None:
            return False
        evidence = fields.get("evidence-record-id", "")
        ev_file, ev_offset, ev_length = split_location(fields.get("evidence-location", ""))
        s.add(
            t.Tombstone(
                item=item,
                detected_at=record.date,
                reason=fields.get("reason", "deleted"),
                detail=fields.get("detail", ""),
                evidence_file=ev_file or record.pointer.filename,
                evidence_offset=ev_offset,
                evidence_length=ev_length,
                evidence_record_id=evidence,
                metadata_record_id=record.pointer.record_id,
                last_good_record_id=record.headers.get("WARC-Refers-To", ""),
            )
        )
        item.deleted_at = record.date
        return True

    def _media(self, record: Record) -> None:
        self.session.add(
            t.MediaCapture(
                url=record.target_uri,
                media_key=media_key(record.target_uri),
                status=record.http_status,
                content_type=dict((k.lower(), v) for k, v in record.http_headers).get(
                    "content-type", ""
                ),
                size=record.size,  # media bodies are streamed past, not kept
                truncated="WARC-Truncated" in record.headers,
                observed_at=record.date,
                warc_file=record.pointer.filename,
                warc_offset=record.pointer.offset,
                warc_length=record.pointer.length,
                warc_record_id=record.pointer.record_id,
            )
        )

    def _warning(self, run_id: str, warning: ParseWarning, record: Record) -> None:
        self.session.add(
            t.CaptureWarning(
                run_id=run_id,
                code=warning.code,
                message=warning.message,
                item_id=warning.item_id,
                warc_file=record.pointer.filename,
                warc_offset=record.pointer.offset,
                warc_length=record.pointer.length,
                created_at=record.date,
            )
        )
