"""Turn what a person types for an X account into the canonical account id (offline)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from archiver.core.errors import ConfigError

_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
_HOSTS = ("x.com", "twitter.com")
_RESERVED = frozenset(
    {"home", "explore", "notifications", "messages", "search", "settings", "compose", "hashtag",
     "login", "signup", "logout", "tos", "privacy", "share", "i", "intent", "jobs"}
)


def _bad(raw: str) -> ConfigError:
    return ConfigError(
        f"'{raw}' is not an X handle, profile URL or numeric user id; "
        "use the handle shown on the profile, e.g. @LincolnHS or https://x.com/LincolnHS"
    )


def normalize(raw: str) -> str:
    """Lower-case username (X handles are case-insensitive) or the numeric user id.

    A handle made only of digits keeps its '@' so it is never mistaken for a user id.
    """
    value = raw.strip()
    if "/" in value or value.lower().startswith(_HOSTS):
        value = _from_url(raw, value)
        if value.isdigit():
            return value
    if value.startswith("@"):
        name = value[1:]
        if not _USERNAME.fullmatch(name):
            raise _bad(raw)
        return f"@{name}" if name.isdigit() else name.lower()
    if value.isdigit() and 1 <= len(value) <= 20:
        return value
    if _USERNAME.fullmatch(value):
        return value.lower()
    raise _bad(raw)


def _from_url(raw: str, value: str) -> str:
    parts = urlsplit(value if "://" in value else f"https://{value}")
    host = (parts.hostname or "").lower()
    if not any(host == h or host.endswith(f".{h}") for h in _HOSTS):
        raise _bad(raw)
    segments = [s for s in parts.path.split("/") if s]
    if segments[:2] == ["i", "user"] and len(segments) > 2 and segments[2].isdigit():
        return segments[2]
    if segments[:2] == ["intent", "user"]:
        query = parse_qs(parts.query)
        if query.get("user_id", [""])[0].isdigit():
            return query["user_id"][0]
        if query.get("screen_name"):
            return "@" + query["screen_name"][0]
    if not segments or segments[0].lower() in _RESERVED:
        raise _bad(raw)
    return "@" + segments[0]
