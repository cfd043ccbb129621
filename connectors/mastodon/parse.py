"""Pure parsing of Mastodon API responses into Items (shared by harvest and catalog rebuild).

Which response it is comes from the URL path; whose status it is comes from the status itself
(`account.acct` against the archived handle), never from where it was listed, so a status
seen both in the account's listing and in a thread parses to the same Item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Item,
    ItemKind,
    MediaRef,
    ParseWarning,
)
from connectors.mastodon.ids import handle_parts, instance_of, item_id
from connectors.mastodon.textutil import html_to_text

PLATFORM = "mastodon"
LISTING = re.compile(r"/api/v1/accounts/(?P<account>[^/]+)/statuses/?$")
CONTEXT = re.compile(r"/api/v1/statuses/(?P<status>[^/]+)/context/?$")
SINGLE = re.compile(r"/api/v1/statuses/(?P<status>[0-9A-Za-z]+)/?$")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


def load_json(exchange: CapturedExchange) -> tuple[Any, ParseWarning | None]:
    try:
        return json.loads(exchange.body), None
    except ValueError:
        return None, ParseWarning(
            "mastodon.malformed_json", "response body is not valid JSON", exchange.response_pointer
        )


def parse_exchange(account: AccountRef, exchange: CapturedExchange, api_base: str) -> Iterator[Item | ParseWarning]:
    if exchange.status != 200:
        return
    path = urlsplit(exchange.url).path
    listing, context, single = LISTING.search(path), CONTEXT.search(path), SINGLE.search(path)
    if not (listing or context or single):
        return
    data, warning = load_json(exchange)
    if warning:
        yield warning
        return
    parser = _StatusParser(account, exchange, instance_of(account.account_id, api_base))
    if listing:
        if not isinstance(data, list):
            yield parser.warn("mastodon.unexpected_shape", "account statuses is not a JSON array")
            return
        for status in data:
            yield from parser.status(status, listed_as_own=True)
    elif context:
        descendants = data.get("descendants") if isinstance(data, dict) else None
        if not isinstance(descendants, list):
            yield parser.warn("mastodon.unexpected_shape", "status context without a descendants array")
            return
        for status in descendants:
            yield from parser.status(status, listed_as_own=False)
    elif single and isinstance(data, dict) and "error" not in data:
        yield from parser.status(data, listed_as_own=False)


class _StatusParser:
    def __init__(self, account: AccountRef, exchange: CapturedExchange, instance: str) -> None:
        self.account = account
        self.exchange = exchange
        self.instance = instance

    def warn(self, code: str, message: str, item: str = "") -> ParseWarning:
        return ParseWarning(code, message, self.exchange.response_pointer, item)

    def is_own(self, author: dict[str, Any]) -> bool:
        handle = handle_parts(self.account.account_id)
        if handle is None:
            return str(author.get("id", "")) == self.account.account_id
        acct = str(author.get("acct", "")).lower()
        user, domain = handle
        return acct in (user, f"{user}@{domain}")

    def status(self, status: Any, *, listed_as_own: bool) -> Iterator[Item | ParseWarning]:
        if not isinstance(status, dict):
            yield self.warn("mastodon.unexpected_shape", "a status is not a JSON object")
            return
        raw_id = status.get("id")
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            yield self.warn("mastodon.bad_field_type", "status id is a number, not a string", str(raw_id))
            raw_id = str(raw_id)
        if not isinstance(raw_id, str) or not raw_id:
            yield self.warn("mastodon.entry_without_id", "a status has no string id")
            return
        this = item_id(self.instance, raw_id)
        author = status.get("account") if isinstance(status.get("account"), dict) else {}
        own = listed_as_own or self.is_own(author)
        reblog = status.get("reblog")
        if reblog is not None and not isinstance(reblog, dict):
            yield self.warn("mastodon.bad_field_type", "reblog is not an object", this)
            return
        source = reblog or status
        bad = [name for name in ("content", "spoiler_text") if not isinstance(source.get(name, ""), str)]
        if bad:
            yield self.warn("mastodon.bad_field_type", f"{', '.join(bad)} is not a string; status skipped", this)
            return
        media, attachments = self._media(source, this)
        yield from attachments
        reply_to = status.get("in_reply_to_id")
        if reply_to is not None and not isinstance(reply_to, str):
            yield self.warn("mastodon.bad_field_type", "in_reply_to_id is not a string", this)
            reply_to = str(reply_to)
        content: dict[str, Any] = {
            "content": status.get("content") or "",
            "spoiler_text": status.get("spoiler_text") or "",
            "sensitive": bool(status.get("sensitive", False)),
            "visibility": str(status.get("visibility") or ""),
            "language": str(status.get("language") or ""),
            "in_reply_to_id": reply_to or "",
            "media": [
                {"id": m.media_id, "type": m.kind, "description": desc}
                for m, desc in media if m.kind != "thumbnail"
            ],
            "poll": _poll(source.get("poll")),
        }
        if reblog:
            content["reblog_of"] = str(reblog.get("uri") or reblog.get("url") or reblog.get("id") or "")
            content["media"] = []
        if own:
            kind, parent = ItemKind.POST, None
        else:
            kind = ItemKind.REPLY
            parent = item_id(self.instance, reply_to) if reply_to else None
        created = parse_time(status.get("created_at"))
        if status.get("created_at") and created is None:
            yield self.warn("mastodon.bad_time", f"created_at {status.get('created_at')!r} is not ISO 8601", this)
        yield Item(
            platform=PLATFORM,
            account_id=self.account.account_id,
            item_id=this,
            kind=kind,
            content=content,
            created_at=created,
            parent_id=parent,
            author=str(author.get("display_name") or author.get("acct") or ""),
            text=html_to_text(str(source.get("content") or "")),
            url=str(status.get("url") or status.get("uri") or ""),
            media=tuple(m for m, _ in media) if not reblog else (),
            signal=_replies_signal(status) if own else None,
        )

    def _media(self, source: dict[str, Any], this: str) -> tuple[list[tuple[MediaRef, str]], list[ParseWarning]]:
        raw = source.get("media_attachments") or []
        if not isinstance(raw, list):
            return [], [self.warn("mastodon.bad_field_type", "media_attachments is not an array", this)]
        refs: list[tuple[MediaRef, str]] = []
        for att in raw:
            if not isinstance(att, dict):
                continue
            media_id = str(att.get("id") or "")
            kind = str(att.get("type") or "unknown")
            url = att.get("url") or att.get("remote_url")
            desc = att.get("description") if isinstance(att.get("description"), str) else ""
            if isinstance(url, str) and url:
                refs.append((MediaRef(url, kind, media_id), desc))
            preview = att.get("preview_url")
            if kind in ("video", "gifv", "audio") and isinstance(preview, str) and preview:
                refs.append((MediaRef(preview, "thumbnail", media_id), desc))
        return refs, []


def _poll(poll: Any) -> list[str] | None:
    if not isinstance(poll, dict):
        return None
    options = poll.get("options")
    if not isinstance(options, list):
        return []
    return [str(o.get("title", "")) for o in options if isinstance(o, dict)]


def _replies_signal(status: dict[str, Any]) -> str | None:
    """`replies_count` of an own status: moves when a direct reply arrives or is deleted."""
    count = status.get("replies_count")
    return str(count) if isinstance(count, int) and not isinstance(count, bool) else None
