"""Random access: decrypt a byte range (a WARC record by its CDX offset) without the rest.

Only the segments covering the range are fetched, in one contiguous call, so it works over
a local file or one S3 ranged GET. Each fetched segment is authenticated before use.
"""

from __future__ import annotations

from pathlib import Path

from archiver.core.errors import TamperedData
from archiver.vault.format import TAG_SIZE, Fetch, VaultHeader, fetch_header, segment_count
from archiver.vault.keys import Context, KeyProvider, WrappedKey
from archiver.vault.stream import open_payload

_RESTORE = "restore this object from a replica or backup"


class RangeReader:
    """Decrypt ranges of one object; unwraps the data key once for many reads.

    Pass `ciphertext_size` (from the catalog or a HEAD request) when known: it makes range
    checks exact, saves a look-ahead byte, and tells "past the end" apart from truncation.
    Without it the reader fetches one byte past the covered segments to learn whether the
    last of them is the object's final segment.
    """

    def __init__(
        self,
        fetch: Fetch,
        key_provider: KeyProvider,
        *,
        context: Context,
        header: VaultHeader | None = None,
        wrapped_key: WrappedKey | None = None,
        ciphertext_size: int | None = None,
    ) -> None:
        self._fetch = fetch
        self.header = header if header is not None else fetch_header(fetch)
        self._opener = open_payload(self.header, key_provider, context, wrapped_key)
        self.ciphertext_size = ciphertext_size
        self.plaintext_size: int | None = (
            None if ciphertext_size is None else self.header.plaintext_size(ciphertext_size)
        )

    def __repr__(self) -> str:
        return f"RangeReader(key_id={self.header.key_id!r}, size={self.plaintext_size})"

    def read(self, offset: int, length: int) -> bytes:
        """Exactly `length` plaintext bytes at `offset`; ValueError if past the end."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        size = self.plaintext_size
        if size is not None and offset + length > size:
            raise ValueError(f"range {offset}+{length} is past the end of the plaintext ({size})")
        if length == 0:
            return b""
        seg = self.header.segment_size
        full = seg + TAG_SIZE
        first, last = offset // seg, (offset + length - 1) // seg
        start = self.header.segment_offset(first)
        want = (last - first + 1) * full
        if self.ciphertext_size is None:
            final_index = None
            data = self._fetch(start, want + 1)  # +1: is anything after our last segment?
        else:
            final_index = segment_count(size or 0, seg) - 1
            data = self._fetch(start, min(want, self.ciphertext_size - start))
        pieces: list[bytes] = []
        for index in range(first, last + 1):
            pos = (index - first) * full
            sealed = memoryview(data)[pos : pos + full]
            # final: known from the size, or nothing was fetched past this segment
            is_final = index == final_index if final_index is not None else len(data) <= pos + full
            if len(sealed) < TAG_SIZE:
                raise TamperedData(
                    f"Encrypted object has no segment {index}: it is truncated or the range "
                    f"{offset}+{length} is past its end; check the catalog or {_RESTORE}."
                )
            plaintext = self._opener.open(index, sealed, is_final)
            pieces.append(plaintext)
            if is_final and (index < last or offset + length > index * seg + len(plaintext)):
                end = index * seg + len(plaintext)
                raise ValueError(
                    f"range {offset}+{length} is past the end of the plaintext ({end})"
                )
        skip = offset - first * seg
        return b"".join(pieces)[skip : skip + length]


def read_plaintext_range(
    fetch: Fetch,
    offset: int,
    length: int,
    key_provider: KeyProvider,
    *,
    context: Context,
    header: VaultHeader | None = None,
    wrapped_key: WrappedKey | None = None,
    ciphertext_size: int | None = None,
) -> bytes:
    """One-shot range read; use RangeReader for many reads of one object (one unwrap)."""
    reader = RangeReader(
        fetch,
        key_provider,
        context=context,
        header=header,
        wrapped_key=wrapped_key,
        ciphertext_size=ciphertext_size,
    )
    return reader.read(offset, length)


def file_fetch(path: Path | str) -> Fetch:
    """A Fetch over a local file (opens per call, so nothing is left open)."""

    def fetch(offset: int, length: int) -> bytes:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    return fetch
