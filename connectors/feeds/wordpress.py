"""WordPress REST API (wp/v2) responses: items (pure) and what its errors mean.

WordPress errors are `{"code": "...", "message": "...", "data": {"status": N}}`. A
permanently deleted post is 404 `rest_post_invalid_id` (comments: `rest_comment_invalid_id`);
a trashed, drafted or private post answers an anonymous reader 401 `rest_forbidden`, and a
held or trashed comment 401 `rest_cannot_read`: both mean "no longer public".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from archiver.core.errors import AccountGone, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Item,
    ItemKind,
    MediaRef,
    ParseWarning,
)
from connectors.feeds.ids import Source
from connectors.feeds.textutil import html_to_text, img_sources
from connectors.shapes import as_list

PLATFORM = "feeds"
COLLECTION = re.compile(r"/wp-json/wp/v2/(?P<type>posts|comments)/?$")
SINGLE = re.compile(r"/wp-json/wp/v2/(?P<type>posts|comments)/(?P<id>\d+)/?$")
NOT_FOUND_CODES = frozenset({"rest_post_invalid_id", "rest_comment_invalid_id"})
NOT_PUBLIC_CODES = frozenset({"rest_forbidden", "rest_cannot_read", "rest_cannot_read_post",
                              "rest_forbidden_context", "rest_post_incorrect_password"})
TOKEN_CODES = frozenset({"jwt_auth_invalid_token", "jwt_auth_bad_auth_header", "jwt_auth_bad_config",
                         "jwt_auth_bad_iss", "jwt_auth_bad_request", "invalid_token", "incorrect_password",
                         "invalid_username", "invalid_email", "application_passwords_disabled",
                         "rest_cookie_invalid_nonce", "rest_not_logged_in"})
PAST_END = "rest_post_invalid_page_number"


def item_id(source: Source, kind: str, number: int | str) -> str:
    return f"{source.key}/{kind}/{number}"


def error_code(exchange: CapturedExchange) -> tuple[str, str]:
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("code") or ""), str(body.get("message") or "")[:200]


def raise_for_status(exchange: CapturedExchange, *, account: str, subject: str, min_wait: timedelta) -> None:
    status = exchange.status
    if 200 <= status < 300:
        return
    code, message = error_code(exchange)
    kwargs = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer,
              "detail": f"{code}: {message}" if code else f"HTTP {status}"}
    if status == 429:
        raise TryLater(f"The site of {account} asked us to slow down; capture resumes later on its own",
                       retry_at=exchange.captured_at + max(min_wait, timedelta(minutes=5)), **kwargs)
    if code in ("incorrect_password", "invalid_username", "application_passwords_disabled"):
        raise NeedsAttention(
            f"The WordPress application password for {account} was refused ({code}); create a new one "
            "under Users > Profile > Application Passwords and store it as user:password in the "
            "account's token file or variable",
            **kwargs,
        )
    if code in TOKEN_CODES or code.startswith("jwt_auth"):
        raise NeedsAttention(
            f"The WordPress token for {account} was refused ({code}); create a new token with the site's "
            "authentication plugin, or remove the token to read public posts only",
            **kwargs,
        )
    if status in (401, 403) and not code:
        raise NeedsAttention(
            f"The site of {account} refuses the archiver (HTTP {status}, probably a firewall); ask the "
            "webmaster to allow the archiver's user agent",
            **kwargs,
        )
    if status in (401, 403):
        raise NeedsAttention(
            f"The site of {account} requires a login to read {subject} ({code}); give the account a token "
            "or check that the REST API is public",
            **kwargs,
        )
    if status in (404, 410) and code in ("rest_no_route", ""):
        raise AccountGone(
            f"No WordPress REST API answers at {account} (HTTP {status}); if the site is not WordPress, or "
            "its API is turned off, register its RSS feed URL instead",
            **kwargs,
        )
    raise UnexpectedResponse(
        f"WordPress answered HTTP {status} {code} for {subject}; the response is kept in the WARC and "
        "the next poll retries",
        **kwargs,
    )


def total_pages(exchange: CapturedExchange) -> int | None:
    value = (exchange.header("x-wp-totalpages") or "").strip()
    return int(value) if value.isdigit() else None


def parse_wordpress(account: AccountRef, source: Source, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    if exchange.status != 200:
        return
    path = urlsplit(exchange.url).path
    collection, single = COLLECTION.search(path), SINGLE.search(path)
    if not (collection or single):
        return
    try:
        data = json.loads(exchange.body)
    except ValueError:
        yield ParseWarning("feeds.malformed_json", "WordPress response is not valid JSON", exchange.response_pointer)
        return
    match = collection or single
    assert match is not None
    kind = match["type"]
    rows = data if collection else [data]
    if not isinstance(rows, list):
        yield ParseWarning("feeds.unexpected_shape", f"WordPress {kind} listing is not an array",
                           exchange.response_pointer)
        return
    for row in rows:
        if kind == "posts":
            yield from _post(account, source, row, exchange)
        else:
            yield from _comment(account, source, row, exchange)


def _rendered(row: dict[str, Any], name: str) -> tuple[str, bool]:
    """The `rendered` string of a WordPress field, and whether the field had the expected shape."""
    value = row.get(name)
    if value is None:
        return "", True
    if isinstance(value, dict) and isinstance(value.get("rendered", ""), str):
        return value.get("rendered", ""), True
    return "", False


def _number(row: dict[str, Any], name: str) -> int | None:
    value = row.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _post(account: AccountRef, source: Source, row: Any, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    pointer = exchange.response_pointer
    number = _number(row, "id") if isinstance(row, dict) else None
    if number is None:
        yield ParseWarning("feeds.entry_without_id", "a WordPress post has no integer id", pointer)
        return
    this = item_id(source, "posts", number)
    fields = {name: _rendered(row, name) for name in ("title", "content", "excerpt")}
    bad = [name for name, (_, ok) in fields.items() if not ok]
    if bad:
        yield ParseWarning("feeds.bad_field_type", f"{', '.join(bad)} is not a rendered object; post skipped",
                           pointer, this)
        return
    body = fields["content"][0]
    featured = _number(row, "featured_media") or 0
    media: list[MediaRef] = []
    embedded = row.get("_embedded") if isinstance(row.get("_embedded"), dict) else {}
    for att in as_list(embedded.get("wp:featuredmedia")):
        if isinstance(att, dict) and isinstance(att.get("source_url"), str):
            media.append(MediaRef(att["source_url"], str(att.get("media_type") or "image"), str(att.get("id", ""))))
    media += [MediaRef(src, "image") for src in img_sources(body) if src.startswith(("http://", "https://"))]
    content_field = row.get("content") if isinstance(row.get("content"), dict) else {}
    content = {
        "title": fields["title"][0],
        "content": body,
        "excerpt": fields["excerpt"][0],
        "status": str(row.get("status") or ""),
        "slug": str(row.get("slug") or ""),
        "sticky": bool(row.get("sticky", False)),
        "format": str(row.get("format") or ""),
        "categories": sorted(c for c in as_list(row.get("categories")) if isinstance(c, int) and not isinstance(c, bool)),
        "tags": sorted(t for t in as_list(row.get("tags")) if isinstance(t, int) and not isinstance(t, bool)),
        "featured_media": featured,
        "comment_status": str(row.get("comment_status") or ""),
        "protected": bool(content_field.get("protected", False)),
        "author": _number(row, "author") or 0,
    }
    yield Item(
        platform=PLATFORM, account_id=account.account_id, item_id=this, kind=ItemKind.POST, content=content,
        created_at=_time(row.get("date_gmt")), parent_id=None, author=str(content["author"] or ""),
        text=html_to_text(fields["title"][0] + "\n" + body), url=str(row.get("link") or ""), media=tuple(media),
    )


def _comment(account: AccountRef, source: Source, row: Any, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    pointer = exchange.response_pointer
    number = _number(row, "id") if isinstance(row, dict) else None
    if number is None:
        yield ParseWarning("feeds.entry_without_id", "a WordPress comment has no integer id", pointer)
        return
    this = item_id(source, "comments", number)
    body, ok = _rendered(row, "content")
    post, parent = _number(row, "post"), _number(row, "parent")
    if not ok or post is None:
        yield ParseWarning("feeds.bad_field_type", "comment content or post has an unexpected type; comment skipped",
                           pointer, this)
        return
    content = {
        "content": body,
        "author_name": str(row.get("author_name") or ""),
        "author_url": str(row.get("author_url") or ""),
        "author": _number(row, "author") or 0,
        "status": str(row.get("status") or ""),
        "post": post,
        "parent": parent or 0,
    }
    yield Item(
        platform=PLATFORM, account_id=account.account_id, item_id=this,
        kind=ItemKind.REPLY if parent else ItemKind.COMMENT, content=content,
        created_at=_time(row.get("date_gmt")),
        parent_id=item_id(source, "comments", parent) if parent else item_id(source, "posts", post),
        author=content["author_name"], text=html_to_text(body), url=str(row.get("link") or ""),
    )
