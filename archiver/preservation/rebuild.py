"""`catalog rebuild`: recreate the catalog from the stored WARCs alone and compare.

The rebuild indexes every stored WARC into a scratch catalog with the same indexer the live
pipeline uses, then compares the two table by table. `apply` replaces the live catalog's
derived tables (everything but account registrations and run bookkeeping) with the result.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from archiver.app import App
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.catalog.db import Catalog, open_catalog
from archiver.catalog.indexer import WarcFacts, WarcIndexer
from archiver.catalog.search_tables import SearchDoc
from archiver.core.errors import ArchiverError
from archiver.preservation.outbox import ENC_SUFFIX, vault_context
from archiver.preservation.reading import StoredWarc, plaintext_reader, resolving_revisits
from archiver.preservation.wrapped_keys import choose_wrap
from archiver.retention.classify import index_hook
from archiver.storage.base import NoSuchObject, StoredObject
from archiver.vault import read_header
from archiver.vault.io import PlaintextReader
from archiver.warc.reader import iter_records

log = logging.getLogger(__name__)

DERIVED = (rt.ItemRetention, t.Observation, t.Tombstone, t.ItemVersion, t.Item, t.MediaCapture,
           t.CaptureWarning, t.StoredPayload, t.WarcFile)


@dataclass
class TableDiff:
    table: str
    live: int
    rebuilt: int
    only_live: list[Any] = field(default_factory=list)
    only_rebuilt: list[Any] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.only_live and not self.only_rebuilt


@dataclass(frozen=True)
class UnreadableWarc:
    """A stored object the rebuild had to skip, and why (one line)."""

    store_key: str
    message: str


@dataclass
class RebuildReport:
    warcs: int
    diffs: list[TableDiff]
    applied: bool = False
    # Skipped, never fatal: one damaged object must not block recovery of the good ones.
    unreadable: list[UnreadableWarc] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return all(d.equal for d in self.diffs)

    @property
    def complete(self) -> bool:
        return not self.unreadable


def stored_warc_keys(app: App) -> list[str]:
    # Keys are warc/<platform>/<account>/<name>.enc: names sort in writing order per account.
    return sorted(k for k in app.store.keys("warc/") if k.endswith((".warc.gz", ".warc.gz.enc")))


def _name_of(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name[: -len(ENC_SUFFIX)] if name.endswith(ENC_SUFFIX) else name


Wraps = dict[str, tuple[str | None, bytes | None]]


def live_wraps(app: App) -> Wraps:
    """The live catalog's wrapped keys by WARC name (the current ones after a rotation)."""
    with app.catalog.session() as s:
        return {row.name: (row.key_id, row.wrapped_key) for row in s.scalars(select(t.WarcFile))}


def index_all(app: App, catalog: Catalog, keys: Iterable[str],
              progress: Callable[[str], None] | None = None, *, known: Wraps | None = None,
              unreadable: list[UnreadableWarc] | None = None) -> int:
    """Index stored WARCs into `catalog`; returns how many were indexed.

    Each object is decrypted with the live catalog's wrapped key where it has one, else with
    the newest wrap sidecar the current key material opens, else the header's (so the store
    alone suffices after a rotation removed old keys). An object that cannot be read is
    skipped and added to `unreadable` (its rows roll back); the others are indexed.
    """
    known = live_wraps(app) if known is None else known
    count = 0
    for key in keys:
        try:
            _index_one(app, catalog, key, known)
        except Exception as exc:  # noqa: BLE001 - a damaged object (any parser or vault error) is reported, not fatal
            message = exc.message if isinstance(exc, ArchiverError) else f"{type(exc).__name__}: {exc}"
            log.error("cannot rebuild from %s: %s", key, message)
            if unreadable is None:
                raise
            unreadable.append(UnreadableWarc(key, message.splitlines()[0] if message else type(exc).__name__))
        else:
            count += 1
        if progress:
            progress(_name_of(key))
    return count


def _index_one(app: App, catalog: Catalog, key: str, known: Wraps) -> None:
    name = _name_of(key)
    head = app.store.head(key)
    if head is None:
        raise NoSuchObject(f"{key} vanished from the store during the rebuild")
    key_id, wrapped = known.get(name, (None, None))
    if not wrapped and key.endswith(ENC_SUFFIX):
        with app.store.open(key) as fh:
            header = read_header(fh)
        chosen = choose_wrap(app.store, app.keys, key, vault_context(name), header)
        if chosen is not None:
            key_id, wrapped = chosen.wrapped.key_id, chosen.wrapped.wrapped
    warc = StoredWarc(name, key, head.size, key_id, wrapped)
    reader = plaintext_reader(app.store, app.keys, warc)

    def facts(reader: PlaintextReader = reader, head: StoredObject = head, key: str = key,
              key_id: str | None = key_id, wrapped: bytes | None = wrapped, name: str = name) -> WarcFacts:
        reader.drain()
        return WarcFacts(
            name=name, size=reader.size, sha256=reader.sha256.hexdigest(), store_key=key,
            stored_at=app.clock.now(), object_size=head.size, object_sha256=head.sha256,
            key_id=key_id, wrapped_key=wrapped,
        )

    with catalog.session() as s:
        classify = index_hook(app.settings.state, app.clock.now)
        records = resolving_revisits(iter_records(reader, name), s, app.store, app.keys, warc)
        WarcIndexer(s, app.connector, classify).index(name, records, facts)


def snapshot(catalog: Catalog) -> dict[str, set[tuple[Any, ...]]]:
    """Each derived table as a set of natural-key tuples (no surrogate ids)."""
    with catalog.session() as s:
        items = {i.id: (i.platform, i.item_id) for i in s.scalars(select(t.Item))}
        accounts = {a.id: (a.platform, a.account_id) for a in s.scalars(select(t.Account))}
        return {
            "items": {
                (i.platform, i.item_id, i.kind, i.parent_id, _ts(i.created_at), _ts(i.first_seen_at),
                 _ts(i.last_seen_at), _ts(i.deleted_at))
                for i in s.scalars(select(t.Item))
            },
            "item_versions": {
                (*items[v.item_pk], v.version_no, v.content_sha256, v.warc_file, v.warc_offset,
                 v.warc_length, v.warc_record_id, _ts(v.observed_at))
                for v in s.scalars(select(t.ItemVersion))
            },
            "observations": {
                (o.run_id, *items[o.item_pk], o.warc_file, o.warc_offset)
                for o in s.scalars(select(t.Observation))
            },
            "tombstones": {
                (*items[x.item_pk], x.reason, x.evidence_record_id, x.metadata_record_id,
                 x.last_good_record_id, _ts(x.detected_at))
                for x in s.scalars(select(t.Tombstone))
            },
            "media_captures": {
                (m.url, m.status, m.size, m.warc_file, m.warc_offset)
                for m in s.scalars(select(t.MediaCapture))
            },
            "capture_warnings": {
                (w.run_id, w.code, w.item_id, w.warc_file, w.warc_offset)
                for w in s.scalars(select(t.CaptureWarning))
            },
            "search_docs": {  # the full-text index over every version
                (*items[v.item_pk], v.version_no, body)
                for v, body in s.execute(
                    select(t.ItemVersion, SearchDoc.body)
                    .outerjoin(SearchDoc, SearchDoc.version_pk == t.ItemVersion.id))
            },
            "warc_files": {
                (w.name, w.sha256, w.size, w.records, w.store_key) for w in s.scalars(select(t.WarcFile))
            },
            "stored_payloads": {  # what revisits may refer to (archiver/catalog/payloads.py)
                (accounts.get(p.account_pk), p.target_uri, p.payload_digest, p.record_id,
                 _ts(p.warc_date), p.warc_file, p.warc_offset, p.warc_length)
                for p in s.scalars(select(t.StoredPayload))
            },
        }


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def compare(live: Catalog, rebuilt: Catalog, examples: int = 5) -> list[TableDiff]:
    a, b = snapshot(live), snapshot(rebuilt)
    diffs = []
    for table in a:
        only_a, only_b = a[table] - b[table], b[table] - a[table]
        diffs.append(TableDiff(table, len(a[table]), len(b[table]),
                               sorted(only_a, key=str)[:examples], sorted(only_b, key=str)[:examples]))
    return diffs


def rebuild(app: App, *, apply: bool = False, progress: Callable[[str], None] | None = None) -> RebuildReport:
    """Index every stored WARC into a scratch catalog and compare; unreadable objects are
    skipped and listed in the report (the caller exits non-zero), never fatal."""
    keys = stored_warc_keys(app)
    known = live_wraps(app)  # read once: `apply` empties the table it comes from
    unreadable: list[UnreadableWarc] = []
    with tempfile.TemporaryDirectory(prefix="archiver-rebuild-") as scratch:
        scratch_catalog = open_catalog(f"sqlite:///{Path(scratch) / 'rebuilt.sqlite'}")
        try:
            count = index_all(app, scratch_catalog, keys, progress, known=known, unreadable=unreadable)
            report = RebuildReport(count, compare(app.catalog, scratch_catalog), unreadable=unreadable)
        finally:
            scratch_catalog.dispose()
    if apply and not report.equal:
        bad = {u.store_key for u in unreadable}
        with app.catalog.session() as s:
            for table in DERIVED:
                s.execute(delete(table))
        index_all(app, app.catalog, [k for k in keys if k not in bad], known=known, unreadable=[])
        report.applied = True
    return report
