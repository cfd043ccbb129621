"""Bluesky account identifiers as people type them.

Canonical ids are a DID (`did:plc:…`, `did:web:…`) or a lower-case handle. Handles can be
changed by their owner, so harvest resolves a handle to its DID once and keeps the DID in the
checkpoint cursor; items are named by their `at://` URI, which is globally unique.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from archiver.core.errors import ConfigError

DID = re.compile(r"did:(?:plc:[a-z2-7]{24}|web:[a-z0-9.\-%:]{3,253})")
HANDLE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]")
HINT = "use the handle (e.g. lincolnhs.bsky.social), its did:plc:… id or https://bsky.app/profile/<handle>"


def normalize(raw: str) -> str:
    value = (raw or "").strip()
    if "bsky.app/" in value or value.startswith(("http://", "https://")):
        parts = urlsplit(value if "://" in value else f"https://{value}")
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if len(segments) == 2 and segments[0] == "profile":
            value = segments[1]
        elif len(segments) > 2 and segments[0] == "profile":
            raise ConfigError(f"'{raw}' is a link to a post, not an account; {HINT}")
        else:
            raise ConfigError(f"'{raw}' is not a Bluesky profile URL; {HINT}")
    value = value.removeprefix("@")
    if value.lower().startswith("did:"):
        if DID.fullmatch(value.lower()):
            return value.lower()
        raise ConfigError(f"'{raw}' is not a valid DID; {HINT}")
    if len(value) <= 253 and HANDLE.fullmatch(value):
        return value.lower()
    raise ConfigError(f"'{raw}' is not a Bluesky handle or DID; {HINT}")


def is_did(account_id: str) -> bool:
    return account_id.startswith("did:")


def rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def did_of(uri: str) -> str:
    """The repository DID of an at:// URI."""
    rest = uri.removeprefix("at://")
    return rest.split("/", 1)[0]
