"""The district's Ed25519 signing key: export manifests and destruction certificates.

The private key is kept like the data keys: wrapped under the key-encryption key (key file or
KMS), so one backup story covers it and a stolen key folder without the KEK signs nothing. The
public key travels inside every signed package, so anyone can verify offline; the key id
(a digest of the public key) lets a requester check it against the one the district publishes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archiver.core.errors import ConfigError, VaultError
from archiver.vault.keys import KeyProvider

if TYPE_CHECKING:  # pragma: no cover
    from archiver.core.settings import Settings

FORMAT = "archiver-signing-key"
VERSION = 1
_CONTEXT_PURPOSE = "export-signing"


@dataclass(frozen=True)
class SigningKeyInfo:
    key_id: str
    public_key_pem: bytes
    path: Path
    wrapped_by: str
    created: str


class Signer:
    """Holds the private key in memory only for as long as the process needs it."""

    def __init__(self, private: Ed25519PrivateKey, info: SigningKeyInfo) -> None:
        self._private = private
        self.info = info

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r}, private=<redacted>)"

    @property
    def key_id(self) -> str:
        return self.info.key_id

    @property
    def public_key_pem(self) -> bytes:
        return self.info.public_key_pem

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


def key_id_for(public_key_pem: bytes) -> str:
    """'ed25519:' + the first 16 bytes of SHA-256 over the raw public key, in hex."""
    public = _load_public(public_key_pem)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def _load_public(public_key_pem: bytes) -> Ed25519PublicKey:
    try:
        public = serialization.load_pem_public_key(public_key_pem)
    except ValueError as exc:
        raise VaultError("The public key is not a PEM-encoded key; the package may be damaged.") from exc
    if not isinstance(public, Ed25519PublicKey):
        raise VaultError("The public key is not an Ed25519 key; the package may be damaged.")
    return public


def verify_signature(public_key_pem: bytes, data: bytes, signature: bytes) -> bool:
    """True only when `signature` is this key's signature over exactly `data`."""
    try:
        _load_public(public_key_pem).verify(signature, data)
    except (InvalidSignature, VaultError):
        return False
    return True


def _context(key_id: str) -> dict[str, str]:
    return {"purpose": _CONTEXT_PURPOSE, "signing_key": key_id}


def _write_private_file(path: Path, body: bytes) -> None:
    """Create-exclusive, mode 600, fsynced, then renamed into place: never half a key file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _encode(info: SigningKeyInfo, wrapped: bytes) -> bytes:
    doc = {"format": FORMAT, "version": VERSION, "algorithm": "Ed25519", "key_id": info.key_id,
           "public_key_pem": info.public_key_pem.decode("ascii"),
           "wrapped_private_key": base64.b64encode(wrapped).decode("ascii"),
           "wrapped_by": info.wrapped_by, "created": info.created}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _read(path: Path) -> tuple[SigningKeyInfo, bytes]:
    if not path.exists():
        raise ConfigError(f"No export signing key at {path}; create one with "
                          "'archiver keys init-export' (once per district) and back it up")
    try:
        doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
        if doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise ValueError("not a signing key file")
        public_pem = str(doc["public_key_pem"]).encode("ascii")
        info = SigningKeyInfo(str(doc["key_id"]), public_pem, path, str(doc["wrapped_by"]),
                              str(doc["created"]))
        wrapped = base64.b64decode(doc["wrapped_private_key"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"The export signing key file {path} is damaged; restore it from backup") from exc
    if key_id_for(public_pem) != info.key_id:
        raise ConfigError(f"The export signing key file {path} does not match its key id; restore it from backup")
    return info, wrapped


def init_signing_key(keys: KeyProvider, path: Path, *, now: datetime | None = None) -> SigningKeyInfo:
    """Create the district's signing key; refuses to replace one (old packages name its key id)."""
    if path.exists():
        raise ConfigError(f"An export signing key already exists at {path}; packages already "
                          "signed name it, so it is never replaced silently")
    private = Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = key_id_for(public_pem)
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    wrapped = keys.wrap(raw, _context(key_id))
    info = SigningKeyInfo(key_id, public_pem, path, wrapped.key_id,
                          (now or datetime.now(UTC)).replace(microsecond=0).isoformat())
    _write_private_file(path, _encode(info, wrapped.wrapped))
    return info


def read_signing_key_info(path: Path) -> SigningKeyInfo:
    return _read(path)[0]


def load_signer_from(keys: KeyProvider, path: Path) -> Signer:
    info, wrapped = _read(path)
    raw = keys.unwrap(wrapped, info.wrapped_by, _context(info.key_id))
    private = Ed25519PrivateKey.from_private_bytes(raw)
    if key_id_for(private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)) != info.key_id:
        raise VaultError(f"The export signing key in {path} does not match its public key; restore it from backup")
    return Signer(private, info)


def rewrap_signing_key(old: KeyProvider, new: KeyProvider, path: Path) -> bool:
    """Key rotation: the signing key moves to the new KEK with the data keys. False if absent."""
    if not path.exists():
        return False
    info, wrapped = _read(path)
    raw = old.unwrap(wrapped, info.wrapped_by, _context(info.key_id))
    rewrapped = new.wrap(raw, _context(info.key_id))
    moved = SigningKeyInfo(info.key_id, info.public_key_pem, path, rewrapped.key_id, info.created)
    _write_private_file(path, _encode(moved, rewrapped.wrapped))
    return True


def signing_key_path(settings: Settings) -> Path:
    """vault.signing_key_file, or HOME/keys/export-signing.json."""
    configured = settings.vault.signing_key_file
    return Path(configured) if configured else settings.home / "keys" / "export-signing.json"


def load_signer(settings: Settings, keys: KeyProvider) -> Signer:
    return load_signer_from(keys, signing_key_path(settings))
