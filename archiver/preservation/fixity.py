"""`archiver verify`: re-read stored objects and prove they are still what the catalog recorded.

Each object is read once, streamed (never whole in memory). The stored bytes are hashed on
their way into the decryptor (the ciphertext fixity check, against `object_sha256`/
`object_size`), decrypted through `archiver.preservation.reading` with the catalog's wrapped key
(every AEAD segment's tag authenticated), and the plaintext is hashed (against `sha256`/`size`).
A damaged object is a finding with a one-line explanation, never a crash, so one bad object
cannot hide the rest.

Two levels, and each result says which one it got:

    deep      every WARC record's block and payload digests are recomputed as well
              (archiver.warc.digests: zlib per gzip member, hashlib, raw digests compared);
    routine   the record digests are not recomputed, because they already passed a deep check
              of plaintext with this very sha256 (`fixity_deep_checks`): SHA-256 being
              collision resistant, bytes that hash the same are the same bytes, so their record
              digests cannot differ. Inflating thousands of small gzip members costs ~7 us each
              (about 100 MB per CPU second, docs/benchmarks.md); hashing and AES-GCM run at
              over 1 GB/s.

An object is checked deep when `deep=True` (`verify --deep`), when it was never deep-checked,
or when the plaintext sha256 its deep check recorded is not the catalog's `sha256` (the object
or its row changed since). A routine check still fails on any changed byte: a changed stored
byte breaks the ciphertext digest and an AEAD tag; a catalog row that no longer matches the
stored plaintext is a plaintext mismatch whichever level ran. Only a deep check that ends `ok`
records its plaintext sha256 (the digest it computed, not the catalog's).

Verdicts, most specific first (an object gets the first that applies):

    missing               no object under the catalogued key
    tampered              authentication failed: bytes altered, truncated, reordered
    ciphertext-mismatch   the stored bytes differ from the catalog's object digest or size
    missing-key           the key-encryption key (or the wrapped data key) is gone
    wrong-key             the wrapped data key does not open this object
    plaintext-mismatch    decrypts, but not to the WARC the catalog describes
    record-digest-failed  the WARC decrypts as recorded but a record fails its own digest
    unreadable            the store or key service could not be asked (retry later)
    ok

Every run is recorded, one row per object checked, in the `fixity_checks` table: the fixity
log ISO 16363 4.4.1.2 asks for, kept apart from the WARCs. It is not derived from them, so
`catalog rebuild --apply` leaves it alone.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import func, select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.catalog.fixity_tables import FixityDeepCheck
from archiver.core.errors import (
    ArchiverError,
    CatalogError,
    ConfigError,
    IntegrityError,
    MissingKey,
    StorageError,
    TamperedData,
    WrongKey,
)
from archiver.preservation.reading import StoredWarc, iter_plaintext
from archiver.storage.base import NoSuchObject, ObjectStore
from archiver.vault.io import PlaintextReader
from archiver.warc.digests import RecordDigestChecker

if TYPE_CHECKING:  # warcio is not needed to verify
    from archiver.warc.reader import ByteStream

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_PCT = 5.0
_BATCH = 100  # rows loaded and results recorded per catalog round trip
_RESTORE = "restore it from a replica or backup"


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"
    TAMPERED = "tampered"
    CIPHERTEXT_MISMATCH = "ciphertext-mismatch"
    MISSING_KEY = "missing-key"
    WRONG_KEY = "wrong-key"
    PLAINTEXT_MISMATCH = "plaintext-mismatch"
    RECORD_DIGEST_FAILED = "record-digest-failed"
    UNREADABLE = "unreadable"


class Level(StrEnum):
    DEEP = "deep"  # record digests recomputed
    ROUTINE = "routine"  # record digests proven by an earlier deep check of the same plaintext


@dataclass(frozen=True, slots=True)
class ObjectCheck:
    name: str
    store_key: str
    verdict: Verdict
    explanation: str  # one line a records officer can act on; empty when ok
    records: int = 0  # WARC records whose digests were recomputed (0 at the routine level)
    bytes_read: int = 0  # stored (ciphertext) bytes read
    level: Level = Level.DEEP
    plaintext_sha256: str = ""  # what the plaintext hashed to, when it was read to the end

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "store_key": self.store_key, "verdict": str(self.verdict),
                "explanation": self.explanation, "records": self.records,
                "bytes_read": self.bytes_read, "level": str(self.level)}


@dataclass
class FixityReport:
    run_id: str
    started_at: datetime
    total_objects: int  # WARC files in the catalog
    sample_pct: float | None  # None when every object was checked
    results: list[ObjectCheck] = field(default_factory=list)
    finished_at: datetime | None = None
    recorded: bool = True  # False if the fixity log could not be written to the catalog

    @property
    def checked(self) -> int:
        return len(self.results)

    @property
    def findings(self) -> list[ObjectCheck]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[str(r.verdict)] = out.get(str(r.verdict), 0) + 1
        return out

    def level_counts(self) -> dict[str, int]:
        out = {str(level): 0 for level in Level}
        for r in self.results:
            out[str(r.level)] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "total_objects": self.total_objects,
            "checked": self.checked,
            "sample_pct": self.sample_pct,
            "ok": self.ok,
            "counts": self.counts(),
            "levels": self.level_counts(),
            "recorded": self.recorded,
            "findings": [r.as_dict() for r in self.findings],
            # every object checked, with its verdict and the level it was checked at
            "objects": [{"name": r.name, "verdict": str(r.verdict), "level": str(r.level),
                         "records": r.records, "bytes_read": r.bytes_read} for r in self.results],
        }


def sample_size(total: int, pct: float) -> int:
    """`pct` percent of `total`, rounded up, at least one when there is anything to check."""
    if total <= 0:
        return 0
    return min(total, max(1, math.ceil(total * pct / 100.0)))


def sample_share(sample_pct: float | None, all_: bool) -> float | None:
    """The percentage to check (None: all); ConfigError for contradictory or impossible values."""
    if all_ and sample_pct is not None:
        raise ConfigError("Give either --all or --sample PCT, not both.")
    if sample_pct is not None and not 0 < sample_pct <= 100:
        raise ConfigError(f"--sample must be a percentage above 0 and at most 100, not {sample_pct:g}.")
    return None if all_ else (sample_pct if sample_pct is not None else DEFAULT_SAMPLE_PCT)


def verify(
    app: App,
    *,
    sample_pct: float | None,
    all_: bool,
    deep: bool = False,
    rng: random.Random | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_object: Callable[[ObjectCheck], None] | None = None,
) -> FixityReport:
    """Check every stored WARC (`all_`) or a random `sample_pct` share (default 5%, min 1);
    `deep` recomputes every record digest even where a deep check of the same plaintext passed.

    `on_plan(n)` is told how many objects will be checked, `on_object` each result as it
    comes (for progress bars). Raises only for bad arguments or an unreachable catalog.
    """
    pct = sample_share(sample_pct, all_)
    with app.catalog.session() as s:
        ids = list(s.scalars(select(t.WarcFile.id).order_by(t.WarcFile.id)))
    chosen = ids if pct is None else sorted((rng or random.Random()).sample(ids, sample_size(len(ids), pct)))
    report = FixityReport(uuid.uuid4().hex, app.clock.now(), len(ids), pct)
    if on_plan:
        on_plan(len(chosen))
    tap = _TappedStore(app.store)
    for start in range(0, len(chosen), _BATCH):
        with app.catalog.session() as s:
            rows = list(s.scalars(select(t.WarcFile).where(t.WarcFile.id.in_(chosen[start:start + _BATCH]))
                                  .order_by(t.WarcFile.id)))
            passed: dict[str, str] = {} if deep else {name: sha for name, sha in s.execute(
                select(FixityDeepCheck.warc_name, FixityDeepCheck.plaintext_sha256)
                .where(FixityDeepCheck.warc_name.in_([r.name for r in rows])))}
        batch = []
        for row in rows:
            # Routine only when a deep check passed on plaintext with the digest the row claims;
            # the plaintext read now must then hash to that same value to be `ok`.
            level = Level.ROUTINE if passed.get(row.name) == row.sha256 else Level.DEEP
            result = _check_object(app, tap, row, level)
            if not result.ok:
                log.info("fixity finding for %s: %s: %s", result.name, result.verdict, result.explanation)
            batch.append(result)
            if on_object:
                on_object(result)
        report.results.extend(batch)
        report.recorded = _record(app, report.run_id, batch) and report.recorded
    report.finished_at = app.clock.now()
    if report.findings:
        log.warning("fixity run %s: %d findings among %d objects checked", report.run_id,
                    len(report.findings), report.checked)
    return report


def history(app: App, name: str) -> list[t.FixityCheck]:
    """Every recorded check of the WARC `name`, oldest first."""
    with app.catalog.session() as s:
        return list(s.scalars(select(t.FixityCheck).where(t.FixityCheck.warc_name == name)
                              .order_by(t.FixityCheck.checked_at, t.FixityCheck.id)))


def last_checked(app: App) -> dict[str, datetime]:
    """When each WARC was last checked (names never checked are absent)."""
    with app.catalog.session() as s:
        rows = s.execute(select(t.FixityCheck.warc_name, func.max(t.FixityCheck.checked_at))
                         .group_by(t.FixityCheck.warc_name))
        return {name: when for name, when in rows}


# --- one object ----------------------------------------------------------------------------


def _check_object(app: App, tap: _TappedStore, row: t.WarcFile, level: Level = Level.DEEP) -> ObjectCheck:
    """Verdict for one catalog row at `level`; every ArchiverError becomes a finding."""
    plain_sha = ""

    def result(verdict: Verdict, explanation: str = "", records: int = 0) -> ObjectCheck:
        size = tap.last.size if tap.last is not None else 0
        return ObjectCheck(row.name, row.store_key, verdict, explanation, records, size, level, plain_sha)

    tap.last = None
    try:
        head = app.store.head(row.store_key)
    except StorageError as exc:
        return result(Verdict.UNREADABLE, f"{exc.message} (the check will need to be repeated)")
    if head is None:
        return result(Verdict.MISSING, f"No object at {row.store_key} in {app.store.url}; {_RESTORE}.")

    warc = StoredWarc(row.name, row.store_key, row.object_size, row.key_id, row.wrapped_key)
    chunks = iter_plaintext(tap, app.keys, warc)
    reader = PlaintextReader(chunks) if level is Level.DEEP else None
    error: ArchiverError | None = None
    records, record_problem = 0, ""
    plain_hash, plain_size = hashlib.sha256(), 0
    try:
        if reader is not None:
            records, record_problem = _check_records(reader, row.name)
            reader.drain()
        else:  # routine: each authenticated segment straight into sha256, no copy, no parsing
            for chunk in chunks:
                plain_hash.update(chunk)
                plain_size += len(chunk)
    except ArchiverError as exc:
        error = exc
    finally:
        chunks.close()  # closes the stored stream, which hashes whatever was left unread
    cipher_problem = _ciphertext_problem(row, tap.last)

    if isinstance(error, NoSuchObject):
        return result(Verdict.MISSING, f"No object at {row.store_key} in {app.store.url}; {_RESTORE}.")
    if isinstance(error, TamperedData):
        also = " The stored bytes also differ from the catalog's digest." if cipher_problem else ""
        return result(Verdict.TAMPERED, error.message + also, records)
    if isinstance(error, IntegrityError):
        return result(Verdict.CIPHERTEXT_MISMATCH, error.message, records)
    if cipher_problem:
        if error is None:
            tail = ("; yet it authenticates under its data key, so the catalog's digest is likely "
                    "wrong: compare the row with 'archiver catalog rebuild' before restoring anything.")
        elif isinstance(error, (MissingKey, WrongKey)):
            tail = f"; {_RESTORE} (it cannot be decrypted either: {error.message})"
        else:
            tail = f"; {_RESTORE} (decryption failed too: {error.message})"
        return result(Verdict.CIPHERTEXT_MISMATCH, f"Stored object {row.store_key} {cipher_problem}{tail}",
                      records)
    if isinstance(error, MissingKey):
        return result(Verdict.MISSING_KEY, error.message, records)
    if isinstance(error, WrongKey):
        return result(Verdict.WRONG_KEY, error.message, records)
    if error is not None:
        return result(Verdict.UNREADABLE, f"{error.message} (the check will need to be repeated)", records)
    if reader is not None:
        plain_hash, plain_size = reader.sha256, reader.size
    plain_sha = plain_hash.hexdigest()
    if plain_size != row.size or plain_sha != row.sha256:
        return result(
            Verdict.PLAINTEXT_MISMATCH,
            f"Decrypted WARC is {plain_size} bytes with sha256 {plain_sha[:16]}..., "
            f"but the catalog records {row.size} bytes with sha256 {row.sha256[:16]}...: the row does "
            "not describe this object; compare it with 'archiver catalog rebuild'.",
            records,
        )
    if record_problem:
        return result(Verdict.RECORD_DIGEST_FAILED,
                      f"{record_problem}: the WARC was damaged before it was encrypted; keep it and "
                      "report the capture host for investigation.", records)
    return result(Verdict.OK, "", records)


def _ciphertext_problem(row: t.WarcFile, stream: _HashingStream | None) -> str:
    """What is wrong with the stored bytes compared with the catalog ledger ('' if nothing)."""
    if stream is None or row.object_sha256 is None:
        return ""  # never opened (the store refused: reported from its error) or no ledger value
    if not stream.complete:
        return f"could only be read up to byte {stream.size}"
    if row.object_size is not None and stream.size != row.object_size:
        return f"is {stream.size} bytes but the catalog records {row.object_size}"
    if stream.sha256.hexdigest() != row.object_sha256:
        return (f"hashes to sha256 {stream.sha256.hexdigest()[:16]}... but the catalog records "
                f"{row.object_sha256[:16]}...")
    return ""


def _check_records(reader: ByteStream, name: str) -> tuple[int, str]:
    """Recompute each record's WARC-Block-Digest and WARC-Payload-Digest.

    Returns (records read, first problem or ''). Vault errors propagate: they are the
    object's verdict. Any parser failure is a finding about the WARC itself.
    """
    checker = RecordDigestChecker()
    try:
        check = checker.check(reader)
    except ArchiverError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure (zlib, format) is a finding
        return checker.records, (f"{name} cannot be parsed after record {checker.records} "
                                 f"{checker.record_id} ({type(exc).__name__})")
    found = check.finding
    if found is not None:
        return check.records, f"Record {found.number} {found.record_id} at offset {found.offset} of {name}: {found.problem}"
    return check.records, ""


# --- reading through archiver.preservation.reading while hashing the stored bytes ----------------------


class _HashingStream(io.RawIOBase):
    """Hashes every stored byte handed to the decryptor; on close, hashes the unread rest too,
    so the ciphertext digest covers the whole object even when decryption stopped early."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.complete = False

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        try:
            data = self._inner.read(-1 if n is None else n)
        except OSError as exc:  # a failing disk (EIO) is a finding about this object
            raise StorageError(f"The stored object could not be read ({exc.strerror or exc}).",
                               detail=repr(exc)) from exc
        self.sha256.update(data)
        self.size += len(data)
        if not data and n != 0:
            self.complete = True
        return data

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]  # RawIOBase says any buffer; callers pass these two
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            while self.read(1 << 20):
                pass
        except (OSError, ArchiverError) as exc:
            log.warning("could not read the rest of a stored object: %s", type(exc).__name__)
        finally:
            self._inner.close()
            super().close()


class _TappedStore:
    """Opens the app's objects as hashed streams (see _HashingStream), so decryption stays in
    archiver.preservation.reading and each object is read once."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self.last: _HashingStream | None = None

    def open(self, key: str) -> BinaryIO:
        self.last = None
        self.last = _HashingStream(self._store.open(key))
        return self.last  # type: ignore[return-value]  # a RawIOBase stream, read like a BinaryIO



def _record(app: App, run_id: str, results: list[ObjectCheck]) -> bool:
    """The fixity log rows of one batch, and the plaintext digest of each deep check that passed."""
    if not results:
        return True
    now = app.clock.now()
    passed = {r.name: r for r in results if r.ok and r.level is Level.DEEP and r.plaintext_sha256}
    try:
        with app.catalog.session() as s:
            s.add_all(t.FixityCheck(run_id=run_id, warc_name=r.name, store_key=r.store_key,
                                    checked_at=now, verdict=str(r.verdict), detail=r.explanation,
                                    level=str(r.level))
                      for r in results)
            if passed:
                known = {d.warc_name: d for d in s.scalars(
                    select(FixityDeepCheck).where(FixityDeepCheck.warc_name.in_(list(passed))))}
                for name, r in passed.items():
                    row = known.get(name)
                    if row is None:
                        s.add(FixityDeepCheck(warc_name=name, plaintext_sha256=r.plaintext_sha256,
                                              records=r.records, checked_at=now, run_id=run_id))
                    else:
                        row.plaintext_sha256, row.records = r.plaintext_sha256, r.records
                        row.checked_at, row.run_id = now, run_id
    except CatalogError as exc:
        log.error("could not record fixity results of run %s: %s", run_id, exc.message)
        return False
    return True
