"""Key rotation by rewrapping data keys: kilobytes of catalog rows, never terabytes of objects.

The stored ciphertext (header included) is never rewritten, so its header keeps the wrapped
key from the day it was written. After a rotation the catalog's copy is the live one and
callers must pass it to the decrypt functions (`wrapped_key=`); once the old KEK is
destroyed, the header copy is dead weight and deleting the catalog copy crypto-shreds.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from archiver.core.errors import ArchiverError, VaultError
from archiver.vault.keys import Context, KeyProvider, WrappedKey


@dataclass(frozen=True, slots=True)
class RewrapRecord:
    """One object's catalog entry as rotation sees it."""

    object_id: str
    wrapped_key: bytes
    key_id: str
    context: Context


@dataclass(frozen=True, slots=True)
class RewrapFailure:
    object_id: str
    message: str


@dataclass(slots=True)
class RewrapReport:
    rewrapped: int = 0
    already_current: int = 0
    failed: int = 0
    failures: list[RewrapFailure] = field(default_factory=list)


def rewrap(
    wrapped: bytes,
    old_key_id: str,
    context: Context,
    old_provider: KeyProvider,
    new_provider: KeyProvider,
) -> WrappedKey:
    """Wrap the same data key under `new_provider`'s current KEK, and prove it unwraps.

    KMS to KMS through one client uses ReEncrypt, so the data key never leaves KMS; any
    other pair unwraps locally, rewraps, and checks the new wrap yields the same key.
    """
    from archiver.vault.kms import KmsKeyProvider  # deferred: keeps botocore off the import path

    if (
        isinstance(old_provider, KmsKeyProvider)
        and isinstance(new_provider, KmsKeyProvider)
        and old_provider.client is new_provider.client
    ):
        return new_provider.reencrypt(wrapped, old_key_id, context)
    data_key = old_provider.unwrap(wrapped, old_key_id, context)
    new = new_provider.wrap(data_key, context)
    if not hmac.compare_digest(new_provider.unwrap(new.wrapped, new.key_id, context), data_key):
        raise VaultError(
            f"Rewrap under key {new.key_id!r} did not verify; keep the old key and retry."
        )
    return new


def rewrap_all(
    records: Iterable[RewrapRecord],
    old_provider: KeyProvider,
    new_provider: KeyProvider,
    save: Callable[[RewrapRecord, WrappedKey], None],
) -> RewrapReport:
    """Rewrap every record not already under the current KEK; `save` persists each result.

    One failure does not stop the batch. Destroy the old KEK only when `failed` is 0 and the
    saved rows have been backed up; until then both wraps are valid.
    """
    report = RewrapReport()
    current = new_provider.key_id
    for record in records:
        if record.key_id == current:
            report.already_current += 1
            continue
        try:
            new = rewrap(
                record.wrapped_key, record.key_id, record.context, old_provider, new_provider
            )
            save(record, new)
        except ArchiverError as exc:  # VaultError from keys, CatalogError from save
            report.failed += 1
            report.failures.append(RewrapFailure(record.object_id, exc.message))
            continue
        report.rewrapped += 1
    return report
