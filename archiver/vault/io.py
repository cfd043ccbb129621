"""A file-like view of decrypted plaintext, for readers (warcio) that want a stream."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator


class PlaintextReader(io.RawIOBase):
    """Reads from an iterator of authenticated plaintext chunks and hashes what it hands out.

    Each chunk was authenticated before it was yielded; the whole object is known complete
    only once the iterator is exhausted without error (`complete` then turns True).
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        # The current chunk and how far it was handed out: slicing a memoryview copies
        # nothing, where `buffer = buffer[n:]` copied the rest of a 1 MiB chunk on every
        # small read (warcio reads 16 KiB at a time: 64 copies of half a MiB per chunk).
        self._buffer = memoryview(b"")
        self._pos = 0
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.complete = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]  # RawIOBase says any buffer; callers pass these two
        while self._pos >= len(self._buffer) and not self.complete:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.complete = True
                break
            self._buffer, self._pos = memoryview(chunk), 0
        n = min(len(target), len(self._buffer) - self._pos)
        piece = self._buffer[self._pos:self._pos + n]
        target[:n] = piece
        self.sha256.update(piece)
        self.size += n
        self._pos += n
        return n

    def drain(self) -> None:
        """Read to the end so the digest and `complete` cover the whole object."""
        while self.read(1 << 20):
            pass
