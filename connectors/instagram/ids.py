"""Instagram account identifiers as people type them, turned into one canonical form offline.

Canonical forms: a numeric IG user id ("17841400000000001"), or a lower-case username without
the "@" ("lincolnhigh"). A username is turned into the numeric id lazily, at harvest time,
through the Facebook Page the token is linked to (see connector.resolve_user_id).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from archiver.core.errors import ConfigError

_USERNAME = re.compile(r"[a-z0-9._]{1,30}")
_NUMERIC = re.compile(r"[0-9]{5,25}")
_NOT_PROFILES = frozenset(
    {"p", "reel", "reels", "tv", "explore", "stories", "accounts", "direct", "about", "legal"}
)
_HOSTS = ("instagram.com", "instagr.am")


def _fail(raw: str, why: str) -> ConfigError:
    return ConfigError(
        f"'{raw}' is not an Instagram account ({why}); use @username, "
        "https://www.instagram.com/<username>/ or the numeric Instagram user id"
    )


def normalize_account_id(raw: str) -> str:
    value = raw.strip()
    if any(host in value.lower() for host in _HOSTS):
        url = value if "://" in value else f"https://{value}"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not any(host == h or host.endswith("." + h) for h in _HOSTS):
            raise _fail(raw, "not an instagram.com address")
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            raise _fail(raw, "the URL names no profile")
        if segments[0].lower() in _NOT_PROFILES:
            raise _fail(raw, "that URL is a post, reel or page, not a profile")
        value = "@" + segments[0]
    if value.startswith("@"):
        name = value[1:].lower()
        if _NUMERIC.fullmatch(name) or name.isdigit():
            raise _fail(raw, "an all-digit username cannot be told from a user id")
        if not _USERNAME.fullmatch(name):
            raise _fail(raw, "usernames have 1-30 letters, digits, periods or underscores")
        return name
    if value.isdigit():
        if not _NUMERIC.fullmatch(value):
            raise _fail(raw, "a numeric Instagram user id has 5 to 25 digits")
        return value
    name = value.lower()
    if not name or not _USERNAME.fullmatch(name):
        raise _fail(raw, "usernames have 1-30 letters, digits, periods or underscores")
    return name


def is_numeric_id(account_id: str) -> bool:
    return bool(_NUMERIC.fullmatch(account_id))
