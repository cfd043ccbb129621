"""YouTube channels through the YouTube Data API v3: videos, comments, replies, deletions.

A full capture (the first, or `--reconcile`) walks the uploads playlist to its end (1 quota
unit per 50 videos), reads every video's details in batches of 50 (1 unit each) and every
video's comment threads. Any other cycle spends a handful of units: the uploads playlist
newest-first until a page holds only known videos, the channel-wide comment threads
(`allThreadsRelatedToChannelId`, newest first) until a page holds only known threads, and
`videos.list` for the new videos, the videos the reconciliation sweep asks about and any known
video missing from the pages read (50 ids a unit, `Checked`: a video not returned is looked
into). Comments are re-listed for a video that is new, swept, or whose `commentCount` moved.
Replies beyond the few a thread embeds come from comments.list?parentId=. Auth is an API key
(`key=`): public data only.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from archiver.core.errors import AccountGone, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checked,
    Checkpoint,
    CheckResult,
    Covered,
    Gone,
    HarvestEvent,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
    Present,
)
from archiver.core.plan import FULL, HarvestPlan, KnownItem
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
VIDEOS_PER_LOOKUP = 50  # videos.list takes at most 50 ids, for 1 unit
_VIDEO_ID_LEN = 11
_NEXT_PAGE = Token(("nextPageToken",), "pageToken")


@dataclass
class YouTubeCursor:
    """The resolved channel id and uploads playlist (what changed lives in the catalog's
    signals now, so a cursor of an older version with per-video counts is simply read past)."""

    channel_id: str = ""
    uploads: str = ""

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> YouTubeCursor:
        raw = raw if isinstance(raw, dict) else {}
        return cls(channel_id=str(raw.get("channel_id") or ""), uploads=str(raw.get("uploads") or ""))

    def dump(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "uploads": self.uploads}


@dataclass(frozen=True)
class _Upload:
    video_id: str
    published: datetime | None


class YouTubeSettings(PlatformSettings):
    """`[connectors.youtube]`."""

    rescan_every_hours: float = Field(
        24.0, gt=0,
        description="Superseded by the reconciliation windows (recent/warm/cold); kept so older "
        "configuration files still load",
    )


class YouTubeConnector(ConnectorBase):
    platform: ClassVar[str] = "youtube"
    label: ClassVar[str] = "YouTube"
    auth_style: ClassVar[AuthStyle] = AuthStyle.QUERY_KEY
    default_api_base: ClassVar[str] = "https://www.googleapis.com"
    default_version: ClassVar[str] = "v3"
    settings_model: ClassVar[type[PlatformSettings]] = YouTubeSettings
    incremental: ClassVar[bool] = True

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
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        with shape_guard(self.platform, account.account_id):
            yield from self._harvest(account, cursor, http, plan)

    def _harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient, plan: HarvestPlan
    ) -> Iterator[HarvestEvent]:
        state = YouTubeCursor.load(cursor)
        _exchange, channel = self._channel(account, state, http)
        state.channel_id = str(channel.get("id", state.channel_id))
        related = _dict(_dict(channel.get("contentDetails")).get("relatedPlaylists"))
        state.uploads = str(related.get("uploads") or "UU" + state.channel_id[2:])
        uploads, whole = self._uploads(account, state.uploads, http, plan)
        if plan.full:
            wanted = [u.video_id for u in uploads]
        else:
            wanted = self._to_look_up(uploads, whole, plan)
        base = self._base(account)
        found: dict[str, Item] = {}
        videos = self.listing(account, "the videos")
        for start in range(0, len(wanted), VIDEOS_PER_LOOKUP):
            batch = wanted[start:start + VIDEOS_PER_LOOKUP]
            exchange = http.get(f"{base}/videos", params={"part": VIDEO_PARTS, "id": ",".join(batch)})
            self._checked(exchange, account, account.account_id)
            for event in videos.observe(exchange):
                if isinstance(event, Observed) and event.item.kind == ItemKind.POST:
                    found[event.item.item_id] = event.item
                yield event
        if plan.full:
            yield from videos.covered(None, ItemKind.POST)
        else:
            # A batch lookup answers whole: a known video it leaves out is looked into.
            yield Checked(tuple(v for v in wanted if v in plan.known))
            yield from self._channel_threads(account, state.channel_id, http, plan, found)
        for video_id in wanted:
            item = found.get(video_id)
            if item is None:
                continue  # listed but not returned: gone between the two calls
            if plan.wants_children(item):
                yield from self._comments(account, video_id, http)
        yield Checkpoint(state.dump())

    def _to_look_up(self, uploads: list[_Upload], whole: bool, plan: HarvestPlan) -> list[str]:
        """The videos an incremental cycle reads with videos.list: new ones, the sweep's, the
        recent ones, and any known video the pages read should have shown but did not."""
        read = {u.video_id for u in uploads}
        dated = [u.published for u in uploads if u.published is not None]
        bound = None if whole or not dated else min(dated)
        wanted: dict[str, None] = {u.video_id: None for u in uploads if plan.is_new(u.video_id)}
        for known in sorted(plan.known.values(), key=_newest_first):
            if known.kind != ItemKind.POST or known.item_id in read:
                continue
            recent = plan.recent_since is not None and known.created_at is not None \
                and known.created_at >= plan.recent_since
            missing = bound is None or known.created_at is None or known.created_at > bound
            if known.item_id in plan.sweep or recent or missing:
                wanted.setdefault(known.item_id)
        for known in plan.swept(ItemKind.POST):
            wanted.setdefault(known.item_id)
        return list(wanted)

    def _uploads(
        self, account: AccountRef, playlist: str, http: HttpClient, plan: HarvestPlan = FULL
    ) -> tuple[list[_Upload], bool]:
        """The uploads playlist, newest first (private/deleted videos drop out), and whether it
        was read to its end. An incremental walk stops after a page of only known videos older
        than the recent window: the pages after it hold nothing new.

        A channel that never uploaded has no uploads playlist: playlistNotFound means "none".
        """
        ids: dict[str, _Upload] = {}  # ordered and de-duplicated
        empty = False

        def fetch(request: PageRequest) -> Page | None:
            nonlocal empty
            exchange = http.get(request.url, params=request.params)
            if not ids and "playlistNotFound" in errors.reasons(errors.error_of(exchange)):
                empty = True
                return None
            body = self._checked(exchange, account, account.account_id)
            return Page(exchange, body, _list(body.get("items")))

        limit = str(min(max(self.settings.page_limit, 1), 50))
        first = PageRequest(f"{self._base(account)}/playlistItems",
                            {"part": "contentDetails", "playlistId": playlist, "maxResults": limit})
        walk = self.listing(account, "the uploads")
        for page in walk.pages(fetch, first, _NEXT_PAGE):
            on_page: list[str] = []
            for entry in page.rows:
                details = entry.get("contentDetails") if isinstance(entry, dict) else None
                video_id = details.get("videoId") if isinstance(details, dict) else None
                if isinstance(video_id, str):
                    try:
                        published = parse_time(details.get("videoPublishedAt")) if isinstance(details, dict) else None
                    except (TypeError, ValueError):
                        published = None
                    ids.setdefault(video_id, _Upload(video_id, published))
                    on_page.append(video_id)
            if not plan.full and _all_old(on_page, plan):
                return list(ids.values()), False
        return list(ids.values()), walk.ended or empty

    def _channel_threads(
        self, account: AccountRef, channel_id: str, http: HttpClient, plan: HarvestPlan,
        looked_up: dict[str, Item],
    ) -> Iterator[HarvestEvent]:
        """New comment threads on any of the channel's videos, newest first, until a page
        holds only known threads: a new comment on a years-old video arrives in the next cycle
        for 1 unit. Replies to old threads do not move a thread up; the sweep finds those."""
        base = self._base(account)

        def fetch(request: PageRequest) -> Page | None:
            exchange = http.get(request.url, params=request.params)
            return Page(exchange, self._checked(exchange, account, account.account_id), [])

        limit = str(min(max(self.settings.page_limit, 1), 100))
        first = PageRequest(f"{base}/commentThreads", {
            "part": THREAD_PARTS, "allThreadsRelatedToChannelId": channel_id, "maxResults": limit,
            "order": "time", "textFormat": "plainText"})
        threads = self.listing(account, "the channel's comment threads")
        for page in threads.pages(fetch, first, _NEXT_PAGE):
            items: dict[str, Item] = {}
            for event in threads.observe(page.exchange):
                if isinstance(event, Observed):
                    items[event.item.item_id] = event.item
                yield event
            for top_id, total, embedded in _threads(page.body):
                top = items.get(top_id)
                video = top.parent_id if top else None
                if video in looked_up and plan.wants_children(looked_up[video]):
                    continue  # the video's own listing below reads this thread whole
                if total <= embedded:
                    if not threads.quarantined:
                        yield Covered(top_id, (ItemKind.REPLY,))
                elif top is not None and plan.wants_children(top):
                    replies = yield from self._replies(account, top_id, http)
                    if not threads.quarantined:
                        yield from replies.covered(top_id, ItemKind.REPLY)
            if plan.page_is_old(i for i in items.values() if i.kind == ItemKind.COMMENT):
                return

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


def _all_old(video_ids: list[str], plan: HarvestPlan) -> bool:
    """A playlist page of only known videos, none of them recent (as `page_is_old`)."""
    if not video_ids:
        return False
    for video_id in video_ids:
        known = plan.known.get(video_id)
        if known is None or known.created_at is None:
            return False
        if plan.recent_since is not None and known.created_at >= plan.recent_since:
            return False
    return True


def _newest_first(known: KnownItem) -> tuple[float, str]:
    return (-known.created_at.timestamp() if known.created_at else 0.0, known.item_id)


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
