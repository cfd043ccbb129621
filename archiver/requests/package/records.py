"""data/records.warc.gz: exactly the responsive records, copied unchanged by byte range.

Which records: for each released item, every response that holds it (each version and each
later observation) with the request record written right after it, its media, the evidence
of its deletion, and the archiver's conclusions about it (the `metadata` records of an edit
or a deletion), plus the `warcinfo` record of every source file. Each is one gzip member,
copied as stored, so its WARC-Record-ID and digests are the originals; each is checked
against its own digests on the way (a mismatch stops the export and names the object).

Records are never altered, so a record that also carries a withheld item or any redacted
text cannot be released as it is: it is left out, and the package lists it (LeftOut).
"""

from __future__ import annotations

import heapq
import html
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote_plus

from archiver.app import App
from archiver.core.errors import ArchiverError, IntegrityError
from archiver.core.models import AccountRef, Item, WarcPointer
from archiver.preservation.reading import stored_warc
from archiver.requests.package.gather import (
    Gathered,
    Key,
    KnownRecords,
    Ptr,
    known_records,
    later_files_of_run,
    records_of_file,
)
from archiver.requests.package.redact import Masker
from archiver.requests.package.results import LeftOut
from archiver.requests.package.stored import MemberHead, StoredRanges, member_at, scan
from archiver.requests.package.warcdigest import RecordCheck
from archiver.warc.fields import PURPOSE_HEADER, split_location
from archiver.warc.reader import read_record
from archiver.warc.revisit import LOCATION_HEADER
from archiver.warc.writer import SOFTWARE, SpecWARCWriter, warc_date

IN_MEMORY = 32 << 20  # larger records (media) stream through and skip the content checks
# A conclusion is written right after its evidence (deletions) or at the end of the capture
# cycle (edits); past this distance the search gives up and the package says so.
MAX_SCAN = 64 << 20


@dataclass
class Planned:
    file: str
    offset: int
    length: int | None
    record_id: str = ""
    roles: set[str] = field(default_factory=set)
    items: set[Key] = field(default_factory=set)
    follows: int | None = None  # a request record: the offset of the response it belongs to
    head: MemberHead | None = None  # length None: the record as the conclusion search read it


@dataclass(frozen=True)
class CopiedRecord:
    record_id: str
    rec_type: str
    target_uri: str
    date: str
    offset: int  # in data/records.warc.gz
    length: int
    http_status: int
    mime: str
    payload_digest: str
    roles: frozenset[str]
    items: frozenset[Key]
    source: str  # name of the stored WARC it came from


@dataclass
class CopyResult:
    records: list[CopiedRecord] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    by_source: dict[tuple[str, int], CopiedRecord] = field(default_factory=dict)
    size: int = 0


@dataclass(frozen=True)
class _MetaWant:
    start: int
    record_id: str = ""  # the deletion conclusion, by id
    concurrent_to: str = ""  # the edit conclusion, by the response it concerns
    item: Key | None = None


def _about(member: MemberHead, want: _MetaWant) -> bool:
    """An edit conclusion names its item: one listing page can hold several edited items,
    whose conclusions all refer to that page (WARC-Concurrent-To)."""
    return want.item is None or member.fields().get("item-id", want.item[1]) == want.item[1]


class RecordPlan:
    def __init__(self) -> None:
        self.by_file: dict[str, dict[int, Planned]] = {}
        self.meta: dict[str, list[_MetaWant]] = {}

    def add(self, ptr: Ptr, role: str, item: Key | None = None, *,
            follows: int | None = None) -> Planned:
        records = self.by_file.setdefault(ptr.file, {})
        planned = records.get(ptr.offset)
        if planned is None:
            planned = records[ptr.offset] = Planned(ptr.file, ptr.offset, ptr.length, ptr.record_id,
                                                    follows=follows)
        if planned.length is None and ptr.length:
            planned.length = ptr.length
        if not planned.record_id and ptr.record_id:
            planned.record_id = ptr.record_id
        planned.roles.add(role)
        if item is not None:
            planned.items.add(item)
        return planned

    def add_exchange(self, ptr: Ptr, role: str, item: Key) -> None:
        response = self.add(ptr, role, item)
        if response.length:
            self.add(Ptr(ptr.file, ptr.offset + response.length, None), "request", item,
                     follows=ptr.offset)

    def count(self) -> int:
        return sum(len(v) for v in self.by_file.values()) + sum(len(v) for v in self.meta.values())


def plan_records(g: Gathered) -> RecordPlan:
    plan = RecordPlan()
    for key, item in g.released.items():
        for v in item.versions:
            plan.add_exchange(v.record, "version", key)
        for o in item.observations:
            plan.add_exchange(o, "observation", key)
        for m in item.media:
            plan.add_exchange(m.record, "media", key)
        if item.deletion and item.deletion.evidence:
            ev = item.deletion.evidence
            plan.add_exchange(ev, "deletion-evidence", key)
            if item.deletion.metadata_record_id:
                plan.meta.setdefault(ev.file, []).append(
                    _MetaWant(ev.offset, record_id=item.deletion.metadata_record_id, item=key))
        for v in item.versions[1:]:
            plan.meta.setdefault(v.record.file, []).append(
                _MetaWant(v.record.offset, concurrent_to=v.record.record_id, item=key))
    for name in list(plan.by_file):
        plan.add(Ptr(name, 0, None), "warcinfo")
    return plan


def _withheld_pointers(g: Gathered) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for item, _ in g.withheld.values():
        out.update((v.record.file, v.record.offset) for v in item.versions)
        out.update((o.file, o.offset) for o in item.observations)
        if item.deletion and item.deletion.evidence:
            out.add((item.deletion.evidence.file, item.deletion.evidence.offset))
    return out


def _http_head(block: bytes) -> tuple[int, str]:
    head = block.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1", "replace").split("\r\n")
    status = 0
    parts = head[0].split(" ") if head else []
    if len(parts) > 1 and parts[1].isdigit():
        status = int(parts[1])
    mime = ""
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            mime = value.strip().split(";")[0].strip()
    return status, mime


def _json_strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append(str(k))
            _json_strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _json_strings(v, out)
    elif value is not None:
        out.append(str(value))


class _Copier:
    def __init__(self, app: App, g: Gathered, plan: RecordPlan, masker: Masker, out: BinaryIO,
                 progress: Callable[[], None]) -> None:
        self.app = app
        self.g = g
        self.plan = plan
        self.masker = masker
        self.out = out
        self.progress = progress
        self.result = CopyResult()
        self.withheld_keys = set(g.withheld)
        self.withheld_ptrs = _withheld_pointers(g)
        self.excluded_ids: set[str] = set()
        self.ids_at: dict[tuple[str, int], str] = {}  # every record read, copied or not
        self._connectors: dict[str, Any] = {}
        self.known: dict[str, KnownRecords] = {}

    # --- planning details resolved against the stored bytes -------------------------------

    def _find_conclusions(self, name: str, src: StoredRanges) -> list[str]:
        """Plans the conclusions wanted from `name`; returns a warning for each not found."""
        wants = self.plan.meta.get(name, [])
        if not wants:
            return []
        pending = self._search(src, name, list(wants), self.known.get(name))
        if pending:
            for later in later_files_of_run(self.app, name, self.g.warc_run.get(name)):
                self.g.warcs.setdefault(later.name, later)
                self.g.warc_order.setdefault(later.name, (self.g.warc_order[name][0], later.name))
                self.g.warc_account.setdefault(later.name, self.g.warc_account.get(name))
                self.g.warc_run.setdefault(later.name, self.g.warc_run.get(name))
                moved = [replace(w, start=0) for w in pending]
                pending = self._search(StoredRanges(self.app, later), later.name, moved, None)
                if not pending:
                    break
        return [
            f"conclusion record {w.record_id or f'edit of {w.concurrent_to}'} for {w.item} was not "
            f"found after {name}; the package has its evidence but not the archiver's note about it"
            for w in pending
        ]

    def _search(self, src: StoredRanges, name: str, pending: list[_MetaWant],
                known: KnownRecords | None) -> list[_MetaWant]:
        """Find the conclusions without reading the file through: an edit's is written after
        its cycle's harvest (CaptureCycle._diff), so the search starts where the catalog says
        the harvest ended, stepping over the deletion evidence it places; a deletion's follows
        its evidence. Only when that misses (a record the catalog places after the edit
        conclusions, a conclusion in another file) is the file read from the first wanted
        record, still stepping over every record the catalog places; and should a place the
        catalog gives not be a record boundary, every record is read, as before."""
        first = min(w.start for w in pending)
        if known is not None and known.harvest_end is not None:
            start = min(max(w.start, known.harvest_end) if w.concurrent_to else w.start for w in pending)
            try:
                left = self._scan_for(src, name, start, pending, known.lengths)
            except IntegrityError:
                left = pending
            else:
                if not left or start <= first:
                    return left
            pending, first = left, min(w.start for w in left)
        try:
            return self._scan_for(src, name, first, pending, records_of_file(self.app, self.g, name).lengths)
        except IntegrityError:
            return self._scan_for(src, name, first, pending, {})

    def _scan_for(self, src: StoredRanges, name: str, start: int,
                  pending: list[_MetaWant], skip: Mapping[int, int]) -> list[_MetaWant]:
        members = list(self._conclusions(src, start, pending, skip))
        for member, hit in members:
            rid = member.headers.get("WARC-Record-ID", "")
            for w in hit:
                role = "deletion-conclusion" if w.record_id else "edit-conclusion"
                self.plan.add(Ptr(name, member.offset, member.length, rid), role, w.item)
                self.plan.add(Ptr(name, 0, None), "warcinfo")
        found = {id(w) for _, hit in members for w in hit}
        return [w for w in pending if id(w) not in found]

    def _conclusions(self, src: StoredRanges, start: int, pending: list[_MetaWant],
                     skip: Mapping[int, int]) -> Iterator[tuple[MemberHead, list[_MetaWant]]]:
        """The metadata records from `start` that are a wanted conclusion, with the wants each
        answers; stops when none is left. A record to copy whose length the catalog lacks (the
        request after deletion evidence) keeps what was read, so it is not inflated again."""
        left = list(pending)
        planned = self.plan.by_file.get(src.warc.name, {})
        for member in scan(src, start, skip=skip, limit=MAX_SCAN):
            p = planned.get(member.offset)
            if p is not None and p.length is None:
                p.head = member
            h = member.headers
            if h.get("WARC-Type") != "metadata":
                continue
            rid, concurrent = h.get("WARC-Record-ID", ""), h.get("WARC-Concurrent-To", "")
            hit = [w for w in left if (w.record_id and w.record_id == rid)
                   or (w.concurrent_to and w.concurrent_to == concurrent and _about(member, w))]
            if not hit:
                continue
            yield member, hit
            left = [w for w in left if w not in hit]
            if not left:
                return

    # --- copying ------------------------------------------------------------------------

    def copy_all(self) -> None:
        """Each stored WARC in order (first record date, name) is opened once: its conclusions
        are found, then its records copied. Opening one reads its vault header and the segment
        that holds the records, the same segment for both (a conclusion lies near the records it
        concerns). A search that finds a conclusion in a later file of the run queues that file
        at its place, so the package's record order is that of planning everything first."""
        self.known = known_records(self.app, self.g, [n for n in self.plan.meta if n in self.g.warcs])
        queue = [(self._order(name), name) for name in self.plan.by_file]
        queue += [(self._order(name), name) for name, wants in self.plan.meta.items()
                  if wants and name in self.g.warcs and name not in self.plan.by_file]
        heapq.heapify(queue)
        done: set[str] = set()
        search_warnings: list[str] = []
        while queue:
            _, name = heapq.heappop(queue)
            if name in done:
                continue
            done.add(name)
            if name not in self.g.warcs:  # destroyed under retention since the catalog named it
                self.result.warnings.append(
                    f"{name} is no longer stored (destroyed under retention): the package lacks the "
                    f"{len(self.plan.by_file[name])} record(s) the catalog placed there")
                continue
            src = StoredRanges(self.app, self.g.warcs[name])
            if self.plan.meta.get(name):
                planned = len(self.plan.by_file)
                search_warnings += self._find_conclusions(name, src)
                for later in list(self.plan.by_file)[planned:]:  # a later file of the run
                    heapq.heappush(queue, (self._order(later), later))
            for offset in sorted(self.plan.by_file.get(name, {})):
                self._copy(src, self.plan.by_file[name][offset])
                self.progress()
        self.result.warnings[:0] = search_warnings  # the searches' warnings first, as planned

    def _order(self, name: str) -> tuple[datetime, str]:
        return self.g.warc_order.get(name, (datetime.max.replace(tzinfo=UTC), name))

    def _copy(self, src: StoredRanges, p: Planned) -> None:
        if (p.file, p.offset) in self.result.by_source:
            return  # copied already (the original of a revisit, copied on demand)
        if p.length is None:
            head, p.head = p.head or member_at(src, p.offset), None
            kind = head.headers.get("WARC-Type", "")
            response = self.ids_at.get((p.file, p.follows)) if p.follows is not None else None
            if "request" in p.roles and (kind != "request"
                                         or head.headers.get("WARC-Concurrent-To") != response):
                self.result.warnings.append(
                    f"no request record follows response {response} in {p.file}; the response "
                    "is exported without it")
                return
            if "warcinfo" in p.roles and kind != "warcinfo":
                return
            p.length = head.length
        length = p.length
        check = RecordCheck()
        data: bytes | None = None
        position = self.out.tell()
        try:
            if length <= IN_MEMORY:
                data = src.read(p.offset, length)
                check.feed(data)
            else:
                for piece in src.chunks(p.offset, length):
                    check.feed(piece)
                    self.out.write(piece)
            problems = check.finish()
        except ValueError as exc:  # not a gzip member, or a header that does not parse
            problems = [str(exc)]
        if len(data or b"") != length and data is not None:
            problems.append("the record is truncated")
        if check.trailing:
            problems.append("the catalog's record length does not end at a record boundary")
        record_id = check.headers.get("WARC-Record-ID", "")
        if p.record_id and record_id and record_id != p.record_id:
            problems.append(f"the record there is {record_id}, not {p.record_id}")
        if problems:
            raise IntegrityError(
                f"Stored object {src.warc.store_key} failed its digest check at record "
                f"{record_id or p.offset} ({'; '.join(problems)}); the export stopped and wrote "
                "nothing. Run 'archiver verify' and restore the object from a replica or backup."
            )
        self.ids_at[(p.file, p.offset)] = record_id
        reason = self._copy_original(p, check.headers) if check.headers.get("WARC-Type") == "revisit" else ""
        reason = reason or self._reason_to_leave_out(p, check, data)
        if reason:
            if data is None:  # streamed already: take it back
                self.out.seek(position)
                self.out.truncate()
            self.excluded_ids.add(record_id)
            self.result.left_out.append(LeftOut(
                record_id, reason,
                tuple(sorted(self.masker.plain(k[1]) for k in p.items if k in self.g.released))))
            return
        if data is not None:
            self.out.write(data)
        h = check.headers
        status, mime = (0, "")
        if h.get("Content-Type", "").startswith("application/http"):
            status, mime = _http_head(bytes(check.block[:65536]))
        copied = CopiedRecord(
            record_id=record_id,
            rec_type=h.get("WARC-Type", ""),
            target_uri=h.get("WARC-Target-URI", ""),
            date=h.get("WARC-Date", ""),
            offset=position,
            length=length,
            http_status=status,
            mime=mime or h.get("Content-Type", ""),
            payload_digest=h.get("WARC-Payload-Digest", ""),
            roles=frozenset(p.roles),
            items=frozenset(p.items),
            source=p.file,
        )
        self.result.records.append(copied)
        self.result.by_source[(p.file, p.offset)] = copied

    def _copy_original(self, p: Planned, headers: dict[str, str]) -> str:
        """A revisit (archiver/warc/revisit.py) has no payload: copy the response it refers to
        first, by byte range like every record, so the package stays self-contained. Returns
        why the revisit must be left out ("" when its original is in the package)."""
        name, offset, length = split_location(headers.get(LOCATION_HEADER, ""))
        original_id = headers.get("WARC-Refers-To", "")
        if not name or not length:
            return "a revisit whose original this archiver cannot locate"
        if (name, offset) not in self.result.by_source:
            warc = self.g.warcs.get(name)
            if warc is None:
                try:
                    warc = stored_warc(self.app.catalog, name)
                except ArchiverError:
                    self.result.warnings.append(
                        f"revisit {headers.get('WARC-Record-ID', '')} refers to {original_id} in {name}, "
                        "which is no longer stored (destroyed under retention): the revisit is left out; "
                        "the item's other records are in the package")
                    return f"a revisit whose original {original_id} in {name} is no longer stored"
                self.g.warcs[name] = warc
            src = StoredRanges(self.app, warc)
            planned = self.plan.add(Ptr(name, offset, length, original_id), "revisit-original")
            planned.items.update(p.items)
            self._copy(src, planned)
            if (name, 0) not in self.result.by_source:
                self._copy(src, self.plan.add(Ptr(name, 0, None), "warcinfo"))
        if self.ids_at.get((name, offset)) in self.excluded_ids or (name, offset) not in self.result.by_source:
            return "a revisit of a record that is left out"
        return ""

    def _reason_to_leave_out(self, p: Planned, check: RecordCheck, data: bytes | None) -> str:
        if p.follows is not None and self.ids_at.get((p.file, p.follows)) in self.excluded_ids:
            return "belongs to a response that is left out"
        if (p.file, p.offset) in self.withheld_ptrs:
            return "holds a withheld item"
        if data is None:
            return ""  # media streamed: binary, checked by item only
        held = self._held_items(p, check, data)
        if held & self.withheld_keys:
            return "holds a withheld item"
        if self.masker.texts and any(self.masker.contains_redacted(t) for t in self._texts(check, data)):
            return "carries redacted text"
        return ""

    def _held_items(self, p: Planned, check: RecordCheck, data: bytes) -> set[Key]:
        """The items a record holds, as far as a withheld one may be among them."""
        if not self.withheld_keys:
            return set()  # nothing is withheld: no page need be parsed again to find out
        h = check.headers
        kind = h.get("WARC-Type")
        held: set[Key] = set()
        if kind == "metadata":
            for line in bytes(check.block).decode("utf-8", "replace").splitlines():
                name, _, value = line.partition(":")
                if name.strip() == "item-id":
                    platform = self._platform_of(p.file)
                    held.add((platform, value.strip()))
        elif kind == "response" and h.get(PURPOSE_HEADER) != "media":
            account = self._account_of(p.file)
            if account is not None:
                try:
                    record = read_record(data, WarcPointer(p.file, p.offset, len(data), ""))
                    connector = self._connectors.get(account.platform)
                    if connector is None:
                        connector = self._connectors[account.platform] = self.app.connector(account.platform)
                    for parsed in connector.parse(account, record.exchange()):
                        if isinstance(parsed, Item):
                            held.add((parsed.platform, parsed.item_id))
                except Exception:  # noqa: BLE001 - a page the connector cannot read holds nothing it knows
                    pass
        return held

    def _account_of(self, name: str) -> AccountRef | None:
        pk = self.g.warc_account.get(name)
        return self.g.accounts.get(pk) if pk is not None else None

    def _platform_of(self, name: str) -> str:
        account = self._account_of(name)
        return account.platform if account else ""

    def _texts(self, check: RecordCheck, data: bytes) -> Iterable[str]:
        raw = bytes(check.block).decode("utf-8", "replace")
        yield raw
        yield html.unescape(raw)
        yield unquote_plus(check.headers.get("WARC-Target-URI", ""))
        body = raw.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in raw else raw
        if check.headers.get("WARC-Type") in ("response", "request", "resource"):
            try:
                record = read_record(data, WarcPointer("", 0, len(data), ""))
                body = record.body.decode("utf-8", "replace")
                yield body
            except Exception:  # noqa: BLE001 - the raw text was checked above
                pass
        try:
            parsed = json.loads(body)
        except ValueError:
            return
        strings: list[str] = []
        _json_strings(parsed, strings)
        yield "\x00".join(strings)


def export_warcinfo(out: BinaryIO, request_id: str, district: str, when: datetime) -> None:
    writer = SpecWARCWriter(out, gzip=True, warc_version="1.1")
    record = writer.create_warcinfo_record("records.warc.gz", {
        "software": SOFTWARE,
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "isPartOf": f"public records request {request_id}",
        "operator": district,
        "description": (
            "Records responsive to the request, copied unchanged (original WARC-Record-IDs and "
            "digests) from the archive's stored WARCs. Records holding withheld items or "
            "redacted text are left out and listed in index.json."
        ),
    })
    record.rec_headers.replace_header("WARC-Date", warc_date(when))
    writer.write_record(record)


def copy_records(app: App, g: Gathered, plan: RecordPlan, masker: Masker, path: Path, *,
                 request_id: str, district: str, when: datetime,
                 progress: Callable[[], None]) -> CopyResult:
    with open(path, "xb") as out:
        export_warcinfo(out, request_id, district, when)
        copier = _Copier(app, g, plan, masker, out, progress)
        copier.copy_all()
        out.flush()
        copier.result.size = out.tell()
    return copier.result

