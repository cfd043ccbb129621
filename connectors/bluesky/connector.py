"""Bluesky accounts through the AT Protocol AppView (app.bsky lexicons over XRPC).

Each cycle walks `app.bsky.feed.getAuthorFeed` to the end (cursor paging until no cursor,
100 posts a page), so the account's own posts are Covered, and their edits (a new `cid`) and
deletions are found every cycle of any age. Each post's `replyCount` is its change signal:
`app.bsky.feed.getPostThread` is fetched only when the plan asks (a full capture or
`--reconcile`, a new post, a moved `replyCount`, or the post in this cycle's reconciliation
sweep, which finds nested replies and reply edits nothing signals). A thread cut at the depth
limit is continued from the cut node, so a Covered thread is whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import Field

from archiver.core.errors import UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
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
from connectors.auth import Auth
from connectors.base import AuthStyle, HttpClient, remember_decoded
from connectors.bluesky import errors, ids
from connectors.bluesky.parse import BLOCKED, NOT_FOUND, THREAD_VIEW, parse_exchange
from connectors.bluesky.session import BlueskySession
from connectors.common import ConnectorBase, PlatformSettings
from connectors.paging import Page, PageRequest, Token
from connectors.ratelimit import Budget

MAX_LIMIT = 100
THREAD_DEPTH = 10  # replies deeper than this are fetched as threads of their own


class BlueskySettings(PlatformSettings):
    """`[connectors.bluesky]`: `api_base` is the public AppView unless a PDS is named."""

    feed_page_limit: int = Field(100, ge=1, le=100, description="Posts asked per author-feed page (the AppView allows 100)")


class BlueskyConnector(ConnectorBase):
    platform: ClassVar[str] = "bluesky"
    label: ClassVar[str] = "Bluesky"
    auth_style: ClassVar[AuthStyle] = AuthStyle.BEARER
    default_api_base: ClassVar[str] = "https://public.api.bsky.app"
    settings_model: ClassVar[type[PlatformSettings]] = BlueskySettings
    incremental: ClassVar[bool] = True

    def auth(self, secret: str | None) -> Auth:
        """`handle:app-password` logs in (createSession, refreshed as needed); any other secret
        is an access token used as it is."""
        if secret and ":" in secret:
            identifier, _, password = secret.partition(":")
            return BlueskySession(identifier, password)
        return super().auth(secret)

    def _budget(self, account: AccountRef) -> Budget:
        return errors.WINDOW.budget(account.account_id, self.min_wait())

    # --- helpers ---------------------------------------------------------------------------

    def _xrpc(self, account: AccountRef, nsid: str) -> str:
        return f"{self.api_root(account)}/xrpc/{nsid}"

    def _get(
        self, http: HttpClient, account: AccountRef, nsid: str, params: dict[str, str], budget: Budget,
        *, subject: str, account_scope: bool = False, allow_not_found: bool = False,
    ) -> CapturedExchange:
        budget.check()
        exchange = http.get(self._xrpc(account, nsid), params=params)
        budget.note(exchange)
        if allow_not_found and errors.is_not_found(exchange):
            return exchange
        errors.raise_for_status(exchange, account=account.account_id, subject=subject,
                                min_wait=self.min_wait(), account_scope=account_scope)
        return exchange

    def _json(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> dict[str, Any]:
        """The body as a JSON object, kept for the parser that reads the same page next."""
        return remember_decoded(exchange, self.decode_json(exchange, account, subject))

    def _shape_error(self, exchange: CapturedExchange, account: AccountRef, what: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            f"Bluesky changed the shape of {what} for {account.account_id}; capture of this account is "
            "paused until the connector is updated (the response is kept in the WARC)",
            platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
        )

    def _did(self, account: AccountRef, http: HttpClient, budget: Budget) -> str:
        if ids.is_did(account.account_id):
            return account.account_id
        exchange = self._get(http, account, "com.atproto.identity.resolveHandle", {"handle": account.account_id},
                             budget, subject="the handle", account_scope=True)
        did = self._json(exchange, account, "the handle").get("did")
        if not isinstance(did, str) or not did.startswith("did:"):
            raise self._shape_error(exchange, account, "the handle resolution")
        return did

    # --- contract --------------------------------------------------------------------------

    def normalize_account_id(self, raw: str) -> str:
        return ids.normalize(raw)

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        exchange = self._get(http, account, "app.bsky.actor.getProfile", {"actor": account.account_id},
                             self._budget(account), subject="the profile", account_scope=True)
        data = self._json(exchange, account, "the profile")
        return CheckResult(True, f"AppView answers; did {data.get('did', '')}",
                           display_name=str(data.get("displayName") or data.get("handle") or ""),
                           details={"did": data.get("did", ""), "handle": data.get("handle", "")})

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        state = dict(cursor or {})
        budget = self._budget(account)
        did = state.get("did") if isinstance(state.get("did"), str) else None
        did = did or self._did(account, http, budget)
        replies: dict[str, int] = {}

        def fetch(request: PageRequest) -> Page:
            exchange = self._get(http, account, "app.bsky.feed.getAuthorFeed", dict(request.params or {}),
                                 budget, subject="the author feed", account_scope=True)
            data = self._json(exchange, account, "the author feed")
            feed = data.get("feed")
            if not isinstance(feed, list):
                raise self._shape_error(exchange, account, "the author feed")
            return Page(exchange, data, feed)

        listing = self.listing(account, "the author feed")
        first = PageRequest(self._xrpc(account, "app.bsky.feed.getAuthorFeed"), {
            "actor": did, "limit": str(min(getattr(self.settings, "feed_page_limit", MAX_LIMIT), MAX_LIMIT)),
            "filter": "posts_with_replies", "includePins": "false"})
        parsed: dict[str, Item] = {}
        for page in listing.pages(fetch, first, Token(("cursor",), "cursor", stop_on_empty=True)):
            for event in listing.observe(page.exchange):
                if isinstance(event, Observed):
                    parsed[event.item.item_id] = event.item
                yield event
            for entry in page.rows:
                post = entry.get("post") if isinstance(entry, dict) else None
                reason = entry.get("reason") if isinstance(entry, dict) else None
                if isinstance(reason, dict) and "Repost" in str(reason.get("$type", "")):
                    continue
                if isinstance(post, dict) and isinstance(post.get("uri"), str):
                    count = post.get("replyCount")
                    replies[post["uri"]] = count if isinstance(count, int) and not isinstance(count, bool) else 1
        yield from listing.covered(None, ItemKind.POST)

        before = {t for t in state.get("threads", []) if isinstance(t, str)}
        threads_now: set[str] = set()
        # A thread is read when it has (or had) replies and the plan wants it: a post the parser
        # choked on is read too, as is a post whose replies were in a thread last time.
        queue = [
            uri for uri, count in replies.items()
            if (count > 0 or uri in before) and (uri not in parsed or plan.wants_children(parsed[uri]))
        ]
        threads_now.update(uri for uri, count in replies.items() if (count > 0 or uri in before) and uri not in queue)
        fetched: set[str] = set()
        while queue:
            uri = queue.pop(0)
            if uri in fetched:
                continue
            fetched.add(uri)
            exchange = self._get(http, account, "app.bsky.feed.getPostThread",
                                 {"uri": uri, "depth": str(THREAD_DEPTH), "parentHeight": "0"}, budget,
                                 subject=f"the thread of {uri}", allow_not_found=True)
            if errors.is_not_found(exchange):
                continue  # deleted since it was listed: the next cycle judges it
            thread = self._json(exchange, account, "a thread").get("thread")
            if not isinstance(thread, dict):
                raise self._shape_error(exchange, account, "a thread")
            if thread.get("$type") in (NOT_FOUND, BLOCKED):
                continue
            context = self.listing(account, f"the thread of {uri}")
            yield from context.observe(exchange)
            cut, has_replies = _cut_nodes(thread)
            queue.extend(n for n in cut if n not in fetched)
            if has_replies or replies.get(uri, 0) > 0:
                threads_now.add(uri)
            yield from context.covered(uri, ItemKind.REPLY)
        yield Checkpoint({"did": did, "threads": sorted(threads_now)})

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        exchange = http.get(self._xrpc(account, "app.bsky.feed.getPostThread"),
                            params={"uri": item_id, "depth": "0", "parentHeight": "0"})
        if errors.is_not_found(exchange):
            name, message = errors.xrpc_error(exchange)
            return Gone(reason="deleted", evidence=exchange.response_pointer, status=exchange.status,
                        detail=f"XRPC {name}: {message}")
        errors.raise_for_status(exchange, account=account.account_id, subject=f"post {item_id}",
                                min_wait=self.min_wait())
        try:
            thread = json.loads(exchange.body).get("thread")
        except (ValueError, AttributeError):
            thread = None
        if isinstance(thread, dict) and thread.get("$type") == NOT_FOUND:
            return Gone(reason="deleted", evidence=exchange.response_pointer, status=exchange.status,
                        detail="the AppView answered with a notFoundPost for this uri")
        return Present((), exchange.response_pointer)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        yield from parse_exchange(account, exchange)


def _cut_nodes(thread: dict[str, Any]) -> tuple[list[str], bool]:
    """Posts at the depth limit that have replies the response left out; and whether the
    anchor showed any reply at all."""
    cut: list[str] = []
    anchor_replies = thread.get("replies")
    stack: list[tuple[dict[str, Any], int]] = [(thread, 0)]
    while stack:
        node, depth = stack.pop()
        if node.get("$type", THREAD_VIEW) != THREAD_VIEW or not isinstance(node.get("post"), dict):
            continue
        children = node.get("replies")
        count = node["post"].get("replyCount")
        if isinstance(children, list) and children:
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict))
        elif depth >= THREAD_DEPTH and isinstance(count, int) and count > 0:  # absent or [] at the limit
            uri = node["post"].get("uri")
            if isinstance(uri, str):
                cut.append(uri)
    return cut, bool(anchor_replies)
