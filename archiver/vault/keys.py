"""Key providers: who holds the key-encryption keys (KEKs) that wrap each file's data key.

A data key is a fresh random 256-bit key per encrypted object. Providers wrap it under a KEK
and bind the wrap to the object's context (account, object id, ...), so a wrapped key copied
onto another object does not unwrap. Only wrapped keys are ever stored.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archiver.core.errors import MissingKey, VaultError, WrongKey
from archiver.vault._fs import fsync_dir

Context = Mapping[str, str]

KEYFILE_FORMAT = "archiver-vault-keyfile"
KEYFILE_VERSION = 1
WRAP_VERSION = 1
_WRAP_NONCE_SIZE = 12
WRAPPED_KEY_SIZE = 1 + _WRAP_NONCE_SIZE + 32 + 16  # version | nonce | AES-GCM(data key) | tag


class DataKey(NamedTuple):
    """A fresh data key: use `plaintext` once, store only `wrapped` and `key_id`."""

    plaintext: bytes
    wrapped: bytes
    key_id: str

    def __repr__(self) -> str:  # never show key material in logs or tracebacks
        size = len(self.wrapped)
        return f"DataKey(plaintext=<redacted>, wrapped=<{size} bytes>, key_id={self.key_id!r})"


class WrappedKey(NamedTuple):
    """A data key wrapped under the KEK `key_id`; safe to store in the catalog."""

    wrapped: bytes
    key_id: str


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps and unwraps per-object data keys under a key-encryption key."""

    @property
    def key_id(self) -> str:
        """Id of the current KEK, used for new objects and rewraps."""
        ...

    def generate_data_key(self, context: Context) -> DataKey: ...

    def wrap(self, data_key: bytes, context: Context) -> WrappedKey:
        """Wrap an existing data key under the current KEK (used for rotation)."""
        ...

    def unwrap(self, wrapped: bytes, key_id: str, context: Context) -> bytes:
        """Raise MissingKey if `key_id` is unknown, WrongKey if the wrap does not open."""
        ...


def canonical_context(context: Context) -> bytes:
    """The one byte string a context encodes to: UTF-8 JSON, keys sorted, no spaces."""
    for k, v in context.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("encryption context keys and values must be str")
    return json.dumps(
        dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def new_key_id(now: datetime | None = None) -> str:
    """A readable, unique KEK id such as 'kf-20261122-1a2b3c4d'."""
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return f"kf-{day}-{secrets.token_hex(4)}"


class KeyFileProvider:
    """KEKs in a local JSON key file (0600), for self-hosted installs without KMS.

    The file is created on first use. Losing it loses every object wrapped under it, so it
    must be backed up separately from the archive. Format: docs/vault-format.md#key-file.
    """

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self._keys: dict[str, bytes] = {}
        self._created: dict[str, str] = {}
        self._current = ""
        if self.path.exists():
            self._load()
        elif create:
            self._create()
        else:
            raise MissingKey(
                f"Key file {self.path} does not exist; restore it from backup or fix the path."
            )

    def __repr__(self) -> str:
        return f"KeyFileProvider({str(self.path)!r}, current={self._current!r})"

    @property
    def key_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def generate_data_key(self, context: Context) -> DataKey:
        data_key = secrets.token_bytes(32)
        wrapped = self.wrap(data_key, context)
        return DataKey(data_key, wrapped.wrapped, wrapped.key_id)

    def wrap(self, data_key: bytes, context: Context) -> WrappedKey:
        if len(data_key) != 32:
            raise ValueError("data key must be 32 bytes")
        nonce = secrets.token_bytes(_WRAP_NONCE_SIZE)
        sealed = AESGCM(self._keys[self._current]).encrypt(
            nonce, data_key, canonical_context(context)
        )
        return WrappedKey(bytes([WRAP_VERSION]) + nonce + sealed, self._current)

    def unwrap(self, wrapped: bytes, key_id: str, context: Context) -> bytes:
        kek = self._keys.get(key_id)
        if kek is None:
            self._load()  # another process may have rotated since we loaded
            kek = self._keys.get(key_id)
        if kek is None:
            raise MissingKey(
                f"Key {key_id!r} is not in key file {self.path}; restore the key file from "
                "backup (or the key was deliberately destroyed)."
            )
        if len(wrapped) != WRAPPED_KEY_SIZE or wrapped[0] != WRAP_VERSION:
            raise WrongKey(
                f"Wrapped data key is malformed for key file key {key_id!r}; check that the "
                "catalog row belongs to this object."
            )
        nonce, sealed = wrapped[1 : 1 + _WRAP_NONCE_SIZE], wrapped[1 + _WRAP_NONCE_SIZE :]
        try:
            return AESGCM(kek).decrypt(nonce, sealed, canonical_context(context))
        except InvalidTag:
            raise WrongKey(
                f"Data key does not unwrap with key {key_id!r}: wrong account/object context "
                "or a key file from another install; check the object's catalog row."
            ) from None

    def add_key(self, *, make_current: bool = True) -> str:
        """Create a new KEK (rotation); old KEKs stay so existing objects still unwrap."""
        with self._locked():
            self._load()
            key_id = self._new_kek()
            if make_current:
                self._current = key_id
            self._replace_file()
        return key_id

    def remove_key(self, key_id: str) -> None:
        """Destroy a KEK: every data key wrapped only under it becomes unrecoverable.

        Do this only after a verified rewrap (rotation) or an approved disposition
        (crypto-shredding); backups of the key file must be destroyed too.
        """
        with self._locked():
            self._load()
            if key_id == self._current:
                raise VaultError(
                    f"Key {key_id!r} is the current key; add a new key before removing it."
                )
            if key_id not in self._keys:
                raise MissingKey(f"Key {key_id!r} is not in key file {self.path}.")
            del self._keys[key_id]
            self._created.pop(key_id, None)
            self._replace_file()

    def reload(self) -> None:
        self._load()

    # -- file handling -------------------------------------------------------------------

    def _load(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise MissingKey(
                f"Key file {self.path} does not exist; restore it from backup or fix the path."
            ) from None
        except OSError as exc:
            raise VaultError(
                f"Key file {self.path} cannot be opened ({exc.strerror}); check its path "
                "and ownership (symlinks are refused)."
            ) from None
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise VaultError(f"Key file {self.path} is not a regular file; fix the path.")
            if mode & 0o077:
                raise VaultError(
                    f"Key file {self.path} is accessible to group or others "
                    f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {self.path}"
                )
            raw = f.read()
        self._keys, self._created, self._current = _decode_keyfile(raw, self.path)

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked():
            if self.path.exists():  # another process won the race
                self._load()
                return
            self._current = self._new_kek()
            tmp = self._write_temp()
            try:
                os.link(tmp, self.path)  # atomic create-if-absent, with full contents
            except FileExistsError:  # created by a writer that does not take our lock
                self._load()
                return
            finally:
                tmp.unlink(missing_ok=True)
            fsync_dir(self.path.parent)

    def _new_kek(self) -> str:
        key_id = new_key_id()
        self._keys[key_id] = secrets.token_bytes(32)
        self._created[key_id] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return key_id

    def _replace_file(self) -> None:
        tmp = self._write_temp()
        try:
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.path.parent)

    def _write_temp(self) -> Path:
        data = _encode_keyfile(self._keys, self._created, self._current)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers across processes so a rotation can never drop another's key."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _encode_keyfile(keys: Mapping[str, bytes], created: Mapping[str, str], current: str) -> bytes:
    doc = {
        "format": KEYFILE_FORMAT,
        "version": KEYFILE_VERSION,
        "current": current,
        "keys": {
            kid: {"created": created.get(kid, ""), "key": base64.b64encode(kek).decode("ascii")}
            for kid, kek in keys.items()
        },
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _decode_keyfile(raw: bytes, path: Path) -> tuple[dict[str, bytes], dict[str, str], str]:
    try:
        doc = json.loads(raw)
        if doc.get("format") != KEYFILE_FORMAT or doc.get("version") != KEYFILE_VERSION:
            raise ValueError("unknown format or version")
        keys = {
            str(kid): base64.b64decode(entry["key"], validate=True)
            for kid, entry in doc["keys"].items()
        }
        created = {str(kid): str(entry.get("created", "")) for kid, entry in doc["keys"].items()}
        current = doc["current"]
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError("current key missing or a key is not 256 bits")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # no `from exc`: the parser's message could quote key material
        raise VaultError(
            f"Key file {path} is malformed; restore it from backup.", detail=type(exc).__name__
        ) from None
    return keys, created, current
