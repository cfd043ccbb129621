"""Pure parsing of Threads API responses into Items (no network, never raises).

Shared by harvest and catalog rebuild. A top-level thread is a post; a reply to it is a
comment; a reply to a reply is a reply whose parent is the post it answers (`replied_to`).
`hide_status` is a moderation flag, so hiding a reply is a new version of it. Signed media
URLs never enter `content`; the file's path names the media.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from archiver.core.models import CapturedExchange, Item, ItemKind, MediaRef, ParseWarning

PLATFORM = "threads"
LISTING = re.compile(r"/[^/]+/(?:threads|conversation|replies)/?$")


def parse_response(account_id: str, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    if exchange.status != 200:
        return
    evidence = exchange.response_pointer

    def warn(code: str, message: str, item_id: str = "") -> ParseWarning:
        return ParseWarning(f"{PLATFORM}.{code}", message, evidence, item_id)

    try:
        data = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        yield warn("malformed_json", "response body is not valid JSON")
        return
    if not isinstance(data, dict):
        yield warn("unexpected_shape", "top level is not an object")
        return
    try:
        listing = LISTING.search(urlsplit(exchange.url).path)
    except ValueError:
        listing = None
    if listing:
        rows = data.get("data")
        if not isinstance(rows, list):
            yield warn("unexpected_shape", "listing without a data array")
            return
    elif "media_type" in data:
        rows = [data]
    else:
        return  # /me and errors hold no archived items
    for row in rows:
        yield from _entry(account_id, row, warn)


def _entry(account_id: str, row: Any, warn: Any) -> Iterator[Item | ParseWarning]:
    if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not row["id"]:
        yield warn("entry_without_id", "an entry has no string id")
        return
    item_id = row["id"]
    fields: dict[str, str] = {}
    for key in ("text", "media_type", "username", "permalink", "hide_status"):
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            yield warn("bad_field_type", f"{key} is not a string", item_id)
            value = str(value)
        fields[key] = value or ""
    try:
        created = datetime.strptime(row["timestamp"], "%Y-%m-%dT%H:%M:%S%z") if row.get("timestamp") else None
    except (TypeError, ValueError):
        yield warn("bad_time", f"timestamp {row.get('timestamp')!r} is not a Threads time", item_id)
        created = None
    root, replied_to = _ref(row.get("root_post")), _ref(row.get("replied_to"))
    kind, parent = ItemKind.POST, None
    if row.get("is_reply") is True or replied_to:
        kind = ItemKind.COMMENT if replied_to in ("", root) else ItemKind.REPLY
        parent = replied_to or root or None
    media_url = row["media_url"] if isinstance(row.get("media_url"), str) else ""
    kind_of_media = "video" if fields["media_type"] == "VIDEO" else "image"
    yield Item(
        platform=PLATFORM, account_id=account_id, item_id=item_id, kind=kind,
        content={"text": fields["text"], "media_type": fields["media_type"], "media": _path(media_url),
                 "hide_status": fields["hide_status"]},
        created_at=created, parent_id=parent, author=fields["username"], text=fields["text"],
        url=fields["permalink"], media=(MediaRef(media_url, kind_of_media, item_id),) if media_url else (),
        # has_replies flips when the first reply arrives (or the last goes): the only change
        # signal Threads gives for a conversation; it says nothing of a second reply.
        signal=f"has_replies:{row['has_replies']}".lower() if isinstance(row.get("has_replies"), bool) else None,
    )


def _ref(value: Any) -> str:
    return str(value.get("id") or "") if isinstance(value, dict) else ""


def _path(url: str) -> str:
    try:
        return urlsplit(url).path if url else ""
    except ValueError:
        return ""
