"""Streaming encryption and decryption of whole objects with flat memory.

Segments are AES-256-GCM with nonce = prefix | index | last-flag and AAD = header digest, so
reordering, dropping, truncating or editing anything (header included) fails authentication.
Plaintext is only ever written to its destination path after the final segment has
authenticated: a truncated object can otherwise look like a complete, shorter record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archiver.core.errors import MissingKey, TamperedData, WrongKey
from archiver.vault._fs import atomic_output, open_source
from archiver.vault.format import (
    DEFAULT_SEGMENT_SIZE,
    NONCE_PREFIX_SIZE,
    TAG_SIZE,
    VaultHeader,
    build_header,
    check_segment_size,
    derive_keys,
    read_exact,
    read_header,
    segment_nonce,
)
from archiver.vault.keys import Context, KeyProvider, WrappedKey, canonical_context

_RESTORE = "restore this object from a replica or backup"


@dataclass(frozen=True, slots=True)
class EncryptedInfo:
    """What the catalog needs to record about a freshly encrypted object."""

    key_id: str
    wrapped_key: bytes
    segment_size: int
    header_size: int
    plaintext_size: int
    ciphertext_size: int
    plaintext_sha256: str
    ciphertext_sha256: str

    @property
    def wrapped(self) -> WrappedKey:
        return WrappedKey(self.wrapped_key, self.key_id)


@dataclass(frozen=True, slots=True)
class DecryptedInfo:
    """What a completed, fully authenticated decryption produced."""

    plaintext_size: int
    plaintext_sha256: str
    key_id: str


# -- encryption ----------------------------------------------------------------------------


def encrypt_stream(
    reader: BinaryIO,
    writer: BinaryIO,
    key_provider: KeyProvider,
    *,
    context: Context,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    embed_wrapped_key: bool = True,
) -> EncryptedInfo:
    """Encrypt everything `reader` yields into `writer` under a fresh data key.

    With `embed_wrapped_key=False` the header carries only the key id; the wrapped key then
    lives solely in the catalog, so deleting that row crypto-shreds the object.
    `writer` must write whole buffers (any buffered file or BytesIO); it is flushed, not
    fsynced: encrypt_file does the fsync. Memory use is two segments plus one tag.
    """
    check_segment_size(segment_size)
    canonical_context(context)
    data_key = key_provider.generate_data_key(context)
    payload_key, key_check = derive_keys(data_key.plaintext)
    header = build_header(
        key_id=data_key.key_id,
        wrapped_key=data_key.wrapped if embed_wrapped_key else b"",
        segment_size=segment_size,
        nonce_prefix=secrets.token_bytes(NONCE_PREFIX_SIZE),
        key_check=key_check,
    )
    aead = AESGCM(payload_key)
    pt_hash, ct_hash = hashlib.sha256(), hashlib.sha256()
    writer.write(header.raw)
    ct_hash.update(header.raw)
    # two plaintext segments: we only know a segment is final once the next read comes back
    # empty. Read as bytes of their true length: a capture's WARC is often a few kilobytes, and
    # zeroing three segment-sized buffers for it cost more than encrypting it (issue 14).
    cur = _read_segment(reader, segment_size)
    index = plaintext_size = 0
    ciphertext_size = header.size
    while True:
        nxt = _read_segment(reader, segment_size) if len(cur) == segment_size else b""
        last = not nxt
        sealed = aead.encrypt(segment_nonce(header.nonce_prefix, index, last), cur, header.digest)
        pt_hash.update(cur)
        ct_hash.update(sealed)
        writer.write(sealed)
        plaintext_size += len(cur)
        ciphertext_size += len(sealed)
        if last:
            break
        cur = nxt
        index += 1
    writer.flush()
    return EncryptedInfo(
        key_id=data_key.key_id,
        wrapped_key=data_key.wrapped,
        segment_size=segment_size,
        header_size=header.size,
        plaintext_size=plaintext_size,
        ciphertext_size=ciphertext_size,
        plaintext_sha256=pt_hash.hexdigest(),
        ciphertext_sha256=ct_hash.hexdigest(),
    )


def encrypt_file(
    src: Path,
    dst: Path,
    key_provider: KeyProvider,
    *,
    context: Context,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    embed_wrapped_key: bool = True,
) -> EncryptedInfo:
    """Encrypt `src` to `dst` atomically: dst appears complete and fsynced, or not at all."""
    with open(src, "rb") as reader, atomic_output(Path(dst)) as writer:
        return encrypt_stream(
            reader,
            writer,
            key_provider,
            context=context,
            segment_size=segment_size,
            embed_wrapped_key=embed_wrapped_key,
        )


# -- decryption ----------------------------------------------------------------------------


def open_payload(
    header: VaultHeader,
    key_provider: KeyProvider,
    context: Context,
    wrapped_key: WrappedKey | None = None,
) -> SegmentOpener:
    """Unwrap the data key and check it belongs to this object.

    `wrapped_key` (the catalog's copy) wins over the header's: after a rotation only the
    catalog copy is wrapped under a live KEK.
    """
    if wrapped_key is None:
        if not header.wrapped_key:
            raise MissingKey(
                f"This object's wrapped data key (key {header.key_id!r}) is kept only in the "
                "catalog; supply it from the catalog row (if the row was deleted, the object "
                "was crypto-shredded)."
            )
        wrapped_key = WrappedKey(header.wrapped_key, header.key_id)
    data_key = key_provider.unwrap(wrapped_key.wrapped, wrapped_key.key_id, context)
    if len(data_key) != 32:
        raise WrongKey(f"Key {wrapped_key.key_id!r} returned a data key of the wrong size.")
    payload_key, key_check = derive_keys(data_key)
    if not hmac.compare_digest(key_check, header.key_check):
        raise WrongKey(
            f"The data key from key {wrapped_key.key_id!r} is not this object's key: the "
            "catalog row belongs to another object or the object was swapped; check the catalog."
        )
    return SegmentOpener(header, AESGCM(payload_key))


class SegmentOpener:
    """Authenticates and decrypts single segments of one object (the data key stays inside)."""

    __slots__ = ("header", "_aead")

    def __init__(self, header: VaultHeader, aead: AESGCM) -> None:
        self.header = header
        self._aead = aead

    def __repr__(self) -> str:
        return f"SegmentOpener(key_id={self.header.key_id!r})"

    def open(self, index: int, sealed: bytes | memoryview, last: bool) -> bytes:
        if len(sealed) < TAG_SIZE:
            raise TamperedData(f"Encrypted object is truncated at segment {index}; {_RESTORE}.")
        prefix, aad = self.header.nonce_prefix, self.header.digest
        try:
            return self._aead.decrypt(segment_nonce(prefix, index, last), sealed, aad)
        except InvalidTag:
            pass
        # Diagnose only; the flag is authenticated, so this cannot make bad data pass.
        try:
            self._aead.decrypt(segment_nonce(prefix, index, not last), sealed, aad)
        except InvalidTag:
            raise TamperedData(
                f"Encrypted object failed authentication at segment {index} (altered, "
                f"reordered or damaged bytes); {_RESTORE}."
            ) from None
        if last:
            raise TamperedData(
                f"Encrypted object is truncated: it ends after segment {index} without its "
                f"final segment; {_RESTORE}."
            )
        raise TamperedData(
            f"Encrypted object has extra bytes after its final segment {index}; {_RESTORE}."
        )


def decrypt_stream(
    reader: BinaryIO,
    key_provider: KeyProvider,
    *,
    context: Context,
    wrapped_key: WrappedKey | None = None,
    header: VaultHeader | None = None,
) -> Iterator[bytes]:
    """Yield plaintext one authenticated segment at a time.

    The header is read and the key checked before this returns, so key errors surface at the
    call. Each chunk is authentic, but the object is only known to be complete when the
    iterator finishes without TamperedData: buffer or write to a temp file until then.
    Pass `header` when the caller already read it from `reader`.
    """
    if header is None:
        header = read_header(reader)
    opener = open_payload(header, key_provider, context, wrapped_key)
    return _segments(reader, opener)


def _segments(reader: BinaryIO, opener: SegmentOpener) -> Iterator[bytes]:
    full = opener.header.segment_size + TAG_SIZE
    cur = read_exact(reader, full)
    index = 0
    while True:
        nxt = read_exact(reader, full) if len(cur) == full else b""
        last = not nxt
        plaintext = opener.open(index, cur, last)
        if plaintext:
            yield plaintext
        if last:
            return
        cur = nxt
        index += 1


def decrypt_to_file(
    src: Path | BinaryIO,
    dst: Path,
    key_provider: KeyProvider,
    *,
    context: Context,
    wrapped_key: WrappedKey | None = None,
) -> DecryptedInfo:
    """Decrypt to `dst` (mode 0600) atomically: on any failure nothing appears at `dst`."""
    with open_source(src) as reader:
        header = read_header(reader)
        chunks = decrypt_stream(
            reader, key_provider, context=context, wrapped_key=wrapped_key, header=header
        )
        pt_hash = hashlib.sha256()
        size = 0
        with atomic_output(Path(dst)) as out:
            for chunk in chunks:
                out.write(chunk)
                pt_hash.update(chunk)
                size += len(chunk)
    key_id = wrapped_key.key_id if wrapped_key else header.key_id
    return DecryptedInfo(size, pt_hash.hexdigest(), key_id)


def _read_segment(reader: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes, looping over short reads (fewer only at EOF)."""
    first = reader.read(size)
    if len(first) == size or not first:
        return first
    parts = [first]
    got = len(first)
    while got < size:
        chunk = reader.read(size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)
