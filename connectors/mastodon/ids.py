"""Mastodon account identifiers as people type them, and the ids we give statuses.

Canonical account ids are `@user@instance` (lower case) or a bare numeric account id; the
numeric form names no instance, so it needs the account's `api_base`. Status ids are only
unique per instance, so catalog item ids are `<instance>/<status id>`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from archiver.core.errors import ConfigError

_USER = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
HANDLE = re.compile(rf"@?(?P<user>{_USER})@(?P<domain>{_DOMAIN})")
_PROFILE_PATH = re.compile(rf"/(?:@|users/)(?P<user>{_USER})(?:@(?P<domain>{_DOMAIN}))?/?")
_WEB_ACCOUNT = re.compile(r"/web/accounts/(?P<id>\d{1,20})/?")

HINT = "use @user@instance (e.g. @lincolnhigh@k12.social), the profile URL, or the numeric account id"


def normalize(raw: str) -> str:
    value = (raw or "").strip()
    if value.isdigit() and len(value) <= 20:
        return value
    match = HANDLE.fullmatch(value)
    if match:
        return f"@{match['user']}@{match['domain']}".lower()
    if "/" in value:
        url = value if "://" in value else f"https://{value}"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        profile = _PROFILE_PATH.fullmatch(parts.path)
        if host and re.fullmatch(_DOMAIN, host) and profile:
            return f"@{profile['user']}@{profile['domain'] or host}".lower()
        web = _WEB_ACCOUNT.fullmatch(parts.path)
        if web:
            return web["id"]
    if re.fullmatch(rf"@?{_USER}", value):
        raise ConfigError(f"'{raw}' has no instance; {HINT}")
    raise ConfigError(f"'{raw}' is not a Mastodon account; {HINT}")


def handle_parts(account_id: str) -> tuple[str, str] | None:
    """(user, domain) of a canonical handle; None for a numeric id."""
    match = HANDLE.fullmatch(account_id)
    return (match["user"].lower(), match["domain"].lower()) if match else None


def instance_of(account_id: str, api_base: str) -> str:
    """The instance whose status ids we store: the handle's domain, else the API host."""
    parts = handle_parts(account_id)
    if parts:
        return parts[1]
    return urlsplit(api_base).netloc.lower()


def item_id(instance: str, status_id: str) -> str:
    return f"{instance}/{status_id}"


def status_id_of(item: str) -> str:
    return item.rsplit("/", 1)[-1]
