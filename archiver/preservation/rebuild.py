"""`catalog rebuild`: recreate the catalog from the stored WARCs alone and compare.

The rebuild indexes every stored WARC into a scratch catalog with the same indexer the live
pipeline uses, then compares the two table by table, as streams written to a scratch SQLite
file and compared there (memory stays flat at any catalog size; see `compare`). `apply` replaces the live catalog's
derived tables (everything but account registrations and run bookkeeping) with the result.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.sql import Executable

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

_BATCH = 2000  # rows fetched from a catalog, and written to the comparison file, at a time

DERIVED = (rt.ItemRetention, t.Observation, t.Tombstone, t.ItemVersion, t.Item, t.MediaCapture,
           t.CaptureWarning, t.StoredPayload, t.WarcFile)


@dataclass
class TableDiff:
    table: str
    live: int
    rebuilt: int
    only_live: list[Any] = field(default_factory=list)  # the first few (as `str` sorts them)
    only_rebuilt: list[Any] = field(default_factory=list)
    only_live_count: int = 0  # all of them
    only_rebuilt_count: int = 0

    def __post_init__(self) -> None:
        self.only_live_count = max(self.only_live_count, len(self.only_live))
        self.only_rebuilt_count = max(self.only_rebuilt_count, len(self.only_rebuilt))

    @property
    def equal(self) -> bool:
        return not self.only_live_count and not self.only_rebuilt_count


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


def _row_queries() -> dict[str, Executable]:
    """Each derived table as natural-key rows (no surrogate ids: items by platform and id)."""
    i, v = t.Item, t.ItemVersion
    return {
        "items": select(i.platform, i.item_id, i.kind, i.parent_id, i.created_at, i.first_seen_at,
                        i.last_seen_at, i.deleted_at),
        "item_versions": select(i.platform, i.item_id, v.version_no, v.content_sha256, v.warc_file,
                                v.warc_offset, v.warc_length, v.warc_record_id, v.observed_at)
        .join(i, i.id == v.item_pk),
        "observations": select(t.Observation.run_id, i.platform, i.item_id, t.Observation.warc_file,
                               t.Observation.warc_offset).join(i, i.id == t.Observation.item_pk),
        "tombstones": select(i.platform, i.item_id, t.Tombstone.reason, t.Tombstone.evidence_record_id,
                             t.Tombstone.metadata_record_id, t.Tombstone.last_good_record_id,
                             t.Tombstone.detected_at).join(i, i.id == t.Tombstone.item_pk),
        "media_captures": select(t.MediaCapture.url, t.MediaCapture.status, t.MediaCapture.size,
                                 t.MediaCapture.warc_file, t.MediaCapture.warc_offset),
        "capture_warnings": select(t.CaptureWarning.run_id, t.CaptureWarning.code, t.CaptureWarning.item_id,
                                   t.CaptureWarning.warc_file, t.CaptureWarning.warc_offset),
        "search_docs": select(i.platform, i.item_id, v.version_no, SearchDoc.body)  # the full-text index
        .select_from(v).join(i, i.id == v.item_pk).outerjoin(SearchDoc, SearchDoc.version_pk == v.id),
        "warc_files": select(t.WarcFile.name, t.WarcFile.sha256, t.WarcFile.size, t.WarcFile.records,
                             t.WarcFile.store_key),
        "stored_payloads": select(  # what revisits may refer to (archiver/catalog/payloads.py)
            t.Account.platform, t.Account.account_id, t.StoredPayload.target_uri,
            t.StoredPayload.payload_digest, t.StoredPayload.record_id, t.StoredPayload.warc_date,
            t.StoredPayload.warc_file, t.StoredPayload.warc_offset, t.StoredPayload.warc_length,
        ).join(t.Account, t.Account.id == t.StoredPayload.account_pk),
    }


def iter_rows(catalog: Catalog, query: Executable, batch: int = _BATCH) -> Iterator[tuple[Any, ...]]:
    """The query's rows as plain tuples (timestamps as ISO text), streamed from the database."""
    with catalog.engine.connect() as conn:
        result = conn.execution_options(yield_per=batch).execute(query)
        for part in result.partitions():
            for row in part:
                yield tuple(_ts(value) if isinstance(value, datetime) else value for value in row)


def snapshot(catalog: Catalog) -> dict[str, set[tuple[Any, ...]]]:
    """Each derived table as a set of natural-key tuples: for tests on small catalogs (the
    rebuild's own comparison, `compare`, never holds a table in memory)."""
    return {table: set(iter_rows(catalog, query)) for table, query in _row_queries().items()}


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def compare(live: Catalog, rebuilt: Catalog, examples: int = 5) -> list[TableDiff]:
    """Table by table, the rows only one catalog has, in flat memory whatever their number.

    Each side's rows are written to a scratch SQLite file as (digest, JSON text) with the
    digest as primary key (so duplicates count once, as in a set), and the differences are
    SQL anti-joins on disk. Python holds one batch of rows and the `examples` smallest
    differing rows (ordered as `str` orders their tuples) per side. The file (under TMPDIR)
    holds one table of both catalogs at a time: at most about twice its largest table.
    """
    diffs = []
    with tempfile.TemporaryDirectory(prefix="archiver-compare-") as scratch:
        db = sqlite3.connect(Path(scratch) / "compare.sqlite")
        try:
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE", "cache_size=-8192"):
                db.execute(f"PRAGMA {pragma}")
            for table, query in _row_queries().items():
                diffs.append(_compare_table(db, table, query, live, rebuilt, examples))
        finally:
            db.close()
    return diffs


def _compare_table(db: sqlite3.Connection, table: str, query: Executable, live: Catalog, rebuilt: Catalog,
                   examples: int) -> TableDiff:
    for side, catalog in (("live", live), ("rebuilt", rebuilt)):
        db.execute(f"DROP TABLE IF EXISTS {side}")
        db.execute(f"CREATE TABLE {side} (digest BLOB PRIMARY KEY, row TEXT NOT NULL) WITHOUT ROWID")
        rows = iter_rows(catalog, query)
        while chunk := list(islice(rows, _BATCH)):
            db.executemany(f"INSERT OR IGNORE INTO {side} VALUES (?, ?)", map(_keyed, chunk))
        db.commit()
    (n_live,) = db.execute("SELECT count(*) FROM live").fetchone()
    (n_rebuilt,) = db.execute("SELECT count(*) FROM rebuilt").fetchone()
    only = {}
    for side, other in (("live", "rebuilt"), ("rebuilt", "live")):
        found = db.execute(f"SELECT row FROM {side} WHERE digest NOT IN (SELECT digest FROM {other})")
        counted = _Counted(tuple(json.loads(text)) for (text,) in found)
        only[side] = (heapq.nsmallest(examples, counted, key=str), counted.count)
    db.execute("DROP TABLE live")
    db.execute("DROP TABLE rebuilt")
    db.commit()
    return TableDiff(table, n_live, n_rebuilt, only["live"][0], only["rebuilt"][0],
                     only_live_count=only["live"][1], only_rebuilt_count=only["rebuilt"][1])


def _keyed(row: tuple[Any, ...]) -> tuple[bytes, str]:
    text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest(), text


class _Counted:
    """Passes rows through and counts them (nsmallest keeps only the smallest few)."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for row in self._rows:
            self.count += 1
            yield row


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
