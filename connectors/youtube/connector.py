"""YouTube channels through the YouTube Data API v3: videos, comments, replies, deletions.

Each cycle walks the channel's uploads playlist to its end (1 quota unit per 50 videos), reads
every video's details in batches of 50 (1 unit each), then reads comment threads for the
videos that may have changed: new videos, videos whose commentCount moved, videos published in
the last week, and every video once a day. Replies beyond the few a thread embeds come from
comments.list?parentId=. Auth is an API key (`key=`): public data only.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from archiver.core.errors import AccountGone, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checkpoint,
    CheckResult,
    Covered,
    Gone,
    HarvestEvent,
    Item,
    ItemKind,
    ParseWarning,
    Present,
)
from archiver.core.settings import ConnectorSettings
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase, PlatformSettings, shape_guard
from connectors.paging import Listing, Page, PageRequest, Token
from connectors.shapes import as_dict
from connectors.youtube import errors
from connectors.youtube.handles import CHANNEL_ID, normalize
from connectors.youtube.parse import parse_response, parse_time

VIDEO_PARTS = "snippet,contentDetails,status,statistics"
THREAD_PARTS = "snippet,replies"
HOT = timedelta(days=7)  # comments on new videos change most; rescan them every cycle
_VIDEO_ID_LEN = 11
_NEXT_PAGE = Token(("nextPageToken",), "pageToken")


@dataclass
class YouTubeCursor:
    """Resolved ids, and per video the commentCount and time of its last full comment scan."""

    channel_id: str = ""
    uploads: str = ""
    videos: dict[str, list[Any]] = field(default_factory=dict)  # id -> [count | None, ISO]

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> YouTubeCursor:
        raw = raw if isinstance(raw, dict) else {}
        videos = as_dict(raw.get("videos"))
        return cls(
            channel_id=str(raw.get("channel_id") or ""),
            uploads=str(raw.get("uploads") or ""),
            videos={str(k): v for k, v in videos.items() if isinstance(v, list) and len(v) == 2},
        )

    def dump(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "uploads": self.uploads,
                "videos": dict(sorted(self.videos.items()))}


@dataclass
class _VideoFacts:
    comment_count: int | None
    published: datetime | None


class YouTubeSettings(PlatformSettings):
    """`[connectors.youtube]`: how often every video's comments are read again in full."""

    rescan_every_hours: float = Field(24.0, gt=0, description="Hours between full comment rescans")


class YouTubeConnector(ConnectorBase):
    platform: ClassVar[str] = "youtube"
    label: ClassVar[str] = "YouTube"
    auth_style: ClassVar[AuthStyle] = AuthStyle.QUERY_KEY
    default_api_base: ClassVar[str] = "https://www.googleapis.com"
    default_version: ClassVar[str] = "v3"
    settings_model: ClassVar[type[PlatformSettings]] = YouTubeSettings

    def __init__(
        self, settings: ConnectorSettings | None = None, *, rescan_every: timedelta | None = None
    ) -> None:
        super().__init__(settings)
        hours = timedelta(hours=self.settings.rescan_every_hours)
        self.rescan_every = hours if rescan_every is None else rescan_every

    # --- helpers ---------------------------------------------------------------------------

    def _base(self, account: AccountRef) -> str:
        return f"{self.api_root(account)}/youtube/{self.version}"

    def _checked(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> dict[str, Any]:
        return errors.raise_for_error(
            exchange, account=account.account_id, subject=subject, floor=self.min_wait()
        )

    def normalize_account_id(self, raw: str) -> str:
        """Accept a UC… channel id, @handle, youtube.com/@handle, /channel/UC… or /user/… URLs."""
        return normalize(raw)

    def _channel(
        self, account: AccountRef, state: YouTubeCursor, http: HttpClient
    ) -> tuple[CapturedExchange, dict[str, Any]]:
        """The channel resource, by id once known: a changed handle keeps working."""
        acct = account.account_id
        params = {"part": "snippet,contentDetails,statistics"}
        if state.channel_id or CHANNEL_ID.fullmatch(acct):
            params["id"] = state.channel_id or acct
        elif acct.startswith("user:"):
            params["forUsername"] = acct[5:]
        else:
            params["forHandle"] = acct
        exchange = http.get(f"{self._base(account)}/channels", params=params)
        body = self._checked(exchange, account, acct)
        items = body.get("items", [])
        if not isinstance(items, list) or (items and not isinstance(items[0], dict)):
            raise UnexpectedResponse(
                f"YouTube answered the channel lookup for {acct} in an unknown shape (items is "
                f"{type(items).__name__}); the response is kept in the WARC",
                platform=self.platform,
                account=acct,
                evidence=exchange.response_pointer,
            )
        if not items:
            raise AccountGone(
                f"YouTube has no channel {acct} (deleted, terminated, or the handle changed); "
                "re-register it with its UC… channel id",
                platform=self.platform,
                account=acct,
                evidence=exchange.response_pointer,
            )
        return exchange, items[0]

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        with shape_guard(self.platform, account.account_id):
            _exchange, channel = self._channel(account, YouTubeCursor(), http)
        snippet = as_dict(channel.get("snippet"))
        return CheckResult(True, "API key works", display_name=str(snippet.get("title", "")),
                           details={"channel_id": str(channel.get("id", ""))})

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient
    ) -> Iterator[HarvestEvent]:
        with shape_guard(self.platform, account.account_id):
            yield from self._harvest(account, cursor, http)

    def _harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient
    ) -> Iterator[HarvestEvent]:
        state = YouTubeCursor.load(cursor)
        exchange, channel = self._channel(account, state, http)
        now = exchange.captured_at
        state.channel_id = str(channel.get("id", state.channel_id))
        related = _dict(_dict(channel.get("contentDetails")).get("relatedPlaylists"))
        state.uploads = str(related.get("uploads") or "UU" + state.channel_id[2:])
        video_ids = self._uploads(account, state.uploads, http)
        facts: dict[str, _VideoFacts] = {}
        base = self._base(account)
        videos = self.listing(account, "the videos")
        for start in range(0, len(video_ids), 50):
            batch = video_ids[start:start + 50]
            exchange = http.get(f"{base}/videos", params={"part": VIDEO_PARTS, "id": ",".join(batch)})
            body = self._checked(exchange, account, account.account_id)
            yield from videos.observe(exchange)
            facts.update(_video_facts(body))
        yield from videos.covered(None, ItemKind.POST)
        scanned: dict[str, list[Any]] = {}
        for video_id in video_ids:
            fact = facts.get(video_id)
            if fact is None:
                continue  # listed but not returned: gone between the two calls
            previous = state.videos.get(video_id)
            if previous is not None and not self._due(previous, fact, now):
                scanned[video_id] = previous
                continue
            disabled = yield from self._comments(account, video_id, http)
            scanned[video_id] = [None if disabled else fact.comment_count, now.isoformat()]
        state.videos = scanned
        yield Checkpoint(state.dump())

    def _uploads(self, account: AccountRef, playlist: str, http: HttpClient) -> list[str]:
        """Every video id in the uploads playlist, newest first (private/deleted ones drop out).

        A channel that never uploaded has no uploads playlist: playlistNotFound means "none".
        """
        ids: dict[str, None] = {}  # ordered and de-duplicated

        def fetch(request: PageRequest) -> Page | None:
            exchange = http.get(request.url, params=request.params)
            if not ids and "playlistNotFound" in errors.reasons(errors.error_of(exchange)):
                return None
            body = self._checked(exchange, account, account.account_id)
            return Page(exchange, body, _list(body.get("items")))

        limit = str(min(max(self.settings.page_limit, 1), 50))
        first = PageRequest(f"{self._base(account)}/playlistItems",
                            {"part": "contentDetails", "playlistId": playlist, "maxResults": limit})
        for page in self.listing(account, "the uploads").pages(fetch, first, _NEXT_PAGE):
            for entry in page.rows:
                details = entry.get("contentDetails") if isinstance(entry, dict) else None
                video_id = details.get("videoId") if isinstance(details, dict) else None
                if isinstance(video_id, str):
                    ids.setdefault(video_id)
        return list(ids)

    def _due(self, previous: list[Any], fact: _VideoFacts, now: datetime) -> bool:
        count, when = previous
        try:
            last = datetime.fromisoformat(str(when))
            stale = now - last >= self.rescan_every
        except (TypeError, ValueError):
            return True
        hot = fact.published is not None and now - fact.published < HOT
        return stale or hot or count != fact.comment_count

    def _comments(
        self, account: AccountRef, video_id: str, http: HttpClient
    ) -> Generator[HarvestEvent, None, bool]:
        """All threads of one video, and all replies of each; returns True if comments are off."""
        stopped: set[str] = set()

        def fetch(request: PageRequest) -> Page | None:
            exchange = http.get(request.url, params=request.params)
            found = errors.reasons(errors.error_of(exchange)) & {"commentsDisabled", "videoNotFound"}
            if found:
                # comments off: nothing to keep; video gone since listed: the next cycle confirms it
                stopped.update(found)
                return None
            body = self._checked(exchange, account, video_id)
            return Page(exchange, body, [])

        limit = str(min(max(self.settings.page_limit, 1), 100))
        first = PageRequest(f"{self._base(account)}/commentThreads", {
            "part": THREAD_PARTS, "videoId": video_id, "maxResults": limit, "order": "time",
            "textFormat": "plainText"})
        threads = self.listing(account, f"the comments of video {video_id}")
        for page in threads.pages(fetch, first, _NEXT_PAGE):
            yield from threads.observe(page.exchange)
            for top_id, total, embedded in _threads(page.body):
                if total > embedded:
                    replies = yield from self._replies(account, top_id, http)
                    if not threads.quarantined:
                        yield from replies.covered(top_id, ItemKind.REPLY)
                elif not threads.quarantined:  # every reply came embedded in the thread
                    yield Covered(top_id, (ItemKind.REPLY,))
        yield from threads.covered(video_id, ItemKind.COMMENT, ItemKind.REPLY)
        return "commentsDisabled" in stopped

    def _replies(
        self, account: AccountRef, top_id: str, http: HttpClient
    ) -> Generator[HarvestEvent, None, Listing]:
        """Every reply of one thread; the listing is not whole when the thread vanished."""

        def fetch(request: PageRequest) -> Page | None:
            exchange = http.get(request.url, params=request.params)
            if "commentNotFound" in errors.reasons(errors.error_of(exchange)):
                return None
            return Page(exchange, self._checked(exchange, account, top_id), [])

        limit = str(min(max(self.settings.page_limit, 1), 100))
        first = PageRequest(f"{self._base(account)}/comments", {
            "part": "snippet", "parentId": top_id, "maxResults": limit, "textFormat": "plainText"})
        replies = self.listing(account, f"the replies to comment {top_id}")
        for page in replies.pages(fetch, first, _NEXT_PAGE):
            yield from replies.observe(page.exchange)
        return replies

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        with shape_guard(self.platform, account.account_id):
            return self._confirm_gone(account, item_id, http)

    def _confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        base = self._base(account)
        if len(item_id) != _VIDEO_ID_LEN:
            exchange = http.get(f"{base}/comments", params={"part": "snippet", "id": item_id,
                                                            "textFormat": "plainText"})
            body = self._checked(exchange, account, item_id)
            if _has_items(body):
                return Present((), exchange.response_pointer)
            return Gone("deleted", exchange.response_pointer, exchange.status,
                        "comments.list returned no comment for this id")
        exchange = http.get(f"{base}/videos", params={"part": VIDEO_PARTS, "id": item_id})
        body = self._checked(exchange, account, item_id)
        if _has_items(body):
            return Present((), exchange.response_pointer)
        # videos.list is silent on why; commentThreads names a deleted video outright.
        probe = http.get(f"{base}/commentThreads", params={
            "part": THREAD_PARTS, "videoId": item_id, "maxResults": "1", "order": "time",
            "textFormat": "plainText"})
        found = errors.reasons(errors.error_of(probe))
        if "videoNotFound" in found:
            return Gone("deleted", probe.response_pointer, probe.status,
                        "videos.list returned no video and commentThreads.list answered videoNotFound")
        if probe.status >= 400 and not found & {"commentsDisabled", "forbidden"}:
            self._checked(probe, account, item_id)  # quota, key: raise what it says
        return Gone("unavailable", exchange.response_pointer, exchange.status,
                    "videos.list no longer returns the video: made private or removed")

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        """Pure: videos from videos.list, comments from commentThreads and comments.list."""
        yield from parse_response(account, exchange)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _has_items(body: dict[str, Any]) -> bool:
    items = body.get("items")
    return isinstance(items, list) and len(items) > 0


def _video_facts(body: dict[str, Any]) -> dict[str, _VideoFacts]:
    out: dict[str, _VideoFacts] = {}
    for entry in _list(body.get("items")):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        stats = as_dict(entry.get("statistics"))
        raw = stats.get("commentCount")
        count = int(raw) if isinstance(raw, str) and raw.isdigit() else None
        snippet = as_dict(entry.get("snippet"))
        try:
            published = parse_time(snippet.get("publishedAt"))
        except (TypeError, ValueError):
            published = None
        out[entry["id"]] = _VideoFacts(count, published)
    return out


def _threads(body: dict[str, Any]) -> Iterator[tuple[str, int, int]]:
    """(top-level comment id, totalReplyCount, replies embedded) per thread on a page."""
    for entry in _list(body.get("items")):
        if not isinstance(entry, dict):
            continue
        snippet = as_dict(entry.get("snippet"))
        top = as_dict(snippet.get("topLevelComment"))
        top_id = top.get("id") or entry.get("id")
        total = snippet.get("totalReplyCount", 0)
        replies = (entry.get("replies") or {}).get("comments") if isinstance(entry.get("replies"), dict) else []
        if isinstance(top_id, str):
            yield top_id, total if isinstance(total, int) else 0, len(replies) if isinstance(replies, list) else 0
