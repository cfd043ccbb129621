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
        self._buffer = b""
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.complete = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]  # RawIOBase says any buffer; callers pass these two
        while not self._buffer and not self.complete:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.complete = True
                break
            self._buffer = chunk
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self.sha256.update(self._buffer[:n])
        self.size += n
        self._buffer = self._buffer[n:]
        return n

    def drain(self) -> None:
        """Read to the end so the digest and `complete` cover the whole object."""
        while self.read(1 << 20):
            pass
