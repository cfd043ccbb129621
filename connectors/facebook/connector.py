"""Facebook Pages through the Graph API: posts, comments, replies, media, deletions.

Each cycle lists the Page's feed to the end (following `paging.next`, never stored cursors:
Graph API invalidates them when items are deleted), then every post's comments with
`filter=stream`, which flattens replies into the same list with a `parent` field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    CheckResult,
    Covered,
    Gone,
    HarvestEvent,
    Item,
    ItemKind,
    MediaRef,
    Observed,
    ParseWarning,
    Present,
)
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase
from connectors.facebook.errors import error_of, is_not_found, raise_for_error

POST_FIELDS = (
    "id,created_time,updated_time,message,story,permalink_url,full_picture,status_type,"
    "is_hidden,is_published,from,attachments{media,media_type,type,url,target}"
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


def _strip_query(url: str) -> str:
    """Signed CDN URLs change on every fetch (oh=, oe=); their path names the file."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class FacebookConnector(ConnectorBase):
    platform: ClassVar[str] = "facebook"
    label: ClassVar[str] = "Facebook"
    auth_style: ClassVar[AuthStyle] = AuthStyle.QUERY_ACCESS_TOKEN
    default_api_base: ClassVar[str] = "https://graph.facebook.com"
    default_version: ClassVar[str] = "v21.0"

    # --- helpers ---------------------------------------------------------------------------

    def _base(self, account: AccountRef) -> str:
        return f"{self.api_root(account)}/{self.version}"

    def _checked(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> Any:
        raise_for_error(
            exchange,
            account=account.account_id,
            now=exchange.captured_at,
            min_wait=self.min_wait(),
            subject=subject,
        )
        return self.decode_json(exchange, account, subject)

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

    def _pages(
        self, account: AccountRef, url: str, params: dict[str, str] | None, http: HttpClient,
        subject: str,
    ) -> Iterator[tuple[CapturedExchange, dict[str, Any]]]:
        for _ in range(self.settings.max_pages):
            exchange = http.get(url, params=params)
            data = self._checked(exchange, account, subject)
            yield exchange, data
            next_url = (data.get("paging") or {}).get("next")
            if not next_url:
                return
            url, params = next_url, None
        from archiver.core.errors import UnexpectedResponse

        raise UnexpectedResponse(
            f"Facebook listing for {subject} exceeded {self.settings.max_pages} pages; "
            "raise connectors.facebook.max_pages if this Page is that large",
            platform=self.platform,
            account=account.account_id,
        )

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient
    ) -> Iterator[HarvestEvent]:
        base = self._base(account)
        limit = str(self.settings.page_limit)
        post_ids: list[str] = []
        feed = f"{base}/{account.account_id}/feed"
        for exchange, _data in self._pages(
            account, feed, {"fields": POST_FIELDS, "limit": limit}, http, account.account_id
        ):
            for parsed in self.parse(account, exchange):
                if isinstance(parsed, ParseWarning):
                    yield parsed
                    continue
                post_ids.append(parsed.item_id)
                yield Observed(parsed, exchange.response_pointer)
        yield Covered(None, (ItemKind.POST,))
        for post_id in post_ids:
            url = f"{base}/{post_id}/comments"
            params = {
                "fields": COMMENT_FIELDS,
                "filter": "stream",
                "order": "chronological",
                "limit": limit,
            }
            for exchange, _data in self._pages(account, url, params, http, post_id):
                for parsed in self.parse(account, exchange):
                    if isinstance(parsed, ParseWarning):
                        yield parsed
                    else:
                        yield Observed(parsed, exchange.response_pointer)
            yield Covered(post_id, (ItemKind.COMMENT, ItemKind.REPLY))

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        exchange = http.get(f"{self._base(account)}/{item_id}", params={"fields": "id,created_time,message"})
        error = error_of(exchange)
        if error is not None and is_not_found(error, exchange.status):
            return Gone(
                reason="deleted",
                evidence=exchange.response_pointer,
                status=exchange.status,
                detail=f"Graph API code {error.get('code')} subcode {error.get('error_subcode')}",
            )
        self._checked(exchange, account, item_id)  # raises for throttles, tokens, oddities
        return Present((), exchange.response_pointer)

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
        author = entry.get("from") if isinstance(entry.get("from"), dict) else {}
        message = entry.get("message")
        if message is not None and not isinstance(message, str):
            yield ParseWarning(
                "facebook.bad_field_type", "message is not a string", exchange.response_pointer, entry["id"]
            )
            message = str(message)
        if is_comment:
            parent = entry.get("parent") if isinstance(entry.get("parent"), dict) else None
            kind = ItemKind.REPLY if parent else ItemKind.COMMENT
            parent_id = parent.get("id") if parent else listed_under
            attachment = entry.get("attachment") if isinstance(entry.get("attachment"), dict) else None
            media = _media_of([attachment] if attachment else [])
            content = {
                "message": message or "",
                "from": author.get("id", ""),
                "is_hidden": bool(entry.get("is_hidden", False)),
                "attachment": [m.media_id or _strip_query(m.url) for m in media],
            }
        else:
            kind = ItemKind.POST
            parent_id = None
            attachments = (entry.get("attachments") or {}).get("data") or []
            media = _media_of(attachments)
            if not media and entry.get("full_picture"):
                media = (MediaRef(entry["full_picture"], "image", ""),)
            content = {
                "message": message or "",
                "story": entry.get("story") or "",
                "is_hidden": bool(entry.get("is_hidden", False)),
                "is_published": entry.get("is_published", True) is not False,
                "attachments": [m.media_id or _strip_query(m.url) for m in media],
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
        )


def _media_of(attachments: list[Any]) -> tuple[MediaRef, ...]:
    refs: list[MediaRef] = []
    for att in attachments:
        if not isinstance(att, dict):
            continue
        image = ((att.get("media") or {}).get("image") or {}).get("src")
        if image:
            target = att.get("target") or {}
            refs.append(MediaRef(image, att.get("media_type") or att.get("type") or "image", str(target.get("id", ""))))
    return tuple(refs)
