"""Read stored WARCs back by name or pointer: the one door for `warc cat`, `items show`,
rebuild, fixity and exports, so decryption lives in exactly one place.

The functions take only what they need (a store that can open objects, the key provider, the
catalog for name lookups), never the App: fixity reads through a hashing store, and a web
server builds one `WarcReader` per request so no cache is shared between threads.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.catalog import tables as t
from archiver.catalog.db import Catalog
from archiver.core.errors import ArchiverError
from archiver.core.models import WarcPointer
from archiver.preservation.contexts import vault_context
from archiver.storage.base import ObjectStore
from archiver.vault import KeyProvider, RangeReader, WrappedKey, decrypt_stream, read_header
from archiver.vault.io import PlaintextReader

if TYPE_CHECKING:  # the WARC parser (warcio) only for record reads: fixity streams whole objects
    from archiver.warc.reader import Record


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
        return stored_warc_in(s, name)


def stored_warc_in(s: Session, name: str) -> StoredWarc:
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


class _Blocks:
    """Plaintext of one stored object read in aligned blocks, the last few kept: revisits
    of one capture mostly refer to neighbouring records of one earlier WARC, so resolving
    them decrypts each segment once, not once per record."""

    BLOCK = 1 << 20
    KEEP = 4

    def __init__(self, reader: RangeReader) -> None:
        self.reader = reader
        seg = reader.header.segment_size
        self.block = seg * max(1, self.BLOCK // seg)
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def _get(self, index: int) -> bytes:
        data = self._cache.get(index)
        if data is None:
            start = index * self.block
            size = self.reader.plaintext_size
            length = self.block if size is None else max(0, min(self.block, size - start))
            data = self._cache[index] = self.reader.read(start, length) if length else b""
            if len(self._cache) > self.KEEP:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return data

    def read(self, offset: int, length: int) -> bytes:
        if self.reader.plaintext_size is None:  # size unknown: exact ranges only
            return self.reader.read(offset, length)
        pieces, pos, end = [], offset, offset + length
        while pos < end:
            index = pos // self.block
            piece = self._get(index)[pos - index * self.block : end - index * self.block]
            if not piece:
                raise ValueError(f"range {offset}+{length} is past the end of the plaintext")
            pieces.append(piece)
            pos += len(piece)
        return b"".join(pieces)


@dataclass
class WarcReader:
    """Stored WARCs by name or record pointer. Keeps the range readers it opened (so reading
    many records of one WARC unwraps its data key once); one instance per thread or request.

    `lookup` replaces the catalog for name lookups: the indexer's own session, plus the WARC
    being indexed (not catalogued until its transaction commits)."""

    catalog: Catalog | None
    store: ObjectStore
    keys: KeyProvider
    lookup: Callable[[str], StoredWarc] | None = None
    _ranges: dict[str, _Blocks] = field(default_factory=dict, repr=False)

    def warc(self, name: str) -> StoredWarc:
        if self.lookup is not None:
            return self.lookup(name)
        assert self.catalog is not None, "a WarcReader needs a catalog or a lookup"
        return stored_warc(self.catalog, name)

    def warc_bytes(self, name: str) -> Iterator[bytes]:
        return iter_plaintext(self.store, self.keys, self.warc(name))

    def raw_record(self, pointer: WarcPointer) -> Record:
        """One record as stored: only the AEAD segments covering it are fetched and decrypted."""
        reader = self._ranges.get(pointer.filename)
        if reader is None:
            warc = self.warc(pointer.filename)
            store = self.store
            reader = _Blocks(RangeReader(
                lambda offset, length: store.read_range(warc.store_key, offset, length),
                self.keys,
                context=vault_context(warc.name),
                wrapped_key=warc.wrapped,
                ciphertext_size=warc.object_size,
            ))
            self._ranges[pointer.filename] = reader
        from archiver.warc.reader import read_record

        return read_record(reader.read(pointer.offset, pointer.length), pointer)

    def record(self, pointer: WarcPointer) -> Record:
        """One record; a revisit comes back resolved to its original's payload (it raises
        UnresolvedRevisit, one line, when the original is gone)."""
        from archiver.warc import revisit

        return revisit.resolve(self.raw_record(pointer), self.raw_record)


def resolving_revisits(records: Iterable[Record], session: Session, store: ObjectStore,
                       keys: KeyProvider, current: StoredWarc,
                       payloads: Mapping[str, bytes] | None = None) -> Iterator[Record]:
    """The records of `current` (being indexed in `session`) with every revisit resolved
    against the stored objects: earlier ones through the session's catalog, `current` itself
    (not catalogued yet) directly. An original that is gone leaves its revisit unresolved
    (the indexer records a warning), never stops the indexing.

    `payloads` (original record id -> payload; the capture journal's) are originals whose
    bytes the caller holds: those are not read back from the store (the digest is still checked).
    Such an original reads as a 200 without headers: parsers read status and body only, and
    media answers, whose rows keep the original's content type, are never among them."""

    def lookup(name: str) -> StoredWarc:
        return current if name == current.name else stored_warc_in(session, name)

    reader = WarcReader(None, store, keys, lookup=lookup)
    from archiver.warc import revisit

    if not payloads:
        return revisit.resolving(records, reader.raw_record)
    from archiver.warc.reader import Record as RecordType  # at run time only here (lazy import)

    held = payloads

    def fetch(pointer: WarcPointer) -> Record:
        body = held.get(pointer.record_id)
        if body is None:
            return reader.raw_record(pointer)
        # Only complete 200 answers are deduplicated (revisit.dedupable): the original's status.
        return RecordType(pointer, "response", {}, 200, (), body)

    return revisit.resolving(records, fetch)
