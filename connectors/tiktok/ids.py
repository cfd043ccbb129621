"""TikTok account identifiers: the @handle, as typed or inside a profile or video URL.

The Display API only ever reads the token owner's own videos, so the handle is not used to
address requests; harvest checks that the token belongs to it (user/info `username`) and
remembers the token's `open_id`, so a token swapped for another account's is caught.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from archiver.core.errors import ConfigError

_HANDLE = re.compile(r"[a-z0-9._]{2,24}")


def _fail(raw: str, why: str) -> ConfigError:
    return ConfigError(
        f"'{raw}' is not a TikTok account ({why}); use @handle or https://www.tiktok.com/@handle"
    )


def normalize_account_id(raw: str) -> str:
    value = raw.strip()
    if "tiktok.com" in value.lower():
        url = value if "://" in value else f"https://{value}"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not (host == "tiktok.com" or host.endswith(".tiktok.com")):
            raise _fail(raw, "not a tiktok.com address")
        if host.startswith(("vm.", "vt.")) or parts.path.startswith("/t/"):
            raise _fail(raw, "short links hide the handle; open the link and copy the @handle")
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if not segments or not segments[0].startswith("@"):
            raise _fail(raw, "the URL names no @handle")
        value = segments[0]
    handle = value.removeprefix("@").lower()
    if not _HANDLE.fullmatch(handle):
        raise _fail(raw, "handles have 2-24 letters, digits, periods or underscores")
    return handle
