"""A boto3 S3 client configured for archiving, and translation of its errors into ours."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from archiver.core.errors import IntegrityError, StorageError


class KeyTaken(Exception):
    """A conditional create (If-None-Match: *) found the key already taken: HTTP 412."""


def make_s3_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    *,
    max_attempts: int = 8,
    connect_timeout: float = 10.0,
    read_timeout: float = 120.0,
    max_pool_connections: int = 16,
    addressing_style: str | None = None,
    profile: str | None = None,
) -> Any:
    """An S3 client whose retry and checksum behaviour is fixed here, not by botocore's version.

    - Retries: "standard" mode (backoff with jitter, retries 5xx and throttling), at most
      `max_attempts` requests in all. botocore's default changed from "legacy" to "standard"
      in 2025, so we pin it. Uploads are conditional, so a retried PUT cannot overwrite.
    - Checksums: the SDK computes request checksums and validates response checksums whenever
      the operation supports them ("when_supported"); a corrupted GET then raises instead of
      returning bad bytes. We also send our own SHA-256 with every upload.
    - Credentials come from the normal AWS chain (environment, profile, instance role); they
      are never passed through or logged here.
    """
    session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    config = Config(
        region_name=region,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        request_checksum_calculation="when_supported",
        response_checksum_validation="when_supported",
        s3={"addressing_style": addressing_style} if addressing_style else None,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_not_found(exc: ClientError) -> bool:
    return error_code(exc) in {"NoSuchKey", "404", "NotFound", "NoSuchVersion"} or (
        http_status(exc) == 404 and error_code(exc) != "NoSuchBucket"
    )


def storage_error(action: str, where: str, exc: Exception) -> StorageError:
    """One actionable line; the botocore text (which never holds secrets) goes to `detail`."""
    if isinstance(exc, NoCredentialsError):
        return StorageError(
            f"Cannot {action} {where}: no AWS credentials were found. Configure a profile, "
            "environment variables or an instance role.",
            detail=repr(exc),
        )
    if isinstance(exc, ClientError):
        code = error_code(exc)
        hint = {
            "NoSuchBucket": "the bucket does not exist; check the bucket name in the settings",
            "AccessDenied": "access denied; check the credentials' IAM permissions",
            "InvalidAccessKeyId": "the access key is not valid; check the credentials",
            "SignatureDoesNotMatch": "the secret key is wrong; check the credentials",
        }.get(code, f"S3 answered {code or http_status(exc)}")
        return StorageError(f"Cannot {action} {where}: {hint}.", detail=str(exc))
    if isinstance(exc, BotoCoreError):
        return StorageError(
            f"Cannot {action} {where}: the S3 endpoint could not be reached or answered "
            "unexpectedly; it will be retried later.",
            detail=str(exc),
        )
    return StorageError(f"Cannot {action} {where}: {exc}.", detail=repr(exc))


def precondition_failed(exc: ClientError) -> bool:
    return error_code(exc) == "PreconditionFailed" or http_status(exc) == 412


def check_source(full: str, path: Path, actual: str, expected: str) -> None:
    """The bytes we read to upload must be the bytes the caller hashed."""
    if actual != expected:
        raise IntegrityError(
            f"Refusing to upload {full}: the file {path} does not match the digest it was "
            "given (it changed after it was hashed).",
            detail=f"expected={expected} actual={actual}",
        )


def b64(raw: bytes) -> str:
    """S3 wants checksums as base64 of the raw digest."""
    return base64.b64encode(raw).decode("ascii")
