"""TikTok accounts through the Display API v2: the token owner's own public videos.

Each cycle checks who the token belongs to (user/info), then pages POST /v2/video/list/ with
`cursor` + `has_more`, newest first. A full capture (the first, or `--reconcile`) reads it to
the end; an incremental one stops after the first page that holds only known videos, and asks
POST /v2/video/query/ (20 ids a call) for the videos this cycle's reconciliation sweep covers,
which is where edits and deletions of older videos are found. Deletions (and videos made
private) are confirmed with video/query, which leaves ids it will not show out of
`data.videos`. Comments are not captured: the Display API has no comments endpoint and the
Research API that has one is granted to approved researchers, not to districts archiving
their own accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

from archiver.core.errors import NeedsAttention, UnexpectedResponse
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
from archiver.core.plan import FULL, HarvestPlan
from connectors.auth import Auth
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase, PlatformSettings
from connectors.paging import Page, PageRequest, Token, items_of
from connectors.tiktok import errors
from connectors.tiktok.ids import normalize_account_id
from connectors.tiktok.parse import parse_response, video_id, videos_of
from connectors.tiktok.session import TikTokRefresh

USER_FIELDS = "open_id,union_id,avatar_url,display_name,username"
VIDEO_FIELDS = (
    "id,create_time,cover_image_url,share_url,video_description,duration,height,width,title,"
    "embed_link,like_count,comment_count,share_count,view_count"
)
MAX_COUNT = 20  # video/list and video/query take at most 20


class TikTokSettings(PlatformSettings):
    """`[connectors.tiktok]`: paging of the Display API's video list (at most 20 a page)."""


class TikTokConnector(ConnectorBase):
    platform: ClassVar[str] = "tiktok"
    label: ClassVar[str] = "TikTok"
    auth_style: ClassVar[AuthStyle] = AuthStyle.BEARER
    default_api_base: ClassVar[str] = "https://open.tiktokapis.com"
    default_version: ClassVar[str] = "v2"
    settings_model: ClassVar[type[PlatformSettings]] = TikTokSettings
    incremental: ClassVar[bool] = True

    def auth(self, secret: str | None) -> Auth:
        """A JSON secret with a refresh token renews the 24-hour access token itself; any other
        secret is an access token used as it is."""
        if secret and secret.lstrip().startswith("{"):
            return TikTokRefresh.from_secret(secret)
        return super().auth(secret)

    def normalize_account_id(self, raw: str) -> str:
        """Accept @handle, a handle or a tiktok.com/@handle URL."""
        return normalize_account_id(raw)

    # --- helpers ---------------------------------------------------------------------------

    def _checked(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> dict[str, Any]:
        errors.raise_for_error(
            exchange,
            account=account.account_id,
            now=exchange.captured_at,
            min_wait=timedelta(seconds=self.settings.min_retry_seconds),
            subject=subject,
        )
        return self.decode_json(exchange, account, subject)

    def _identity(self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient) -> dict[str, str]:
        """Whose token this is; a token of another account must never feed this one's archive."""
        exchange = http.get(f"{self._base(account)}/user/info/", params={"fields": USER_FIELDS})
        data = self._checked(exchange, account, "user/info")
        user = (data.get("data") or {}).get("user") if isinstance(data.get("data"), dict) else None
        if not isinstance(user, dict) or not isinstance(user.get("open_id"), str):
            raise UnexpectedResponse(
                "TikTok user/info did not name the token's user; the response is kept in the WARC",
                platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
            )
        username = str(user.get("username") or "").lower()
        known = str((cursor or {}).get("open_id") or "")
        if (username and username != account.account_id) or (known and known != user["open_id"]):
            raise NeedsAttention(
                f"The TikTok token registered for @{account.account_id} belongs to "
                f"{'@' + username if username else 'another account'}; update the account's token file "
                "with a token from the right account",
                platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
            )
        return {"open_id": user["open_id"], "display_name": str(user.get("display_name") or "")}

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        who = self._identity(account, None, http)
        return CheckResult(True, "token works", display_name=who["display_name"], details={"open_id": who["open_id"]})

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        who = self._identity(account, cursor, http)
        state = {"open_id": who["open_id"]}
        yield Checkpoint(state)

        def fetch(request: PageRequest) -> Page:
            exchange = http.post_json(request.url, json=request.json, params=request.params)
            data = self._checked(exchange, account, account.account_id)
            videos = videos_of(data)
            if videos is None:
                raise UnexpectedResponse(
                    f"TikTok video/list for @{account.account_id} has no data.videos array; it is kept "
                    "in the WARC and nothing in it is judged deleted",
                    platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
                )
            inner = data["data"]
            cursor = inner.get("cursor")
            more = inner.get("has_more") is True
            if more and (not isinstance(cursor, int) or isinstance(cursor, bool) or cursor == (request.json or {}).get("cursor")):
                raise UnexpectedResponse(
                    f"TikTok video/list for @{account.account_id} says has_more without a new cursor; "
                    "the listing is incomplete and nothing in it is judged deleted",
                    platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
                )
            return Page(exchange, {"cursor": cursor if more else None}, videos)

        listing = self.listing(account, "the videos")
        first = PageRequest(f"{self._base(account)}/video/list/", {"fields": VIDEO_FIELDS},
                            {"max_count": min(self.settings.page_limit, MAX_COUNT)})
        seen: dict[str, Item] = {}
        stopped = False
        for page in listing.pages(fetch, first, Token(("cursor",), "cursor", in_json=True)):
            shown = []
            for event in listing.observe(page.exchange):
                if isinstance(event, Observed):
                    shown.append(event.item)
                    seen[event.item.item_id] = event.item
                yield event
            if plan.page_is_old(shown):
                stopped = True  # newest first: every later page holds only older, known videos
                break
        if not stopped:
            yield from listing.covered(None, ItemKind.POST)
        elif not listing.quarantined:
            # Stopped early: the pages read cover only the videos newer than the oldest shown.
            oldest = min((i.created_at for i in seen.values() if i.created_at), default=None)
            if oldest is not None:
                yield Covered(None, (ItemKind.POST,), created_after=oldest)
        yield from self._sweep(account, [k.item_id for k in plan.swept() if k.item_id not in seen], http)
        yield Checkpoint(state)

    def _sweep(self, account: AccountRef, video_ids: list[str], http: HttpClient) -> Iterator[HarvestEvent]:
        """The videos this cycle's reconciliation covers, 20 per video/query: edits show as
        changed content, and an id the answer leaves out goes to confirm_gone (Checked)."""
        for start in range(0, len(video_ids), MAX_COUNT):
            batch = video_ids[start:start + MAX_COUNT]
            exchange = self._query(account, batch, http)
            listing = self.listing(account, "the swept videos")
            yield from listing.observe(exchange)
            if not listing.quarantined:
                yield Checked(tuple(batch))

    def _query(self, account: AccountRef, video_ids: list[str], http: HttpClient) -> CapturedExchange:
        exchange = http.post_json(
            f"{self._base(account)}/video/query/",
            json={"filters": {"video_ids": video_ids}},
            params={"fields": VIDEO_FIELDS},
        )
        data = self._checked(exchange, account, ",".join(video_ids))
        if videos_of(data) is None:
            raise UnexpectedResponse(
                f"TikTok video/query for {len(video_ids)} video(s) has no data.videos array; it is kept in the WARC",
                platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
            )
        return exchange

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        """video/query answers 200 and simply leaves out a deleted or privated video."""
        exchange = self._query(account, [item_id], http)
        videos = videos_of(self.decode_json(exchange, account, item_id)) or []
        if any(video_id(v) == item_id for v in videos):
            return Present(items_of(self, account, exchange), exchange.response_pointer)
        return Gone(
            reason="deleted",
            evidence=exchange.response_pointer,
            status=exchange.status,
            detail="video/query no longer returns this video: deleted or made private by the account",
        )

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        return parse_response(account.account_id, exchange)
