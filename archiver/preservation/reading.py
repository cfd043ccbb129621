"""Read stored WARCs back by name or pointer: the one door for `warc cat`, `items show`,
rebuild, fixity and exports, so decryption lives in exactly one place.

The functions take only what they need (a store that can open objects, the key provider, the
catalog for name lookups), never the App: fixity reads through a hashing store, and a web
server builds one `WarcReader` per request so no cache is shared between threads.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.catalog.db import Catalog
from archiver.core.errors import ArchiverError
from archiver.core.models import WarcPointer
from archiver.preservation.outbox import vault_context
from archiver.storage.base import ObjectStore
from archiver.vault import KeyProvider, RangeReader, WrappedKey, decrypt_stream, read_header
from archiver.vault.io import PlaintextReader
from archiver.warc.reader import Record, read_record


class OpensObjects(Protocol):
    """All that streaming a whole object needs from a store (fixity passes a hashing one)."""

    def open(self, key: str) -> BinaryIO: ...


@dataclass(frozen=True, slots=True)
class StoredWarc:
    name: str
    store_key: str
    object_size: int | None
    key_id: str | None
    wrapped_key: bytes | None

    @property
    def wrapped(self) -> WrappedKey | None:
        if self.key_id and self.wrapped_key:
            return WrappedKey(self.wrapped_key, self.key_id)
        return None


def stored_warc(catalog: Catalog, name: str) -> StoredWarc:
    with catalog.session() as s:
        row = s.scalar(select(t.WarcFile).where(t.WarcFile.name == name))
    if row is None:
        raise ArchiverError(f"No stored WARC is named '{name}'; see 'archiver warc list'")
    return StoredWarc(row.name, row.store_key, row.object_size, row.key_id, row.wrapped_key)


def iter_plaintext(store: OpensObjects, keys: KeyProvider, warc: StoredWarc,
                   chunk: int = 1 << 20) -> Generator[bytes, None, None]:
    """The WARC's plaintext bytes, each chunk authenticated; the catalog's wrapped key wins
    over the one in the object header (it is the current one after a key rotation)."""
    with store.open(warc.store_key) as fh:
        if warc.wrapped is None and not warc.store_key.endswith(".enc"):
            while data := fh.read(chunk):
                yield data
            return
        header = read_header(fh)
        yield from decrypt_stream(fh, keys, context=vault_context(warc.name),
                                  wrapped_key=warc.wrapped, header=header)


def plaintext_reader(store: OpensObjects, keys: KeyProvider, warc: StoredWarc) -> PlaintextReader:
    return PlaintextReader(iter_plaintext(store, keys, warc))


@dataclass
class WarcReader:
    """Stored WARCs by name or record pointer. Keeps the range readers it opened (so reading
    many records of one WARC unwraps its data key once); one instance per thread or request."""

    catalog: Catalog
    store: ObjectStore
    keys: KeyProvider
    _ranges: dict[str, RangeReader] = field(default_factory=dict, repr=False)

    def warc(self, name: str) -> StoredWarc:
        return stored_warc(self.catalog, name)

    def warc_bytes(self, name: str) -> Iterator[bytes]:
        return iter_plaintext(self.store, self.keys, self.warc(name))

    def record(self, pointer: WarcPointer) -> Record:
        """One record: only the AEAD segments covering it are fetched and decrypted."""
        reader = self._ranges.get(pointer.filename)
        if reader is None:
            warc = self.warc(pointer.filename)
            store = self.store
            reader = RangeReader(
                lambda offset, length: store.read_range(warc.store_key, offset, length),
                self.keys,
                context=vault_context(warc.name),
                wrapped_key=warc.wrapped,
                ciphertext_size=warc.object_size,
            )
            self._ranges[pointer.filename] = reader
        return read_record(reader.read(pointer.offset, pointer.length), pointer)
