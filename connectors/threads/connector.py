"""Threads accounts through Meta's Threads API: the token owner's own threads and the
conversations under them.

A full cycle asks `/me` whose token this is (a token of another account must never feed this
one's archive); an incremental one takes the owner from the listed rows (`_owned_by`) and asks
`/me` only when they do not vouch for it. Each cycle pages `/{user-id}/threads` by
`paging.next` to the end (100 a page: cheap and whole, so new threads and the edits and deletions of threads of any age are found every
cycle), then reads a thread's `/conversation` (every reply at every depth, flattened) when the
plan asks: a full capture, a new thread, a thread whose `has_replies` flipped (the only change
signal Threads gives: it says nothing of a second reply), a recent one, or one in this cycle's
reconciliation sweep.
The Threads API is served by Meta's Graph infrastructure, so errors, usage headers, paging
and deletion checks (Graph's 100/33 answer is the evidence) come from `connectors.graph`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import Field

from archiver.core.errors import AccountGone, ConfigError, NeedsAttention, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checkpoint,
    CheckResult,
    HarvestEvent,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
)
from archiver.core.plan import FULL, HarvestPlan
from connectors.base import HttpClient
from connectors.common import PlatformSettings
from connectors.graph import GraphConnector, GraphWords, Vanished
from connectors.paging import NextUrl, PageRequest
from connectors.threads.parse import parse_response

POST_FIELDS = "id,media_product_type,media_type,media_url,permalink,owner,username,text,timestamp,shortcode," \
              "is_quote_post,has_replies"
REPLY_FIELDS = POST_FIELDS + ",is_reply,root_post,replied_to,hide_status"
_USERNAME = re.compile(r"[a-z0-9._]{1,30}")


class ThreadsSettings(PlatformSettings):
    """`[connectors.threads]`: the Threads API version and paging of threads and conversations."""

    threads_page_limit: int = Field(100, ge=1, le=100, description="Threads asked per /threads page (the API allows 100)")


class ThreadsConnector(GraphConnector):
    platform: ClassVar[str] = "threads"
    label: ClassVar[str] = "Threads"
    default_api_base: ClassVar[str] = "https://graph.threads.net"
    default_version: ClassVar[str] = "v1.0"
    settings_model: ClassVar[type[PlatformSettings]] = ThreadsSettings
    words: ClassVar[GraphWords] = GraphWords(
        label="Threads",
        owner="@{account}",
        token_fix="create a new long-lived token (60 days) for the account and update its token file",
        scopes="threads_basic, threads_read_replies",
        gone_fix="check the username",
    )
    # The app and user request limits; Threads has no Business Use Case throttles.
    throttle_codes: ClassVar[frozenset[int]] = frozenset({4, 17, 32, 613})
    probe_fields: ClassVar[str] = "id,timestamp"
    incremental: ClassVar[bool] = True

    def normalize_account_id(self, raw: str) -> str:
        """Accept @username, username, or a threads.net / threads.com profile or post URL."""
        value = raw.strip()
        if "threads." in value.lower() and "/" in value:
            parts = urlsplit(value if "://" in value else f"https://{value}")
            host = (parts.hostname or "").lower().removeprefix("www.")
            segments = [unquote(s) for s in parts.path.split("/") if s]
            if host not in ("threads.net", "threads.com") or not segments or not segments[0].startswith("@"):
                raise ConfigError(f"'{raw}' is not a Threads profile; use @username or "
                                  "https://www.threads.net/@username")
            value = segments[0]
        username = value.removeprefix("@").lower()
        if not _USERNAME.fullmatch(username) or username.strip(".") != username:
            raise ConfigError(f"'{raw}' is not a Threads username (1-30 letters, digits, periods or "
                              "underscores); use @username or https://www.threads.net/@username")
        return username

    def _identity(self, account: AccountRef, http: HttpClient) -> dict[str, str]:
        exchange = http.get(f"{self._base(account)}/me", params={"fields": "id,username,name"})
        data = self._checked(exchange, account, "the token's user")
        if not isinstance(data.get("id"), str):
            raise UnexpectedResponse("Threads /me did not name the token's user; the response is kept in the WARC",
                                     platform=self.platform, account=account.account_id,
                                     evidence=exchange.response_pointer)
        username = str(data.get("username") or "").lower()
        if username != account.account_id:
            raise NeedsAttention(f"The Threads token registered for @{account.account_id} belongs to "
                                 f"@{username or '?'}; update the account's token file with a token from the "
                                 "right account", platform=self.platform, account=account.account_id,
                                 evidence=exchange.response_pointer)
        return {"user_id": data["id"], "name": str(data.get("name") or "")}

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        who = self._identity(account, http)
        return CheckResult(True, "token works", display_name=who["name"], details={"user_id": who["user_id"]})

    def harvest(self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
                plan: HarvestPlan = FULL) -> Iterator[HarvestEvent]:
        known_id = (cursor or {}).get("user_id")
        # A full capture (the first, or --reconcile) asks /me; an incremental cycle checks the
        # owner from the listing's own rows (`_owned_by`) and asks /me only when they do not
        # vouch for it, so an idle cycle is its listing pages alone.
        confirmed = plan.full or not isinstance(known_id, str) or not known_id
        state = {"user_id": self._identity(account, http)["user_id"] if confirmed else str(known_id)}
        yield Checkpoint(state)
        base = self._base(account)
        limit = str(self.settings.page_limit)
        threads: list[tuple[str, Any]] = []
        vouched = False  # a page of rows has named the owner (or /me has, after a page that did not)
        listing = self.listing(account, account.account_id)
        first = PageRequest(f"{base}/{state['user_id']}/threads",
                            {"fields": POST_FIELDS, "limit": str(getattr(self.settings, "threads_page_limit", 100))})
        pages = listing.pages(self._fetch(account, http, account.account_id), first, NextUrl())
        while True:
            try:
                page = next(pages)
            except StopIteration:
                break
            except (AccountGone, NeedsAttention, UnexpectedResponse):
                if not confirmed:  # a token of another profile may be refused: /me names it first
                    self._identity(account, http)
                raise
            if not confirmed and page.rows:
                if not _owned_by(page.rows, state["user_id"], account.account_id):
                    self._identity(account, http)  # a token of another profile stops here, before a row is read
                    confirmed = True
                vouched = True
            parsed: dict[str, Item] = {}
            for event in listing.observe(page.exchange):
                if isinstance(event, Observed):
                    parsed[event.item.item_id] = event.item
                yield event
            # From the rows, not the items: a thread its parser choked on still has its replies read.
            threads += [(r["id"], r.get("has_replies")) for r in page.rows
                        if isinstance(r, dict) and isinstance(r.get("id"), str)
                        and (r["id"] not in parsed or plan.wants_children(parsed[r["id"]]))]
        if not confirmed and not vouched:  # an empty listing vouches for nothing: /me says whose it is first
            self._identity(account, http)
        yield from listing.covered(None, ItemKind.POST)
        for thread_id, has_replies in threads:
            seen = [thread_id]
            conversation = self.listing(account, thread_id)  # whole when the thread says it has no replies
            if has_replies is not False:
                first = PageRequest(f"{base}/{thread_id}/conversation", {"fields": REPLY_FIELDS, "limit": limit})
                try:
                    for page in conversation.pages(self._fetch(account, http, thread_id, missing_ok=True), first,
                                                   NextUrl()):
                        yield from conversation.observe(page.exchange)
                        seen += [r["id"] for r in page.rows if isinstance(r, dict) and isinstance(r.get("id"), str)]
                except Vanished:
                    continue  # deleted since the threads listing: the deletion check will find out
            yield from conversation.covered(thread_id, ItemKind.COMMENT)
            for reply_id in seen:
                yield from conversation.covered(reply_id, ItemKind.REPLY)
        yield Checkpoint(state)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        return parse_response(account.account_id, exchange)


def _owned_by(rows: list[Any], user_id: str, username: str) -> bool:
    """Whether a /threads page of rows vouches for the token's owner: every row says it
    is a top-level post of this profile, owned by the token's user (an empty page says nothing: the
    caller asks /me when the whole listing had no row). Meta's Threads API reference
    (Retrieve User Posts, fields of /{threads-user-id}/threads): `owner` is the "Threads user ID
    who created the post. Note: This is only available on top-level posts that you own", and
    `username` the "Threads username who created the post"; "You may only fetch a paginated
    list of all threads created by the app-scoped user". A token of another profile cannot
    produce such rows for this profile's user id; anything else (no rows, a row without `owner`
    or with another username) sends the cycle to /me."""
    return all(
        isinstance(r, dict) and isinstance(r.get("owner"), dict) and r["owner"].get("id") == user_id
        and str(r.get("username") or "").lower() == username
        for r in rows
    )
