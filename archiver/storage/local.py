"""The embedded default store: a folder on local disk, written crash-safely and once only.

Each object is a read-only file; its retention and legal hold live in a sidecar
`<key>.meta.json` next to it. Bytes go to a temp file in the same folder, are hashed while
copied and fsynced, then hard-linked into place, which fails rather than overwrites if the key
exists. A folder cannot stop its owner from deleting files; this store stops *the archiver*
from deleting too early, which is what the embedded default can promise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from archiver.core.errors import IntegrityError, ObjectLocked, StorageError
from archiver.storage.base import NoSuchObject, StoredObject
from archiver.storage.rules import (
    SIDECAR_SUFFIX,
    Now,
    check_key,
    check_prefix,
    check_sha256,
    fmt_date,
    later,
    normalize_retain_until,
    resolve_retention,
    utc_now,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]  # no flock off POSIX: the module is then None

_CHUNK = 1024 * 1024
_LOCK_NAME = ".store.lock"


class LocalFolderStore:
    """Write-once objects under `root`; retention enforced by this code, not the OS."""

    def __init__(
        self,
        root: Path | str,
        *,
        now: Now = utc_now,
        default_retention: timedelta | None = None,
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"Cannot create the archive folder {self.root}: {exc.strerror}.", detail=repr(exc)
            ) from exc
        self.url = self.root.as_uri()
        self._now = now
        self._default_retention = default_retention

    def __repr__(self) -> str:
        return f"LocalFolderStore({str(self.root)!r})"

    def check_bucket(self) -> None:
        """Nothing to check: this code enforces write-once itself (the folder was made above)."""

    # -- writing ---------------------------------------------------------------------------

    def put_file(
        self, key: str, path: Path, *, sha256: str, retain_until: datetime | None = None
    ) -> StoredObject:
        target = self._path(key)
        digest = check_sha256(sha256)
        retain = resolve_retention(retain_until, self._default_retention, self._now)
        if target.is_dir():
            raise StorageError(
                f"Cannot store {key}: a folder of other objects has that name in {self.url}."
            )
        if target.exists():
            return self._adopt_existing(key, target, digest, retain)
        self._make_parents(target.parent)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            size = _copy_hashing(Path(path), tmp, digest, key)
            os.chmod(tmp, 0o444)
            with self._lock():
                if not _link_no_replace(tmp, target):
                    return self._adopt_existing(key, target, digest, retain, locked=True)
                # No directory fsync here: the sidecar lives in the same folder and
                # `_write_meta` fsyncs that folder after its rename, which makes the link
                # durable too, before this put returns (one fsync fewer per object, issue 14).
                # A crash before then leaves the object without its sidecar (a retried put
                # adopts it: `_adopt_existing`), or neither, or a sidecar without its object
                # (`head` says None; a retried put replaces the sidecar): never an
                # acknowledged object that is not durable.
                meta = {"sha256": digest, "size": size, "stored_at": self._now().isoformat()}
                meta.update(_retention_fields(retain, False))
                # A sidecar left by a crashed delete belongs to the old object: replace it.
                self._write_meta(target, meta)
        finally:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                tmp.unlink()
        return self._object(key, target, meta)

    def _adopt_existing(
        self,
        key: str,
        target: Path,
        digest: str,
        retain: datetime | None,
        *,
        locked: bool = False,
    ) -> StoredObject:
        """A retried put: same bytes -> the stored object (retention extended); else refuse."""
        stored = _hash_file(target)
        if stored != digest:
            meta = self._read_meta(target)
            if meta.get("sha256") == digest:
                raise IntegrityError(
                    f"Stored object {key} no longer matches its recorded digest: "
                    "the file was altered on disk. Restore it from a copy.",
                    detail=f"recorded={digest} actual={stored}",
                )
            raise StorageError(
                f"Refusing to overwrite {key}: the store already holds different bytes "
                "under that key.",
                detail=f"stored={stored} new={digest}",
            )
        ctx = contextlib.nullcontext() if locked else self._lock()
        with ctx:
            meta = self._read_meta(target)
            if not meta:  # crash between link and sidecar: the put never returned
                meta = {"sha256": digest, "stored_at": self._now().isoformat()}
            meta["size"] = target.stat().st_size
            current = _parse_date(meta.get("retain_until"))
            meta.update(_retention_fields(later(current, retain), bool(meta.get("legal_hold"))))
            self._write_meta(target, meta)
        return self._object(key, target, meta)

    # -- reading ---------------------------------------------------------------------------

    def head(self, key: str) -> StoredObject | None:
        target = self._path(key)
        if not target.is_file():
            return None
        meta = self._read_meta(target)
        if "sha256" not in meta:  # never acknowledged (crash before the sidecar): hash it
            meta = {"sha256": _hash_file(target)}
        return self._object(key, target, meta)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")  # noqa: SIM115 - the caller owns the stream
        except FileNotFoundError:
            raise self._missing(key) from None
        except OSError as exc:
            raise StorageError(f"Cannot read {key}: {exc.strerror}.", detail=repr(exc)) from exc

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must be >= 0, got {offset}, {length}")
        with self.open(key) as fh:
            fh.seek(offset)
            return fh.read(length)

    def keys(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        # Start at the deepest folder the prefix names, then filter by the string prefix.
        folder, _, _ = prefix.rpartition("/")
        start = self.root / folder if folder else self.root
        base = f"{folder}/" if folder else ""
        for key in _walk_sorted(start, base):
            if key.startswith(prefix):
                yield key

    # -- retention -------------------------------------------------------------------------

    def extend_retention(self, key: str, retain_until: datetime) -> StoredObject:
        wanted = normalize_retain_until(retain_until)
        target = self._existing(key)
        with self._lock():
            meta = self._meta_or_rebuild(target)
            current = _parse_date(meta.get("retain_until"))
            if current is None or wanted > current:
                meta.update(_retention_fields(wanted, bool(meta.get("legal_hold"))))
                self._write_meta(target, meta)
        return self._object(key, target, meta)

    def set_legal_hold(self, key: str, on: bool) -> StoredObject:
        target = self._existing(key)
        with self._lock():
            meta = self._meta_or_rebuild(target)
            if bool(meta.get("legal_hold")) != on:
                meta["legal_hold"] = on
                self._write_meta(target, meta)
        return self._object(key, target, meta)

    def delete(self, key: str) -> None:
        target = self._existing(key)
        with self._lock():
            meta = self._read_meta(target)
            if meta.get("legal_hold"):
                raise ObjectLocked(
                    f"Cannot delete {key}: it is under a legal hold. Release the hold first "
                    "if the matter that required it is closed."
                )
            until = _parse_date(meta.get("retain_until"))
            if until is not None and until > self._now():
                raise ObjectLocked(
                    f"Cannot delete {key}: it is retained until {fmt_date(until)}. "
                    "It can be destroyed after that date."
                )
            try:
                target.unlink()
            except FileNotFoundError:
                raise self._missing(key) from None
            _fsync_dir(target.parent)
            with contextlib.suppress(FileNotFoundError):
                _sidecar(target).unlink()
            _fsync_dir(target.parent)

    # -- internals -------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _existing(self, key: str) -> Path:
        target = self._path(key)
        if not target.is_file():
            raise self._missing(key)
        return target

    def _missing(self, key: str) -> NoSuchObject:
        return NoSuchObject(f"No object {key} in {self.url}.")

    def _object(self, key: str, target: Path, meta: dict[str, Any]) -> StoredObject:
        return StoredObject(
            key=key,
            size=target.stat().st_size,
            sha256=meta["sha256"],
            retain_until=_parse_date(meta.get("retain_until")),
            legal_hold=bool(meta.get("legal_hold")),
        )

    def _read_meta(self, target: Path) -> dict[str, Any]:
        try:
            data = _sidecar(target).read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            meta = json.loads(data)
        except json.JSONDecodeError as exc:
            raise StorageError(
                f"The retention record {_sidecar(target)} is damaged; restore it from a backup "
                "or the catalog before changing this object.",
                detail=repr(exc),
            ) from exc
        if not isinstance(meta, dict):
            raise StorageError(f"The retention record {_sidecar(target)} is damaged.")
        return meta

    def _meta_or_rebuild(self, target: Path) -> dict[str, Any]:
        meta = self._read_meta(target)
        if "sha256" not in meta:
            meta.update(sha256=_hash_file(target), size=target.stat().st_size)
        return meta

    def _write_meta(self, target: Path, meta: dict[str, Any]) -> None:
        """Atomic replace: a crash leaves the old record or the new one, never half of one."""
        sidecar = _sidecar(target)
        tmp = sidecar.parent / f".{sidecar.name}.{uuid.uuid4().hex}.tmp"
        data = json.dumps(meta, sort_keys=True, indent=1).encode("utf-8")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, 0o444)
            os.replace(tmp, sidecar)
            _fsync_dir(sidecar.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StorageError(
                f"Cannot write the retention record for {target.name}: {exc.strerror}.",
                detail=repr(exc),
            ) from exc

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        if not folder.is_dir():
            raise StorageError(
                f"Cannot store under {folder.relative_to(self.root)}/: an object already has "
                f"that name in {self.url}."
            )
        for made in reversed(missing):
            with contextlib.suppress(FileExistsError):
                made.mkdir()
            _fsync_dir(made.parent)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise metadata changes across threads and processes on this host."""
        if fcntl is None:  # pragma: no cover
            yield
            return
        fd = os.open(self.root / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + SIDECAR_SUFFIX)


def _retention_fields(retain: datetime | None, legal_hold: bool) -> dict[str, Any]:
    return {"retain_until": retain.isoformat() if retain else None, "legal_hold": legal_hold}


def _parse_date(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _copy_hashing(source: Path, tmp: Path, digest: str, key: str) -> int:
    """Copy `source` to a new `tmp`, fsync it, and insist the bytes hash to `digest`."""
    hasher = hashlib.sha256()
    size = 0
    try:
        with open(source, "rb") as src:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    hasher.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
    except OSError as exc:
        raise StorageError(
            f"Cannot store {key}: {exc.strerror} ({exc.filename}).", detail=repr(exc)
        ) from exc
    if hasher.hexdigest() != digest:
        raise IntegrityError(
            f"Refusing to store {key}: the file {source} does not match the digest it was "
            "given (it changed after it was hashed).",
            detail=f"expected={digest} actual={hasher.hexdigest()}",
        )
    return size


def _link_no_replace(tmp: Path, target: Path) -> bool:
    """Put `tmp` at `target` unless something is there; False if it was taken."""
    try:
        os.link(tmp, target)
        return True
    except FileExistsError:
        return False
    except OSError:
        # Filesystems without hard links: we hold the store lock, so check-then-rename is safe
        # against other archiver processes on this host.
        if target.exists():
            return False
        os.rename(tmp, target)
        return True


def _hash_file(path: Path) -> str:
    hasher = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                hasher.update(chunk)
    except OSError as exc:
        raise StorageError(f"Cannot read {path}: {exc.strerror}.", detail=repr(exc)) from exc
    return hasher.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _walk_sorted(folder: Path, base: str) -> Iterator[str]:
    """Keys below `folder` in true lexicographic order (a folder sorts as 'name/')."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    named = []
    for entry in entries:
        if entry.name.startswith(".") or entry.name.endswith(SIDECAR_SUFFIX):
            continue
        is_dir = entry.is_dir(follow_symlinks=False)
        named.append((entry.name + "/" if is_dir else entry.name, entry, is_dir))
    for sort_name, entry, is_dir in sorted(named, key=lambda t: t[0]):
        if is_dir:
            yield from _walk_sorted(Path(entry.path), base + sort_name)
        elif entry.is_file(follow_symlinks=False):
            yield base + entry.name
