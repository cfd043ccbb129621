"""What the catalog knows about the responsive items: versions, deletions, where every record
lives. A handful of IN queries whatever the size of the archive, so export cost grows with
the answer, not with the archive."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.catalog import tables as t
from archiver.core.errors import RequestError
from archiver.core.models import AccountRef
from archiver.preservation.reading import StoredWarc
from archiver.requests.package.model import ExportRequest, Withholding

Key = tuple[str, str]  # (platform, item_id): item ids are unique per platform only
CHUNK = 500


@dataclass(frozen=True)
class Ptr:
    """A record in a stored WARC; length None when only its start is known."""

    file: str
    offset: int
    length: int | None
    record_id: str = ""


@dataclass(frozen=True)
class VersionData:
    number: int
    observed_at: datetime
    text: str
    author: str
    url: str
    content_sha256: str
    record: Ptr


@dataclass(frozen=True)
class DeletionData:
    detected_at: datetime
    reason: str
    detail: str
    evidence: Ptr | None
    metadata_record_id: str
    last_good_record_id: str


@dataclass(frozen=True)
class MediaData:
    url: str
    status: int
    content_type: str
    size: int
    record: Ptr


@dataclass(frozen=True)
class ItemData:
    key: Key
    account_pk: int
    account: str  # platform:account_id
    account_name: str
    kind: str
    parent_id: str | None
    created_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    versions: tuple[VersionData, ...]
    deletion: DeletionData | None
    observations: tuple[Ptr, ...]
    media: tuple[MediaData, ...]

    @property
    def platform(self) -> str:
        return self.key[0]

    @property
    def item_id(self) -> str:
        return self.key[1]


@dataclass(frozen=True)
class ContextItem:
    """An ancestor of a responsive item that is not itself responsive: shown as a stub."""

    key: Key
    kind: str
    parent_id: str | None


@dataclass
class Gathered:
    released: dict[Key, ItemData]  # responsive and not withheld, in the request's order
    withheld: dict[Key, tuple[ItemData, Withholding]]
    context: dict[Key, ContextItem]
    warcs: dict[str, StoredWarc]
    warc_order: dict[str, tuple[datetime, str]]  # sort key: first record date, name
    warc_run: dict[str, str | None]
    warc_account: dict[str, int | None]
    accounts: dict[int, AccountRef]
    missing_warcs: set[str] = field(default_factory=set)


def _chunks(values: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def resolve_ids(s: Session, ids: Iterable[str]) -> dict[str, t.Item]:
    """Each id the register gave, as an item row: the bare platform id, or 'platform:id'
    when the bare id is not unique across platforms."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, list[t.Item]] = {}
    # One platform at a time, so the lookup uses the catalog's unique (platform, item_id) index
    # at any size: SQLite does not use it for a list of (platform, item_id) row values and read
    # all 1,000,000 items of a synthetic archive for a 100-item request (1.2 s).
    platforms = sorted(set(s.scalars(select(t.Account.platform).distinct())))
    for part in _chunks(wanted):
        for platform in platforms:
            for row in s.scalars(select(t.Item).where(t.Item.platform == platform, t.Item.item_id.in_(part))):
                found.setdefault(row.item_id, []).append(row)
    out: dict[str, t.Item] = {}
    for given in wanted:
        rows = found.get(given, [])
        if not rows and ":" in given:
            platform, _, bare = given.partition(":")
            rows = list(
                s.scalars(select(t.Item).where(t.Item.platform == platform, t.Item.item_id == bare))
            )
        if not rows:
            raise RequestError(
                f"Item '{given}' is not in the catalog; check the id with 'archiver items show' "
                "and correct the request's responsive set"
            )
        if len(rows) > 1:
            options = ", ".join(sorted(f"{r.platform}:{r.item_id}" for r in rows))
            raise RequestError(
                f"Item id '{given}' exists on several platforms ({options}); name it as platform:id"
            )
        out[given] = rows[0]
    return out


def _item_data(s: Session, rows: list[t.Item]) -> dict[int, ItemData]:
    pks = [r.id for r in rows]
    versions: dict[int, list[t.ItemVersion]] = {}
    observations: dict[int, list[t.Observation]] = {}
    tombs: dict[int, t.Tombstone] = {}
    for part in _chunks(pks):
        for v in s.scalars(select(t.ItemVersion).where(t.ItemVersion.item_pk.in_(part))):
            versions.setdefault(v.item_pk, []).append(v)
        for o in s.scalars(select(t.Observation).where(t.Observation.item_pk.in_(part))):
            observations.setdefault(o.item_pk, []).append(o)
        for tomb in s.scalars(select(t.Tombstone).where(t.Tombstone.item_pk.in_(part))):
            tombs[tomb.item_pk] = tomb
    media_keys = {
        m["media_key"] for vs in versions.values() for v in vs for m in (v.media or []) if m.get("media_key")
    }
    media: dict[str, list[t.MediaCapture]] = {}
    keys = sorted(media_keys)
    for part in _chunks(keys):
        for m in s.scalars(select(t.MediaCapture).where(t.MediaCapture.media_key.in_(part))):
            media.setdefault(m.media_key, []).append(m)
    accounts = {
        a.id: a
        for a in s.scalars(select(t.Account).where(t.Account.id.in_({r.account_pk for r in rows})))
    }
    out: dict[int, ItemData] = {}
    for row in rows:
        vs = sorted(versions.get(row.id, []), key=lambda v: v.version_no)
        tb = tombs.get(row.id)
        deletion = None
        if tb is not None:
            evidence = (
                Ptr(tb.evidence_file, tb.evidence_offset, tb.evidence_length, tb.evidence_record_id)
                if tb.evidence_file and tb.evidence_length
                else None
            )
            deletion = DeletionData(tb.detected_at, tb.reason, tb.detail, evidence,
                                    tb.metadata_record_id, tb.last_good_record_id)
        item_media: list[MediaData] = []
        seen_media: set[tuple[str, int]] = set()
        for v in vs:
            for m in v.media or []:
                for cap in media.get(m.get("media_key", ""), []):
                    if (cap.warc_file, cap.warc_offset) in seen_media:
                        continue
                    seen_media.add((cap.warc_file, cap.warc_offset))
                    item_media.append(MediaData(cap.url, cap.status, cap.content_type, cap.size,
                                                Ptr(cap.warc_file, cap.warc_offset, cap.warc_length,
                                                    cap.warc_record_id)))
        acc = accounts.get(row.account_pk)
        out[row.id] = ItemData(
            key=(row.platform, row.item_id),
            account_pk=row.account_pk,
            account=f"{acc.platform}:{acc.account_id}" if acc else "",
            account_name=acc.name if acc else "",
            kind=row.kind,
            parent_id=row.parent_id,
            created_at=row.created_at,
            first_seen=row.first_seen_at,
            last_seen=row.last_seen_at,
            versions=tuple(
                VersionData(v.version_no, v.observed_at, v.text, v.author, v.url, v.content_sha256,
                            Ptr(v.warc_file, v.warc_offset, v.warc_length, v.warc_record_id))
                for v in vs
            ),
            deletion=deletion,
            observations=tuple(
                Ptr(o.warc_file, o.warc_offset, o.warc_length)
                for o in sorted(observations.get(row.id, []), key=lambda o: o.observed_at)
            ),
            media=tuple(item_media),
        )
    return out


def _ancestors(s: Session, rows: Iterable[t.Item], known: set[Key]) -> dict[Key, ContextItem]:
    """Parents up the thread that are not responsive themselves (a post above a comment)."""
    context: dict[Key, ContextItem] = {}
    todo = {(r.platform, r.parent_id) for r in rows if r.parent_id}
    for _ in range(8):
        todo = {k for k in todo if k not in known and k not in context}
        if not todo:
            break
        found: list[t.Item] = []
        for platform in sorted({p for p, _ in todo}):  # per platform: the unique index, as above
            ids = sorted(i for p, i in todo if p == platform and i)
            for part in _chunks(ids):
                found += s.scalars(select(t.Item).where(t.Item.platform == platform, t.Item.item_id.in_(part)))
        for row in found:
            context[(row.platform, row.item_id)] = ContextItem(
                (row.platform, row.item_id), row.kind, row.parent_id
            )
        for key in todo - {(r.platform, r.item_id) for r in found}:
            context[key] = ContextItem(key, "item", None)  # parent never captured
        todo = {(r.platform, r.parent_id) for r in found if r.parent_id}
    return context


def gather(app: App, req: ExportRequest) -> Gathered:
    withheld_by_id = {w.item_id: w for w in req.withheld}
    ids = list(dict.fromkeys([*req.item_ids, *withheld_by_id]))
    with app.catalog.session() as s:
        rows_by_given = resolve_ids(s, ids)
        unique: dict[int, t.Item] = {}
        for row in rows_by_given.values():
            unique.setdefault(row.id, row)
        data = _item_data(s, list(unique.values()))
        withheld_pks = {rows_by_given[i].id: w for i, w in withheld_by_id.items()}
        released: dict[Key, ItemData] = {}
        withheld: dict[Key, tuple[ItemData, Withholding]] = {}
        for given in ids:
            row = rows_by_given[given]
            item = data[row.id]
            if row.id in withheld_pks:
                withheld[item.key] = (item, withheld_pks[row.id])
            else:
                released.setdefault(item.key, item)
        known = set(released) | set(withheld)
        context = _ancestors(s, unique.values(), known)
        names: set[str] = set()
        for item in released.values():
            names.update(v.record.file for v in item.versions)
            names.update(o.file for o in item.observations)
            names.update(m.record.file for m in item.media)
            if item.deletion and item.deletion.evidence:
                names.add(item.deletion.evidence.file)
        warcs: dict[str, StoredWarc] = {}
        order: dict[str, tuple[datetime, str]] = {}
        runs: dict[str, str | None] = {}
        owners: dict[str, int | None] = {}
        account_pks: set[int] = {i.account_pk for i in released.values()}
        for part in _chunks(sorted(names)):
            for w in s.scalars(select(t.WarcFile).where(t.WarcFile.name.in_(part))):
                warcs[w.name] = StoredWarc(w.name, w.store_key, w.object_size, w.key_id, w.wrapped_key)
                order[w.name] = (w.first_date, w.name)
                runs[w.name] = w.run_id
                owners[w.name] = w.account_pk
                if w.account_pk:
                    account_pks.add(w.account_pk)
        accounts = {
            a.id: AccountRef(a.platform, a.account_id, a.name, a.api_base, a.role)
            for a in s.scalars(select(t.Account).where(t.Account.id.in_(account_pks)))
        }
    return Gathered(released, withheld, context, warcs, order, runs, owners, accounts,
                    missing_warcs=names - set(warcs))


def later_files_of_run(app: App, name: str, run_id: str | None, batch: int = 8) -> Iterator[StoredWarc]:
    """Files written after `name` by the same capture run, in the order written (names sort by
    time): where a conclusion (metadata record) lands when the WARC rolled over between the
    evidence and the conclusion, however many files later (a run that rolls often writes its
    edit conclusions many files after the pages they concern). Read from the catalog `batch`
    files at a time, as the caller asks for more: only files of this run, never another's."""
    if not run_id:
        return
    after = name
    while True:
        with app.catalog.session() as s:
            rows = [StoredWarc(w.name, w.store_key, w.object_size, w.key_id, w.wrapped_key)
                    for w in s.scalars(select(t.WarcFile)
                                       .where(t.WarcFile.run_id == run_id, t.WarcFile.name > after)
                                       .order_by(t.WarcFile.name)
                                       .limit(batch))]
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].name


@dataclass
class KnownRecords:
    """What the catalog holds about the records of one stored WARC, so the search for the
    archiver's conclusions (metadata records, which have no rows of their own) can skip what
    it need not read: `lengths` are records it steps over without inflating them, and
    `harvest_end` is where the capture's harvest ended (the end of the last record an item,
    media file or warning was read from), after which a cycle writes its edit conclusions."""

    lengths: dict[int, int] = field(default_factory=dict)
    harvest_end: int | None = None

    def add(self, offset: int, length: int | None) -> None:
        if length and length > 0:
            self.lengths[offset] = length


def _harvest_tables(part: Sequence[str], runs: Sequence[str], accounts: Sequence[int]) -> list[Any]:
    """(file, offset, length) of the records a harvest wrote that catalog rows point at, one
    query per table, each through an index (warc_file, run_id or account_pk)."""
    v, o, m, w = t.ItemVersion, t.Observation, t.MediaCapture, t.CaptureWarning
    return [
        (v.warc_file, v.warc_offset, v.warc_length, v.warc_file.in_(part)),
        (o.warc_file, o.warc_offset, o.warc_length, o.warc_file.in_(part)),
        (m.warc_file, m.warc_offset, m.warc_length, and_(m.account_pk.in_(accounts), m.warc_file.in_(part))),
        (w.warc_file, w.warc_offset, w.warc_length, and_(w.run_id.in_(runs), w.warc_file.in_(part))),
    ]


def _evidence(s: Session, part: Sequence[str]) -> Iterable[tuple[str, int, int]]:
    """Deletion evidence: written after the edit conclusions of its cycle, never a harvest end."""
    tb = t.Tombstone
    yield from s.execute(select(tb.evidence_file, tb.evidence_offset, tb.evidence_length)
                         .where(tb.evidence_file.in_(part)).distinct())


def known_records(app: App, g: Gathered, names: Iterable[str]) -> dict[str, KnownRecords]:
    """Where each WARC of `names` ended its harvest, and its deletion evidence (KnownRecords):
    the server aggregates, so a few indexed queries per 500 files return a row or so per file."""
    out = {name: KnownRecords() for name in names}
    with app.catalog.session() as s:
        for part in _chunks(sorted(out)):
            runs = sorted({r for n in part if (r := g.warc_run.get(n))})
            accounts = sorted({a for n in part if (a := g.warc_account.get(n)) is not None})
            for file_col, offset, length, where in _harvest_tables(part, runs, accounts):
                rows = s.execute(select(file_col, func.max(offset + length)).where(where).group_by(file_col))
                for name, end in rows:
                    known = out[name]
                    known.harvest_end = max(known.harvest_end or 0, int(end or 0)) or None
            for name, offset, length in _evidence(s, part):
                out[name].add(offset, length)
    return out


def records_of_file(app: App, g: Gathered, name: str) -> KnownRecords:
    """Every record of one WARC that a catalog row places, with its length: for a search that
    must read the whole file (the conclusion was not after the harvest's end)."""
    known = KnownRecords()
    run, account = g.warc_run.get(name), g.warc_account.get(name)
    p = t.StoredPayload
    with app.catalog.session() as s:
        for file_col, offset, length, where in _harvest_tables([name], [run] if run else [],
                                                               [account] if account is not None else []):
            for _, at, size in s.execute(select(file_col, offset, length).where(where).distinct()):
                known.add(at, size)
        for _, at, size in _evidence(s, [name]):
            known.add(at, size)
        for at, size in s.execute(select(p.warc_offset, p.warc_length).where(p.warc_file == name)):
            known.add(at, size)
    return known
