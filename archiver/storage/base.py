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


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    sha256: str  # lowercase hex of the stored bytes
    retain_until: datetime | None = None
    legal_hold: bool = False


class ObjectStore(Protocol):
    """Write-once object storage with retention controls."""

    url: str  # e.g. file:///srv/archive/store or s3://bucket/prefix

    def put_file(
        self, key: str, path: Path, *, sha256: str, retain_until: datetime | None = None
    ) -> StoredObject:
        """Store a file's bytes; verify them against `sha256` after writing.

        Raises StorageError if `key` exists with different bytes; returns the existing object
        when it exists with the same bytes (so retries are idempotent).
        """
        ...

    def head(self, key: str) -> StoredObject | None: ...

    def open(self, key: str) -> BinaryIO:
        """A readable, seekable stream of the whole object."""
        ...

    def read_range(self, key: str, offset: int, length: int) -> bytes: ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...

    def extend_retention(self, key: str, retain_until: datetime) -> StoredObject:
        """Move retain-until later; an earlier date is ignored (never shortened)."""
        ...

    def set_legal_hold(self, key: str, on: bool) -> StoredObject: ...

    def delete(self, key: str) -> None:
        """Destroy the object. Raises ObjectLocked while retention or a legal hold applies."""
        ...
