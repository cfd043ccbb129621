"""Turn what a person types for a YouTube channel into the canonical account id (offline).

Canonical forms: the channel id (`UC` + 22 characters, case-sensitive), a lower-cased
`@handle`, or `user:<legacy username>`. Handles and usernames are resolved to the channel id
on the first harvest and remembered in the cursor.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from archiver.core.errors import ConfigError

CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
_HANDLE = re.compile(r"[A-Za-z0-9_.\-]{3,30}")
_USERNAME = re.compile(r"[A-Za-z0-9]{1,40}")
_HOSTS = ("youtube.com", "youtu.be")


def _bad(raw: str, hint: str = "") -> ConfigError:
    return ConfigError(
        f"'{raw}' is not a YouTube channel id, @handle or channel URL; "
        + (hint or "use the @handle shown on the channel page or its UC… channel id")
    )


def normalize(raw: str) -> str:
    value = raw.strip()
    if "/" in value or value.lower().startswith(_HOSTS) or ".youtube.com" in value.lower():
        value = _from_url(raw, value)
    if CHANNEL_ID.fullmatch(value):
        return value
    if value.startswith("user:"):
        name = value[5:]
        if _USERNAME.fullmatch(name):
            return f"user:{name}"
        raise _bad(raw)
    handle = value[1:] if value.startswith("@") else value
    if _HANDLE.fullmatch(handle) and not handle.startswith((".", "-")):
        return "@" + handle.lower()
    raise _bad(raw)


def _from_url(raw: str, value: str) -> str:
    parts = urlsplit(value if "://" in value else f"https://{value}")
    host = (parts.hostname or "").lower()
    if not any(host == h or host.endswith(f".{h}") for h in _HOSTS):
        raise _bad(raw)
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise _bad(raw)
    first = segments[0]
    if first == "channel" and len(segments) > 1:
        return segments[1]
    if first == "user" and len(segments) > 1:
        return f"user:{segments[1]}"
    if first.startswith("@"):
        return first
    if first in ("c", "watch", "playlist", "shorts", "live") or host == "youtu.be":
        raise _bad(raw, "that URL does not name a channel the API can look up; open the channel "
                        "and copy its @handle, or the UC… id from About > Share channel > Copy channel ID")
    raise _bad(raw)
