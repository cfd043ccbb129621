"""Pure parsing of LinkedIn REST responses (Posts API, socialActions comments) into Items.

Never raises and never reaches the network. Image, video and document URNs in a post are
kept in `content` as the media identity; their expiring download URLs are looked up by
harvest (Images/Videos/Documents APIs), so a post parsed from a stored listing has the same
content as the one harvest saw, only without the MediaRefs that harvest attached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from archiver.core.models import CapturedExchange, Item, ItemKind, MediaRef, ParseWarning, media_key
from connectors.base import decoded_json
from connectors.linkedin.ids import comment_parts

PLATFORM = "linkedin"
POSTS_FINDER = re.compile(r"/rest/posts/?$")
ONE_POST = re.compile(r"/rest/posts/(?P<urn>[^/]+)/?$")
COMMENTS = re.compile(r"/rest/socialActions/(?P<target>[^/]+)/comments/?$")
ONE_COMMENT = re.compile(r"/rest/socialActions/(?P<target>[^/]+)/comments/(?P<id>[^/]+)/?$")
MEDIA_URN = re.compile(r"^urn:li:(image|video|document|digitalmediaAsset):")


class _Ctx:
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
        path = urlsplit(exchange.url).path
    except ValueError:
        return
    finder, one_post = POSTS_FINDER.search(path), ONE_POST.search(path)
    comments, one_comment = COMMENTS.search(path), ONE_COMMENT.search(path)
    if not (finder or one_post or comments or one_comment):
        return  # organizations, images, videos: no archived items of their own
    try:
        data = decoded_json(exchange)
    except (ValueError, UnicodeDecodeError):
        yield ctx.warn("malformed_json", "response body is not valid JSON")
        return
    if not isinstance(data, dict):
        yield ctx.warn("unexpected_shape", "top level is not an object")
        return
    if one_post:
        yield from _post(ctx, data)
        return
    if one_comment:
        yield from _comment(ctx, data, None)
        return
    elements = data.get("elements")
    if not isinstance(elements, list):
        yield ctx.warn("unexpected_shape", "collection without an elements array")
        return
    target = unquote(comments.group("target")) if comments else None
    for element in elements:
        if finder:
            yield from _post(ctx, element)
        else:
            yield from _comment(ctx, element, target)


def _time(ctx: _Ctx, value: Any, item_id: str) -> tuple[datetime | None, ParseWarning | None]:
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, ctx.warn("bad_time", f"time {value!r} is not epoch milliseconds", item_id)
    try:
        return datetime.fromtimestamp(value / 1000, UTC), None
    except (OverflowError, OSError, ValueError):
        return None, ctx.warn("bad_time", f"time {value!r} is out of range", item_id)


def _str(ctx: _Ctx, value: Any, name: str, item_id: str) -> tuple[str, ParseWarning | None]:
    if value is None:
        return "", None
    if isinstance(value, str):
        return value, None
    return str(value), ctx.warn("bad_field_type", f"{name} is not a string", item_id)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def post_media_urns(content: dict) -> list[str]:
    """The media URNs a post shows: single media, multi-image, article thumbnail."""
    urns: list[str] = []
    single = _dict(content.get("media")).get("id")
    if isinstance(single, str):
        urns.append(single)
    images = _dict(content.get("multiImage")).get("images")
    for image in images if isinstance(images, list) else []:
        if isinstance(_dict(image).get("id"), str):
            urns.append(image["id"])
    thumb = _dict(content.get("article")).get("thumbnail")
    if isinstance(thumb, str):
        urns.append(thumb)
    return [u for u in urns if MEDIA_URN.match(u)]


def _post(ctx: _Ctx, element: Any) -> Iterator[Item | ParseWarning]:
    if not isinstance(element, dict) or not isinstance(element.get("id"), str) or not element["id"]:
        yield ctx.warn("entry_without_id", "a post element has no string id")
        return
    urn = element["id"]
    warnings: list[ParseWarning | None] = []
    text, w = _str(ctx, element.get("commentary"), "commentary", urn)
    warnings.append(w)
    created, w = _time(ctx, element.get("publishedAt", element.get("createdAt")), urn)
    warnings.append(w)
    raw_content = element.get("content")
    if raw_content is not None and not isinstance(raw_content, dict):
        warnings.append(ctx.warn("bad_field_type", "content is not an object", urn))
    content = _dict(raw_content)
    article = _dict(content.get("article"))
    poll = _dict(content.get("poll"))
    options = poll.get("options") if isinstance(poll.get("options"), list) else []
    alt_texts = [_dict(content.get("media")).get("altText")]
    images = _dict(content.get("multiImage")).get("images")
    alt_texts += [_dict(i).get("altText") for i in (images if isinstance(images, list) else [])]
    reshare = _dict(element.get("reshareContext")).get("parent")
    yield from (w for w in warnings if w is not None)
    yield Item(
        platform=PLATFORM,
        account_id=ctx.account_id,
        item_id=urn,
        kind=ItemKind.POST,
        content={
            "commentary": text,
            "lifecycle_state": str(element.get("lifecycleState") or ""),
            "visibility": str(element.get("visibility") or ""),
            "media": post_media_urns(content),
            "alt_text": [a for a in alt_texts if isinstance(a, str) and a],
            "article": {k: str(article.get(k) or "") for k in ("source", "title")} if article else {},
            "poll": {
                "question": str(poll.get("question") or ""),
                "options": [str(_dict(o).get("text") or "") for o in options],
            } if poll else {},
            "reshare_of": reshare if isinstance(reshare, str) else "",
        },
        created_at=created,
        parent_id=None,
        author=str(element.get("author") or ""),
        text=text,
        url=f"https://www.linkedin.com/feed/update/{urn}/",
    )


def comment_urn(element: dict) -> str:
    for key in ("commentUrn", "$URN"):
        value = element.get(key)
        if isinstance(value, str) and value.startswith("urn:li:comment:"):
            return value
    obj, cid = element.get("object"), element.get("id")
    if isinstance(obj, str) and isinstance(cid, str | int) and not isinstance(cid, bool):
        return f"urn:li:comment:({obj},{cid})"
    return ""


def _comment(ctx: _Ctx, element: Any, target: str | None) -> Iterator[Item | ParseWarning]:
    urn = comment_urn(element) if isinstance(element, dict) else ""
    if not urn:
        yield ctx.warn("entry_without_id", "a comment element has no comment URN")
        return
    assert isinstance(element, dict)
    message = element.get("message")
    if message is not None and not isinstance(message, dict):
        yield ctx.warn("bad_field_type", "message is not an object", urn)
        text = str(message)
    else:
        text, w = _str(ctx, _dict(message).get("text"), "message.text", urn)
        if w:
            yield w
    created, w = _time(ctx, _dict(element.get("created")).get("time"), urn)
    if w:
        yield w
    parent_comment = element.get("parentComment")
    if target is not None:
        is_reply = target.startswith("urn:li:comment:")
        parent = target
    else:
        is_reply = isinstance(parent_comment, str) and bool(parent_comment)
        parts = comment_parts(urn)
        parent = parent_comment if is_reply else str(element.get("object") or (parts[0] if parts else ""))
    attached, refs = _comment_media(element.get("content"))
    yield Item(
        platform=PLATFORM,
        account_id=ctx.account_id,
        item_id=urn,
        kind=ItemKind.REPLY if is_reply else ItemKind.COMMENT,
        content={"message": text, "actor": str(element.get("actor") or ""), "content": attached},
        created_at=created,
        parent_id=parent or None,
        author=str(element.get("actor") or ""),
        text=text,
        media=refs,
        # The reply count moves when a reply arrives or goes: the comment's change signal.
        signal=_reply_signal(element.get("commentsSummary")),
    )


def _comment_media(raw: Any) -> tuple[list[str], tuple[MediaRef, ...]]:
    """A comment's attached image: its URN names it, its URL (when given) fetches it."""
    ids: list[str] = []
    refs: list[MediaRef] = []
    for entry in raw if isinstance(raw, list) else []:
        entry = _dict(entry)
        entity = _dict(entry.get("entity"))
        urn = next((v for v in entity.values() if isinstance(v, str)), "")
        url = entry.get("url") if isinstance(entry.get("url"), str) else ""
        if url and not url.startswith(("http://", "https://")):
            url = ""
        ids.append(urn or (media_key(url) if url else ""))
        if url:
            refs.append(MediaRef(url, str(entry.get("type") or "image").lower(), urn))
    return ids, tuple(refs)


def _reply_signal(summary: Any) -> str | None:
    count = _dict(summary).get("aggregatedTotalComments", _dict(summary).get("totalFirstLevelComments"))
    if isinstance(count, int) and not isinstance(count, bool):
        return f"replies:{count}"
    return None
