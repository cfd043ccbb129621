"""What a `feeds` account id names: a WordPress site (`wp:https://site[/path]`) or a feed URL.

A bare site address is refused: offline we cannot tell a WordPress site from any other blog,
and the two are captured very differently (a full REST listing versus a latest-N feed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from archiver.core.errors import ConfigError

WP_PREFIXES = ("wp:", "wordpress:")
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
HINT = ("for a WordPress site type wp:https://site.example.org/, for any other blog give its "
        "RSS or Atom feed URL (often https://site.example.org/feed/)")


@dataclass(frozen=True, slots=True)
class Source:
    mode: str  # "wordpress" or "feed"
    url: str  # site root (wordpress, no trailing slash) or the feed URL

    @property
    def key(self) -> str:
        """Scheme-less site name that prefixes WordPress item ids (ids are per site)."""
        parts = urlsplit(self.url)
        return f"{parts.netloc}{parts.path}".rstrip("/")


def _url(raw: str, original: str) -> tuple[str, str, str, str]:
    value = raw.strip()
    url = value if "://" in value else f"https://{value}"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or not _HOST.fullmatch(host) or parts.username:
        raise ConfigError(f"'{original}' is not a web address; {HINT}")
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return parts.scheme.lower(), netloc, parts.path, parts.query


def normalize(raw: str) -> str:
    value = (raw or "").strip()
    lowered = value.lower()
    for prefix in WP_PREFIXES:
        if lowered.startswith(prefix):
            scheme, netloc, path, _ = _url(value[len(prefix):], raw)
            return "wp:" + urlunsplit((scheme, netloc, path.split("/wp-json", 1)[0].rstrip("/"), "", ""))
    if not value:
        raise ConfigError(f"An empty feed address; {HINT}")
    scheme, netloc, path, query = _url(value, raw)
    if "/wp-json" in path:
        return "wp:" + urlunsplit((scheme, netloc, path.split("/wp-json", 1)[0].rstrip("/"), "", ""))
    if path in ("", "/") and not query:
        raise ConfigError(f"'{raw}' is a site, not a feed; {HINT}")
    return urlunsplit((scheme, netloc, path, query, ""))


def source_of(account_id: str) -> Source:
    if account_id.startswith("wp:"):
        return Source("wordpress", account_id[3:])
    return Source("feed", account_id)


def effective_url(url: str, api_base: str | None) -> str:
    """`api_base` (a reverse proxy, or the sandbox) replaces the scheme and host only."""
    if not api_base:
        return url
    base = urlsplit(api_base)
    parts = urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
