"""Pure parsing of Instagram Graph API responses into Items (no network, never raises).

Shared by harvest and catalog rebuild: the same stored response always yields the same
items. Signed CDN URLs (`oh=`, `oe=` query parameters, and a CDN host that differs by edge)
never enter `content`; the file's path names the media.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from archiver.core.models import CapturedExchange, Item, ItemKind, MediaRef, ParseWarning

PLATFORM = "instagram"
LISTING = re.compile(r"/(?P<object>[^/]+)/(?P<edge>media|comments|replies)/?$")


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise TypeError("timestamp is not a string")
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


def file_key(url: Any) -> str:
    """The path of a CDN URL: stable across fetches, unlike its host and signed query."""
    if not isinstance(url, str) or not url:
        return ""
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


class _Ctx:
    """Per-response state: where warnings point and which account items belong to."""

    def __init__(self, account_id: str, exchange: CapturedExchange) -> None:
        self.account_id = account_id
        self.evidence = exchange.response_pointer

    def warn(self, code: str, message: str, item_id: str = "") -> ParseWarning:
        return ParseWarning(f"{PLATFORM}.{code}", message, self.evidence, item_id)


def parse_response(account_id: str, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    if exchange.status != 200:
        return
    ctx = _Ctx(account_id, exchange)
    try:
        data = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        yield ctx.warn("malformed_json", "response body is not valid JSON")
        return
    if not isinstance(data, dict):
        yield ctx.warn("unexpected_shape", "top level is not an object")
        return
    try:
        path = urlsplit(exchange.url).path
    except ValueError:
        path = ""
    listing = LISTING.search(path)
    if listing and listing.group("edge") == "media" and is_lean_listing(exchange.url):
        return  # a change-signal listing without the media fields: no item is whole in it
    if listing:
        entries = data.get("data")
        if not isinstance(entries, list):
            yield ctx.warn("unexpected_shape", "listing without a data array")
            return
        edge, owner = listing.group("edge"), listing.group("object")
        for entry in entries:
            if edge == "media":
                yield from _media(ctx, entry)
            elif edge == "comments":
                yield from _comment(ctx, entry, ItemKind.COMMENT, owner)
            else:
                yield from _comment(ctx, entry, ItemKind.REPLY, owner)
        return
    if "error" in data or not isinstance(data.get("id"), str):
        return
    if "media_type" in data:
        yield from _media(ctx, data)
    elif "text" in data:
        parent = data.get("parent_id")
        if isinstance(parent, str) and parent:
            yield from _comment(ctx, data, ItemKind.REPLY, parent)
        else:
            media = data.get("media") if isinstance(data.get("media"), dict) else {}
            yield from _comment(ctx, data, ItemKind.COMMENT, str(media.get("id") or "") or None)
    # anything else (the IG user, /me, business discovery) holds no archived items


def _string(ctx: _Ctx, entry: dict, key: str, item_id: str) -> tuple[str, ParseWarning | None]:
    value = entry.get(key)
    if value is None:
        return "", None
    if isinstance(value, str):
        return value, None
    return str(value), ctx.warn("bad_field_type", f"{key} is not a string", item_id)


def _created(ctx: _Ctx, entry: dict, item_id: str) -> tuple[datetime | None, ParseWarning | None]:
    try:
        return parse_time(entry.get("timestamp")), None
    except (TypeError, ValueError):
        return None, ctx.warn("bad_time", f"timestamp {entry.get('timestamp')!r} is not a Graph time", item_id)


def _media(ctx: _Ctx, entry: Any) -> Iterator[Item | ParseWarning]:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
        yield ctx.warn("entry_without_id", "a media entry has no string id")
        return
    item_id = entry["id"]
    caption, warning = _string(ctx, entry, "caption", item_id)
    if warning:
        yield warning
    media_type, warning = _string(ctx, entry, "media_type", item_id)
    if warning:
        yield warning
    product, warning = _string(ctx, entry, "media_product_type", item_id)
    if warning:
        yield warning
    created, warning = _created(ctx, entry, item_id)
    if warning:
        yield warning
    refs = _refs(item_id, media_type, entry)
    children: list[dict[str, str]] = []
    raw_children = entry.get("children")
    if raw_children is not None:
        child_rows = raw_children.get("data") if isinstance(raw_children, dict) else None
        if not isinstance(child_rows, list):
            yield ctx.warn("bad_field_type", "children is not a {data: [...]} edge", item_id)
            child_rows = []
        for child in child_rows:
            if not isinstance(child, dict) or not isinstance(child.get("id"), str):
                yield ctx.warn("entry_without_id", "an album child has no string id", item_id)
                continue
            child_type = child.get("media_type") if isinstance(child.get("media_type"), str) else ""
            refs += _refs(child["id"], child_type, child)
            children.append({"id": child["id"], "media_type": child_type, "media": file_key(child.get("media_url"))})
    author, _ = _string(ctx, entry, "username", item_id)
    permalink = entry.get("permalink") if isinstance(entry.get("permalink"), str) else ""
    yield Item(
        platform=PLATFORM,
        account_id=ctx.account_id,
        item_id=item_id,
        kind=ItemKind.POST,
        content={
            "caption": caption,
            "media_type": media_type,
            "media_product_type": product,
            "media": file_key(entry.get("media_url")),
            "thumbnail": file_key(entry.get("thumbnail_url")),
            "children": children,
        },
        created_at=created,
        parent_id=None,
        author=author,
        text=caption,
        url=permalink,
        media=tuple(refs),
        # comments_count (top-level comments and replies) moves when one arrives or goes; the
        # digest of the fields a lean listing shows moves when the caption or album changes.
        signal=media_signal(entry),
    )


def _refs(media_id: str, media_type: str, entry: dict) -> list[MediaRef]:
    refs: list[MediaRef] = []
    url = entry.get("media_url")
    if isinstance(url, str) and url:
        refs.append(MediaRef(url, "video" if media_type == "VIDEO" else "image", media_id))
    thumb = entry.get("thumbnail_url")
    if isinstance(thumb, str) and thumb:
        refs.append(MediaRef(thumb, "thumbnail", media_id))
    return refs


def _comment(ctx: _Ctx, entry: Any, kind: ItemKind, parent_id: str | None) -> Iterator[Item | ParseWarning]:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
        yield ctx.warn("entry_without_id", "a comment entry has no string id")
        return
    item_id = entry["id"]
    text, warning = _string(ctx, entry, "text", item_id)
    if warning:
        yield warning
    created, warning = _created(ctx, entry, item_id)
    if warning:
        yield warning
    hidden = entry.get("hidden", False)
    if not isinstance(hidden, bool):
        yield ctx.warn("bad_field_type", "hidden is not a boolean", item_id)
        hidden = bool(hidden)
    sender = entry.get("from") if isinstance(entry.get("from"), dict) else {}
    username = sender.get("username") or entry.get("username") or ""
    yield Item(
        platform=PLATFORM,
        account_id=ctx.account_id,
        item_id=item_id,
        kind=kind,
        content={
            "text": text,
            "from": str(sender.get("id") or username),
            "hidden": hidden,
        },
        created_at=created,
        parent_id=parent_id,
        author=str(username),
        text=text,
    )
    if kind is ItemKind.COMMENT and "replies" in entry:
        replies = entry.get("replies")
        rows = replies.get("data") if isinstance(replies, dict) else None
        if not isinstance(rows, list):
            yield ctx.warn("bad_field_type", "replies is not a {data: [...]} edge", item_id)
            return
        for reply in rows:
            yield from _comment(ctx, reply, ItemKind.REPLY, item_id)


def is_lean_listing(url: str) -> bool:
    """True for a /media listing that asked no `media_url`: the idle cycles' change-signal
    listing (connector.LEAN_MEDIA_FIELDS). Its rows lack the files' CDN paths, which are part
    of a media's content, so items are read from the full listing or the media object only."""
    try:
        fields = parse_qs(urlsplit(url).query).get("fields")
    except ValueError:
        return False
    return bool(fields) and "media_url" not in fields[0]


def media_signal(entry: dict[str, Any]) -> str:
    """A media's change signal, the same from a full and a lean listing row: its comment count
    (`?` when missing) and a digest of the content fields both show (caption, types, album
    children). Everything else in content is the files' CDN paths, which only a full answer has."""
    count = entry.get("comments_count")
    counted = count if isinstance(count, int) and not isinstance(count, bool) else "?"
    children = entry.get("children")
    rows = children.get("data") if isinstance(children, dict) else None
    kids = [[c.get("id"), c.get("media_type")] for c in rows if isinstance(c, dict)] if isinstance(rows, list) else None
    shown = [entry.get("caption") or "", entry.get("media_type"), entry.get("media_product_type"), kids]
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"comments:{counted} content:{digest}"
