"""A YouTube-Data-API-v3-shaped fake, faithful where the archiver depends on it.

Shapes follow shared/research/platform_apis.md §3: `key=` auth, parts returned only when
asked for, offset-style `pageToken`s, the uploads playlist dropping deleted and private
videos, videos.list answering `items: []` for them, commentThreads embedding only a few
replies (the rest via comments.list?parentId=), Google error envelopes with `reason`
(quotaExceeded / rateLimitExceeded 403, commentsDisabled 403, videoNotFound 404, keyInvalid
400) and a unit counter charging each method what the real API does (list methods 1 unit,
search.list 100; `units_used` in all, `units_by_method` per method) for quota tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import PlatformSandbox, route, seed_bulk
from archiver.sandbox.server import Request, Response

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
EMBEDDED_REPLIES = 5
THUMB_SIZES = (("default", 120, 90), ("medium", 320, 180), ("high", 480, 360),
               ("standard", 640, 480), ("maxres", 1280, 720))
# Quota units per method as YouTube charges them (developers.google.com/youtube/v3/determine_quota_cost):
# every *.list call costs 1 unit, search.list 100, whatever it returns (an error costs too).
UNIT_COST = {"search": 100}
QUOTA_MESSAGE = ("The request cannot be completed because you have exceeded your "
                 "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.")


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _etag(data: Any) -> str:
    digest = hashlib.sha1(json.dumps(data, sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:27]


@dataclass
class YtChannel:
    id: str
    handle: str
    title: str
    username: str = ""


@dataclass
class YtVideo:
    id: str
    channel_id: str
    title: str
    description: str
    published: datetime
    tags: tuple[str, ...] = ("school", "district")
    privacy: str = "public"
    comments_disabled: bool = False
    deleted: bool = False


@dataclass
class YtComment:
    id: str
    video_id: str
    text: str
    author: tuple[str, str]  # display name, author channel id
    published: datetime
    updated: datetime
    parent: str | None = None
    deleted: bool = False


def _page_token(offset: int, backwards: bool = False) -> str:
    """Protobuf-looking offset tokens like the real playlistItems ones ("CAUQAA" = 5)."""
    varint = bytearray()
    value = offset
    while True:
        byte = value & 0x7F
        value >>= 7
        varint.append(byte | (0x80 if value else 0))
        if not value:
            break
    raw = bytes([0x08]) + bytes(varint) + bytes([0x10, 0x01 if backwards else 0x00])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _page_offset(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) < 3 or raw[0] != 0x08:
        return None
    offset, shift = 0, 0
    for byte in raw[1:-2]:
        offset |= (byte & 0x7F) << shift
        shift += 7
    return offset


class YouTubeSandbox(PlatformSandbox):
    """Answers like www.googleapis.com/youtube/v3."""

    cdn_tag = b"sandbox-ytimg"

    def __init__(self, *, keys: set[str], now: Callable[[], datetime] | None = None, seed: int = 7) -> None:
        super().__init__(now=now)
        self.keys = self.tokens = set(keys)
        self.channels: dict[str, YtChannel] = {}
        self.videos: dict[str, YtVideo] = {}
        self.comments: dict[str, YtComment] = {}
        self.quota_limit: int | None = None
        self.units_used = 0
        self.units_by_method: dict[str, int] = {}
        self.views = 0
        self._rng = random.Random(seed)

    # --- ids and mutators ------------------------------------------------------------------

    def _chars(self, n: int) -> str:
        return "".join(self._rng.choice(ALPHABET) for _ in range(n))

    def add_channel(self, handle: str, title: str, username: str = "") -> str:
        channel_id = "UC" + self._chars(22)
        self.channels[channel_id] = YtChannel(channel_id, handle.lstrip("@"), title, username)
        return channel_id

    def upload(self, channel_id: str, title: str, *, description: str = "", at: datetime | None = None,
               comments_disabled: bool = False) -> str:
        video_id = self._chars(11)
        while video_id in self.videos:
            video_id = self._chars(11)
        self.videos[video_id] = YtVideo(video_id, channel_id, title, description or f"{title} - full details.",
                                        at or self.now(), comments_disabled=comments_disabled)
        return video_id

    def comment(self, video_id: str, text: str, *, author: tuple[str, str] = ("@ParentVolunteer", "UCparentvolunteer0000001"),
                parent: str | None = None, at: datetime | None = None) -> str:
        when = at or self.now()
        if parent is None:
            comment_id = "Ug" + self._rng.choice("wxyz") + self._chars(16) + "4AaABAg"
        else:
            comment_id = f"{parent}.{self._chars(22)}"
        self.comments[comment_id] = YtComment(comment_id, video_id, text, author, when, when, parent)
        return comment_id

    def edit_video(self, video_id: str, title: str) -> None:
        self.videos[video_id].title = title

    def edit_comment(self, comment_id: str, text: str) -> None:
        comment = self.comments[comment_id]
        comment.text, comment.updated = text, self.now()

    def delete_video(self, video_id: str) -> None:
        self.videos[video_id].deleted = True
        for c in self.comments.values():
            if c.video_id == video_id:
                c.deleted = True

    def delete_comment(self, comment_id: str) -> None:
        for c in self.comments.values():
            if c.id == comment_id or c.parent == comment_id:
                c.deleted = True

    def visible_videos(self, channel_id: str) -> list[YtVideo]:
        """What an API key sees in the uploads playlist: public, not deleted, newest first."""
        rows = [v for v in self.videos.values() if v.channel_id == channel_id and v.privacy == "public" and not v.deleted]
        return sorted(rows, key=lambda v: v.published, reverse=True)

    def threads_of(self, video_id: str) -> list[YtComment]:
        rows = [c for c in self.comments.values() if c.video_id == video_id and c.parent is None and not c.deleted]
        return sorted(rows, key=lambda c: (c.published, c.id), reverse=True)

    def channel_threads(self, channel_id: str) -> list[YtComment]:
        """`allThreadsRelatedToChannelId`: the threads on every visible video of the channel
        with comments on, newest first (a new reply does not move its thread)."""
        videos = {v.id for v in self.visible_videos(channel_id) if not v.comments_disabled}
        rows = [c for c in self.comments.values() if c.video_id in videos and c.parent is None and not c.deleted]
        return sorted(rows, key=lambda c: (c.published, c.id), reverse=True)

    def replies_of(self, comment_id: str) -> list[YtComment]:
        rows = [c for c in self.comments.values() if c.parent == comment_id and not c.deleted]
        return sorted(rows, key=lambda c: (c.published, c.id))

    # --- HTTP ------------------------------------------------------------------------------

    def gate(self, req: Request) -> Response | None:
        state = self.token_state(req.query.get("key", ""))
        if state == "missing":
            return _error(403, "The request is missing a valid API key.", "forbidden", "global",
                          status="PERMISSION_DENIED")
        if state != "ok":
            return Response.json({"error": {"errors": [{"domain": "usageLimits", "reason": "keyInvalid",
                                                        "message": "Bad Request"}],
                                            "code": 400, "message": "Bad Request"}}, 400)
        if self.take("throttle_next"):
            return _error(403, "The request cannot be completed because too many requests were sent "
                          "in a short period.", "rateLimitExceeded", "usageLimits")
        if self.quota_limit is not None and self.units_used >= self.quota_limit:
            return _error(403, QUOTA_MESSAGE, "quotaExceeded", "youtube.quota")
        if not req.query.get("part"):
            return _error(400, "No filter selected. Expected one of: ...", "missingRequiredParameter",
                          "youtube.parameter", location="part")
        method = req.path.rsplit("/", 1)[-1]
        cost = UNIT_COST.get(method, 1)
        self.units_used += cost
        self.units_by_method[method] = self.units_by_method.get(method, 0) + cost
        self.views += 1
        return None

    def __call__(self, req: Request) -> Response:
        if not re.fullmatch(r"/youtube/v3/[^/]+", req.path) and not req.path.startswith(self.cdn_prefix):
            return self.no_route(req)
        return super().__call__(req)

    def no_route(self, req: Request) -> Response:
        return _error(404, "Not Found", "notFound", "global")

    def _list(self, kind: str, items: list[dict[str, Any]], *, total: int | None = None, per_page: int | None = None,
              next_token: str = "", prev_token: str = "") -> Response:
        out: dict[str, Any] = {"kind": f"youtube#{kind}ListResponse", "etag": _etag(items)}
        if next_token:
            out["nextPageToken"] = next_token
        if prev_token:
            out["prevPageToken"] = prev_token
        out["pageInfo"] = {"totalResults": len(items) if total is None else total,
                           "resultsPerPage": len(items) if per_page is None else per_page}
        if items:
            out["items"] = items
        return Response.json(out, headers=[("Vary", "Origin, X-Origin, Referer")])

    def _slice(self, req: Request, rows: list[Any], default: int, top: int,
               token: str | None = None) -> tuple[list[Any], str, str, int] | Response:
        raw = req.query.get("maxResults", str(default))
        if not raw.isdigit() or int(raw) > top:
            return _error(400, f"Invalid value '{raw}'. Values must be within the range: [0, {top}]",
                          "invalidParameter", "youtube.parameter", location="maxResults")
        size = int(raw)
        start = 0
        token = req.query.get("pageToken", "") if token is None else token
        if token:
            offset = _page_offset(token)
            if offset is None:
                return _error(400, "The request specifies an invalid page token.", "invalidPageToken",
                              "youtube.parameter", location="pageToken")
            start = offset
        chunk = rows[start:start + size]
        following = _page_token(start + size) if start + size < len(rows) else ""
        previous = _page_token(max(0, start - size), backwards=True) if start else ""
        return chunk, following, previous, size

    @route("/youtube/v3/channels")
    def list_channels(self, req: Request) -> Response:
        parts = set(req.query["part"].split(","))
        q = req.query
        found: list[YtChannel] = []
        if q.get("id"):
            found = [self.channels[i] for i in q["id"].split(",") if i in self.channels]
        elif q.get("forHandle"):
            handle = q["forHandle"].lstrip("@").lower()
            found = [c for c in self.channels.values() if c.handle.lower() == handle]
        elif q.get("forUsername"):
            found = [c for c in self.channels.values() if c.username and c.username.lower() == q["forUsername"].lower()]
        else:
            return _error(400, "No filter selected. Expected one of: forUsername, id, forHandle, mine, mySubscribers, categoryId, idParam, managedByMe",
                          "missingRequiredParameter", "youtube.parameter", location="parameters.")
        items = []
        for c in found:
            full: dict[str, Any] = {
                "snippet": {"title": c.title, "description": f"Official channel of {c.title}.",
                            "customUrl": "@" + c.handle.lower(), "publishedAt": "2012-08-23T00:34:43Z",
                            "thumbnails": {"default": {"url": f"{self.base_url}/cdn/yt3/{c.id}/s88.jpg", "width": 88, "height": 88}},
                            "localized": {"title": c.title, "description": f"Official channel of {c.title}."},
                            "country": "US"},
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": "UU" + c.id[2:]}},
                "statistics": {"viewCount": str(1000 + self.views), "subscriberCount": "1200",
                               "hiddenSubscriberCount": False, "videoCount": str(len(self.visible_videos(c.id)))},
            }
            item = {"kind": "youtube#channel", "etag": _etag(c.id), "id": c.id}
            item.update({k: v for k, v in full.items() if k in parts})
            items.append(item)
        if not items:
            return Response.json({"kind": "youtube#channelListResponse", "etag": _etag([]),
                                  "pageInfo": {"totalResults": 0, "resultsPerPage": 5}})
        return self._list("channel", items, per_page=5)

    @route("/youtube/v3/playlistItems")
    def list_playlist_items(self, req: Request) -> Response:
        parts = set(req.query["part"].split(","))
        playlist = req.query.get("playlistId", "")
        channel = self.channels.get("UC" + playlist[2:]) if playlist.startswith("UU") else None
        if channel is None:
            return _error(404, "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.",
                          "playlistNotFound", "youtube.playlistItem", location="playlistId")
        rows = self.visible_videos(channel.id)
        sliced = self._slice(req, rows, 5, 50)
        if isinstance(sliced, Response):
            return sliced
        chunk, following, previous, size = sliced
        items = []
        for pos, v in enumerate(chunk):
            full: dict[str, Any] = {
                "snippet": {"publishedAt": _ts(v.published), "channelId": v.channel_id, "title": v.title,
                            "description": v.description, "thumbnails": self._thumbs(v.id),
                            "channelTitle": channel.title, "playlistId": playlist, "position": rows.index(v),
                            "resourceId": {"kind": "youtube#video", "videoId": v.id},
                            "videoOwnerChannelTitle": channel.title, "videoOwnerChannelId": channel.id},
                "contentDetails": {"videoId": v.id, "videoPublishedAt": _ts(v.published)},
                "status": {"privacyStatus": v.privacy},
            }
            item_id = base64.urlsafe_b64encode(f"{playlist}.{v.id}.{pos}".encode()).decode().rstrip("=")
            item = {"kind": "youtube#playlistItem", "etag": _etag([v.id, v.title]), "id": item_id}
            item.update({k: val for k, val in full.items() if k in parts})
            items.append(item)
        return self._list("playlistItem", items, total=len(rows), per_page=size, next_token=following,
                          prev_token=previous)

    def _thumbs(self, video_id: str) -> dict[str, Any]:
        names = {"default": "default", "medium": "mqdefault", "high": "hqdefault", "standard": "sddefault",
                 "maxres": "maxresdefault"}
        return {size: {"url": f"{self.base_url}/cdn/vi/{video_id}/{names[size]}.jpg", "width": w, "height": h}
                for size, w, h in THUMB_SIZES}

    @route("/youtube/v3/videos")
    def list_videos(self, req: Request) -> Response:
        parts = set(req.query["part"].split(","))
        ids = [i for i in req.query.get("id", "").split(",") if i]
        if len(ids) > 50:
            return _error(400, "The request specifies an invalid filter parameter.", "invalidFilters", "youtube.parameter")
        items = []
        for video_id in ids:
            v = self.videos.get(video_id)
            if v is None or v.deleted or v.privacy != "public":
                continue  # deleted and private videos simply do not come back
            channel = self.channels[v.channel_id]
            stats: dict[str, Any] = {"viewCount": str(100 + self.views), "likeCount": str(self.views % 13),
                                     "favoriteCount": "0"}
            if not v.comments_disabled:
                stats["commentCount"] = str(sum(1 for c in self.comments.values() if c.video_id == v.id and not c.deleted))
            full: dict[str, Any] = {
                "snippet": {"publishedAt": _ts(v.published), "channelId": v.channel_id, "title": v.title,
                            "description": v.description, "thumbnails": self._thumbs(v.id),
                            "channelTitle": channel.title, "tags": list(v.tags), "categoryId": "27",
                            "liveBroadcastContent": "none", "defaultLanguage": "en",
                            "localized": {"title": v.title, "description": v.description},
                            "defaultAudioLanguage": "en"},
                "contentDetails": {"duration": "PT2M10S", "dimension": "2d", "definition": "hd", "caption": "false",
                                   "licensedContent": False, "contentRating": {}, "projection": "rectangular"},
                "status": {"uploadStatus": "processed", "privacyStatus": v.privacy, "license": "youtube",
                           "embeddable": True, "publicStatsViewable": True, "madeForKids": False},
                "statistics": stats,
            }
            item = {"kind": "youtube#video", "etag": _etag([v.id, v.title, v.description]), "id": v.id}
            item.update({k: val for k, val in full.items() if k in parts})
            items.append(item)
        return self._list("video", items)

    def _comment_json(self, c: YtComment, plain: bool) -> dict[str, Any]:
        channel = self.videos[c.video_id].channel_id
        snippet: dict[str, Any] = {
            "channelId": channel, "videoId": c.video_id,
            "textDisplay": c.text if plain else c.text.replace("&", "&amp;").replace("<", "&lt;"),
            "textOriginal": c.text,
            "authorDisplayName": c.author[0],
            "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/{c.author[1]}=s48-c-k-c0x00ffffff-no-rj",
            "authorChannelUrl": f"http://www.youtube.com/{c.author[0]}",
            "authorChannelId": {"value": c.author[1]},
            "canRate": True, "viewerRating": "none", "likeCount": self.views % 7,
            "publishedAt": _ts(c.published), "updatedAt": _ts(c.updated),
        }
        if c.parent:
            snippet["parentId"] = c.parent
        return {"kind": "youtube#comment", "etag": _etag([c.id, c.text]), "id": c.id, "snippet": snippet}

    @route("/youtube/v3/commentThreads")
    def list_comment_threads(self, req: Request) -> Response:
        parts = set(req.query["part"].split(","))
        if "allThreadsRelatedToChannelId" in req.query:
            channel = self.channels.get(req.query["allThreadsRelatedToChannelId"])
            if channel is None:
                return _error(404, "The channel identified by the <code>allThreadsRelatedToChannelId</code> "
                              "parameter could not be found.", "channelNotFound", "youtube.commentThread",
                              location="allThreadsRelatedToChannelId")
            return self._threads_page(req, parts, channel.id, self.channel_threads(channel.id))
        video = self.videos.get(req.query.get("videoId", ""))
        if video is None or video.deleted:
            return _error(404, "The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId</a></code> parameter could not be found.",
                          "videoNotFound", "youtube.commentThread", location="videoId")
        if video.comments_disabled:
            return _error(403, "The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId</a></code> parameter has disabled comments.",
                          "commentsDisabled", "youtube.commentThread", location="videoId")
        return self._threads_page(req, parts, video.channel_id, self.threads_of(video.id))

    def _threads_page(self, req: Request, parts: set[str], channel_id: str, rows: list[YtComment]) -> Response:
        sliced = self._slice(req, rows, 20, 100, _unwrap(req.query.get("pageToken", "")))
        if isinstance(sliced, Response):
            return sliced
        chunk, following, _previous, size = sliced
        plain = req.query.get("textFormat") == "plainText"
        items = []
        for top in chunk:
            replies = self.replies_of(top.id)
            item: dict[str, Any] = {"kind": "youtube#commentThread", "etag": _etag([top.id, len(replies)]), "id": top.id}
            if "snippet" in parts:
                item["snippet"] = {"channelId": channel_id, "videoId": top.video_id,
                                   "topLevelComment": self._comment_json(top, plain), "canReply": True,
                                   "totalReplyCount": len(replies), "isPublic": True}
            if "replies" in parts and replies:
                item["replies"] = {"comments": [self._comment_json(r, plain) for r in replies[:EMBEDDED_REPLIES]]}
            items.append(item)
        return self._list("commentThread", items, per_page=size, next_token=_wrap(following))

    @route("/youtube/v3/comments")
    def list_comments(self, req: Request) -> Response:
        plain = req.query.get("textFormat") == "plainText"
        if req.query.get("id"):
            found = [self.comments.get(i) for i in req.query["id"].split(",")]
            items = [self._comment_json(c, plain) for c in found if c is not None and not c.deleted]
            return Response.json({"kind": "youtube#commentListResponse", "etag": _etag(items),
                                  "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                                  "items": items})
        parent = self.comments.get(req.query.get("parentId", ""))
        if parent is None or parent.deleted:
            return _error(404, "The comment identified by the <code>parentId</code> parameter could not be found.",
                          "commentNotFound", "youtube.comment", location="parentId")
        sliced = self._slice(req, self.replies_of(parent.id), 20, 100, _unwrap(req.query.get("pageToken", "")))
        if isinstance(sliced, Response):
            return sliced
        chunk, following, _previous, size = sliced
        out: dict[str, Any] = {"kind": "youtube#commentListResponse", "etag": _etag([c.id for c in chunk])}
        if following:
            out["nextPageToken"] = _wrap(following)
        out["pageInfo"] = {"resultsPerPage": size}
        out["items"] = [self._comment_json(c, plain) for c in chunk]
        return Response.json(out)


def _wrap(token: str) -> str:
    """Comment listings use long opaque tokens (base64 of an inner cursor), not short ones."""
    return base64.urlsafe_b64encode(b"ADSJ_i" + token.encode()).decode() if token else ""


def _unwrap(token: str) -> str:
    if not token:
        return ""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return "!"
    return raw[6:].decode(errors="replace") if raw.startswith(b"ADSJ_i") else "!"


def _error(code: int, message: str, reason: str, domain: str, *, location: str = "",
           status: str = "") -> Response:
    entry: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
    if location:
        entry.update({"location": location, "locationType": "parameter"})
    error: dict[str, Any] = {"code": code, "message": message, "errors": [entry]}
    if status:
        error["status"] = status
    return Response.json({"error": error}, code)


# --- the contract-suite adapter ---------------------------------------------------------------

PARENT = ("@ParentVolunteer", "UCparentVolunteer00000001")
MEMBER = ("@CommunityMember", "UCcommunityMember0000002")


class YouTubeContract(ContractAdapter):
    """The contract-suite adapter over YouTubeSandbox."""

    platform = "youtube"
    token = "AIzaSyContract-Key_0123456789abcdefXYZ"  # an API key, sent as key=
    sandbox: YouTubeSandbox

    def __init__(self) -> None:
        super().__init__(YouTubeSandbox(keys={self.token}))
        self.marks: dict[str, str] = {}

    def seed_account(self) -> SeededAccount:
        """55 videos over eight weeks (one with comments turned off); the three newest, inside
        the last week, have comment threads with replies, one thread with more replies than a
        thread embeds."""
        sb = self.sandbox
        channel = sb.add_channel("@LincolnHS", "Lincoln High School", username="LincolnHighSchool")
        start = sb.now() - timedelta(days=57)
        videos = [sb.upload(channel, f"Lincoln High video #{n + 1}: assemblies, games and concerts",
                            at=start + timedelta(days=n, hours=n % 7), comments_disabled=n == 10)
                  for n in range(55)]
        own = ("@LincolnHS", channel)
        for i, video in enumerate(videos[-3:]):
            when = sb.videos[video].published
            first = sb.comment(video, f"Great performance! ({i})", author=PARENT, at=when + timedelta(hours=1))
            sb.comment(video, "When is the next game?", author=MEMBER, at=when + timedelta(hours=2))
            sb.comment(video, "Thank you - see the calendar.", author=own, parent=first, at=when + timedelta(hours=3))
            self.marks[f"recent{i}"], self.marks[f"recent{i}_first"] = video, first
        busy = sb.comment(videos[-1], "Who else was at the concert?", author=MEMBER,
                          at=sb.videos[videos[-1]].published + timedelta(hours=4))
        for n in range(EMBEDDED_REPLIES + 2):
            sb.comment(videos[-1], f"Me too! ({n})", author=PARENT, parent=busy,
                       at=sb.videos[videos[-1]].published + timedelta(hours=5, minutes=n))
        self.marks["busy_thread"] = busy
        self.marks["disabled"] = videos[10]
        self.channel_id = channel
        return SeededAccount("@lincolnhs", "https://www.youtube.com/@LincolnHS", self.token, "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        """Videos with two comments each: a third of the items are videos."""
        sb = self.sandbox
        channel = sb.add_channel("@BulkElementary", "Bulk Elementary")
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: sb.upload(channel, text, at=at),
                  lambda video, text, at: sb.comment(video, text, at=at))
        return SeededAccount("@bulkelementary", "@BulkElementary", self.token, "Bulk Elementary")

    def _channel(self, account_id: str) -> str:
        sb = self.sandbox
        if account_id in sb.channels:
            return account_id
        handle = account_id.lstrip("@").lower()
        return next(c.id for c in sb.channels.values() if c.handle.lower() == handle)

    def live_item_ids(self, account_id: str) -> set[str]:
        sb = self.sandbox
        videos = {v.id for v in sb.visible_videos(self._channel(account_id))}
        comments = {c.id for c in sb.comments.values()
                    if c.video_id in videos and not c.deleted and not sb.videos[c.video_id].comments_disabled}
        return videos | comments

    def publish(self, account_id: str) -> str:
        return self.sandbox.upload(self._channel(account_id), "A new video from the contract suite")

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        when = sb.now() - timedelta(days=days)
        video = sb.upload(self._channel(account_id), f"A video from {days:g} days ago", at=when)
        sb.comment(video, "An old question.", author=MEMBER, at=when + timedelta(hours=1))
        return video

    def comment_on(self, item_id: str) -> str:
        return self.sandbox.comment(item_id, "A new comment on an old video.", author=("@LateReader", "UClateReader000000000001"))

    def edit(self, item_id: str) -> None:
        if item_id in self.sandbox.videos:
            self.sandbox.edit_video(item_id, f"Edited title #{self.next_edit()}")
        else:
            self.sandbox.edit_comment(item_id, f"Edited comment #{self.next_edit()}")

    def delete(self, item_id: str) -> None:
        if item_id in self.sandbox.videos:
            self.sandbox.delete_video(item_id)
        else:
            self.sandbox.delete_comment(item_id)
