"""The crash-safe path from a sealed WARC to a catalogued, encrypted, stored object.

    X.warc.gz.open  --seal-->  X.warc.gz  --encrypt-->  X.warc.gz.enc  (plaintext removed)
        --upload, verify digest-->  store  --one catalog transaction-->  row  --> spool file removed

Every step is idempotent and each state is recognisable from the file names alone, so
`sweep()` can finish whatever a killed process left behind: nothing captured is lost, no
catalog row points at a half-written object, and no plaintext outlives the next start.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.catalog import tables as t
from archiver.catalog.indexer import IndexStats, WarcFacts, WarcIndexer
from archiver.core.errors import ArchiverError
from archiver.preservation.contexts import vault_context  # noqa: F401  (re-exported: callers import it from here)
from archiver.retention.classify import index_hook
from archiver.vault import decrypt_stream, encrypt_file, read_header
from archiver.vault.io import PlaintextReader
from archiver.warc.fields import INFO_ACCOUNT, INFO_PLATFORM
from archiver.warc.journal import WarcJournal
from archiver.warc.reader import iter_records
from archiver.warc.recover import salvage_open_file
from archiver.warc.writer import OPEN_SUFFIX

log = logging.getLogger(__name__)

ENC_SUFFIX = ".enc"
# Work done last inside an object's index transaction, given the session and the WARC's name.
InIndex = Callable[[Session, str], None]
TMP_MARK = ".tmp"


def warc_key(platform: str, account_id: str, name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in account_id)
    return f"warc/{platform}/{safe}/{name}{ENC_SUFFIX}"


@dataclass
class SweepReport:
    salvaged: list[str] = field(default_factory=list)
    encrypted: list[str] = field(default_factory=list)
    indexed: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class SpoolBusy(ArchiverError):
    """Another archiver process is capturing into the same home."""


class Outbox:
    def __init__(self, app: App) -> None:
        self.app = app
        self.spool = app.settings.spool_dir

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the spool for this process: the sweep must never touch a WARC that another
        process is still writing. The OS releases the lock if the process dies."""
        self.spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.spool / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SpoolBusy(
                    f"Another archiver process (the daemon?) is capturing into {self.app.settings.home}; "
                    "wait for it to finish or stop it first"
                ) from None
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    # --- the steps -------------------------------------------------------------------------

    def encrypt(self, plain: Path) -> Path:
        """X.warc.gz -> X.warc.gz.enc (atomic, fsynced), then the plaintext is removed."""
        enc = plain.with_name(plain.name + ENC_SUFFIX)
        if not enc.exists():
            encrypt_file(
                plain, enc, self.app.keys, context=vault_context(plain.name),
                segment_size=self.app.settings.vault.segment_size,
            )
        plain.unlink(missing_ok=True)
        return enc

    def ship(
        self, enc: Path, platform: str, account_id: str, timings: dict[str, float] | None = None,
        journal: WarcJournal | None = None, within: InIndex | None = None,
    ) -> IndexStats:
        """Upload (idempotent, digest-verified), index in one transaction, drop the spool copy.

        With the `journal` the writer kept (live capture), the records are indexed from it;
        without (the sweep after a crash), the stored object is decrypted and read back.
        `within(session, name)` runs last in the index transaction (the poll's retention
        controls and the run's close: one transaction per object, issue 14)."""
        name = enc.name[: -len(ENC_SUFFIX)]
        key = warc_key(platform, account_id, name)
        object_sha = _sha256_file(enc)
        stored = self.app.store.put_file(key, enc, sha256=object_sha)
        if journal is not None and journal.sealed is not None and journal.sealed.name == name:
            started = time.perf_counter()
            stats = self._index_journal(journal, name, key, stored.size, object_sha, enc, within)
            if timings is not None:
                timings["index"] = timings.get("index", 0.0) + time.perf_counter() - started
            enc.unlink(missing_ok=True)
            return stats
        with open(enc, "rb") as fh:
            header = read_header(fh)
            chunks = decrypt_stream(fh, self.app.keys, context=vault_context(name), header=header)
            reader = PlaintextReader(chunks)
            started = time.perf_counter()
            stats = self._index(reader, name, key, stored.size, object_sha, header.key_id, header.wrapped_key,
                                within)
            if timings is not None:
                timings["index"] = timings.get("index", 0.0) + time.perf_counter() - started
        enc.unlink(missing_ok=True)
        return stats

    def _index(self, reader: PlaintextReader, name: str, key: str, object_size: int, object_sha: str,
               key_id: str, wrapped: bytes, within: InIndex | None = None) -> IndexStats:
        def facts() -> WarcFacts:
            reader.drain()  # the digest must cover the whole object, not just the records read
            return WarcFacts(
                name=name, size=reader.size, sha256=reader.sha256.hexdigest(), store_key=key,
                stored_at=self.app.clock.now(), object_size=object_size, object_sha256=object_sha,
                key_id=key_id, wrapped_key=wrapped,
            )

        from archiver.preservation.reading import (  # reading imports us
            StoredWarc,
            resolving_revisits,
        )

        current = StoredWarc(name, key, object_size, key_id, wrapped)
        with self.app.catalog.session() as s:
            classify = index_hook(self.app.settings.state, self.app.clock.now)
            records = resolving_revisits(iter_records(reader, name), s, self.app.store, self.app.keys, current)
            stats = WarcIndexer(s, self.app.connector, classify).index(name, records, facts)
            if within is not None:
                within(s, name)
            return stats

    def _index_journal(self, journal: WarcJournal, name: str, key: str, object_size: int,
                       object_sha: str, enc: Path, within: InIndex | None = None) -> IndexStats:
        sealed = journal.sealed
        assert sealed is not None  # checked by the caller
        with open(enc, "rb") as fh:
            header = read_header(fh)  # the key id and wrapped key: the header only, no decryption

        def facts() -> WarcFacts:
            return WarcFacts(
                name=name, size=sealed.size, sha256=sealed.sha256, store_key=key,
                stored_at=self.app.clock.now(), object_size=object_size, object_sha256=object_sha,
                key_id=header.key_id, wrapped_key=header.wrapped_key,
            )

        from archiver.preservation.reading import (  # reading imports us
            StoredWarc,
            resolving_revisits,
        )

        current = StoredWarc(name, key, object_size, header.key_id, header.wrapped_key)
        with self.app.catalog.session() as s:
            classify = index_hook(self.app.settings.state, self.app.clock.now)
            # The journal holds a revisit as written (no payload): the parser needs the original's.
            records = resolving_revisits(journal.records, s, self.app.store, self.app.keys, current,
                                         payloads=journal.revisit_payloads)
            stats = WarcIndexer(s, self.app.connector, classify).index(
                name, records, facts, media_sizes=journal.media_sizes, parsed=journal.parsed,
                new_run=journal.new_run, known_account=journal.account)
            if within is not None:
                within(s, name)
            return stats

    def store_sealed(
        self, plain: Path, platform: str, account_id: str, timings: dict[str, float] | None = None,
        journal: WarcJournal | None = None, within: InIndex | None = None,
    ) -> IndexStats:
        started = time.perf_counter()
        index_before = timings.get("index", 0.0) if timings is not None else 0.0
        enc = self.encrypt(plain)
        stats = self.ship(enc, platform, account_id, timings, journal, within)
        if timings is not None:
            indexing = timings.get("index", 0.0) - index_before
            timings["store"] = timings.get("store", 0.0) + time.perf_counter() - started - indexing
        return stats

    # --- recovery --------------------------------------------------------------------------

    def sweep(self) -> SweepReport:
        report = SweepReport()
        if not self.spool.exists():
            return report
        for pattern in (f"*{TMP_MARK}*", ".*.partial"):  # not .lock: it is ours while we run
            for tmp in self.spool.glob(pattern):
                tmp.unlink(missing_ok=True)  # an encryption or copy that never completed
        for open_file in sorted(self.spool.glob(f"*{OPEN_SUFFIX}")):
            sealed = salvage_open_file(open_file)
            (report.salvaged if sealed else report.discarded).append(open_file.name)
        for plain in sorted(self.spool.glob("*.warc.gz")):
            self.encrypt(plain)
            report.encrypted.append(plain.name)
        for enc in sorted(self.spool.glob(f"*.warc.gz{ENC_SUFFIX}")):
            name = enc.name[: -len(ENC_SUFFIX)]
            with self.app.catalog.session() as s:
                done = s.scalar(select(t.WarcFile.id).where(t.WarcFile.name == name))
            if done is not None:
                enc.unlink(missing_ok=True)
                report.cleaned.append(name)
                continue
            try:
                platform, account_id = self._owner_of_encrypted(enc, name)
                self.ship(enc, platform, account_id)
                report.indexed.append(name)
            except ArchiverError as exc:
                log.error("could not finish %s: %s", name, exc.message)
                report.failed.append(name)
        return report

    def _owner_of_encrypted(self, enc: Path, name: str) -> tuple[str, str]:
        with open(enc, "rb") as fh:
            reader = PlaintextReader(decrypt_stream(fh, self.app.keys, context=vault_context(name)))
            for record in iter_records(reader, name):
                info = record.warc_fields()
                return info.get(INFO_PLATFORM, "unknown"), info.get(INFO_ACCOUNT, "unknown")
        return "unknown", "unknown"


def _sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
