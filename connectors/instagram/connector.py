"""Instagram professional accounts through the Graph API (Instagram API with Facebook Login).

Each cycle lists the account's /media to the end (following `paging.next`, 100 media a page),
with each media's `comments_count`: the listing is cheap and whole, so new media and the
caption edits and deletions of media of any age are found every cycle. A full capture asks
every field; an incremental cycle asks the change signals only (no signed CDN URLs, which
Graph re-signs on every call, so an unchanged listing repeats and is stored as a revisit) and
reads whole, with its files, only a new media, one whose signal moved or one in the sweep.
A media's top-level comments (replies expanded inline; a reply list longer than the inline
page is read to its end through /{comment-id}/replies) are listed only when the plan asks: a
full capture, a new or recent media, a media whose signal moved (`comments_count` counts
replies too), or one in this cycle's reconciliation sweep, which finds hidden comments (hiding
moves no count). Instagram has no edit timestamps, so edits are found by diffing content
(caption, media identity, a comment's `hidden` flag).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import Field

from archiver.core.errors import AccountGone, NeedsAttention
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checked,
    Checkpoint,
    CheckResult,
    Covered,
    HarvestEvent,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
)
from archiver.core.plan import FULL, HarvestPlan
from connectors.base import HttpClient
from connectors.common import PlatformSettings
from connectors.graph import (
    NONEXISTING_FIELD,
    GraphConnector,
    GraphWords,
    Vanished,
    error_of,
    is_not_found,
)
from connectors.instagram.ids import is_numeric_id, normalize_account_id
from connectors.instagram.parse import media_signal, parse_response
from connectors.paging import NextUrl, PageRequest
from connectors.shapes import as_dict

MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,thumbnail_url,permalink,shortcode,"
    "timestamp,username,comments_count,like_count,"
    "children{id,media_type,media_url,thumbnail_url}"
)
# An incremental cycle's listing: the change signals only (parse.media_signal). Without the
# signed CDN URLs Graph re-signs on every call (and the live like_count), an unchanged page
# answers byte for byte the same and is stored as a revisit.
LEAN_MEDIA_FIELDS = "id,caption,media_type,media_product_type,comments_count,children{id,media_type}"
_REPLY_FIELDS = "id,text,timestamp,username,from{id,username},hidden,parent_id,like_count"
COMMENT_FIELDS = (
    "id,text,timestamp,username,from{id,username},hidden,parent_id,like_count,media{id},"
    f"replies{{{_REPLY_FIELDS}}}"
)
REPLY_FIELDS = _REPLY_FIELDS
LINK_FIELDS = "id,name,instagram_business_account{id,username}"
COMMENTS_PAGE_MAX = 50  # "maximum of 50 comments per query"


class InstagramSettings(PlatformSettings):
    """`[connectors.instagram]`: the Graph API version and paging of media and comments."""

    media_page_limit: int = Field(100, ge=1, le=100, description="Media asked per /media page (Graph allows 100)")


class InstagramConnector(GraphConnector):
    platform: ClassVar[str] = "instagram"
    label: ClassVar[str] = "Instagram"
    default_version: ClassVar[str] = "v25.0"
    settings_model: ClassVar[type[PlatformSettings]] = InstagramSettings
    words: ClassVar[GraphWords] = GraphWords(
        label="Instagram",
        owner="account {account}",
        token_fix="create a new long-lived token for the linked Facebook Page and update the "
        "account's token file",
        scopes="instagram_basic, instagram_manage_comments, pages_read_engagement, pages_show_list",
        gone_fix="check the username or id and the Page the account is linked to",
    )
    # 80002: per IG account (Business Use Case); 4/17/32/613: app and user level.
    throttle_codes: ClassVar[frozenset[int]] = frozenset({4, 17, 32, 613, 80002})
    account_codes: ClassVar[frozenset[int]] = frozenset({110})
    probe_fields: ClassVar[str] = "id,timestamp"  # exist on media and comments alike
    incremental: ClassVar[bool] = True

    def normalize_account_id(self, raw: str) -> str:
        """Accept @username, a username, an instagram.com profile URL or the numeric IG user id."""
        return normalize_account_id(raw)

    # --- username -> IG user id --------------------------------------------------------------

    def resolve_user_id(self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient) -> str:
        """The numeric IG user id: given, remembered in the cursor, or looked up.

        Lookup goes through the Facebook Page the token is linked to: a Page token answers
        /me with its `instagram_business_account`; a User token lists its Pages at
        /me/accounts. If the username is not one of those, Business Discovery on a linked
        account maps it to an id (the token must still be allowed to read that account).
        """
        wanted = account.account_id
        if is_numeric_id(wanted):
            return wanted
        if cursor and cursor.get("username") == wanted and is_numeric_id(str(cursor.get("ig_user_id", ""))):
            return str(cursor["ig_user_id"])
        linked = self._linked_accounts(account, http)
        for ig_id, username in linked:
            if username.lower() == wanted:
                return ig_id
        if not linked:
            raise NeedsAttention(
                f"The Instagram token for @{wanted} is not linked to any Instagram professional "
                "account through a Facebook Page; link the account to the district's Page and "
                "create the token from that Page's admin",
                platform=self.platform,
                account=wanted,
            )
        exchange = http.get(
            f"{self._base(account)}/{linked[0][0]}",
            params={"fields": f"business_discovery.username({wanted}){{id,username}}"},
        )
        data = self._checked(exchange, account, f"@{wanted}")
        found = data.get("business_discovery") if isinstance(data, dict) else None
        if not isinstance(found, dict) or not is_numeric_id(str(found.get("id", ""))):
            raise AccountGone(
                f"No Instagram professional account @{wanted} was found by Business Discovery; "
                "check the username or register the numeric Instagram user id",
                platform=self.platform,
                account=wanted,
                evidence=exchange.response_pointer,
            )
        return str(found["id"])

    def _linked_accounts(self, account: AccountRef, http: HttpClient) -> list[tuple[str, str]]:
        base = self._base(account)
        exchange = http.get(f"{base}/me", params={"fields": LINK_FIELDS})
        error = error_of(exchange)
        if error is None or error.get("code") != NONEXISTING_FIELD:
            data = self._checked(exchange, account, "the token's Page")
            return _links([data])
        # A User token: /me is the person, whose Pages are listed at /me/accounts.
        linked: list[tuple[str, str]] = []
        for page in self._pages(
            account, f"{base}/me/accounts", {"fields": LINK_FIELDS, "limit": "100"}, http, "the token's Pages"
        ):
            linked += _links(page.rows)
        return linked

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        ig_id = self.resolve_user_id(account, None, http)
        exchange = http.get(f"{self._base(account)}/{ig_id}", params={"fields": "id,username,name,media_count"})
        data = self._checked(exchange, account, account.account_id)
        name = (data.get("name") or data.get("username") or "") if isinstance(data, dict) else ""
        return CheckResult(True, "token works", display_name=str(name), details={"ig_user_id": ig_id})

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        ig_id = self.resolve_user_id(account, cursor, http)
        state = {"ig_user_id": ig_id, "username": account.account_id if not is_numeric_id(account.account_id) else ""}
        yield Checkpoint(state)
        if plan.full:
            yield from self._full(account, ig_id, http, plan)
        else:
            yield from self._incremental(account, ig_id, http, plan)
        yield Checkpoint(state)

    def _full(self, account: AccountRef, ig_id: str, http: HttpClient, plan: HarvestPlan) -> Iterator[HarvestEvent]:
        """The whole /media listing with every field, then the comments the plan asks for."""
        base = self._base(account)
        media: list[tuple[str, Any]] = []
        listing = self.listing(account, account.account_id)
        limit = str(getattr(self.settings, "media_page_limit", 100))
        first = PageRequest(f"{base}/{ig_id}/media", {"fields": MEDIA_FIELDS, "limit": limit})
        for page in listing.pages(self._fetch(account, http, account.account_id), first, NextUrl()):
            parsed: dict[str, Item] = {}
            for event in listing.observe(page.exchange):
                if isinstance(event, Observed):
                    parsed[event.item.item_id] = event.item
                yield event
            # From the rows, not the items: a media its parser choked on still has its comments read.
            media += [(r["id"], r.get("comments_count")) for r in page.rows
                      if isinstance(r, dict) and isinstance(r.get("id"), str)
                      and (r["id"] not in parsed or plan.wants_children(parsed[r["id"]]))]
        yield from listing.covered(None, ItemKind.POST)
        for media_id, count in media:
            yield from self._comments(account, media_id, count, http)

    def _incremental(
        self, account: AccountRef, ig_id: str, http: HttpClient, plan: HarvestPlan,
    ) -> Iterator[HarvestEvent]:
        """The whole /media listing with the change signals only; the media object, with its
        files, for a new media, one whose signal moved or one in the sweep; comments as in a
        full cycle. A known media missing from the listing read to its end is Checked."""
        base = self._base(account)
        rows: list[dict[str, Any]] = []
        listing = self.listing(account, account.account_id)
        limit = str(getattr(self.settings, "media_page_limit", 100))
        first = PageRequest(f"{base}/{ig_id}/media", {"fields": LEAN_MEDIA_FIELDS, "limit": limit})
        for page in listing.pages(self._fetch(account, http, account.account_id), first, NextUrl()):
            yield from listing.observe(page.exchange)  # warnings only: a lean page holds no whole item
            rows += [r for r in page.rows if isinstance(r, dict) and isinstance(r.get("id"), str)]
        if listing.whole:
            listed = {r["id"] for r in rows}
            gone = tuple(sorted(k.item_id for k in plan.known.values()
                                if k.kind == ItemKind.POST and k.item_id not in listed))
            if gone:
                yield Checked(gone)
        for row in rows:
            media_id, signal = row["id"], media_signal(row)
            known = plan.known.get(media_id)
            moved = known is None or media_id in plan.sweep or known.signal != signal
            if moved:
                try:
                    yield from self._media_object(account, media_id, http)
                except Vanished:
                    continue  # deleted since the listing: the next cycle's listing misses it
            created = known.created_at if known is not None else None
            recent = created is None or (plan.recent_since is not None and created >= plan.recent_since)
            if moved or recent:
                yield from self._comments(account, media_id, row.get("comments_count"), http)

    def _media_object(self, account: AccountRef, media_id: str, http: HttpClient) -> Iterator[HarvestEvent]:
        """One media with every field (its files' signed URLs included): `GET /{media-id}`."""
        exchange = http.get(f"{self._base(account)}/{media_id}", params={"fields": MEDIA_FIELDS})
        error = error_of(exchange)
        if error is not None and is_not_found(error, exchange.status):
            raise Vanished(media_id)
        self._checked(exchange, account, media_id)
        single = self.listing(account, media_id)
        yield from single.observe(exchange)

    def _comments(self, account: AccountRef, media_id: str, count: Any, http: HttpClient) -> Iterator[HarvestEvent]:
        """Top-level comments, then any reply list longer than the inline expansion."""
        if count == 0 and not isinstance(count, bool):
            # comments_count counts replies too: zero means the listing is known empty.
            yield Covered(media_id, (ItemKind.COMMENT,))
            return
        limit = str(min(self.settings.page_limit, COMMENTS_PAGE_MAX))
        base = self._base(account)
        comment_ids: list[str] = []
        truncated: set[str] = set()
        comments = self.listing(account, media_id)
        first = PageRequest(f"{base}/{media_id}/comments", {"fields": COMMENT_FIELDS, "limit": limit})
        try:
            for page in comments.pages(self._fetch(account, http, media_id, missing_ok=True), first, NextUrl()):
                yield from comments.observe(page.exchange)
                for row in page.rows:
                    if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                        continue
                    comment_ids.append(row["id"])
                    replies = as_dict(row.get("replies"))
                    paging = as_dict(replies.get("paging"))
                    if paging.get("next"):
                        truncated.add(row["id"])
        except Vanished:
            return  # deleted since the media listing: the deletion check will find out
        yield from comments.covered(media_id, ItemKind.COMMENT)
        for comment_id in comment_ids:
            thread = comments  # inline replies came with the comments listing
            if comment_id in truncated:
                thread = self.listing(account, comment_id)
                first = PageRequest(f"{base}/{comment_id}/replies", {"fields": REPLY_FIELDS, "limit": limit})
                try:
                    for page in thread.pages(self._fetch(account, http, comment_id, missing_ok=True), first,
                                              NextUrl()):
                        yield from thread.observe(page.exchange)
                except Vanished:
                    continue
            if comments.whole:
                yield from thread.covered(comment_id, ItemKind.REPLY)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        return parse_response(account.account_id, exchange)


def _links(rows: list[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for row in rows:
        linked = row.get("instagram_business_account") if isinstance(row, dict) else None
        if isinstance(linked, dict) and is_numeric_id(str(linked.get("id", ""))):
            out.append((str(linked["id"]), str(linked.get("username") or "")))
    return out
