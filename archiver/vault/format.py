"""The on-disk layout of an encrypted object: header, segment geometry, nonces, key derivation.

Everything here is pure (no I/O, no key providers) so the byte layout can be read next to
docs/vault-format.md and checked against it. Version 1 layout, all integers big-endian:

    magic "\\x89ARCVLT\\n" | version u8 | header_len u32 | segment_size u32 | nonce_prefix 7B
    | key_check 32B | key_id_len u16 | key_id | wrapped_len u16 | wrapped_key | header_digest 32B

followed by segments of `segment_size + 16` ciphertext bytes (the last one may be shorter).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from archiver.core.errors import TamperedData, VaultError

MAGIC = b"\x89ARCVLT\n"
FORMAT_VERSION = 1
TAG_SIZE = 16
KEY_SIZE = 32
NONCE_PREFIX_SIZE = 7
KEY_CHECK_SIZE = 32
DIGEST_SIZE = 32
DEFAULT_SEGMENT_SIZE = 1 << 20
MIN_SEGMENT_SIZE = 16
MAX_SEGMENT_SIZE = 64 << 20  # bounds what a damaged header can make us allocate
MAX_KEY_ID_BYTES = 1024
MAX_WRAPPED_KEY_BYTES = 8192
MAX_SEGMENTS = 1 << 32  # the nonce counter is a u32

PAYLOAD_KEY_INFO = b"archiver-vault v1 payload key"
KEY_CHECK_INFO = b"archiver-vault v1 key check"

_PREFIX = struct.Struct(">8sBI")  # magic, version, header_len
_FIXED = struct.Struct(">I7s32s")  # segment_size, nonce_prefix, key_check
_LEN16 = struct.Struct(">H")
_NONCE_TAIL = struct.Struct(">IB")  # segment index, last-segment flag
FIXED_SIZE = _PREFIX.size + _FIXED.size  # 56
MIN_HEADER_SIZE = FIXED_SIZE + 2 + 1 + 2 + DIGEST_SIZE  # 1-byte key id, detached key
MAX_HEADER_SIZE = FIXED_SIZE + 2 + MAX_KEY_ID_BYTES + 2 + MAX_WRAPPED_KEY_BYTES + DIGEST_SIZE
HEADER_PROBE_SIZE = 512  # one ranged GET usually returns the whole header

Fetch = Callable[[int, int], bytes]
"""fetch(offset, length) -> up to `length` ciphertext bytes starting at `offset`.

Fewer bytes only at the end of the object; a local file read or an S3 ranged GET both fit.
"""

_DAMAGED = "restore this object from a replica or backup"


@dataclass(frozen=True, slots=True)
class VaultHeader:
    """A parsed header; `raw` is the exact bytes, whose digest every segment authenticates."""

    key_id: str
    wrapped_key: bytes  # empty when the data key is kept only in the catalog (detached)
    segment_size: int
    nonce_prefix: bytes
    key_check: bytes
    raw: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the header before this field; the AAD of every segment."""
        return self.raw[-DIGEST_SIZE:]

    def segment_offset(self, index: int) -> int:
        return self.size + index * (self.segment_size + TAG_SIZE)

    def ciphertext_size(self, plaintext_size: int) -> int:
        return ciphertext_size(plaintext_size, self.segment_size, self.size)

    def plaintext_size(self, ciphertext_size: int) -> int:
        return plaintext_size(ciphertext_size, self.segment_size, self.size)


def build_header(
    *, key_id: str, wrapped_key: bytes, segment_size: int, nonce_prefix: bytes, key_check: bytes
) -> VaultHeader:
    """Encode a version-1 header; raises ValueError on values the format cannot hold."""
    check_segment_size(segment_size)
    kid = key_id.encode("utf-8")
    if not 1 <= len(kid) <= MAX_KEY_ID_BYTES:
        raise ValueError(f"key id must be 1..{MAX_KEY_ID_BYTES} UTF-8 bytes")
    if len(wrapped_key) > MAX_WRAPPED_KEY_BYTES:
        raise ValueError(f"wrapped key longer than {MAX_WRAPPED_KEY_BYTES} bytes")
    if len(nonce_prefix) != NONCE_PREFIX_SIZE or len(key_check) != KEY_CHECK_SIZE:
        raise ValueError("nonce prefix must be 7 bytes and key check 32 bytes")
    total = FIXED_SIZE + 2 + len(kid) + 2 + len(wrapped_key) + DIGEST_SIZE
    body = b"".join(
        (
            _PREFIX.pack(MAGIC, FORMAT_VERSION, total),
            _FIXED.pack(segment_size, nonce_prefix, key_check),
            _LEN16.pack(len(kid)),
            kid,
            _LEN16.pack(len(wrapped_key)),
            wrapped_key,
        )
    )
    raw = body + hashlib.sha256(body).digest()
    return VaultHeader(key_id, bytes(wrapped_key), segment_size, nonce_prefix, key_check, raw)


def header_length(prefix: bytes) -> int:
    """Total header length from its first 13 bytes; checks magic and version."""
    if len(prefix) < _PREFIX.size:
        raise TamperedData(f"Encrypted object is truncated inside its header; {_DAMAGED}.")
    magic, version, total = _PREFIX.unpack_from(prefix)
    if magic != MAGIC:
        raise TamperedData(
            f"Not an archiver encrypted object (bad magic bytes); check the path or {_DAMAGED}."
        )
    if version != FORMAT_VERSION:
        raise TamperedData(
            f"Encrypted object has unknown format version {version}: the header is damaged or "
            "it was written by a newer archiver; upgrade or restore it from backup."
        )
    if not MIN_HEADER_SIZE <= total <= MAX_HEADER_SIZE:
        raise TamperedData(f"Encrypted object header has an impossible length; {_DAMAGED}.")
    return total


def parse_header(data: bytes) -> VaultHeader:
    """Parse a header from the start of `data` (extra bytes are ignored). Needs no key.

    Any change to any header byte is caught here by the digest, so a damaged header is
    reported as TamperedData rather than as a confusing missing or wrong key.
    """
    total = header_length(data)
    if len(data) < total:
        raise TamperedData(f"Encrypted object is truncated inside its header; {_DAMAGED}.")
    raw = bytes(data[:total])
    body, digest = raw[:-DIGEST_SIZE], raw[-DIGEST_SIZE:]
    if not hmac.compare_digest(hashlib.sha256(body).digest(), digest):
        raise TamperedData(f"Encrypted object header is damaged (digest mismatch); {_DAMAGED}.")
    try:
        segment_size, nonce_prefix, key_check = _FIXED.unpack_from(body, _PREFIX.size)
        pos = FIXED_SIZE
        (kid_len,) = _LEN16.unpack_from(body, pos)
        kid = body[pos + 2 : pos + 2 + kid_len]
        pos += 2 + kid_len
        (wrapped_len,) = _LEN16.unpack_from(body, pos)
        wrapped = body[pos + 2 : pos + 2 + wrapped_len]
        pos += 2 + wrapped_len
        if pos != len(body) or len(kid) != kid_len or not kid:
            raise ValueError("field lengths do not add up")
        check_segment_size(segment_size)
        key_id = kid.decode("utf-8")
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise TamperedData(
            f"Encrypted object header is malformed; {_DAMAGED}.", detail=str(exc)
        ) from exc
    return VaultHeader(key_id, wrapped, segment_size, nonce_prefix, key_check, raw)


def read_header(reader: BinaryIO) -> VaultHeader:
    """Read exactly the header from a stream positioned at the start of the object."""
    prefix = read_exact(reader, _PREFIX.size)
    total = header_length(prefix)
    return parse_header(prefix + read_exact(reader, total - len(prefix)))


def fetch_header(fetch: Fetch) -> VaultHeader:
    """Read the header through a ranged fetch: one call for typical headers, two for huge ones."""
    data = fetch(0, HEADER_PROBE_SIZE)
    total = header_length(data)
    if len(data) < total:
        data = bytes(data) + fetch(len(data), total - len(data))
    return parse_header(data)


def check_segment_size(segment_size: int) -> None:
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(
            f"segment size must be between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE} bytes"
        )


def segment_count(plaintext_size: int, segment_size: int) -> int:
    """Segments for a plaintext: an empty plaintext still has one (empty, final) segment."""
    if plaintext_size < 0:
        raise ValueError("plaintext size must be >= 0")
    return max(1, -(-plaintext_size // segment_size))


def ciphertext_size(plaintext_size: int, segment_size: int, header_size: int) -> int:
    """Exact object size: header + plaintext + one 16-byte tag per segment."""
    return header_size + plaintext_size + TAG_SIZE * segment_count(plaintext_size, segment_size)


def plaintext_size(ciphertext_size: int, segment_size: int, header_size: int) -> int:
    """Inverse of ciphertext_size; TamperedData when no plaintext could produce that size."""
    body = ciphertext_size - header_size
    full = segment_size + TAG_SIZE
    count = max(1, -(-body // full))
    last = body - (count - 1) * full
    if last < TAG_SIZE or (last == TAG_SIZE and count > 1):
        raise TamperedData(
            f"Encrypted object has an impossible size ({ciphertext_size} bytes): it is "
            f"truncated or padded; {_DAMAGED}."
        )
    return body - TAG_SIZE * count


def segment_nonce(nonce_prefix: bytes, index: int, last: bool) -> bytes:
    """12-byte GCM nonce: 7-byte prefix | u32 segment index | 0x01 if final else 0x00."""
    if not 0 <= index < MAX_SEGMENTS:
        raise VaultError("Object too large for one encrypted file (2^32 segments); split it.")
    return nonce_prefix + _NONCE_TAIL.pack(index, 1 if last else 0)


def derive_keys(data_key: bytes) -> tuple[bytes, bytes]:
    """(payload key, key check) from the per-file data key, by HKDF-SHA-256.

    Separate subkeys keep the GCM key out of the header; the key check lets us tell a wrong
    data key (WrongKey) from damaged segments (TamperedData), which AEAD alone cannot.
    """
    if len(data_key) != KEY_SIZE:
        raise ValueError("data key must be 32 bytes")
    payload = HKDF(hashes.SHA256(), KEY_SIZE, salt=None, info=PAYLOAD_KEY_INFO).derive(data_key)
    check = HKDF(hashes.SHA256(), KEY_CHECK_SIZE, salt=None, info=KEY_CHECK_INFO).derive(data_key)
    return payload, check


def read_exact(reader: BinaryIO, n: int) -> bytes:
    """Read up to n bytes, looping over short reads; fewer only at end of stream."""
    chunks: list[bytes] = []
    remaining = n
    while remaining > 0:
        chunk = reader.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
