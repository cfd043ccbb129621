"""Turn a store URL from the settings into an ObjectStore."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from archiver.core.errors import ConfigError
from archiver.storage.base import ObjectStore
from archiver.storage.local import LocalFolderStore


def open_store(url: str, **options: Any) -> ObjectStore:
    """`file:///path`, a plain path, or `s3://bucket/prefix`.

    Options go to the store's constructor. For S3, `client` may be given; otherwise one is made
    by `make_s3_client` from `endpoint_url`, `region` and `max_attempts` (if given).
    """
    if not url or not url.strip():
        raise ConfigError("The archive store location is empty; set it to a folder or s3:// URL.")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        return _open_s3(url, parts.netloc, parts.path, options)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(
                f"Store URL {url} names a remote host; use a local path or mount the share."
            )
        return LocalFolderStore(Path(unquote(parts.path)), **options)
    if scheme and len(scheme) > 1:  # a one-letter scheme is a Windows drive letter
        raise ConfigError(f"Unsupported store URL {url}: use a folder path, file:// or s3://.")
    return LocalFolderStore(Path(url), **options)


def _open_s3(url: str, bucket: str, path: str, options: dict[str, Any]) -> ObjectStore:
    from archiver.storage.s3 import S3Store, make_s3_client

    if not bucket:
        raise ConfigError(f"Store URL {url} has no bucket name: use s3://bucket/prefix.")
    client = options.pop("client", None)
    client_options = {
        name: options.pop(name)
        for name in ("endpoint_url", "region", "max_attempts")
        if name in options
    }
    if client is None:
        client = make_s3_client(**client_options)
    return S3Store(bucket, path.strip("/"), client, **options)
