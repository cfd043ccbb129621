"""Client-side envelope encryption for archived objects (streaming AES-256-GCM segments).

Objects are encrypted before they reach any store; only wrapped data keys are kept, so S3,
replicas and backups only ever see ciphertext. Byte format: docs/vault-format.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archiver.vault.format import (
    DEFAULT_SEGMENT_SIZE,
    Fetch,
    VaultHeader,
    ciphertext_size,
    fetch_header,
    parse_header,
    plaintext_size,
    read_header,
)
from archiver.vault.keys import (
    Context,
    DataKey,
    KeyFileProvider,
    KeyProvider,
    WrappedKey,
    canonical_context,
)
from archiver.vault.ranges import RangeReader, file_fetch, read_plaintext_range
from archiver.vault.rotation import (
    RewrapFailure,
    RewrapRecord,
    RewrapReport,
    rewrap,
    rewrap_all,
)
from archiver.vault.stream import (
    DecryptedInfo,
    EncryptedInfo,
    decrypt_stream,
    decrypt_to_file,
    encrypt_file,
    encrypt_stream,
)

if TYPE_CHECKING:  # pragma: no cover
    from archiver.vault.kms import KmsKeyProvider


def __getattr__(name: str) -> object:
    # KmsKeyProvider imports botocore; load it only when asked for.
    if name == "KmsKeyProvider":
        from archiver.vault.kms import KmsKeyProvider

        return KmsKeyProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "Context",
    "DataKey",
    "DecryptedInfo",
    "EncryptedInfo",
    "Fetch",
    "KeyFileProvider",
    "KeyProvider",
    "KmsKeyProvider",
    "RangeReader",
    "RewrapFailure",
    "RewrapRecord",
    "RewrapReport",
    "VaultHeader",
    "WrappedKey",
    "canonical_context",
    "ciphertext_size",
    "decrypt_stream",
    "decrypt_to_file",
    "encrypt_file",
    "encrypt_stream",
    "fetch_header",
    "file_fetch",
    "parse_header",
    "plaintext_size",
    "read_header",
    "read_plaintext_range",
    "rewrap",
    "rewrap_all",
]
