"""Pure parsing of TikTok Display API answers (video/list, video/query) into Items.

Never raises and never reaches the network. `cover_image_url` is signed and lives about six
hours, so harvest hands it to the capture cycle at once; `content` keeps only its path.
Engagement counts (likes, views, shares, comment_count) never enter `content`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from archiver.core.models import CapturedExchange, Item, ItemKind, MediaRef, ParseWarning

PLATFORM = "tiktok"
VIDEO_LISTS = re.compile(r"/video/(list|query)/?$")


def _path(url: Any) -> str:
    if not isinstance(url, str) or not url:
        return ""
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _without_query(url: Any) -> str:
    if not isinstance(url, str):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else ""


def video_id(entry: Any) -> str:
    """Video ids are strings; an integer id (a type change) still names the video."""
    if not isinstance(entry, dict):
        return ""
    value = entry.get("id")
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def videos_of(data: Any) -> list[Any] | None:
    inner = data.get("data") if isinstance(data, dict) else None
    videos = inner.get("videos") if isinstance(inner, dict) else None
    return videos if isinstance(videos, list) else None


def parse_response(account_id: str, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    if exchange.status != 200:
        return
    try:
        if not VIDEO_LISTS.search(urlsplit(exchange.url).path):
            return  # user/info holds no archived items
    except ValueError:
        return
    evidence = exchange.response_pointer
    try:
        data = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        yield ParseWarning(f"{PLATFORM}.malformed_json", "response body is not valid JSON", evidence)
        return
    videos = videos_of(data)
    if videos is None:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and error.get("code") not in (None, "ok"):
            return  # an error envelope: the connector reports it
        yield ParseWarning(f"{PLATFORM}.unexpected_shape", "answer without a data.videos array", evidence)
        return
    for entry in videos:
        yield from _video(account_id, entry, exchange)


def _video(account_id: str, entry: Any, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    evidence = exchange.response_pointer
    item_id = video_id(entry)
    if not item_id:
        yield ParseWarning(f"{PLATFORM}.entry_without_id", "a video has no id", evidence)
        return
    assert isinstance(entry, dict)
    if not isinstance(entry.get("id"), str):
        yield ParseWarning(f"{PLATFORM}.bad_field_type", "id is not a string", evidence, item_id)
    texts: dict[str, str] = {}
    for key in ("title", "video_description"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            yield ParseWarning(f"{PLATFORM}.bad_field_type", f"{key} is not a string", evidence, item_id)
            value = str(value)
        texts[key] = value or ""
    created = None
    raw_time = entry.get("create_time")
    if raw_time is not None:
        try:
            if isinstance(raw_time, bool) or not isinstance(raw_time, int | float):
                raise TypeError
            created = datetime.fromtimestamp(raw_time, UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            yield ParseWarning(f"{PLATFORM}.bad_time", f"create_time {raw_time!r} is not epoch seconds",
                               evidence, item_id)
    duration = entry.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int | float)):
        yield ParseWarning(f"{PLATFORM}.bad_field_type", "duration is not a number", evidence, item_id)
        duration = None
    cover = entry.get("cover_image_url")
    media = (MediaRef(cover, "thumbnail", item_id),) if isinstance(cover, str) and cover.startswith("http") else ()
    text = texts["video_description"] or texts["title"]
    yield Item(
        platform=PLATFORM,
        account_id=account_id,
        item_id=item_id,
        kind=ItemKind.POST,
        content={
            "title": texts["title"],
            "video_description": texts["video_description"],
            "duration": duration,
            "cover": _path(cover),
        },
        created_at=created,
        parent_id=None,
        author=account_id,
        text=text,
        url=_without_query(entry.get("share_url")),
        media=media,
    )
