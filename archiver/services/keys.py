"""`archiver keys rotate`: put every object's data key under a new key-encryption key (KEK).

Rotation rewraps the wrapped data keys kept in the catalog (kilobytes per object) and never
rewrites a stored object: each new wrap is also stored beside its object as a write-once wrap
sidecar (archiver.preservation.wrapped_keys), so the store alone plus the current key reads
everything after old keys are removed. Headers keep the wrap from the day they were written, and
`archiver.preservation.reading` always prefers the catalog's copy. Rows are committed in batches, so an
interrupted rotation leaves each row under either the old or the new KEK, both still valid.

Key file: a new KEK is added and made current, then every row is rewrapped under it.
`remove_old` then destroys the superseded KEKs, but only when no catalog row and no
encrypted spool file still needs one (stop capture first: a running process keeps the KEK
it loaded). Removing a KEK also finishes crypto-shredding any object whose catalog copy was
deleted, because its header copy dies with that KEK.

KMS: rotation moves every row to another KMS key (`to_kms_key`) with ReEncrypt, so data
keys never leave KMS. KMS's own yearly rotation of key material needs no rewrap at all. Old
KMS keys are disabled or scheduled for deletion in KMS by its administrators, not here.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from archiver.app import App
from archiver.catalog import tables as t
from archiver.core.errors import ArchiverError, CatalogError, ConfigError
from archiver.preservation.outbox import ENC_SUFFIX, vault_context
from archiver.preservation.wrapped_keys import put_sidecar
from archiver.storage.base import NoSuchObject
from archiver.vault import (
    KeyFileProvider,
    KeyProvider,
    RewrapFailure,
    RewrapRecord,
    WrappedKey,
    fetch_header,
    read_header,
    rewrap_all,
)
from archiver.vault.signing import rewrap_signing_key, signing_key_path

log = logging.getLogger(__name__)

BATCH_SIZE = 500


@dataclass
class RotationReport:
    provider: str  # "key-file" or "kms"
    new_key_id: str
    old_key_ids: list[str]  # KEKs the rotation moved rows away from (or could have)
    rewrapped: int = 0
    already_current: int = 0
    failed: int = 0
    failures: list[RewrapFailure] = field(default_factory=list)
    still_old: int = 0  # catalog rows still wrapped under another key after the run
    spool_old: int = 0  # encrypted spool files (not yet catalogued) under a superseded key
    header_only: int = 0  # rows without a catalog wrap whose header wrap needs a superseded key
    removed_key_ids: list[str] = field(default_factory=list)
    signing_key_rewrapped: bool = False  # the export signing key moved to the new KEK too

    @property
    def complete(self) -> bool:
        """Every row is under the new key and nothing else still needs an old one."""
        return not (self.failed or self.still_old or self.spool_old or self.header_only)

    @property
    def old_keys_removable(self) -> bool:
        return self.provider == "key-file" and self.complete and bool(self.old_key_ids)

    def next_step(self) -> str:
        if self.failed:
            return (f"{self.failed} rows could not be rewrapped; fix what the failures say and run "
                    "'archiver keys rotate' again (old keys are kept meanwhile)")
        if self.spool_old:
            return (f"{self.spool_old} encrypted spool files still need an old key; run "
                    "'archiver poll --once' to store them, then rotate again")
        if self.header_only:
            return (f"{self.header_only} objects have no wrapped key in the catalog and open only "
                    "through their header under an old key; removing it would make them unreadable, "
                    "so if that is intended (disposition), delete their catalog rows first")
        if self.still_old:
            return (f"{self.still_old} rows were added under an old key during the rotation; "
                    "run 'archiver keys rotate' again")
        if self.provider == "kms":
            return (f"set vault.kms_key_id to {self.new_key_id} (ARCHIVER_VAULT__KMS_KEY_ID) so new "
                    "objects use it; disable the old KMS key only after backing up the catalog")
        if self.removed_key_ids:
            return "old keys removed; destroy older backups of the key file too, then back it up again"
        if self.old_keys_removable:
            return ("back up the catalog and the key file, then run 'archiver keys rotate "
                    "--remove-old' (or keep the old keys: they only open the headers' stale copies)")
        return "nothing else to do; back up the key file"

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "new_key_id": self.new_key_id,
            "old_key_ids": self.old_key_ids,
            "rewrapped": self.rewrapped,
            "already_current": self.already_current,
            "failed": self.failed,
            "failures": [{"object": f.object_id, "message": f.message} for f in self.failures],
            "still_old": self.still_old,
            "spool_old": self.spool_old,
            "header_only": self.header_only,
            "complete": self.complete,
            "old_keys_removable": self.old_keys_removable,
            "removed_key_ids": self.removed_key_ids,
            "signing_key_rewrapped": self.signing_key_rewrapped,
            "next_step": self.next_step(),
        }


def rotate_keys(
    app: App,
    *,
    remove_old: bool = False,
    to_kms_key: str | None = None,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    """Rotate to a new KEK and rewrap every catalogued data key under it.

    `on_batch(n)` is told how many rows each committed batch covered (for progress bars).
    """
    check_options(app, remove_old=remove_old, to_kms_key=to_kms_key)
    if app.settings.vault.kms_key_id:
        return _rotate_kms(app, to_kms_key or "", batch_size, on_batch)
    provider = app.keys
    if not isinstance(provider, KeyFileProvider):  # pragma: no cover - App builds one or the other
        raise ConfigError("Key rotation supports the key file and AWS KMS only.")
    provider.reload()
    superseded = list(provider.key_ids)
    new_id = provider.add_key()
    log.info("added key %s to %s; rewrapping the catalog", new_id, provider.path)
    report = RotationReport("key-file", new_id, superseded)
    _rewrap_catalog(app, provider, provider, report, batch_size, on_batch)
    report.signing_key_rewrapped = rewrap_signing_key(provider, provider, signing_key_path(app.settings))
    report.still_old = _rows_not_under(app, new_id)
    report.spool_old = _spool_under(app, set(superseded))
    report.header_only = _header_only(app, set(superseded))
    if remove_old:
        if report.complete:
            for key_id in superseded:
                provider.remove_key(key_id)
                report.removed_key_ids.append(key_id)
                log.warning("removed key %s from %s after a complete rewrap", key_id, provider.path)
        else:
            log.warning("old keys kept: %s", report.next_step())
    return report


def check_options(app: App, *, remove_old: bool, to_kms_key: str | None) -> None:
    """ConfigError for options that do not fit this archive's key provider; changes nothing."""
    if not app.settings.vault.kms_key_id:
        if to_kms_key:
            raise ConfigError(
                "--to-kms-key needs KMS mode: this archive uses the key file; moving it to KMS is "
                "not supported yet (run 'archiver keys rotate' without --to-kms-key)."
            )
        return
    if remove_old:
        raise ConfigError(
            "KMS keys are retired in KMS, not by the archiver: rotate with --to-kms-key, then "
            "disable the old key in KMS once the rotation is complete."
        )
    if not to_kms_key:
        raise ConfigError(
            "With KMS, name the key to move to: archiver keys rotate --to-kms-key KEY_ID "
            "(KMS's automatic rotation of key material needs no rewrap)."
        )


def count_wrapped(app: App) -> int:
    """Catalog rows that carry a wrapped data key (what a rotation will visit)."""
    with app.catalog.session() as s:
        return int(s.scalar(select(func.count()).select_from(t.WarcFile).where(*_has_wrap())) or 0)


# --- internals -----------------------------------------------------------------------------


def _rotate_kms(app: App, to_kms_key: str, batch_size: int,
                on_batch: Callable[[int], None] | None) -> RotationReport:
    from archiver.vault.kms import KmsKeyProvider

    current = app.keys
    if not isinstance(current, KmsKeyProvider):  # pragma: no cover - App builds it for kms_key_id
        raise ConfigError("vault.kms_key_id is set but the key provider is not KMS.")
    target = KmsKeyProvider(to_kms_key, current.client)  # one client: ReEncrypt inside KMS
    new_id = target.key_id  # DescribeKey: fails clearly if the key is unknown or not allowed
    with app.catalog.session() as s:
        old_ids = sorted(k for k in s.scalars(select(t.WarcFile.key_id).where(*_has_wrap()).distinct())
                         if k and k != new_id)
    report = RotationReport("kms", new_id, old_ids)
    _rewrap_catalog(app, current, target, report, batch_size, on_batch)
    report.signing_key_rewrapped = rewrap_signing_key(current, target, signing_key_path(app.settings))
    report.still_old = _rows_not_under(app, new_id)
    report.spool_old = _spool_under(app, set(old_ids))
    return report


def _has_wrap() -> tuple[Any, ...]:
    return (t.WarcFile.wrapped_key.is_not(None), t.WarcFile.key_id.is_not(None))


def _rewrap_catalog(app: App, old: KeyProvider, new: KeyProvider, report: RotationReport,
                    batch_size: int, on_batch: Callable[[int], None] | None) -> None:
    """Rewrap rows in id order, committing one batch per transaction.

    Each update applies only if the row still holds the wrap we read: a row changed meanwhile
    (another rotation, a crypto-shred that deleted its wrapped key) is left alone and counted
    as failed, never overwritten with a key it no longer had.
    """
    last_id = 0
    while True:
        with app.catalog.session() as s:
            rows = list(s.execute(
                select(t.WarcFile.id, t.WarcFile.name, t.WarcFile.wrapped_key, t.WarcFile.key_id,
                       t.WarcFile.store_key)
                .where(t.WarcFile.id > last_id, *_has_wrap()).order_by(t.WarcFile.id).limit(batch_size)
            ))
        if not rows:
            return
        last_id = rows[-1].id
        read = {row.name: row for row in rows}
        new_wraps: dict[str, WrappedKey] = {}

        def save(record: RewrapRecord, wrapped: WrappedKey, new_wraps: dict[str, WrappedKey] = new_wraps) -> None:
            new_wraps[record.object_id] = wrapped

        records = [RewrapRecord(r.name, r.wrapped_key, r.key_id, vault_context(r.name)) for r in rows]
        part = rewrap_all(records, old, new, save)
        changed: list[str] = []
        try:
            with app.catalog.session() as s:
                for name, wrapped in new_wraps.items():
                    done = s.execute(
                        update(t.WarcFile)
                        .where(t.WarcFile.id == read[name].id, t.WarcFile.wrapped_key == read[name].wrapped_key)
                        .values(wrapped_key=wrapped.wrapped, key_id=wrapped.key_id)
                    )
                    if done.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE result has rowcount; Result[Any] does not say so
                        changed.append(name)
        except CatalogError as exc:
            part.failed += len(new_wraps)
            part.rewrapped -= len(new_wraps)
            part.failures.append(RewrapFailure(f"{len(new_wraps)} rows after id {rows[0].id - 1}", exc.message))
        else:
            part.failed += len(changed)
            part.rewrapped -= len(changed)
            part.failures.extend(RewrapFailure(name, "the row changed during the rotation; run it again")
                                 for name in changed)
            _store_sidecars(app, {n: w for n, w in new_wraps.items() if n not in changed}, read, part)
        report.rewrapped += part.rewrapped
        report.already_current += part.already_current
        report.failed += part.failed
        report.failures.extend(part.failures)
        if on_batch:
            on_batch(len(rows))


def _store_sidecars(app: App, wraps: dict[str, WrappedKey], read: dict[str, Any], part: Any) -> None:
    """Keep each new wrap beside its object in the store too (never overwriting an older
    sidecar), so the store alone reads everything once the old key is removed. Written after
    the catalog row changed, never for a row a disposition emptied meanwhile. A failure here
    keeps the old keys (the header still opens the object) until a later rotation succeeds."""
    now = app.clock.now()
    for name, wrapped in wraps.items():
        try:
            put_sidecar(app.store, name, read[name].store_key, wrapped, now)
        except ArchiverError as exc:
            part.failed += 1
            part.rewrapped -= 1
            part.failures.append(RewrapFailure(name, f"wrap sidecar not stored: {exc.message}"))


def _header_only(app: App, key_ids: set[str]) -> int:
    """Encrypted objects whose catalog wrap is gone but whose header wrap needs one of `key_ids`.

    The row's key id may be newer than the header's (rewrapped, then its wrap deleted), so the
    header is read from the store; such rows are rare (dispositions in progress).
    """
    if not key_ids:
        return 0
    with app.catalog.session() as s:
        keys = list(s.scalars(select(t.WarcFile.store_key).where(
            t.WarcFile.wrapped_key.is_(None), t.WarcFile.store_key.like(f"%{ENC_SUFFIX}"))))
    count = 0
    for key in keys:
        try:
            header = fetch_header(functools.partial(app.store.read_range, key))
        except NoSuchObject:
            continue  # nothing left for the key to open
        except ArchiverError:
            count += 1  # cannot tell: assume it may need an old key
            continue
        count += header.key_id in key_ids
    return count


def _rows_not_under(app: App, key_id: str) -> int:
    with app.catalog.session() as s:
        return int(s.scalar(select(func.count()).select_from(t.WarcFile)
                            .where(*_has_wrap(), t.WarcFile.key_id != key_id)) or 0)


def _spool_under(app: App, key_ids: set[str]) -> int:
    """Encrypted spool files not yet catalogued whose only wrap is under one of `key_ids`."""
    spool = app.settings.spool_dir
    if not spool.exists() or not key_ids:
        return 0
    count = 0
    for enc in spool.glob(f"*.warc.gz{ENC_SUFFIX}"):
        try:
            with open(enc, "rb") as fh:
                key_id = read_header(fh).key_id
        except (OSError, ArchiverError):
            count += 1  # unreadable: assume it may need an old key
            continue
        count += key_id in key_ids
    return count


@dataclass(frozen=True)
class ExportKeyReport:
    key_id: str
    path: str
    wrapped_by: str
    public_key_pem: str

    def as_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "path": self.path, "wrapped_by": self.wrapped_by,
                "public_key_pem": self.public_key_pem}


def init_export_key(app: App, *, actor: str | None = None) -> ExportKeyReport:
    """Create the district's Ed25519 key that signs export packages and destruction certificates."""
    from archiver.catalog.audit import append
    from archiver.core.actor import current_actor
    from archiver.vault.signing import init_signing_key

    path = signing_key_path(app.settings)
    info = init_signing_key(app.keys, path, now=app.clock.now())
    with app.catalog.session() as s:
        append(s, actor=actor or current_actor(), action="keys.init-export", subject=info.key_id,
               details={"path": str(path), "wrapped_by": info.wrapped_by}, at=app.clock.now())
    return ExportKeyReport(info.key_id, str(path), info.wrapped_by, info.public_key_pem.decode("ascii"))
