"""Rules every object store applies the same way, so an archive can move between stores."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from archiver.storage.base import InvalidKey

Now = Callable[[], datetime]

SIDECAR_SUFFIX = ".meta.json"  # the local folder keeps retention next to each object
MAX_KEY_BYTES = 1024  # S3's limit; applied everywhere so keys stay portable
_HEX64 = re.compile(r"[0-9a-f]{64}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def check_key(key: str) -> str:
    """Return `key` unchanged if it is a safe relative path; raise InvalidKey otherwise.

    Refused: empty or absolute keys, '.'/'..' or empty segments, backslashes and control
    characters (path tricks on some filesystems), segments starting with '.' (reserved for
    temp and lock files) and the sidecar suffix (reserved for retention records).
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"Invalid object key {key!r}: it must be a non-empty string.")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKey(f"Invalid object key {key[:40]!r}...: longer than {MAX_KEY_BYTES} bytes.")
    if key.startswith("/") or "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidKey(
            f"Invalid object key {key!r}: it must be a relative path without backslashes "
            "or control characters."
        )
    for segment in key.split("/"):
        if not segment or segment.startswith("."):
            raise InvalidKey(
                f"Invalid object key {key!r}: path segments may not be empty, '.', '..' "
                "or start with '.'."
            )
    if key.endswith(SIDECAR_SUFFIX):
        raise InvalidKey(f"Invalid object key {key!r}: '{SIDECAR_SUFFIX}' is reserved.")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix is a partial key: its complete segments obey the key rules."""
    folders = prefix.split("/")[:-1]
    if (
        prefix.startswith("/")
        or "\\" in prefix
        or any(not seg or seg.startswith(".") for seg in folders)
    ):
        raise InvalidKey(f"Invalid key prefix {prefix!r}.")
    return prefix


def check_sha256(sha256: str) -> str:
    """Lowercase a hex SHA-256 digest and insist it is one, so comparisons are exact."""
    digest = sha256.strip().lower() if isinstance(sha256, str) else ""
    if not _HEX64.fullmatch(digest):
        raise ValueError(f"sha256 must be 64 hex characters, got {sha256!r}")
    return digest


def normalize_retain_until(when: datetime) -> datetime:
    """UTC, rounded *up* to a whole second: S3 keeps no finer precision, and a retention
    date may be made later by rounding but never earlier."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"retain_until must be timezone-aware, got naive {when.isoformat()}")
    when = when.astimezone(UTC)
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when


def resolve_retention(
    retain_until: datetime | None, default_retention: timedelta | None, now: Now
) -> datetime | None:
    """Explicit retain-until wins; otherwise now + the store's default, if it has one."""
    if retain_until is not None:
        return normalize_retain_until(retain_until)
    if default_retention is not None:
        return normalize_retain_until(now() + default_retention)
    return None


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two optional dates: retention is only ever extended."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def fmt_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
