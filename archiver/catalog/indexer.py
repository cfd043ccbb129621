"""Turn the records of one sealed WARC into catalog rows.

This is the only code that writes items, versions, observations, tombstones, media and
warnings. Live capture and `catalog rebuild` both call it, so the live catalog and a rebuilt
one agree by construction; the tests check that they do. The two differ only in where the
records come from: rebuild (and the spool sweep) reads the stored WARC back; live capture
hands over the records as the writer wrote them (archiver.warc.journal), so nothing is
decrypted or re-read after it is stored.

Rows are written with SQLAlchemy Core executemany, a few statements per WARC whatever its
size (issue 13): the account's items are loaded once through its index, new rows are kept as
plain dicts, and items carry their latest version and version count so that no reader has to
aggregate item_versions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, insert, literal, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from archiver.catalog import late
from archiver.catalog import search as search_index
from archiver.catalog import tables as t
from archiver.catalog.payloads import PayloadRows
from archiver.core.errors import CatalogError
from archiver.core.models import AccountRef, Item, ParseWarning, media_key
from archiver.warc import revisit
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
from connectors.base import Connector, ParseMemo, parse_guarded, remembered_parse


@dataclass
class IndexStats:
    new_items: int = 0
    new_versions: int = 0
    observations: int = 0
    tombstones: int = 0
    media: int = 0
    warnings: int = 0
    # Items whose retention facts may have moved: new, a new version, or a late sighting (first
    # seen earlier); tombstoned_ids holds the deleted. An item only seen again, unchanged, is in neither: its
    # classification cannot change (last_seen_at is no input of it), and classifying every
    # re-read item was about 7% of an idle daemon's CPU.
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


_TABLES = t.Base.metadata.tables
_ITEMS = _TABLES["items"]
_BATCH = 2000  # parsed items held before their unknown ids are looked up together


@dataclass(slots=True)
class _Version:
    """A version written by this WARC: its row, and its id once inserted."""

    values: dict[str, Any]
    pk: int | None = None


@dataclass(slots=True)
class _State:
    """What the indexer knows of one item while it indexes a WARC."""

    item_id: str
    pk: int | None  # None: new in this WARC, inserted at the end
    last_seen_at: datetime
    deleted_at: datetime | None
    latest_sha: str | None
    version_no: int
    version_count: int
    latest_pk: int | None
    signal: str | None = None
    new_row: dict[str, Any] | None = None
    latest_new: _Version | None = None  # the newest version, when this WARC wrote it
    dirty: bool = False

    def version_ref(self) -> _Version | int | None:
        return self.latest_new if self.latest_new is not None else self.latest_pk


@dataclass(frozen=True, slots=True)
class _AccountRow:
    id: int
    name: str
    role: str


class WarcIndexer:
    def __init__(self, session: Session, connector_for: Callable[[str], Connector],
                 after_index: AfterIndex | None = None) -> None:
        self.session = session
        self.connector_for = connector_for
        self.after_index = after_index
        self._cache: dict[str, _State] = {}
        self._observed: set[str] = set()
        self._versions: list[tuple[_State, _Version]] = []
        self._observations: list[tuple[_State, _Version | int | None, dict[str, Any]]] = []
        self._tombstones: list[tuple[_State, dict[str, Any]]] = []
        self._media_rows: list[dict[str, Any]] = []
        self._warnings: list[dict[str, Any]] = []
        # Items known from a later sighting than this WARC's (an earlier capture indexed late):
        # placed by capture time after the rows are written (archiver/catalog/late.py).
        self._late: list[late.LatePoint] = []
        self._late_stones: list[late.LateTombstone] = []

    def index(
        self, name: str, records: Iterable[Record], facts: Callable[[], WarcFacts],
        media_sizes: Mapping[str, int] | None = None, parsed: ParseMemo | None = None,
        new_run: bool = False, known_account: tuple[int, str, str] | None = None,
    ) -> IndexStats:
        """Index `records` of the WARC `name`; `facts` is asked only after the last record,
        so a caller streaming the file can hand over the digest it computed on the way.

        `media_sizes` (record id -> body size) is for records whose media body the caller did
        not keep (the capture journal); a record read back from a WARC has its body.
        `parsed`: what the capture's harvest already parsed, by record id (used only for the
        identical response; connectors.base.remembered_parse). `new_run`: the run's row exists
        and no record of the run is indexed yet (a live poll's first WARC): two lookups fewer,
        and a third: no WARC of a run that has indexed nothing can be indexed already (were a
        name ever reused, the warc_files row's unique name would fail the transaction, and the
        spool copy would stay for the sweep). `known_account`: the account's (id, name, role) as the
        poll read them from the catalog in its opening transaction (one lookup fewer, issue 14)."""
        s = self.session
        if not new_run and s.scalar(select(t.WarcFile.id).where(t.WarcFile.name == name)) is not None:
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
        account = (_AccountRow(*known_account) if known_account is not None
                   else self._account(info, first.date))
        run_id = info.get(INFO_RUN, name)
        if not new_run and s.scalar(select(t.CaptureRun.id).where(t.CaptureRun.id == run_id)) is None:
            s.add(t.CaptureRun(id=run_id, account_pk=account.id, started_at=first.date, status="recovered"))
        self._preload(account.id, run_id, new_run)
        connector = self.connector_for(platform)
        ref = AccountRef(
            platform, account_id, account.name, info.get(INFO_API_BASE, ""), account.role
        )
        records_count = 1
        last_date = first.date
        sizes = media_sizes or {}
        payloads = PayloadRows(s, account.id)
        # Parsed responses wait here (in order) so that the items no preload knew are looked
        # up in one query per batch, not one per response.
        pending: list[tuple[Record, list[Item | ParseWarning]]] = []
        waiting = 0
        for record in it:
            records_count += 1
            last_date = record.date
            payloads.record(record, sizes.get(record.pointer.record_id, record.size))
            if record.rec_type == "revisit" and not revisit.is_resolved(record):
                self._unresolved_revisit(run_id, record)
                stats.warnings += 1
                continue
            if record.rec_type in ("response", "revisit"):  # a revisit: seen again, unchanged
                if record.headers.get(PURPOSE_HEADER) == "media":
                    size = sizes.get(record.pointer.record_id)
                    self._media(account.id, record, record.size if size is None else size)
                    stats.media += 1
                    continue
                # A parser bug quarantines this response (a coded warning), never the WARC.
                exchange = record.exchange()
                again = remembered_parse(parsed, ref, exchange)
                parsed_all = list(again) if again is not None else list(parse_guarded(connector, ref, exchange))
                pending.append((record, parsed_all))
                waiting += len(parsed_all)
                if waiting >= _BATCH:
                    self._drain(platform, account.id, run_id, pending, stats)
                    waiting = 0
            elif record.rec_type == "metadata":
                self._drain(platform, account.id, run_id, pending, stats)  # deletions follow items
                waiting = 0
                fields = record.warc_fields()
                is_deletion = fields.get(OBSERVATION) == "deleted"
                if is_deletion and self._tombstone(platform, fields, record):
                    stats.tombstones += 1
                    stats.tombstoned_ids.add(fields["item-id"])
        self._drain(platform, account.id, run_id, pending, stats)
        known = facts()
        s.flush()  # the account and run rows, before the bulk statements that follow
        fresh = self._write_rows()
        fresh += late.place(s, self._late, self._late_stones)
        s.execute(insert(_TABLES["warc_files"]), [dict(
            name=name, run_id=run_id, account_pk=account.id, size=known.size, sha256=known.sha256,
            records=records_count, first_date=first.date, last_date=last_date,
            store_key=known.store_key, stored_at=known.stored_at, object_size=known.object_size,
            object_sha256=known.object_sha256, key_id=known.key_id, wrapped_key=known.wrapped_key,
        )])
        search_index.add_version_rows(s, fresh)  # full-text search over every version (catalog/search.py)
        self._after_index(account.id, stats)
        return stats

    def _drain(self, platform: str, account_pk: int, run_id: str,
               pending: list[tuple[Record, list[Item | ParseWarning]]], stats: IndexStats) -> None:
        """Index the waiting responses in file order, after one lookup of their unknown items."""
        if not pending:
            return
        self._load_missing(platform, [p.item_id for _, parsed in pending for p in parsed if isinstance(p, Item)])
        for record, parsed_all in pending:
            for parsed in parsed_all:
                if isinstance(parsed, ParseWarning):
                    self._warning(run_id, parsed, record)
                    stats.warnings += 1
                else:
                    self._item(account_pk, run_id, parsed, record, stats)
        pending.clear()

    def _after_index(self, account_pk: int, stats: IndexStats) -> None:
        """Retention hook: classify what this WARC touched, in the same transaction
        (archiver.retention.classify.index_hook); kept apart from the indexing above."""
        if self.after_index is not None:
            self.after_index(self.session, account_pk, stats.item_ids | stats.tombstoned_ids)

    # --- rows ------------------------------------------------------------------------------

    def _account(self, info: dict[str, str], when: datetime) -> _AccountRow | t.Account:
        """The account's id, name and role (three columns, not an ORM load: issue 14)."""
        platform, account_id = info[INFO_PLATFORM], info[INFO_ACCOUNT]
        found = self.session.execute(
            select(t.Account.id, t.Account.name, t.Account.role).where(
                t.Account.platform == platform, t.Account.account_id == account_id
            )
        ).first()
        if found is not None:
            return _AccountRow(found[0], found[1], found[2])
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
        self, account_pk: int, run_id: str, item: Item, record: Record, stats: IndexStats
    ) -> None:
        when = record.date
        state = self._cache.get(item.item_id)
        if state is not None and state.pk is not None and when < state.last_seen_at:
            self._late.append(late.LatePoint(state.pk, when, _version_values(item, record), None if (
                item.item_id in self._observed) else _observation(run_id, record)))
            self._observed.add(item.item_id)
            stats.item_ids.add(item.item_id)
            return
        signal = item.signal
        if state is None:
            state = self._cache[item.item_id] = _State(
                item.item_id, None, when, None, None, 0, 0, None, signal=signal,
                new_row=dict(
                    account_pk=account_pk, platform=item.platform, item_id=item.item_id,
                    kind=str(item.kind), parent_id=item.parent_id, created_at=item.created_at,
                    first_seen_at=when, last_seen_at=when, version_count=0,
                ),
                dirty=True,
            )
            stats.new_items += 1
        if when > state.last_seen_at:
            state.last_seen_at, state.dirty = when, True
        if signal is not None and signal != state.signal:
            state.signal, state.dirty = signal, True
        digest = item.content_sha256
        if state.latest_sha != digest:
            version = _Version(dict(version_no=state.version_no + 1, **_version_values(item, record)))
            self._versions.append((state, version))
            state.latest_sha, state.latest_new = digest, version
            state.version_no += 1
            state.version_count += 1
            state.dirty = True
            stats.new_versions += 1
            stats.item_ids.add(item.item_id)
        if item.item_id not in self._observed:
            self._observed.add(item.item_id)
            self._observations.append((state, state.version_ref(), _observation(run_id, record)))
            stats.observations += 1

    _COLUMNS = (
        t.Item.id, t.Item.item_id, t.Item.last_seen_at, t.Item.deleted_at, t.Item.version_count,
        t.Item.latest_version_pk, t.ItemVersion.version_no, t.ItemVersion.content_sha256,
    )

    def _states(self, where: Any) -> Iterable[_State]:
        """Item states for the items matching `where`, with their latest version: one
        index-driven query (the latest version is found by its id, kept on the item)."""
        query = (
            select(*self._COLUMNS, t.Item.signal)
            .outerjoin(t.ItemVersion, t.ItemVersion.id == t.Item.latest_version_pk)
            .where(where)
        )
        return self._to_states(self.session.execute(query))

    @staticmethod
    def _to_states(rows: Iterable[Any]) -> Iterable[_State]:
        for row in rows:
            yield _State(
                row[1], row[0], row[2], row[3], row[7], row[6] or 0, row[4], row[5],
                signal=row[8],
            )

    def _load_missing(self, platform: str, item_ids: list[str]) -> None:
        """Items not in the account's preload (seen under another account): one query per
        500 ids, each id looked up through the (platform, item_id) unique index."""
        missing = sorted({i for i in item_ids if i not in self._cache})
        postgres = self.session.get_bind().dialect.name == "postgresql"
        for start in range(0, len(missing), 500):  # bounded statements
            chunk = missing[start:start + 500]
            found = (self._lookup_pg(platform, chunk) if postgres else
                     self._states((t.Item.platform == platform) & t.Item.item_id.in_(chunk)))
            for state in found:
                self._cache[state.item_id] = state

    def _lookup_pg(self, platform: str, item_ids: list[str]) -> Iterable[_State]:
        """PostgreSQL: `platform = :p AND item_id IN (...)` is planned from statistics, and
        a catalog without them (bulk-loaded, rebuilt, autovacuum behind or off) had it read
        every item of the platform through the index's first column: about 2 s per 500 ids at
        1,000,000 items (issue 13). A LATERAL lookup with LIMIT 1 per id is a nested loop
        whose inner side matches both columns of the unique index, whatever the statistics."""
        wanted = func.unnest(literal(item_ids, ARRAY(String()))).table_valued("item_id").render_derived("wanted")
        item = (
            select(t.Item.id, t.Item.item_id, t.Item.last_seen_at, t.Item.deleted_at, t.Item.version_count,
                   t.Item.latest_version_pk, t.Item.signal)
            .where(t.Item.platform == platform, t.Item.item_id == wanted.c.item_id)
            .limit(1)
            .lateral("item")
        )
        query = (
            select(item.c.id, item.c.item_id, item.c.last_seen_at, item.c.deleted_at, item.c.version_count,
                   item.c.latest_version_pk, t.ItemVersion.version_no, t.ItemVersion.content_sha256,
                   item.c.signal)
            .select_from(wanted)
            .join(item, true())
            .outerjoin(t.ItemVersion, t.ItemVersion.id == item.c.latest_version_pk)
        )
        return self._to_states(self.session.execute(query))

    def _preload(self, account_pk: int, run_id: str, new_run: bool = False) -> None:
        """The account's items and their latest versions through the account index: the cost
        of a WARC grows with its account, never with the catalog (issue 13); and the items the
        run has observed in its earlier WARCs (none in a new run's first)."""
        s = self.session
        self._cache = {state.item_id: state for state in self._states(t.Item.account_pk == account_pk)}
        if new_run:
            self._observed = set()
            return
        self._observed = set(
            s.scalars(
                select(t.Item.item_id)
                .join(t.Observation, t.Observation.item_pk == t.Item.id)
                .where(t.Observation.run_id == run_id)
            )
        )

    def _tombstone(self, platform: str, fields: dict[str, str], record: Record) -> bool:
        item_id = fields["item-id"]
        if item_id not in self._cache:
            self._load_missing(platform, [item_id])
        state = self._cache.get(item_id)
        if state is None:
            return False
        if state.deleted_at is not None:  # an earlier deletion record indexed late replaces it
            if state.pk is None or record.date >= state.deleted_at:
                return False
            self._late_stones.append(late.LateTombstone(state.pk, self._tombstone_row(fields, record)))
            state.deleted_at = record.date
            return True
        self._tombstones.append((state, self._tombstone_row(fields, record)))
        state.deleted_at, state.dirty = record.date, True
        return True

    @staticmethod
    def _tombstone_row(fields: dict[str, str], record: Record) -> dict[str, Any]:
        evidence = fields.get("evidence-record-id", "")
        ev_file, ev_offset, ev_length = split_location(fields.get("evidence-location", ""))
        return dict(
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

    def _media(self, account_pk: int, record: Record, size: int) -> None:
        content = revisit.content_pointer(record)  # a revisit's original holds the bytes
        self._media_rows.append(dict(
            account_pk=account_pk,
            url=record.target_uri,
            media_key=media_key(record.target_uri),
            status=record.http_status,
            content_type=dict((k.lower(), v) for k, v in record.http_headers).get("content-type", ""),
            size=size,
            truncated="WARC-Truncated" in record.headers,
            observed_at=record.date,
            warc_file=content.filename,
            warc_offset=content.offset,
            warc_length=content.length,
            warc_record_id=content.record_id,
        ))

    def _unresolved_revisit(self, run_id: str, record: Record) -> None:
        """A revisit whose original cannot be read (destroyed under retention): kept as a
        warning, so the officer (and `catalog rebuild`'s comparison) sees what is missing."""
        self._warning(run_id, ParseWarning(
            "revisit-unresolved",
            f"{revisit.describe(record)}, which could not be read: the items it held were seen "
            "again unchanged, but which ones is unknown",
        ), record)

    def _warning(self, run_id: str, warning: ParseWarning, record: Record) -> None:
        self._warnings.append(dict(
            run_id=run_id,
            code=warning.code,
            message=warning.message,
            item_id=warning.item_id,
            warc_file=record.pointer.filename,
            warc_offset=record.pointer.offset,
            warc_length=record.pointer.length,
            created_at=record.date,
        ))

    # --- writing ---------------------------------------------------------------------------

    def _write_rows(self) -> list[tuple[int, int, str]]:
        """Everything this WARC added, in a handful of executemany statements (new items and
        new versions with RETURNING, to learn their ids); returns the new versions as
        (version id, item id, text) for the search index."""
        s = self.session
        new_items = [state for state in self._cache.values() if state.new_row is not None]
        if new_items:
            rows = [state.new_row | {"signal": state.signal}
                    for state in new_items if state.new_row is not None]
            ids = s.execute(
                insert(_ITEMS).returning(_ITEMS.c.id, sort_by_parameter_order=True), rows
            ).scalars().all()
            for state, pk in zip(new_items, ids, strict=True):
                state.pk, state.new_row = pk, None
        fresh: list[tuple[int, int, str]] = []
        if self._versions:
            versions = _TABLES["item_versions"]
            rows = [v.values | {"item_pk": state.pk} for state, v in self._versions]
            ids = s.execute(
                insert(versions).returning(versions.c.id, sort_by_parameter_order=True), rows
            ).scalars().all()
            for (state, v), pk in zip(self._versions, ids, strict=True):
                v.pk = pk
                fresh.append((pk, state.pk or 0, v.values["text"] or ""))
            for state, _v in self._versions:
                if state.latest_new is not None:
                    state.latest_pk = state.latest_new.pk
        if self._observations:
            s.execute(insert(_TABLES["observations"]), [
                row | {"item_pk": state.pk, "version_pk": ref.pk if isinstance(ref, _Version) else ref}
                for state, ref, row in self._observations
            ])
        if self._tombstones:
            s.execute(insert(_TABLES["tombstones"]), [row | {"item_pk": state.pk} for state, row in self._tombstones])
        if self._media_rows:
            s.execute(insert(_TABLES["media_captures"]), self._media_rows)
        if self._warnings:
            s.execute(insert(_TABLES["capture_warnings"]), self._warnings)
        changed = [state for state in self._cache.values() if state.dirty]
        if changed:
            values: dict[str, Any] = dict(
                last_seen_at=bindparam("u_last_seen"), deleted_at=bindparam("u_deleted"),
                latest_version_pk=bindparam("u_latest"), version_count=bindparam("u_count"),
                signal=bindparam("u_signal"),
            )
            statement = update(_ITEMS).where(_ITEMS.c.id == bindparam("u_id")).values(values)
            s.execute(statement, [
                {"u_id": st.pk, "u_last_seen": st.last_seen_at, "u_deleted": st.deleted_at,
                 "u_latest": st.latest_pk, "u_count": st.version_count, "u_signal": st.signal}
                for st in changed
            ])
        return fresh


def _version_values(item: Item, record: Record) -> dict[str, Any]:
    """The item_versions values a record starts (its number aside)."""
    content = revisit.content_pointer(record)  # where the content first appeared: a revisit's original
    return dict(
        content_sha256=item.content_sha256,
        content=item.content,
        media=[{"url": m.url, "media_key": media_key(m.url), "kind": m.kind, "media_id": m.media_id}
               for m in item.media],
        text=item.text,
        author=item.author,
        url=item.url,
        observed_at=record.date,
        warc_file=content.filename,
        warc_offset=content.offset,
        warc_length=content.length,
        warc_record_id=content.record_id,
    )


def _observation(run_id: str, record: Record) -> dict[str, Any]:
    pointer = record.pointer  # observations point at this record, revisit or not
    return dict(run_id=run_id, observed_at=record.date, warc_file=pointer.filename,
                warc_offset=pointer.offset, warc_length=pointer.length)
