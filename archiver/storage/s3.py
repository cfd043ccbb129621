"""S3 object store: write-once uploads under Object Lock, verified against our own SHA-256.

What S3 enforces (conditional create, Object Lock, legal hold) we use; what an S3-compatible
server or a test double may not enforce (checksum verification, refusing to shorten retention,
refusing to delete locked versions) we check ourselves first, so behaviour is the same either
way. Our SHA-256 travels with each object as `x-amz-meta-sha256`, the fixity ledger's value.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO, Literal, cast

from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from archiver.core.errors import IntegrityError, ObjectLocked, StorageError
from archiver.storage.base import NoSuchObject, StoredObject
from archiver.storage.rules import (
    Now,
    check_key,
    check_prefix,
    check_sha256,
    fmt_date,
    normalize_retain_until,
    resolve_retention,
    utc_now,
)
from archiver.storage.s3_client import (
    KeyTaken,
    b64,
    check_source,
    error_code,
    http_status,
    is_not_found,
    make_s3_client,
    precondition_failed,
    storage_error,
)
from archiver.storage.s3_multipart import MAX_PARTS, MIN_PART_SIZE, upload_multipart

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_SINGLE_PUT = 5 * 1024 * MiB
LockMode = Literal["GOVERNANCE", "COMPLIANCE"]
META_SHA256 = "sha256"  # sent as x-amz-meta-sha256


class S3Store:
    """Objects in `bucket` under `prefix`, with per-object Object Lock retention."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: Any | None = None,
        *,
        lock_mode: LockMode = "GOVERNANCE",
        default_retention: timedelta | None = None,
        now: Now = utc_now,
        multipart_threshold: int = 64 * MiB,
        part_size: int = 16 * MiB,
        max_concurrency: int = 4,
        verify_by_reading: bool = False,
    ) -> None:
        """`verify_by_reading` re-downloads and hashes every upload: for S3-compatible stores
        that do not verify the checksums we send (AWS does)."""
        if lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ValueError(f"lock_mode must be GOVERNANCE or COMPLIANCE, got {lock_mode!r}")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3 minimum)")
        if not 0 < multipart_threshold <= MAX_SINGLE_PUT:
            raise ValueError(f"multipart_threshold must be between 1 and {MAX_SINGLE_PUT}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.client = client if client is not None else make_s3_client()
        self.lock_mode: LockMode = lock_mode
        self._default_retention = default_retention
        self._now = now
        self._threshold = multipart_threshold
        self._part_size = part_size
        self._concurrency = max(1, max_concurrency)
        self._verify_by_reading = verify_by_reading
        self._base = f"{self.prefix}/" if self.prefix else ""

    def __repr__(self) -> str:
        return f"S3Store({self.url!r}, lock_mode={self.lock_mode!r})"

    # -- startup ---------------------------------------------------------------------------

    def check_bucket(self) -> None:
        """Refuse to run against a bucket that cannot keep records immutable."""
        where = f"bucket {self.bucket}"
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
            enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        except ClientError as exc:
            if error_code(exc) != "ObjectLockConfigurationNotFoundError":
                raise storage_error("check", where, exc) from exc
            enabled = None
        except BotoCoreError as exc:
            raise storage_error("check", where, exc) from exc
        if enabled != "Enabled":
            raise StorageError(
                f"S3 bucket {self.bucket} does not have Object Lock enabled: enable Object Lock "
                "on it (or create the archive bucket with Object Lock) before archiving."
            )
        try:
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except (ClientError, BotoCoreError) as exc:
            raise storage_error("check", where, exc) from exc
        if status != "Enabled":
            raise StorageError(
                f"S3 bucket {self.bucket} has versioning {status or 'off'}: set versioning "
                "to Enabled (Object Lock requires it)."
            )

    # -- writing ---------------------------------------------------------------------------

    def put_file(
        self, key: str, path: Path, *, sha256: str, retain_until: datetime | None = None
    ) -> StoredObject:
        full = self._full(key)
        digest = check_sha256(sha256)
        path = Path(path)
        retain = resolve_retention(retain_until, self._default_retention, self._now)
        if retain is not None and retain <= self._now():
            retain = None  # S3 refuses a retain-until in the past; there is nothing to lock
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise StorageError(f"Cannot store {key}: {exc.strerror} ({path}).") from exc
        existing = self._head(full)
        if existing is not None:
            return self._adopt(key, existing, digest, size, retain)
        lock = self._lock_args(retain)
        try:
            if size <= self._threshold:
                version, composite = self._put_single(full, path, digest, lock), None
            else:
                version, composite = upload_multipart(
                    self.client,
                    self.bucket,
                    full,
                    path,
                    digest=digest,
                    part_size=max(self._part_size, -(-size // MAX_PARTS)),
                    concurrency=self._concurrency,
                    extra={"Metadata": {META_SHA256: digest}, **lock},
                )
        except KeyTaken:
            # A concurrent writer or a retried request got there first; never overwrite.
            existing = self._head(full)
            if existing is None:
                raise StorageError(
                    f"Cannot store {key}: S3 reported it exists, then that it does not; "
                    "retry later."
                ) from None
            return self._adopt(key, existing, digest, size, retain)
        stored = self._verify_upload(key, full, version, digest, size, composite)
        if retain is not None and (stored.retain_until is None or stored.retain_until < retain):
            # The lock headers were not applied (moto ignores them on multipart uploads; some
            # S3-compatible stores may too): set retention explicitly, then re-check.
            log.warning("retention for %s was not applied at upload; setting it now", key)
            head = self._head(full, stored.version_id)
            stored = self._extend(key, head, retain) if head else stored
        log.info("stored %s (%d bytes) in %s", key, size, self.url)
        return stored

    def _put_single(self, full: str, path: Path, digest: str, lock: dict[str, Any]) -> str | None:
        data = path.read_bytes()  # at most multipart_threshold bytes
        # Send exactly the bytes we hashed, so a file changing underneath cannot slip through.
        check_source(full, path, hashlib.sha256(data).hexdigest(), digest)
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=full,
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=b64(bytes.fromhex(digest)),
                Metadata={META_SHA256: digest},
                IfNoneMatch="*",
                **lock,
            )
        except ClientError as exc:
            if precondition_failed(exc):
                raise KeyTaken from exc
            raise storage_error("upload", self._where(full), exc) from exc
        except BotoCoreError as exc:
            raise storage_error("upload", self._where(full), exc) from exc
        return response.get("VersionId")

    def _verify_upload(
        self,
        key: str,
        full: str,
        version: str | None,
        digest: str,
        size: int,
        composite: str | None,
    ) -> StoredObject:
        """Check what S3 holds now, not what we sent: length, our digest, S3's checksum."""
        head = self._head(full, version)
        if head is None:
            raise StorageError(f"Uploaded {key} to {self.url} but it cannot be found; retry.")
        problems = self._mismatches(head, digest, size)
        checksum = head.get("ChecksumSHA256")
        if checksum:
            expected = composite or b64(bytes.fromhex(digest))
            if checksum.partition("-")[0] != expected:
                problems.append(f"S3 checksum {checksum} != expected {expected}")
        if not problems and self._verify_by_reading:
            try:
                actual = self._hash_object(full, version)
            except IntegrityError as exc:
                problems.append(f"reading back failed its checksum ({exc.detail})")
            else:
                if actual != digest:
                    problems.append(f"bytes read back hash to {actual}")
        if problems:
            raise IntegrityError(
                f"Upload of {key} to {self.url} did not verify; do not record it as stored "
                "and investigate the bucket.",
                detail="; ".join(problems),
            )
        return self._stored(key, head)

    def _adopt(
        self, key: str, head: dict[str, Any], digest: str, size: int, retain: datetime | None
    ) -> StoredObject:
        """The key exists: the same bytes make this a successful retry; anything else is refused."""
        recorded = head.get("Metadata", {}).get(META_SHA256)
        if recorded is None:
            raise StorageError(
                f"Refusing to overwrite {key} in {self.url}: an object the archiver did not "
                "write (it has no sha256 metadata) is already there."
            )
        if self._mismatches(head, digest, size):
            raise StorageError(
                f"Refusing to overwrite {key} in {self.url}: it already holds different bytes.",
                detail=f"stored sha256={recorded} size={head.get('ContentLength')}; "
                f"new sha256={digest} size={size}",
            )
        if self._verify_by_reading:
            actual = self._hash_object(self._full(key), head.get("VersionId"))
            if actual != digest:
                raise IntegrityError(
                    f"Stored object {key} in {self.url} does not match its recorded digest.",
                    detail=f"recorded={digest} actual={actual}",
                )
        if retain is not None:
            return self._extend(key, head, retain)
        return self._stored(key, head)

    @staticmethod
    def _mismatches(head: dict[str, Any], digest: str, size: int) -> list[str]:
        problems = []
        if head.get("ContentLength") != size:
            problems.append(f"size {head.get('ContentLength')} != {size}")
        recorded = head.get("Metadata", {}).get(META_SHA256)
        if recorded != digest:
            problems.append(f"recorded sha256 {recorded} != {digest}")
        return problems

    # -- reading ---------------------------------------------------------------------------

    def head(self, key: str) -> StoredObject | None:
        """None if absent (or deleted); StorageError for an object we did not write."""
        head = self._head(self._full(key))
        return None if head is None else self._stored(key, head)

    def open(self, key: str) -> BinaryIO:
        """Downloads into a spooled temp file (memory, then disk), verifying our SHA-256."""
        full = self._full(key)
        response = self._get(full)
        spool = SpooledTemporaryFile(max_size=16 * MiB)  # noqa: SIM115 - returned to caller
        try:
            actual, size = _drain(response["Body"], cast(BinaryIO, spool), full)
            expected = response.get("Metadata", {}).get(META_SHA256)
            if size != response.get("ContentLength") or (expected and actual != expected):
                raise IntegrityError(
                    f"Object {key} in {self.url} does not match its recorded digest: "
                    "a fixity failure. Restore it from a copy.",
                    detail=f"recorded={expected} actual={actual} size={size}",
                )
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return cast(BinaryIO, spool)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must be >= 0, got {offset}, {length}")
        full = self._full(key)
        if length == 0:
            if self._head(full) is None:
                raise self._missing(key)
            return b""
        try:
            response = self._get(full, Range=f"bytes={offset}-{offset + length - 1}")
        except _RangeNotSatisfiable:
            return b""
        data = response["Body"].read()
        if response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 200:
            data = data[offset:]  # the server ignored Range and sent everything
        return data[:length]

    def keys(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._base + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self._base) :]
        except (ClientError, BotoCoreError) as exc:
            raise storage_error("list", self.url, exc) from exc

    # -- retention -------------------------------------------------------------------------

    def extend_retention(self, key: str, retain_until: datetime) -> StoredObject:
        wanted = normalize_retain_until(retain_until)
        head = self._head(self._full(key))
        if head is None:
            raise self._missing(key)
        return self._extend(key, head, wanted)

    def _extend(self, key: str, head: dict[str, Any], wanted: datetime) -> StoredObject:
        """Only ever later. S3 forbids shortening, but test doubles allow it: never send it."""
        current = self._stored(key, head)
        if current.retain_until is not None and wanted <= current.retain_until:
            return current
        if wanted <= self._now():
            return current  # S3 refuses past dates, and a past date protects nothing
        # Never weaken: compliance stays compliance; governance may be upgraded by settings.
        modes = {head.get("ObjectLockMode"), self.lock_mode}
        mode = "COMPLIANCE" if "COMPLIANCE" in modes else "GOVERNANCE"
        full = self._full(key)
        try:
            self.client.put_object_retention(
                Bucket=self.bucket,
                Key=full,
                Retention={"Mode": mode, "RetainUntilDate": wanted},
                **_version_arg(current.version_id),
            )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error("extend retention of", self._where(full), exc) from exc
        updated = self._head(full, current.version_id)
        stored = self._stored(key, updated) if updated else None
        if stored is None or stored.retain_until is None or stored.retain_until < wanted:
            raise StorageError(
                f"S3 accepted the new retention for {key} but does not report it; check the "
                "credentials have s3:GetObjectRetention.",
                detail=f"wanted={wanted.isoformat()} head={stored}",
            )
        return stored

    def set_legal_hold(self, key: str, on: bool) -> StoredObject:
        """Applied to every version of the key, so no copy of the record escapes the hold."""
        full = self._full(key)
        versions = [v for v, marker in self._versions(full) if not marker]
        if not versions:
            raise self._missing(key)
        for version in versions:
            try:
                self.client.put_object_legal_hold(
                    Bucket=self.bucket,
                    Key=full,
                    LegalHold={"Status": "ON" if on else "OFF"},
                    **_version_arg(version),
                )
            except (ClientError, BotoCoreError) as exc:
                raise storage_error("set the legal hold on", self._where(full), exc) from exc
        head = self._head(full, versions[0])
        stored = self._stored(key, head) if head else None
        if stored is None or stored.legal_hold != on:
            raise StorageError(
                f"S3 accepted the legal hold change for {key} but does not report it; check "
                "the credentials have s3:GetObjectLegalHold.",
            )
        return stored

    def delete(self, key: str) -> None:
        """Delete every version (never just a delete marker); refuse while any is locked."""
        full = self._full(key)
        versions = self._versions(full)
        if not versions:
            raise self._missing(key)
        now = self._now()
        for version, marker in versions:
            if marker:
                continue
            head = self._head(full, version)
            if head is None:
                continue
            if head.get("ObjectLockLegalHoldStatus") == "ON":
                raise ObjectLocked(
                    f"Cannot delete {key}: it is under a legal hold. Release the hold first "
                    "if the matter that required it is closed."
                )
            until = _utc(head.get("ObjectLockRetainUntilDate"))
            if until is not None and until > now:
                raise ObjectLocked(
                    f"Cannot delete {key}: it is retained until {fmt_date(until)}. "
                    "It can be destroyed after that date."
                )
        # Data versions first: if S3 refuses one we stop before touching the delete markers.
        for version, _marker in sorted(versions, key=lambda v: v[1]):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=full, **_version_arg(version))
            except ClientError as exc:
                if error_code(exc) == "AccessDenied" or http_status(exc) == 403:
                    raise ObjectLocked(
                        f"Cannot delete {key}: S3 refused because the object is still locked "
                        "(retention or legal hold). Check its lock status before retrying.",
                        detail=str(exc),
                    ) from exc
                raise storage_error("delete", self._where(full), exc) from exc
            except BotoCoreError as exc:
                raise storage_error("delete", self._where(full), exc) from exc
        log.info("deleted %s (%d versions) from %s", key, len(versions), self.url)

    # -- internals -------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        return self._base + check_key(key)

    def _where(self, full: str) -> str:
        return f"s3://{self.bucket}/{full}"

    def _missing(self, key: str) -> NoSuchObject:
        return NoSuchObject(f"No object {key} in {self.url}.")

    def _lock_args(self, retain: datetime | None) -> dict[str, Any]:
        if retain is None:
            return {}
        return {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": retain}

    def _head(self, full: str, version: str | None = None) -> dict[str, Any] | None:
        try:
            return cast(
                dict[str, Any],
                self.client.head_object(
                    Bucket=self.bucket, Key=full, ChecksumMode="ENABLED", **_version_arg(version)
                ),
            )
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise storage_error("read", self._where(full), exc) from exc
        except BotoCoreError as exc:
            raise storage_error("read", self._where(full), exc) from exc

    def _get(self, full: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return cast(
                dict[str, Any],
                self.client.get_object(Bucket=self.bucket, Key=full, **kwargs),
            )
        except ClientError as exc:
            if error_code(exc) == "InvalidRange" or http_status(exc) == 416:
                raise _RangeNotSatisfiable from exc
            if is_not_found(exc):
                raise NoSuchObject(f"No object {full} in s3://{self.bucket}.") from exc
            raise storage_error("read", self._where(full), exc) from exc
        except BotoCoreError as exc:
            raise storage_error("read", self._where(full), exc) from exc

    def _hash_object(self, full: str, version: str | None) -> str:
        response = self._get(full, **_version_arg(version))
        return _drain(response["Body"], None, full)[0]

    def _versions(self, full: str) -> list[tuple[str, bool]]:
        """(version id, is delete marker) for exactly this key, newest first."""
        found: list[tuple[str, bool]] = []
        paginator = self.client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Versions", []):
                    if item["Key"] == full:
                        found.append((item["VersionId"], False))
                for item in page.get("DeleteMarkers", []):
                    if item["Key"] == full:
                        found.append((item["VersionId"], True))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error("list versions of", self._where(full), exc) from exc
        return found

    def _stored(self, key: str, head: dict[str, Any]) -> StoredObject:
        digest = head.get("Metadata", {}).get(META_SHA256)
        if not digest:
            raise StorageError(
                f"Object {key} in {self.url} has no sha256 metadata: it was not written by "
                "the archiver."
            )
        return StoredObject(
            key=key,
            size=int(head.get("ContentLength", 0)),
            sha256=digest,
            retain_until=_utc(head.get("ObjectLockRetainUntilDate")),
            legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
            version_id=head.get("VersionId"),
        )


class _RangeNotSatisfiable(Exception):
    """HTTP 416: the range starts at or past the end of the object."""


def _drain(body: Any, sink: BinaryIO | None, full: str) -> tuple[str, int]:
    """Copy a streaming body into `sink` (or nowhere); return its SHA-256 and length."""
    hasher = hashlib.sha256()
    size = 0
    try:
        for chunk in body.iter_chunks(MiB):
            hasher.update(chunk)
            if sink is not None:
                sink.write(chunk)
            size += len(chunk)
    except FlexibleChecksumError as exc:
        raise IntegrityError(
            f"S3 object {full} failed its checksum on download: a fixity failure.",
            detail=str(exc),
        ) from exc
    except BotoCoreError as exc:
        raise storage_error("read", full, exc) from exc
    finally:
        body.close()
    return hasher.hexdigest(), size


def _version_arg(version: str | None) -> dict[str, str]:
    return {"VersionId": version} if version and version != "null" else {}


def _utc(value: datetime | None) -> datetime | None:
    return normalize_retain_until(value) if value is not None else None
