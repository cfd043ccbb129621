"""Multipart upload with a SHA-256 per part and of the whole, hashed from the bytes sent."""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from archiver.core.errors import IntegrityError
from archiver.storage.s3_client import (
    KeyTaken,
    b64,
    check_source,
    precondition_failed,
    storage_error,
)

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
MAX_PARTS = 10_000


def upload_multipart(
    client: Any,
    bucket: str,
    full: str,
    path: Path,
    *,
    digest: str,
    part_size: int,
    concurrency: int,
    extra: dict[str, Any],
) -> tuple[str | None, str]:
    """Upload `path` in parts; return (version id, composite SHA-256 S3 should report).

    The file is read once, in order: each part is hashed before it is sent, and the whole is
    hashed on the way, so what completes is exactly what matched `digest`. Up to `concurrency`
    parts are in flight (and in memory) at once. Completion is conditional (If-None-Match), so
    it never replaces an object that appeared meanwhile (raises KeyTaken). Any failure aborts
    the upload so no invisible, billable parts are left behind.
    """
    where = f"s3://{bucket}/{full}"
    try:
        upload_id = client.create_multipart_upload(
            Bucket=bucket, Key=full, ChecksumAlgorithm="SHA256", **extra
        )["UploadId"]
    except (ClientError, BotoCoreError) as exc:
        raise storage_error("start uploading", where, exc) from exc
    try:
        whole = hashlib.sha256()
        part_digests: list[bytes] = []
        parts: list[dict[str, Any]] = []
        in_flight: deque[Future[dict[str, Any]]] = deque()
        with open(path, "rb") as fh, ThreadPoolExecutor(concurrency) as pool:
            while chunk := fh.read(part_size):
                whole.update(chunk)
                part_digests.append(hashlib.sha256(chunk).digest())
                args = (client, bucket, full, upload_id, len(part_digests), chunk)
                in_flight.append(pool.submit(_upload_part, *args, part_digests[-1]))
                del chunk, args
                if len(in_flight) >= concurrency:
                    parts.append(in_flight.popleft().result())
            parts.extend(f.result() for f in in_flight)
        check_source(full, path, whole.hexdigest(), digest)
        try:
            response = client.complete_multipart_upload(
                Bucket=bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if precondition_failed(exc):
                raise KeyTaken from exc
            raise
    except BaseException as exc:
        _abort(client, bucket, full, upload_id)
        if isinstance(exc, (ClientError, BotoCoreError)):
            raise storage_error("upload", where, exc) from exc
        raise
    composite = b64(hashlib.sha256(b"".join(part_digests)).digest())
    return response.get("VersionId"), composite


def _upload_part(
    client: Any,
    bucket: str,
    full: str,
    upload_id: str,
    number: int,
    data: bytes,
    part_digest: bytes,
) -> dict[str, Any]:
    checksum = b64(part_digest)
    response = client.upload_part(
        Bucket=bucket,
        Key=full,
        UploadId=upload_id,
        PartNumber=number,
        Body=data,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=checksum,
    )
    echoed = response.get("ChecksumSHA256")
    if echoed and echoed != checksum:
        raise IntegrityError(
            f"S3 stored part {number} of {full} with a different checksum than was sent.",
            detail=f"sent={checksum} stored={echoed}",
        )
    return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}


def _abort(client: Any, bucket: str, full: str, upload_id: str) -> None:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=full, UploadId=upload_id)
    except (ClientError, BotoCoreError):  # the bucket's AbortIncompleteMultipartUpload rule
        log.warning("could not abort multipart upload of %s in s3://%s", full, bucket)
