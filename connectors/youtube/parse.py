"""Pure parsing of YouTube Data API v3 responses into catalog items.

Videos come only from `videos.list` (playlistItems carries less and would disagree), and
comments from `commentThreads.list` (top-level plus embedded replies) and `comments.list`
(all replies of a thread, or single comments by id): all three render a comment the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
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

PLATFORM = "youtube"
THUMB_ORDER = ("maxres", "standard", "high", "medium", "default")
_ENDPOINT = re.compile(r"/(videos|commentThreads|comments)/?$")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def endpoint_of(url: str) -> str:
    match = _ENDPOINT.search(urlsplit(url).path)
    return match.group(1) if match else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_response(account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    endpoint = endpoint_of(exchange.url)
    if exchange.status != 200 or not endpoint:
        return
    ptr = exchange.response_pointer
    try:
        body = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        yield ParseWarning("youtube.malformed_json", "response body is not valid JSON", ptr)
        return
    if not isinstance(body, dict):
        yield ParseWarning("youtube.unexpected_shape", "top level is not an object", ptr)
        return
    items = body.get("items", [])
    if not isinstance(items, list):
        yield ParseWarning("youtube.bad_field_type", f"items is a {type(items).__name__}, not a list", ptr)
        return
    for entry in items:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
            yield ParseWarning("youtube.entry_without_id", "an entry has no string id", ptr)
            continue
        if endpoint == "videos":
            yield from _video(account, entry, exchange)
        elif endpoint == "commentThreads":
            yield from _thread(account, entry, exchange)
        else:
            yield from _comment(account, entry, exchange, None)


def _video(account: AccountRef, entry: dict[str, Any], exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    ptr, video_id = exchange.response_pointer, entry["id"]
    snippet = entry.get("snippet")
    if not isinstance(snippet, dict):
        yield ParseWarning("youtube.missing_snippet", "a video has no snippet", ptr, video_id)
        return
    status, details = _dict(entry.get("status")), _dict(entry.get("contentDetails"))
    title, description = snippet.get("title", ""), snippet.get("description", "")
    if not isinstance(title, str) or not isinstance(description, str):
        yield ParseWarning("youtube.bad_field_type", "title or description is not a string", ptr, video_id)
        title, description = str(title), str(description)
    tags = snippet.get("tags", [])
    if not isinstance(tags, list):
        yield ParseWarning("youtube.bad_field_type", "tags is not a list", ptr, video_id)
        tags = []
    created = yield from _time(snippet.get("publishedAt"), exchange, video_id)
    blocked = _dict(details.get("regionRestriction")).get("blocked")
    # statistics.commentCount (threads and replies) moves when a comment arrives or goes: the
    # change signal for the video's comments. Absent when comments are off or not asked for.
    count = _dict(entry.get("statistics")).get("commentCount")
    content = {
        "title": title,
        "description": description,
        "tags": [str(t) for t in tags],
        "category_id": str(snippet.get("categoryId", "")),
        "privacy_status": str(status.get("privacyStatus", "")),
        "rejection_reason": str(status.get("rejectionReason", "")),
        "blocked_in": sorted(str(c) for c in blocked) if isinstance(blocked, list) else [],
        "made_for_kids": status.get("madeForKids") is True,
    }
    yield Item(
        platform=PLATFORM,
        account_id=account.account_id,
        item_id=video_id,
        kind=ItemKind.POST,
        content=content,
        created_at=created,
        author=str(snippet.get("channelTitle", "")),
        text=f"{title}\n\n{description}".strip(),
        url=f"https://www.youtube.com/watch?v={video_id}",
        media=_thumbnail(video_id, snippet.get("thumbnails")),
        signal=f"comments:{count}" if isinstance(count, str) else None,
    )


def _thumbnail(video_id: str, thumbnails: Any) -> tuple[MediaRef, ...]:
    """The largest thumbnail; i.ytimg.com URLs are stable, the video file is not offered."""
    thumbs = _dict(thumbnails)
    for size in THUMB_ORDER:
        url = _dict(thumbs.get(size)).get("url")
        if isinstance(url, str) and url:
            return (MediaRef(url, "thumbnail", f"{video_id}:thumbnail"),)
    return ()


def _thread(account: AccountRef, entry: dict[str, Any], exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    snippet = _dict(entry.get("snippet"))
    top = snippet.get("topLevelComment")
    if not isinstance(top, dict):
        yield ParseWarning("youtube.missing_snippet", "a comment thread has no topLevelComment",
                           exchange.response_pointer, entry["id"])
        return
    video = snippet.get("videoId") if isinstance(snippet.get("videoId"), str) else None
    total = snippet.get("totalReplyCount")
    signal = f"replies:{total}" if isinstance(total, int) and not isinstance(total, bool) else None
    yield from _comment(account, top, exchange, video, signal)
    replies = _dict(entry.get("replies")).get("comments", [])
    if not isinstance(replies, list):
        yield ParseWarning("youtube.bad_field_type", "replies.comments is not a list",
                           exchange.response_pointer, entry["id"])
        return
    for reply in replies:
        if isinstance(reply, dict) and isinstance(reply.get("id"), str):
            yield from _comment(account, reply, exchange, video)
        else:
            yield ParseWarning("youtube.entry_without_id", "a reply has no string id", exchange.response_pointer)


def _comment(
    account: AccountRef, entry: dict[str, Any], exchange: CapturedExchange, video: str | None,
    signal: str | None = None,
) -> Iterator[Item | ParseWarning]:
    ptr, comment_id = exchange.response_pointer, entry.get("id")
    if not isinstance(comment_id, str) or not comment_id:
        yield ParseWarning("youtube.entry_without_id", "a comment has no string id", ptr)
        return
    snippet = entry.get("snippet")
    if not isinstance(snippet, dict):
        yield ParseWarning("youtube.missing_snippet", "a comment has no snippet", ptr, comment_id)
        return
    text = snippet.get("textOriginal", snippet.get("textDisplay", ""))
    if not isinstance(text, str):
        yield ParseWarning("youtube.bad_field_type", "comment text is not a string", ptr, comment_id)
        text = json.dumps(text, sort_keys=True)
    parent = snippet.get("parentId") if isinstance(snippet.get("parentId"), str) else None
    video_id = snippet.get("videoId") if isinstance(snippet.get("videoId"), str) else video
    created = yield from _time(snippet.get("publishedAt"), exchange, comment_id)
    author_channel = _dict(snippet.get("authorChannelId")).get("value", "")
    content = {
        "text": text,
        "author_channel_id": str(author_channel),
        "moderation_status": str(snippet.get("moderationStatus", "")),  # OAuth owners only
    }
    link = f"https://www.youtube.com/watch?v={video_id}&lc={comment_id}" if video_id else ""
    yield Item(
        platform=PLATFORM,
        account_id=account.account_id,
        item_id=comment_id,
        kind=ItemKind.REPLY if parent else ItemKind.COMMENT,
        content=content,
        created_at=created,
        parent_id=parent or video_id,
        author=str(snippet.get("authorDisplayName", "")),
        text=text,
        url=link,
        signal=signal,
    )


def _time(
    value: Any, exchange: CapturedExchange, item_id: str
) -> Generator[ParseWarning, None, datetime | None]:
    """Generator helper: warns and returns None for a timestamp it cannot read."""
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        yield ParseWarning("youtube.bad_time", f"publishedAt {value!r} is not ISO 8601",
                           exchange.response_pointer, item_id)
        return None
