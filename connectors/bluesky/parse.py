"""Pure parsing of app.bsky responses into Items (shared by harvest and catalog rebuild).

Bluesky has no edit feature; a rewritten record gets a new `cid`, so the cid is part of the
content and a cid change is an edit. Whose post it is comes from the response: author-feed
entries without a repost reason are the actor's own; in a thread, posts by the thread
anchor's author are own, everything else is a reply. Liveness probes (`depth=0` thread
fetches from confirm_gone) yield nothing, so no context-free copy ever enters the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Item,
    ItemKind,
    MediaRef,
    ParseWarning,
)
from connectors.base import decoded_json
from connectors.bluesky.ids import rkey

PLATFORM = "bluesky"
AUTHOR_FEED = "/xrpc/app.bsky.feed.getAuthorFeed"
POST_THREAD = "/xrpc/app.bsky.feed.getPostThread"
THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"
BLOCKED = "app.bsky.feed.defs#blockedPost"
REPOST = "app.bsky.feed.defs#reasonRepost"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


def parse_exchange(account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
    if exchange.status != 200:
        return
    parts = urlsplit(exchange.url)
    if parts.path.endswith(AUTHOR_FEED):
        kind = "feed"
    elif parts.path.endswith(POST_THREAD):
        if parse_qs(parts.query).get("depth", [""])[0] == "0":
            return  # a liveness probe, not a listing
        kind = "thread"
    else:
        return
    try:
        data = decoded_json(exchange)
    except ValueError:
        yield ParseWarning("bluesky.malformed_json", "response body is not valid JSON", exchange.response_pointer)
        return
    parser = _PostParser(account, exchange)
    if not isinstance(data, dict):
        yield parser.warn("bluesky.unexpected_shape", "top level is not an object")
    elif kind == "feed":
        yield from parser.feed(data)
    else:
        yield from parser.thread(data)


class _PostParser:
    def __init__(self, account: AccountRef, exchange: CapturedExchange) -> None:
        self.account = account
        self.exchange = exchange

    def warn(self, code: str, message: str, item: str = "") -> ParseWarning:
        return ParseWarning(code, message, self.exchange.response_pointer, item)

    def feed(self, data: dict[str, Any]) -> Iterator[Item | ParseWarning]:
        entries = data.get("feed")
        if not isinstance(entries, list):
            yield self.warn("bluesky.unexpected_shape", "author feed without a feed array")
            return
        for entry in entries:
            if not isinstance(entry, dict):
                yield self.warn("bluesky.unexpected_shape", "a feed entry is not an object")
                continue
            reason = entry.get("reason")
            if isinstance(reason, dict) and reason.get("$type") == REPOST:
                continue  # someone else's post, reposted: kept in the WARC, not an item of ours
            yield from self.post(entry.get("post"), own=True)

    def thread(self, data: dict[str, Any]) -> Iterator[Item | ParseWarning]:
        root = data.get("thread")
        if not isinstance(root, dict):
            yield self.warn("bluesky.unexpected_shape", "thread response without a thread object")
            return
        if root.get("$type") in (NOT_FOUND, BLOCKED):
            return
        post = root.get("post")
        author = post.get("author") if isinstance(post, dict) else None
        owner = author.get("did") if isinstance(author, dict) else None
        if not isinstance(owner, str):
            yield self.warn("bluesky.unexpected_shape", "thread anchor without an author did")
            return
        stack: list[tuple[dict[str, Any], str | None]] = [(root, None)]
        while stack:
            node, parent_uri = stack.pop()
            if node.get("$type", THREAD_VIEW) != THREAD_VIEW:
                continue  # notFoundPost / blockedPost: nothing to record, confirm_gone judges it
            node_post = node.get("post")
            node_author = node_post.get("author") if isinstance(node_post, dict) else None
            own = isinstance(node_author, dict) and node_author.get("did") == owner
            yield from self.post(node_post, own=own, listed_under=parent_uri)
            replies = node.get("replies")
            if replies is None:
                continue
            if not isinstance(replies, list):
                yield self.warn("bluesky.bad_field_type", "thread replies is not an array")
                continue
            uri = node_post.get("uri") if isinstance(node_post, dict) else None
            for child in reversed(replies):
                if isinstance(child, dict):
                    stack.append((child, uri if isinstance(uri, str) else None))

    def post(self, post: Any, *, own: bool, listed_under: str | None = None) -> Iterator[Item | ParseWarning]:
        if not isinstance(post, dict) or not isinstance(post.get("uri"), str):
            yield self.warn("bluesky.entry_without_uri", "a post has no at:// uri")
            return
        uri = post["uri"]
        record = post.get("record")
        if not isinstance(record, dict):
            yield self.warn("bluesky.bad_field_type", "post record is not an object; post skipped", uri)
            return
        bad = [n for n, v in (("cid", post.get("cid")), ("text", record.get("text", ""))) if not isinstance(v, str)]
        if bad:
            yield self.warn("bluesky.bad_field_type", f"{', '.join(bad)} is not a string; post skipped", uri)
            return
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
        reply_parent = (reply.get("parent") or {}).get("uri") if isinstance(reply.get("parent"), dict) else None
        author = post.get("author") if isinstance(post.get("author"), dict) else {}
        content: dict[str, Any] = {
            "cid": post["cid"],
            "text": record.get("text", ""),
            "langs": [str(x) for x in _list(record.get("langs")) if isinstance(x, str)],
            "facets": _facets(record.get("facets")),
            "embed": _embed_identity(record.get("embed")),
            "reply_parent": reply_parent if isinstance(reply_parent, str) else "",
            "labels": sorted({str(lb.get("val")) for lb in _list(post.get("labels")) if isinstance(lb, dict)}),
            "threadgate": _threadgate(post.get("threadgate")),
        }
        if own:
            kind, parent = ItemKind.POST, None
        else:
            kind = ItemKind.REPLY
            parent = content["reply_parent"] or listed_under
        created = parse_time(record.get("createdAt"))
        if record.get("createdAt") and created is None:
            yield self.warn("bluesky.bad_time", f"createdAt {record.get('createdAt')!r} is not ISO 8601", uri)
        handle = str(author.get("handle") or author.get("did") or "")
        yield Item(
            platform=PLATFORM,
            account_id=self.account.account_id,
            item_id=uri,
            kind=kind,
            content=content,
            created_at=created,
            parent_id=parent,
            author=str(author.get("displayName") or handle),
            text=record.get("text", ""),
            url=f"https://bsky.app/profile/{handle}/post/{rkey(uri)}" if handle else "",
            media=_media(post.get("embed")),
            signal=_reply_signal(post) if own else None,
        )


def _reply_signal(post: dict[str, Any]) -> str | None:
    """`replyCount` of an own post: moves when a direct reply arrives or goes."""
    count = post.get("replyCount")
    return str(count) if isinstance(count, int) and not isinstance(count, bool) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _threadgate(gate: Any) -> dict[str, Any] | None:
    """Who may reply and which replies the author hid: the root post's moderation state."""
    if not isinstance(gate, dict) or not isinstance(gate.get("record"), dict):
        return None
    record = gate["record"]
    allow = record.get("allow")
    return {
        "allow": sorted(str(a.get("$type")) for a in allow if isinstance(a, dict)) if isinstance(allow, list) else None,
        "hidden_replies": sorted(str(u) for u in _list(record.get("hiddenReplies")) if isinstance(u, str)),
    }


def _facets(facets: Any) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for facet in facets if isinstance(facets, list) else []:
        features = facet.get("features") if isinstance(facet, dict) else None
        for feature in features if isinstance(features, list) else []:
            if isinstance(feature, dict):
                kind = str(feature.get("$type", "")).rsplit("#", 1)[-1]
                target = feature.get("uri") or feature.get("did") or feature.get("tag") or ""
                out.append({"type": kind, "target": str(target)})
    return out


def _blob_cid(blob: Any) -> str:
    if not isinstance(blob, dict):
        return ""
    ref = blob.get("ref")
    if isinstance(ref, dict):
        return str(ref.get("$link") or "")
    return str(blob.get("cid") or "")


def _embed_identity(embed: Any) -> dict[str, Any] | None:
    """What an embed is, by content address and text: never by (view) URL."""
    if not isinstance(embed, dict):
        return None
    kind = str(embed.get("$type", ""))
    if kind == "app.bsky.embed.images":
        images = embed.get("images") if isinstance(embed.get("images"), list) else []
        return {"type": "images", "images": [
            {"cid": _blob_cid(i.get("image")), "alt": str(i.get("alt") or "")} for i in images if isinstance(i, dict)]}
    if kind == "app.bsky.embed.video":
        return {"type": "video", "cid": _blob_cid(embed.get("video")), "alt": str(embed.get("alt") or "")}
    if kind == "app.bsky.embed.external":
        ext = embed.get("external") if isinstance(embed.get("external"), dict) else {}
        return {"type": "external", "uri": str(ext.get("uri") or ""), "title": str(ext.get("title") or ""),
                "description": str(ext.get("description") or ""), "thumb": _blob_cid(ext.get("thumb"))}
    if kind == "app.bsky.embed.record":
        rec = embed.get("record") if isinstance(embed.get("record"), dict) else {}
        return {"type": "record", "uri": str(rec.get("uri") or ""), "cid": str(rec.get("cid") or "")}
    if kind == "app.bsky.embed.recordWithMedia":
        inner = embed.get("record") if isinstance(embed.get("record"), dict) else {}
        return {"type": "recordWithMedia", "record": _embed_identity({**inner,
                                                                     "$type": "app.bsky.embed.record"}),
                "media": _embed_identity(embed.get("media"))}
    return {"type": kind}


def _media(view: Any) -> tuple[MediaRef, ...]:
    if not isinstance(view, dict):
        return ()
    kind = str(view.get("$type", ""))
    refs: list[MediaRef] = []
    if kind == "app.bsky.embed.images#view":
        for image in view.get("images") if isinstance(view.get("images"), list) else []:
            if isinstance(image, dict) and isinstance(image.get("fullsize"), str):
                url = image["fullsize"]
                refs.append(MediaRef(url, "image", _cid_from_cdn(url)))
    elif kind == "app.bsky.embed.video#view":
        cid = str(view.get("cid") or "")
        if isinstance(view.get("playlist"), str):
            refs.append(MediaRef(view["playlist"], "video-playlist", cid))
        if isinstance(view.get("thumbnail"), str):
            refs.append(MediaRef(view["thumbnail"], "thumbnail", cid))
    elif kind == "app.bsky.embed.external#view":
        ext = view.get("external") if isinstance(view.get("external"), dict) else {}
        if isinstance(ext.get("thumb"), str):
            refs.append(MediaRef(ext["thumb"], "thumbnail", _cid_from_cdn(ext["thumb"])))
    elif kind == "app.bsky.embed.recordWithMedia#view":
        return _media(view.get("media"))
    return tuple(refs)


def _cid_from_cdn(url: str) -> str:
    """cdn.bsky.app/img/<preset>/plain/<did>/<cid>@jpeg names the blob by its cid."""
    return urlsplit(url).path.rsplit("/", 1)[-1].split("@", 1)[0]
