"""Facebook Pages through the Graph API: posts, comments, replies, media, deletions.

Each cycle lists the Page's feed to the end (following `paging.next`, never stored cursors:
Graph API invalidates them when items are deleted), 100 posts a page, with each post's
`updated_time` and comment total. The feed is cheap and whole, so new posts and the edits and
deletions of posts of any age are found every cycle. A post's comments are listed (with
`filter=stream`, which flattens replies into the same list with a `parent` field) only when
the plan asks: a first capture or `--reconcile`, a new post, a post whose change signal moved
(`updated_time` moves on a new comment, the total on a deletion), or a post in this cycle's
reconciliation sweep, which finds comment edits nothing signals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from pydantic import Field

from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    CheckResult,
    HarvestEvent,
    Item,
    ItemKind,
    MediaRef,
    Observed,
    ParseWarning,
    media_key,
)
from archiver.core.plan import FULL, HarvestPlan
from connectors.base import HttpClient
from connectors.common import PlatformSettings
from connectors.graph import GraphConnector, GraphWords
from connectors.paging import NextUrl, PageRequest
from connectors.shapes import as_dict

POST_FIELDS = (
    "id,created_time,updated_time,message,story,permalink_url,full_picture,status_type,"
    "is_hidden,is_published,from,attachments{media,media_type,type,url,target},"
    "comments.summary(true).limit(0)"
)
COMMENT_FIELDS = (
    "id,created_time,message,from,parent{id},comment_count,like_count,permalink_url,"
    "is_hidden,attachment"
)
_LISTING = re.compile(r"/(?P<object>[^/]+)/(?P<edge>feed|published_posts|posts|comments)/?$")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


class FacebookSettings(PlatformSettings):
    """`[connectors.facebook]`: the Graph API version and paging of Page listings."""

    feed_page_limit: int = Field(100, ge=1, le=100, description="Posts asked per feed page (Graph allows 100)")


class FacebookConnector(GraphConnector):
    platform: ClassVar[str] = "facebook"
    label: ClassVar[str] = "Facebook"
    default_version: ClassVar[str] = "v21.0"
    settings_model: ClassVar[type[PlatformSettings]] = FacebookSettings
    words: ClassVar[GraphWords] = GraphWords(
        label="Facebook",
        owner="Page {account}",
        token_fix="create a new Page access token and update the account's token variable or file",
        scopes="pages_read_engagement, pages_read_user_content",
        gone_fix="check the Page id and the token's Page",
    )
    probe_fields: ClassVar[str] = "id,created_time,message"
    incremental: ClassVar[bool] = True

    def normalize_account_id(self, raw: str) -> str:
        """Accept a numeric Page id, a Page username or a facebook.com URL."""
        value = raw.strip()
        if "facebook.com" in value:
            path = urlsplit(value if "://" in value else f"https://{value}").path.strip("/")
            if path.startswith("profile.php"):
                query = parse_qs(urlsplit(value).query)
                value = query.get("id", [""])[0]
            else:
                value = path.split("/")[0]
        if not re.fullmatch(r"[A-Za-z0-9.\-_]{1,100}", value or ""):
            from archiver.core.errors import ConfigError

            raise ConfigError(
                f"'{raw}' is not a Facebook Page id, username or URL; "
                "use the numeric Page id shown in the Page's About section"
            )
        return value

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        exchange = http.get(f"{self._base(account)}/{account.account_id}", params={"fields": "id,name"})
        data = self._checked(exchange, account, account.account_id)
        return CheckResult(True, "token works", display_name=str(data.get("name", "")))

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        base = self._base(account)
        limit = str(self.settings.page_limit)
        post_ids: list[str] = []
        feed = self.listing(account, account.account_id)
        first = PageRequest(f"{base}/{account.account_id}/feed",
                            {"fields": POST_FIELDS, "limit": str(self.settings.feed_page_limit)})
        for page in feed.pages(self._fetch(account, http, account.account_id), first, NextUrl()):
            parsed = {}
            for event in feed.observe(page.exchange):
                if isinstance(event, Observed):
                    parsed[event.item.item_id] = event.item
                yield event
            # From the rows, not the items: a post its parser choked on still has its comments read.
            post_ids += [
                r["id"] for r in page.rows
                if isinstance(r, dict) and isinstance(r.get("id"), str)
                and (r["id"] not in parsed or plan.wants_children(parsed[r["id"]]))
            ]
        yield from feed.covered(None, ItemKind.POST)
        params = {"fields": COMMENT_FIELDS, "filter": "stream", "order": "chronological", "limit": limit}
        for post_id in post_ids:
            comments = self.listing(account, post_id)
            first = PageRequest(f"{base}/{post_id}/comments", params)
            for page in comments.pages(self._fetch(account, http, post_id), first, NextUrl()):
                yield from comments.observe(page.exchange)
            yield from comments.covered(post_id, ItemKind.COMMENT, ItemKind.REPLY)

    # --- pure parsing ----------------------------------------------------------------------

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        if exchange.status != 200:
            return
        ctype = (exchange.header("content-type") or "").lower()
        if "json" not in ctype and not exchange.body.lstrip().startswith((b"{", b"[")):
            return
        try:
            data = json.loads(exchange.body)
        except ValueError:
            yield ParseWarning(
                "facebook.malformed_json",
                "response body is not valid JSON",
                exchange.response_pointer,
            )
            return
        if not isinstance(data, dict):
            yield ParseWarning("facebook.unexpected_shape", "top level is not an object", exchange.response_pointer)
            return
        path = urlsplit(exchange.url).path
        listing = _LISTING.search(path)
        if listing:
            entries = data.get("data")
            if not isinstance(entries, list):
                yield ParseWarning("facebook.unexpected_shape", "listing without a data array", exchange.response_pointer)
                return
            is_comments = listing.group("edge") == "comments"
            for entry in entries:
                yield from self._entry(account, entry, exchange, is_comments, listing.group("object"))
        elif "id" in data and "error" not in data:
            fields = parse_qs(urlsplit(exchange.url).query).get("fields", [""])[0]
            if data.get("id") == account.account_id:
                return  # the Page object itself (check)
            is_comment = "comment_count" in fields or "parent" in data
            yield from self._entry(account, data, exchange, is_comment, None)

    def _entry(
        self,
        account: AccountRef,
        entry: Any,
        exchange: CapturedExchange,
        is_comment: bool,
        listed_under: str | None,
    ) -> Iterator[Item | ParseWarning]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            yield ParseWarning("facebook.entry_without_id", "an entry has no string id", exchange.response_pointer)
            return
        try:
            created = parse_time(entry.get("created_time"))
        except (TypeError, ValueError):
            yield ParseWarning(
                "facebook.bad_time",
                f"created_time {entry.get('created_time')!r} is not a Graph timestamp",
                exchange.response_pointer,
                entry["id"],
            )
            created = None
        author = as_dict(entry.get("from"))
        message = entry.get("message")
        if message is not None and not isinstance(message, str):
            yield ParseWarning(
                "facebook.bad_field_type", "message is not a string", exchange.response_pointer, entry["id"]
            )
            message = str(message)
        if is_comment:
            parent = entry.get("parent") if isinstance(entry.get("parent"), dict) else None
            kind = ItemKind.REPLY if parent else ItemKind.COMMENT
            parent_id = _text(parent.get("id")) if parent else listed_under
            attachment = entry.get("attachment") if isinstance(entry.get("attachment"), dict) else None
            media = _media_of([attachment] if attachment else [])
            signal = None
            content = {
                "message": message or "",
                "from": author.get("id", ""),
                "is_hidden": bool(entry.get("is_hidden", False)),
                "attachment": [m.media_id or media_key(m.url) for m in media],
            }
        else:
            kind = ItemKind.POST
            parent_id = None
            wrapper = entry.get("attachments")
            attachments = wrapper.get("data") if isinstance(wrapper, dict) else None
            if wrapper is not None and not isinstance(attachments, list):
                yield ParseWarning("facebook.bad_field_type", "attachments is not an object with a data array; "
                                   "the post is kept without its attachments", exchange.response_pointer, entry["id"])
            signal = _signal(entry)
            media = _media_of(attachments if isinstance(attachments, list) else [])
            if not media and _text(entry.get("full_picture")):
                media = (MediaRef(entry["full_picture"], "image", ""),)
            content = {
                "message": message or "",
                "story": entry.get("story") or "",
                "is_hidden": bool(entry.get("is_hidden", False)),
                "is_published": entry.get("is_published", True) is not False,
                "attachments": [m.media_id or media_key(m.url) for m in media],
            }
        yield Item(
            platform=self.platform,
            account_id=account.account_id,
            item_id=entry["id"],
            kind=kind,
            content=content,
            created_at=created,
            parent_id=parent_id,
            author=str(author.get("name", "")),
            text=message or "",
            url=str(entry.get("permalink_url", "")),
            media=media,
            signal=signal,
        )


def _signal(entry: dict[str, Any]) -> str | None:
    """`updated_time` (moves on a new comment) and the comment total (falls on a deletion)."""
    updated = entry.get("updated_time")
    total = _dict(_dict(entry.get("comments")).get("summary")).get("total_count")
    if not isinstance(updated, str) and not isinstance(total, int):
        return None
    return f"{updated if isinstance(updated, str) else ''}/{total if isinstance(total, int) else ''}"


def _media_of(attachments: list[Any]) -> tuple[MediaRef, ...]:
    refs: list[MediaRef] = []
    for att in attachments:
        if not isinstance(att, dict):
            continue
        image = _text(_dict(_dict(att.get("media")).get("image")).get("src"))
        if image:
            kind = _text(att.get("media_type")) or _text(att.get("type")) or "image"
            refs.append(MediaRef(image, kind, str(_dict(att.get("target")).get("id", ""))))
    return tuple(refs)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
