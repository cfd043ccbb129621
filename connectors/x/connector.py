"""X (Twitter) accounts through the X API v2: posts, replies, edits, deletions, media.

Each cycle asks the user timeline only for posts newer than the last `newest_id`
(`since_id`): edits are new ids, so they arrive that way too. A full timeline walk — the only
listing complete enough to judge a post deleted — happens on a full capture (the first, and
`--reconcile`) and whenever the account's `tweet_count` does not match what the incremental
pass explains (a post vanished). New replies to the account's posts of any age come from one
recent search `to:<username>` with `since_id`; the conversations they land in, new posts'
conversations and the conversations of swept posts are then searched by `conversation_id`
(several OR-ed into one query; recent search reaches back seven days). Posts in this cycle's
reconciliation sweep are looked up 100 ids a call (`GET /2/tweets?ids=`), which finds
deletions nothing else shows once a post is past the timeline's 3,200 or its conversation
past the search window.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from archiver.core.errors import UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checked,
    Checkpoint,
    CheckResult,
    Gone,
    HarvestEvent,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
    Present,
)
from archiver.core.plan import FULL, HarvestPlan
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase, PlatformSettings, shape_guard
from connectors.paging import Listing, Page, PageRequest, Token
from connectors.shapes import as_dict
from connectors.x import errors
from connectors.x.handles import normalize
from connectors.x.parse import parse_tweets

TWEET_FIELDS = (
    "id,text,created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "attachments,edit_history_tweet_ids,edit_controls,possibly_sensitive,note_tweet,withheld,"
    "public_metrics,lang,reply_settings"
)
EXPANSIONS = "author_id,attachments.media_keys,referenced_tweets.id,edit_history_tweet_ids"
MEDIA_FIELDS = "media_key,type,url,preview_image_url,variants,width,height,duration_ms,alt_text"
USER_FIELDS = "id,name,username,public_metrics,protected,created_at"
TIMELINE_CAP = 3200  # the user timeline never reaches further back
QUERY_LIMIT = 512  # characters in a search query on the Basic access level
SEARCH_WINDOW = timedelta(days=7)  # recent search never returns older posts
WINDOW_MARGIN = timedelta(hours=1)
LOOKUP_BATCH = 100  # ids per GET /2/tweets

log = logging.getLogger(__name__)


class SinceRejected(Exception):
    """X refused a `since_id` (recent search takes none older than its seven days)."""


@dataclass
class XCursor:
    """What the next cycle needs; stored by the poller only after a complete cycle."""

    user_id: str = ""
    username: str = ""
    newest_id: str | None = None
    tweet_count: int | None = None
    swept_at: str | None = None
    recent: dict[str, str] = field(default_factory=dict)  # conversation root -> created ISO
    reply_newest: str | None = None  # newest reply seen by the `to:` search

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> XCursor:
        raw = raw if isinstance(raw, dict) else {}
        recent = as_dict(raw.get("recent"))
        count = raw.get("tweet_count")
        return cls(
            user_id=str(raw.get("user_id") or ""),
            username=str(raw.get("username") or ""),
            newest_id=str(raw["newest_id"]) if raw.get("newest_id") else None,
            tweet_count=count if isinstance(count, int) else None,
            swept_at=str(raw["swept_at"]) if raw.get("swept_at") else None,
            recent={str(k): str(v) for k, v in recent.items()},
            reply_newest=str(raw["reply_newest"]) if raw.get("reply_newest") else None,
        )

    def dump(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "newest_id": self.newest_id,
            "tweet_count": self.tweet_count,
            "swept_at": self.swept_at,
            "recent": dict(sorted(self.recent.items())),
            "reply_newest": self.reply_newest,
        }


def _num(value: str | None) -> int:
    return int(value) if value and value.isdigit() else -1


def _newer(a: str | None, b: str | None) -> str | None:
    if _num(b) < 0:
        return a
    return a if _num(a) >= _num(b) else b


def _since(when: str | None, now: datetime) -> timedelta | None:
    """How long ago an ISO time in the cursor was; None when it is missing or unreadable."""
    try:
        return now - datetime.fromisoformat(when) if when else None
    except (TypeError, ValueError):
        return None


class XSettings(PlatformSettings):
    """`[connectors.x]`: the shared settings. The daily full timeline walk that
    `sweep_every_hours` once set is gone: the reconciliation windows (`recent_days`,
    `*_every_hours`, `sweep_share`) decide which posts are looked up again, 100 a call."""


class XConnector(ConnectorBase):
    platform: ClassVar[str] = "x"
    label: ClassVar[str] = "X"
    auth_style: ClassVar[AuthStyle] = AuthStyle.BEARER
    default_api_base: ClassVar[str] = "https://api.x.com"
    default_version: ClassVar[str] = "2"
    settings_model: ClassVar[type[PlatformSettings]] = XSettings
    incremental: ClassVar[bool] = True

    # --- helpers ---------------------------------------------------------------------------

    def raise_for_429(self, exchange: CapturedExchange, account_id: str) -> None:
        """The session's 429 hook: tells X's monthly usage cap from its 15-minute windows."""
        errors.raise_for_status(exchange, account=account_id, subject=account_id, floor=self.min_wait())

    def _get(
        self, http: HttpClient, account: AccountRef, url: str, params: dict[str, str], subject: str
    ) -> tuple[CapturedExchange, dict[str, Any]]:
        exchange = http.get(url, params=params)
        body = errors.raise_for_status(
            exchange, account=account.account_id, subject=subject, floor=self.min_wait()
        )
        return exchange, body

    def _tweet_params(self) -> dict[str, str]:
        return {
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "media.fields": MEDIA_FIELDS,
            "user.fields": "id,name,username",
        }

    def normalize_account_id(self, raw: str) -> str:
        """Accept @handle, handle, an x.com/twitter.com profile URL or a numeric user id."""
        return normalize(raw)

    def _user(
        self, account: AccountRef, state: XCursor, http: HttpClient
    ) -> tuple[CapturedExchange, dict[str, Any]]:
        """The account's user object, by id once known (a renamed handle keeps working)."""
        base, acct = self._base(account), account.account_id
        user_id = state.user_id or (acct if acct.isdigit() else "")
        url = f"{base}/users/{user_id}" if user_id else f"{base}/users/by/username/{acct.lstrip('@')}"
        exchange, body = self._get(http, account, url, {"user.fields": USER_FIELDS}, acct)
        errors.raise_for_user_problems(body, exchange, account=acct)
        return exchange, body["data"]

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        with shape_guard(self.platform, account.account_id):
            _exchange, user = self._user(account, XCursor(), http)
        count = _tweet_count(user)
        return CheckResult(
            True,
            f"bearer token works; @{user.get('username', '')} has {count if count is not None else '?'} posts",
            display_name=str(user.get("name", "")),
            details={"user_id": str(user.get("id", "")), "username": str(user.get("username", ""))},
        )

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        with shape_guard(self.platform, account.account_id):
            yield from self._harvest(account, cursor, http, plan)

    def _harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient, plan: HarvestPlan,
    ) -> Iterator[HarvestEvent]:
        state = XCursor.load(cursor)
        exchange, user = self._user(account, state, http)
        now = exchange.captured_at
        state.user_id, state.username = str(user.get("id", state.user_id)), str(user.get("username", ""))
        count = _tweet_count(user)
        timeline = f"{self._base(account)}/users/{state.user_id}/tweets"
        seen: list[Item] = []
        sweep = plan.full or _num(state.newest_id) < 0
        if not sweep:
            since = str(state.newest_id)
            yield from self._walk(account, timeline, {"since_id": since}, http, seen, "pagination_token")
            fresh = sum(1 for item in seen if _num(item.item_id) > _num(since))
            # Posts plus the account's own replies count toward tweet_count; a shortfall means
            # something was deleted, which only a full walk can show.
            sweep = count is None or state.tweet_count is None or count != state.tweet_count + fresh
            if sweep:
                log.info("X @%s: tweet_count %s does not match %s + %s new; walking the whole timeline",
                         state.username, count, state.tweet_count, fresh)
        if sweep:
            seen.clear()
            walk = yield from self._walk(account, timeline, {}, http, seen, "pagination_token")
            if len(seen) < TIMELINE_CAP:
                yield from walk.covered(None, ItemKind.POST)
            elif seen:
                # At the cap, older posts are missing for a reason other than deletion: the walk
                # covers only posts newer than the oldest one it reached.
                oldest = min((i.created_at for i in seen if i.created_at), default=None)
                if oldest is not None:
                    yield from walk.covered(None, ItemKind.POST, created_after=oldest)
            state.swept_at = now.isoformat()
        own_roots = {k.item_id for k in plan.known.values() if k.kind == ItemKind.POST.value and k.parent_id is None}
        wanted: set[str] = set()  # conversations searched this cycle
        for item in seen:
            state.newest_id = _newer(state.newest_id, item.content["versions"][-1])
            if _is_conversation_root(item):
                state.recent[item.item_id] = item.created_at.isoformat()  # type: ignore[union-attr]
                own_roots.add(item.item_id)
                if plan.is_new(item.item_id):
                    wanted.add(item.item_id)
        state.recent = {
            root: when for root, when in state.recent.items()
            if (age := _since(when, now)) is not None and age < SEARCH_WINDOW
        }
        wanted = wanted & set(state.recent) if not plan.full else set(state.recent)
        swept = [k for k in plan.swept(ItemKind.POST.value) if k.item_id not in {i.item_id for i in seen}]
        wanted |= {k.item_id for k in plan.swept(ItemKind.POST.value) if k.item_id in state.recent}
        replied = yield from self._replies_to_account(account, state, http)
        wanted |= {root for reply in replied if (root := _root_of(reply, replied, plan)) in own_roots}
        state.tweet_count = count
        yield from self._conversations(account, state, sorted(wanted), now, http)
        yield from self._lookups(account, [k.item_id for k in swept], http)
        yield Checkpoint(state.dump())

    def _replies_to_account(
        self, account: AccountRef, state: XCursor, http: HttpClient
    ) -> Generator[HarvestEvent, None, dict[str, str]]:
        """One recent search `to:<username>` since the newest reply it saw: new replies to the
        account's posts of any age (and to its replies); returns their parents by reply id."""
        search = f"{self._base(account)}/tweets/search/recent"
        query = {"query": f"to:{state.username}"}
        found: list[Item] = []
        since = state.reply_newest
        if since and _num(since) >= 0:
            try:
                yield from self._walk(account, search, {**query, "since_id": since}, http, found, "next_token",
                                      floor_results=10, since=True)
            except SinceRejected as exc:
                log.warning("X @%s: recent search refused since_id %s (%s); listing the whole window once",
                            state.username, since, exc)
                found.clear()
                since = None
        if not since or _num(since) < 0:
            yield from self._walk(account, search, query, http, found, "next_token", floor_results=10)
        for item in found:
            state.reply_newest = _newer(state.reply_newest, item.content["versions"][-1])
        return {i.item_id: i.parent_id for i in found if i.parent_id}

    def _lookups(self, account: AccountRef, post_ids: list[str], http: HttpClient) -> Iterator[HarvestEvent]:
        """The posts this cycle's reconciliation covers, 100 ids per `GET /2/tweets?ids=`. A
        lookup of an edited post's first id answers with that old version, whose
        `edit_history_tweet_ids` names the current one: those are looked up in turn. Any id
        the answers leave out goes to confirm_gone (Checked)."""
        url = f"{self._base(account)}/tweets"
        for start in range(0, len(post_ids), LOOKUP_BATCH):
            batch = post_ids[start:start + LOOKUP_BATCH]
            listing = self.listing(account, "the swept posts")
            exchange, body = self._get(http, account, url, {**self._tweet_params(), "ids": ",".join(batch)},
                                       account.account_id)
            yield from listing.observe(exchange)
            latest = []
            for entry in body.get("data") or []:
                chain = entry.get("edit_history_tweet_ids") if isinstance(entry, dict) else None
                if isinstance(chain, list) and chain and chain[-1] != entry.get("id") and isinstance(chain[-1], str):
                    latest.append(chain[-1])
            for more in range(0, len(latest), LOOKUP_BATCH):
                exchange, _body = self._get(http, account, url, {
                    **self._tweet_params(), "ids": ",".join(latest[more:more + LOOKUP_BATCH])}, account.account_id)
                yield from listing.observe(exchange)
            if not listing.quarantined:
                yield Checked(tuple(batch))

    def _walk(
        self, account: AccountRef, url: str, extra: dict[str, str], http: HttpClient,
        seen: list[Item], token_name: str, *, floor_results: int = 5, since: bool = False,
    ) -> Generator[HarvestEvent, None, Listing]:
        """Every page of a tweet listing (timeline or search), following meta.next_token; the
        walked listing is returned for its `covered`. With `since`, a 400 naming `since_id`
        raises SinceRejected (before anything is observed) so the caller can list again."""
        limit = str(min(max(self.settings.page_limit, floor_results), 100))

        def fetch(request: PageRequest) -> Page:
            if since:
                exchange = http.get(request.url, params=dict(request.params or {}))
                if exchange.status == 400 and "since_id" in exchange.body.decode("utf-8", "replace"):
                    raise SinceRejected(errors.body_of(exchange).get("detail", "HTTP 400")
                                        if isinstance(errors.body_of(exchange), dict) else "HTTP 400")
                body = errors.raise_for_status(
                    exchange, account=account.account_id, subject=account.account_id, floor=self.min_wait())
                errors.raise_for_listing_problems(body, exchange, account=account.account_id)
                return Page(exchange, body, [])
            exchange, body = self._get(http, account, request.url, dict(request.params or {}), account.account_id)
            errors.raise_for_listing_problems(body, exchange, account=account.account_id)
            return Page(exchange, body, [])

        listing = self.listing(account, "the posts")
        first = PageRequest(url, {**self._tweet_params(), "max_results": limit, **extra})
        for page in listing.pages(fetch, first, Token(("meta", "next_token"), token_name)):
            for event in listing.observe(page.exchange):
                if isinstance(event, Observed):
                    seen.append(event.item)
                yield event
        return listing

    def _conversations(
        self, account: AccountRef, state: XCursor, roots: list[str], now: datetime, http: HttpClient
    ) -> Iterator[HarvestEvent]:
        """Replies in the conversations this cycle wants, several per query (`conversation_id:a
        OR conversation_id:b`, within the 512-character query limit). Only a conversation recent
        search still sees whole is Covered."""
        search = f"{self._base(account)}/tweets/search/recent"
        for batch in _batches(roots):
            found: list[Item] = []
            query = {"query": " OR ".join(f"conversation_id:{root}" for root in batch)}
            walk = yield from self._walk(account, search, query, http, found, "next_token", floor_results=10)
            for root in batch:
                age = _since(state.recent.get(root), now)
                if age is not None and age < SEARCH_WINDOW - WINDOW_MARGIN:
                    yield from walk.covered(root, ItemKind.COMMENT, ItemKind.REPLY)

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        """Look the post up by its first id: X answers 200 with a Not Found problem once the
        post (and with it every version of an edit chain) is deleted."""
        with shape_guard(self.platform, account.account_id):
            return self._confirm_gone(account, item_id, http)

    def _confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        url = f"{self._base(account)}/tweets/{item_id}"
        exchange = http.get(url, params=self._tweet_params())
        body = errors.body_of(exchange)
        found = errors.problems(body)
        has_data = isinstance(body, dict) and isinstance(body.get("data"), dict)
        if exchange.status in (200, 404) and not has_data:
            for problem in found:
                if errors.is_not_found(problem) or exchange.status == 404:
                    return Gone("deleted", exchange.response_pointer, exchange.status,
                                str(problem.get("detail", ""))[:200])
                if errors.problem_type(problem).endswith(errors.NOT_AUTHORIZED):
                    return Gone("not-visible", exchange.response_pointer, exchange.status,
                                str(problem.get("detail", "author protected or suspended"))[:200])
            if exchange.status == 404:
                return Gone("deleted", exchange.response_pointer, 404, "HTTP 404")
        errors.raise_for_status(exchange, account=account.account_id, subject=item_id, floor=self.min_wait())
        if not has_data:
            raise UnexpectedResponse(
                f"X answered a lookup of post {item_id} with neither the post nor a not-found "
                "problem; the response is kept in the WARC",
                platform=self.platform,
                account=account.account_id,
                evidence=exchange.response_pointer,
            )
        return Present((), exchange.response_pointer)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        """Pure: tweets in timeline, search and lookup responses; nothing from user lookups."""
        yield from parse_tweets(account, exchange)


def _batches(roots: list[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for root in roots:
        query = " OR ".join(f"conversation_id:{r}" for r in [*batch, root])
        if batch and len(query) > QUERY_LIMIT:
            yield batch
            batch = []
        batch.append(root)
    if batch:
        yield batch


def _root_of(item_id: str, parents: dict[str, str], plan: HarvestPlan) -> str:
    """The top of a reply's chain of parents, through this cycle's replies and the catalog."""
    current = item_id
    for _ in range(32):
        parent = parents.get(current) or (k.parent_id if (k := plan.known.get(current)) else None)
        if not parent:
            return current
        current = parent
    return current


def _tweet_count(user: dict[str, Any]) -> int | None:
    metrics = user.get("public_metrics")
    count = metrics.get("tweet_count") if isinstance(metrics, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _is_conversation_root(item: Item) -> bool:
    if item.kind is not ItemKind.POST or item.created_at is None:
        return False
    return not any(ref.get("type") == "retweeted" for ref in item.content.get("referenced", []))


