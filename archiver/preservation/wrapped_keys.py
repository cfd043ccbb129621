"""Each object's wrapped data key kept beside it in the store, so the store alone plus the
current key material reads everything, also after `keys rotate --remove-old` and a lost catalog.

An object's header carries the wrap from the day it was written. A rotation cannot rewrite
the object (the store is write-once, Object-Locked), so it writes one small *wrap sidecar*
per object under the new key encryption key (KEK), with a name no earlier sidecar has:

    wrapped-keys/<object key>.keys/<UTC time, microseconds>-<sha256(key id)[:16]>.json

Nothing is ever overwritten or deleted by a rotation (old sidecars stay, locked like the
object; they die with their KEK). Readers try the newest sidecar first, then older ones,
then the header. Crypto-shredding an object deletes every key under its sidecar prefix
(`sidecar_keys`) together with the catalog's wrap. Format: docs/vault-format.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.core.errors import ArchiverError, StorageError, VaultError
from archiver.storage.base import ObjectStore
from archiver.vault import KeyProvider, VaultHeader, WrappedKey

PREFIX = "wrapped-keys/"
FORMAT = "archiver-wrapped-key"
VERSION = 1


def sidecar_prefix(object_key: str) -> str:
    return f"{PREFIX}{object_key}.keys/"


def sidecar_key(object_key: str, key_id: str, when: datetime) -> str:
    stamp = when.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{sidecar_prefix(object_key)}{stamp}-{hashlib.sha256(key_id.encode()).hexdigest()[:16]}.json"


def sidecar_keys(store: ObjectStore, object_key: str) -> list[str]:
    """Every sidecar of one object, newest first."""
    return sorted(store.keys(sidecar_prefix(object_key)), reverse=True)


def encode(name: str, object_key: str, wrapped: WrappedKey, when: datetime) -> bytes:
    doc = {"format": FORMAT, "version": VERSION, "object": name, "store_key": object_key,
           "key_id": wrapped.key_id, "wrapped_key": base64.b64encode(wrapped.wrapped).decode("ascii"),
           "written": when.isoformat()}
    return (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode("utf-8")


def decode(raw: bytes, where: str) -> WrappedKey:
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise ValueError("unknown format or version")
        return WrappedKey(base64.b64decode(doc["wrapped_key"], validate=True), str(doc["key_id"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VaultError(f"Wrap sidecar {where} is malformed; restore it from a replica",
                         detail=type(exc).__name__) from None


def put_sidecar(store: ObjectStore, name: str, object_key: str, wrapped: WrappedKey, when: datetime) -> str:
    """Store one sidecar (write-once, verified like any object); returns its key."""
    key = sidecar_key(object_key, wrapped.key_id, when)
    data = encode(name, object_key, wrapped, when)
    fd, tmp = tempfile.mkstemp(prefix="archiver-wrap-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        store.put_file(key, Path(tmp), sha256=hashlib.sha256(data).hexdigest())
    finally:
        Path(tmp).unlink(missing_ok=True)
    return key


def stored_wraps(store: ObjectStore, object_key: str) -> list[WrappedKey]:
    """The object's sidecar wraps, newest first; an unreadable sidecar is skipped (an older
    one or the header may still open the object)."""
    wraps = []
    for key in sidecar_keys(store, object_key):
        try:
            with store.open(key) as fh:
                wraps.append(decode(fh.read(1 << 16), key))
        except (StorageError, VaultError):
            continue
    return wraps


@dataclass(frozen=True)
class ChosenWrap:
    wrapped: WrappedKey
    source: str  # "sidecar" or "header"


def choose_wrap(store: ObjectStore, keys: KeyProvider, object_key: str, context: dict[str, str],
                header: VaultHeader) -> ChosenWrap | None:
    """The first wrap the current key material opens: newest sidecar first, then the header.
    None when there is none at all (a detached header and no sidecar)."""
    candidates = [ChosenWrap(w, "sidecar") for w in stored_wraps(store, object_key)]
    if header.wrapped_key:
        candidates.append(ChosenWrap(WrappedKey(header.wrapped_key, header.key_id), "header"))
    last: ArchiverError | None = None
    for candidate in candidates:
        try:
            keys.unwrap(candidate.wrapped.wrapped, candidate.wrapped.key_id, context)
        except ArchiverError as exc:  # MissingKey (KEK destroyed), WrongKey
            last = exc
            continue
        return candidate
    if last is not None:
        raise last
    return None
