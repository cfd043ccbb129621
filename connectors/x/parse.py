"""Pure parsing of X API v2 tweet payloads into catalog items.

An edit on X is a new tweet id; `edit_history_tweet_ids` lists the whole chain, oldest
first. The archive keys every chain by its FIRST id, so an edit becomes a new version of the
original item and a superseded id never becomes an item of its own (nor a "deletion").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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

PLATFORM = "x"
TWITTER_EPOCH_MS = 1288834974657
_TWEETS_PATH = re.compile(
    r"/(?:users/[^/]+/tweets|tweets/search/(?:recent|all)|tweets/\d+|tweets)/?$"
)


def snowflake_time(tweet_id: str) -> datetime | None:
    """Tweet ids embed their creation time (ms since the Twitter epoch, shifted by 22 bits)."""
    if not tweet_id.isdigit():
        return None
    try:
        ms = (int(tweet_id) >> 22) + TWITTER_EPOCH_MS
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    except OverflowError:
        return None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def strip_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class _Context:
    """What `includes` tells about a page: version -> chain root, media, authors."""

    def __init__(self, body: dict[str, Any]) -> None:
        includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
        self.root_of: dict[str, str] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.users: dict[str, str] = {}
        tweets = [*_dicts(includes.get("tweets")), *_dicts(body.get("data"))]
        for tweet in tweets:
            chain = _chain_of(tweet)
            if chain:
                for version in chain:
                    self.root_of.setdefault(version, chain[0])
        for media in _dicts(includes.get("media")):
            if isinstance(media.get("media_key"), str):
                self.media[media["media_key"]] = media
        for user in _dicts(includes.get("users")):
            if isinstance(user.get("id"), str) and isinstance(user.get("username"), str):
                self.users[user["id"]] = user["username"]


def _dicts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _chain_of(tweet: dict[str, Any]) -> list[str] | None:
    chain = tweet.get("edit_history_tweet_ids")
    if isinstance(chain, list) and chain and all(isinstance(v, str) for v in chain):
        return list(chain)
    return None


def is_tweet_listing(url: str) -> bool:
    return bool(_TWEETS_PATH.search(urlsplit(url).path))


def parse_tweets(account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    if exchange.status != 200 or not is_tweet_listing(exchange.url):
        return
    ptr = exchange.response_pointer
    try:
        body = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        yield ParseWarning("x.malformed_json", "response body is not valid JSON", ptr)
        return
    if not isinstance(body, dict):
        yield ParseWarning("x.unexpected_shape", "top level is not an object", ptr)
        return
    data = body.get("data")
    if data is None:
        return  # an empty page or an errors-only answer (deleted tweet): nothing to show
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        yield ParseWarning("x.bad_field_type", f"data is a {type(data).__name__}, not a list", ptr)
        return
    context = _Context(body)
    for entry in data:
        yield from _tweet(account, entry, context, exchange)


def _tweet(
    account: AccountRef, entry: Any, ctx: _Context, exchange: CapturedExchange
) -> Iterator[Item | ParseWarning]:
    ptr = exchange.response_pointer
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
        yield ParseWarning("x.tweet_without_id", "a tweet has no string id", ptr)
        return
    tweet_id: str = entry["id"]
    chain = _chain_of(entry)
    if chain is None:
        if "edit_history_tweet_ids" in entry:
            yield ParseWarning("x.bad_field_type", "edit_history_tweet_ids is not a list of ids", ptr, tweet_id)
        chain = [tweet_id]
    elif tweet_id not in chain:
        yield ParseWarning("x.bad_edit_history", "the tweet's id is not in its edit history", ptr, tweet_id)
        chain = [tweet_id]
    elif chain[-1] != tweet_id:
        return  # a superseded version (lookup of an old id): the latest one carries the item
    root = chain[0]
    text, note = entry.get("text"), entry.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str):
        text = note["text"]  # long posts: `text` is truncated, note_tweet has all of it
    if text is None:
        text = ""
    elif not isinstance(text, str):
        yield ParseWarning("x.bad_field_type", "text is not a string", ptr, root)
        text = json.dumps(text, sort_keys=True)
    created: datetime | None
    try:
        created = parse_time(entry.get("created_at")) if root == tweet_id else snowflake_time(root)
    except (TypeError, ValueError):
        yield ParseWarning("x.bad_time", f"created_at {entry.get('created_at')!r} is not ISO 8601", ptr, root)
        created = None
    referenced = []
    for ref in _dicts(entry.get("referenced_tweets")):
        if isinstance(ref.get("type"), str) and isinstance(ref.get("id"), str):
            referenced.append({"type": ref["type"], "id": ref["id"]})
    kind, parent = _placement(entry, chain, referenced, ctx)
    attachments = entry.get("attachments") if isinstance(entry.get("attachments"), dict) else {}
    keys = attachments.get("media_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        yield ParseWarning("x.bad_field_type", "attachments.media_keys is not a list of keys", ptr, root)
        keys = []
    withheld = entry.get("withheld") if isinstance(entry.get("withheld"), dict) else {}
    codes = withheld.get("country_codes") if isinstance(withheld.get("country_codes"), list) else []
    content = {
        "text": text,
        "author_id": str(entry.get("author_id", "")),
        "versions": chain,
        "media": list(keys),
        "referenced": referenced,
        "possibly_sensitive": entry.get("possibly_sensitive") is True,
        "withheld": sorted(str(c) for c in codes),
    }
    author_id = content["author_id"]
    yield Item(
        platform=PLATFORM,
        account_id=account.account_id,
        item_id=root,
        kind=kind,
        content=content,
        created_at=created,
        parent_id=parent,
        author=ctx.users.get(author_id, ""),
        text=text,
        url=f"https://x.com/i/web/status/{root}",
        media=_media(keys, ctx),
    )


def _placement(
    entry: dict[str, Any], chain: list[str], referenced: list[dict[str, str]], ctx: _Context
) -> tuple[ItemKind, str | None]:
    """POST for a conversation root; COMMENT for a reply to the root; REPLY below that."""
    conversation = entry.get("conversation_id")
    replied = next((r["id"] for r in referenced if r["type"] == "replied_to"), None)
    if not isinstance(conversation, str) or conversation in chain or replied is None:
        return ItemKind.POST, None
    parent = ctx.root_of.get(replied, replied)
    root = ctx.root_of.get(conversation, conversation)
    return (ItemKind.COMMENT if parent == root else ItemKind.REPLY), parent


def _media(keys: list[str], ctx: _Context) -> tuple[MediaRef, ...]:
    refs: list[MediaRef] = []
    for key in keys:
        media = ctx.media.get(key)
        if media is None:
            continue
        if isinstance(media.get("url"), str):
            refs.append(MediaRef(media["url"], "image", key))
        if isinstance(media.get("preview_image_url"), str):
            refs.append(MediaRef(media["preview_image_url"], "thumbnail", key))
        best = _best_variant(media.get("variants"))
        if best:
            refs.append(MediaRef(best, "video", key))
    return tuple(refs)


def _best_variant(variants: Any) -> str:
    """The highest-bitrate MP4 (HLS playlists are not a file we can keep)."""
    best, rate = "", -1
    for variant in _dicts(variants):
        url, ctype = variant.get("url"), variant.get("content_type")
        bit_rate = variant.get("bit_rate", 0)
        if isinstance(url, str) and ctype == "video/mp4" and isinstance(bit_rate, int) and bit_rate > rate:
            best, rate = url, bit_rate
    return best
