"""The object store interface: the local folder (embedded default) and S3 implement it.

Storage knows nothing of platforms or WARCs: it keeps opaque, immutable objects under keys,
with retention and legal-hold controls. Objects are written once; a second put of the same
key is refused, so a retried upload can never overwrite what is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from archiver.core.errors import StorageError


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    sha256: str  # lowercase hex of the stored bytes
    retain_until: datetime | None = None  # timezone-aware UTC, whole seconds
    legal_hold: bool = False
    version_id: str | None = None  # S3 version of the record; None for the local folder


class NoSuchObject(StorageError):
    """The key holds no object (never written, or already destroyed)."""


class InvalidKey(StorageError, ValueError):
    """A key that could escape the store or collide with its bookkeeping files."""


class ObjectStore(Protocol):
    """Write-once object storage with retention controls.

    Keys are relative, '/'-separated paths (see `archiver.storage.rules.check_key`); the same
    rules apply to every store so an archive can move between them. Methods that need an
    existing object raise NoSuchObject when there is none. Datetimes must be timezone-aware.
    """

    url: str  # e.g. file:///srv/archive/store or s3://bucket/prefix

    def check_bucket(self) -> None:
        """Refuse, before any upload, a store that cannot keep records immutable (an S3 bucket
        without versioning and Object Lock); a store that enforces it itself returns."""
        ...

    def put_file(
        self, key: str, path: Path, *, sha256: str, retain_until: datetime | None = None
    ) -> StoredObject:
        """Store a file's bytes; verify them against `sha256` after writing.

        Raises StorageError if `key` exists with different bytes; returns the existing object
        when it exists with the same bytes (so retries are idempotent), extending its
        retention to `retain_until` if that is later. Raises IntegrityError if the file at
        `path` does not match `sha256` or the stored bytes do not verify.
        """
        ...

    def head(self, key: str) -> StoredObject | None:
        """The object's metadata, or None if there is none. Does not re-hash the bytes."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable, seekable stream of the whole object."""
        ...

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length), shorter (possibly empty) past the end of the object."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix` (a plain string prefix), in lexicographic order."""
        ...

    def extend_retention(self, key: str, retain_until: datetime) -> StoredObject:
        """Move retain-until later; an earlier date is ignored (never shortened)."""
        ...

    def set_legal_hold(self, key: str, on: bool) -> StoredObject:
        """Place or release a legal hold; while on, the object cannot be deleted at any date."""
        ...

    def delete(self, key: str) -> None:
        """Destroy the object. Raises ObjectLocked while retention or a legal hold applies."""
        ...
