"""Byte ranges of stored (encrypted) WARCs, one gzip member at a time.

Every read goes through the vault's range reader, so an export touches only the AEAD segments
that hold its records, each authenticated before use; nothing decrypts a whole object. A small
block cache lets neighbouring records (a response and its request) share one fetch while
memory stays flat whatever the size of the object.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from archiver.app import App
from archiver.core.errors import IntegrityError, StorageError, VaultError
from archiver.preservation.contexts import vault_context
from archiver.preservation.reading import StoredWarc
from archiver.vault import RangeReader

BLOCK = 1 << 20  # cache unit (a multiple of the vault segment size)
CACHE_BLOCKS = 4
HEAD_LIMIT = 64 << 10  # WARC header block we keep while scanning


def _damaged(warc: StoredWarc, what: str) -> IntegrityError:
    return IntegrityError(
        f"Stored object {warc.store_key} failed its check ({what}); the export stopped and "
        "wrote nothing. Run 'archiver verify' and restore the object from a replica or backup."
    )


class StoredRanges:
    """Plaintext ranges of one stored WARC."""

    def __init__(self, app: App, warc: StoredWarc) -> None:
        self.warc = warc
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        encrypted = warc.wrapped is not None or warc.store_key.endswith(".enc")
        object_size = warc.object_size
        if object_size is None:
            head = app.store.head(warc.store_key)
            if head is None:  # pragma: no cover - the catalog always records the size
                raise _damaged(warc, "the object is missing from the store")
            object_size = head.size
        self.block = BLOCK
        self.size: int = object_size
        self._read: Callable[[int, int], bytes] = lambda offset, length: app.store.read_range(
            warc.store_key, offset, length
        )
        if encrypted:
            try:
                reader = RangeReader(
                    lambda offset, length: app.store.read_range(warc.store_key, offset, length),
                    app.keys,
                    context=vault_context(warc.name),
                    wrapped_key=warc.wrapped,
                    ciphertext_size=object_size,
                )
            except (VaultError, StorageError) as exc:
                raise _damaged(warc, exc.message) from exc
            seg = reader.header.segment_size
            self.block = seg * max(1, BLOCK // seg)
            self.size = reader.plaintext_size or 0
            self._read = reader.read

    def _block(self, index: int) -> bytes:
        cached = self._blocks.get(index)
        if cached is not None:
            self._blocks.move_to_end(index)
            return cached
        start = index * self.block
        length = max(0, min(self.block, self.size - start))
        try:
            data = self._read(start, length) if length else b""
        except IntegrityError:
            raise
        except (VaultError, StorageError) as exc:
            raise _damaged(self.warc, exc.message) from exc
        except ValueError as exc:
            raise _damaged(self.warc, f"a record lies past its end: {exc}") from exc
        self._blocks[index] = data
        if len(self._blocks) > CACHE_BLOCKS:
            self._blocks.popitem(last=False)
        return data

    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes at `offset` (fewer only at the end of the object)."""
        pieces = []
        end = offset + length
        pos = offset
        while pos < end:
            index = pos // self.block
            block = self._block(index)
            skip = pos - index * self.block
            piece = block[skip : skip + (end - pos)]
            if not piece:
                break
            pieces.append(piece)
            pos += len(piece)
        return b"".join(pieces)

    def chunks(self, offset: int, length: int, size: int = 1 << 20) -> Iterator[bytes]:
        pos, end = offset, offset + length
        while pos < end:
            piece = self.read(pos, min(size, end - pos))
            if not piece:
                raise _damaged(self.warc, f"the record at {offset}+{length} is truncated")
            yield piece
            pos += len(piece)


@dataclass(frozen=True)
class MemberHead:
    """A gzip member found by scanning: where it is, its WARC header fields and the start of
    its block (the first HEAD_LIMIT bytes inflated)."""

    offset: int
    length: int
    headers: dict[str, str]
    head: bytes = b""

    def fields(self) -> dict[str, str]:
        """The block's `name: value` lines: what a metadata record (application/warc-fields)
        says, as far as HEAD_LIMIT."""
        block = self.head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.head else b""
        out: dict[str, str] = {}
        for line in block.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                out.setdefault(key.strip(), value.strip())
        return out


def parse_warc_head(data: bytes) -> dict[str, str]:
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            out.setdefault(key.strip(), value.strip())
    return out


FIRST_READ = 4096  # most records (requests, conclusions, API pages) fit: no 64 KiB copy each


def member_at(obj: StoredRanges, offset: int) -> MemberHead:
    """The gzip member starting at `offset`: its length (found by inflating it, output
    discarded past the header) and its WARC header fields."""
    inflater = zlib.decompressobj(wbits=31)
    head = bytearray()
    pos = offset
    size = FIRST_READ
    while True:
        chunk = obj.read(pos, size)
        if not chunk:
            raise _damaged(obj.warc, f"the record at offset {offset} ends early")
        data = chunk
        while data:
            try:
                out = inflater.decompress(data, 1 << 16)
            except zlib.error as exc:
                raise _damaged(obj.warc, f"the record at offset {offset} is not gzip: {exc}") from exc
            if len(head) < HEAD_LIMIT:
                head.extend(out[: HEAD_LIMIT - len(head)])
            if inflater.eof:
                used = len(chunk) - len(inflater.unused_data)
                head_bytes = bytes(head)
                return MemberHead(offset, pos + used - offset, parse_warc_head(head_bytes), head_bytes)
            data = inflater.unconsumed_tail
        pos += len(chunk)
        size = 1 << 16


def scan(obj: StoredRanges, start: int, *, skip: Mapping[int, int] | None = None,
         limit: int | None = None) -> Iterator[MemberHead]:
    """Members from `start` (a record boundary) to the end of the object, or until one starts
    more than `limit` bytes after `start`. A member at an offset in `skip` (offset -> length,
    what the catalog holds) is stepped over without being inflated or yielded."""
    pos = start
    known = skip or {}
    while pos < obj.size and (limit is None or pos - start <= limit):
        length = known.get(pos)
        if length:
            pos += length
            continue
        member = member_at(obj, pos)
        yield member
        pos += member.length
