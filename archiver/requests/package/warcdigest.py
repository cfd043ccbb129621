"""Check a WARC record's own digests while its bytes stream past (export and verify share it).

A record is one gzip member; `RecordCheck` inflates it incrementally, hashes the block and the
payload (the entity after the HTTP headers, as warcio computes it) and compares both with the
record's `WARC-Block-Digest` and `WARC-Payload-Digest` (sha256 hex as this archiver writes
them; base32 and other algorithms are accepted). Memory is bounded: only the first
`keep` bytes of the block are kept, for content checks.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import zlib
from dataclasses import dataclass, field

from archiver.requests.package.stored import parse_warc_head

KEEP = 16 << 20


def digest_matches(labelled: str, computed: bytes) -> bool:
    """`labelled` is 'algorithm:value' with the value in hex or base32 (either case)."""
    _, _, value = labelled.partition(":")
    value = value.strip()
    candidates: list[bytes] = []
    with contextlib.suppress(ValueError):
        candidates.append(bytes.fromhex(value))
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b32decode(value.upper() + "=" * (-len(value) % 8)))
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(value + "=" * (-len(value) % 4), validate=True))
    return computed in candidates


def _hasher(labelled: str | None) -> hashlib._Hash | None:
    if not labelled or ":" not in labelled:
        return None
    algorithm = labelled.split(":", 1)[0].strip().lower().replace("-", "")
    try:
        return hashlib.new(algorithm)
    except ValueError:
        return None


@dataclass
class RecordCheck:
    """Feed a record's gzip member with `feed`; call `finish` for the verdict."""

    keep: int = KEEP
    headers: dict[str, str] = field(default_factory=dict)
    block: bytearray = field(default_factory=bytearray)  # first `keep` bytes of the block
    block_length: int = 0
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._inflater = zlib.decompressobj(wbits=31)
        self._head = bytearray()
        self._in_block = False
        self._remaining = 0
        self._block_hash: hashlib._Hash | None = None
        self._payload_hash: hashlib._Hash | None = None
        self._http = False
        self._http_head = bytearray()
        self._in_payload = False
        self.trailing = b""

    @property
    def eof(self) -> bool:
        return self._inflater.eof

    def feed(self, data: bytes) -> None:
        while data:
            try:
                out = self._inflater.decompress(data, 1 << 20)
            except zlib.error as exc:
                raise ValueError(f"not a gzip member: {exc}") from exc
            self._take(out)
            if self._inflater.eof:
                self.trailing = self._inflater.unused_data
                return
            data = self._inflater.unconsumed_tail

    def _take(self, out: bytes) -> None:
        if not out:
            return
        if not self._in_block:
            self._head.extend(out)
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > 1 << 20:
                    raise ValueError("WARC header block is too long")
                return
            self.headers = parse_warc_head(bytes(self._head[: end + 4]))
            rest = bytes(self._head[end + 4 :])
            self._head = bytearray()
            self._in_block = True
            try:
                self._remaining = int(self.headers.get("Content-Length", "0"))
            except ValueError as exc:
                raise ValueError("Content-Length is not a number") from exc
            self._block_hash = _hasher(self.headers.get("WARC-Block-Digest"))
            self._payload_hash = _hasher(self.headers.get("WARC-Payload-Digest"))
            content_type = self.headers.get("Content-Type", "").lower()
            self._http = content_type.startswith("application/http")
            self._in_payload = not self._http
            out = rest
        if self._remaining <= 0:
            return
        piece = out[: self._remaining]
        self._remaining -= len(piece)
        self.block_length += len(piece)
        if len(self.block) < self.keep:
            self.block.extend(piece[: self.keep - len(self.block)])
        if self._block_hash is not None:
            self._block_hash.update(piece)
        self._payload(piece)

    def _payload(self, piece: bytes) -> None:
        if self._payload_hash is None:
            return
        if self._in_payload:
            self._payload_hash.update(piece)
            return
        self._http_head.extend(piece)
        end = self._http_head.find(b"\r\n\r\n")
        if end >= 0:
            self._in_payload = True
            self._payload_hash.update(bytes(self._http_head[end + 4 :]))
            self._http_head = bytearray()

    def finish(self) -> list[str]:
        """Problems found (empty when every digest present matched)."""
        problems = list(self.problems)
        if not self._inflater.eof:
            problems.append("the record's gzip member is truncated")
        elif self._remaining > 0:
            problems.append("the record's block is shorter than its Content-Length")
        if self._block_hash is not None and not digest_matches(
            self.headers["WARC-Block-Digest"], self._block_hash.digest()
        ):
            problems.append("block digest does not match")
        payload = self._payload_hash
        if (payload is not None and self.headers.get("WARC-Type") != "revisit"
                and not digest_matches(self.headers["WARC-Payload-Digest"], payload.digest())):
            problems.append("payload digest does not match")
        return problems
