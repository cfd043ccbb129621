"""Blogs: WordPress sites through the REST API, any other blog through its RSS/Atom feed.

WordPress (`wp:https://site`): a full capture (the first, and `--reconcile`) lists all
published posts (`/wp-json/wp/v2/posts`, X-WP-TotalPages paging), then all approved comments
of those posts (`/wp/v2/comments?post=` in batches), so posts and comments are Covered and
deletions are judged by fetching the post or comment by id. Every other cycle asks only for
posts modified since the newest `modified` seen (`modified_after`, WordPress 5.7+: new and
edited posts of any age) and comments made since the newest comment seen (`after`: new
comments on posts of any age), then re-reads the posts of this cycle's reconciliation sweep
(`include=`, 100 a call; a post left out goes to confirm_gone) with all their comments
(Covered: comment edits and deletions, which WordPress signals nowhere).

RSS/Atom (a feed URL): every cycle is a conditional GET (ETag / Last-Modified); a 304 costs
one request and changes nothing. A feed usually shows only the latest N entries, so an entry missing
from it has most often just rolled off. The feed is therefore Covered only when it provably
still lists everything we know: it declares itself complete (RFC 5005 `<fh:complete/>`), or
its oldest entry is no newer than the oldest entry ever seen in it (nothing has rolled off
yet). Otherwise nothing is judged deleted. A judged entry is confirmed by fetching its URL
(404/410: deleted).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from archiver.core.errors import AccountGone, NeedsAttention, UnexpectedResponse
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
from connectors.auth import Auth, BasicAuth
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase, PlatformSettings
from connectors.feeds import ids, wordpress
from connectors.feeds.syndication import FeedDoc, entry_item_id, parse_feed
from connectors.feeds.xmlsafe import UnsafeXml, fromstring
from connectors.paging import Fetch, NextUrl, Page, PageNumber, PageRequest, items_of

COMMENT_BATCH = 50  # post ids per comments request (keeps URLs short)
INCLUDE_BATCH = 100  # post ids per `include=` lookup (WordPress's per_page maximum)
MARGIN = timedelta(seconds=1)  # WordPress times have one-second resolution: ask from a second before
SITE_CLOCK_SLACK = timedelta(hours=15)  # site-local times run up to 14 hours ahead of UTC

log = logging.getLogger(__name__)
FEED_TYPES = ("xml", "rss", "atom")


class FeedsSettings(PlatformSettings):
    """`[connectors.feeds]`: `api_base` reroutes a site (a sandbox, a staging copy)."""


class FeedsConnector(ConnectorBase):
    platform: ClassVar[str] = "feeds"
    label: ClassVar[str] = "The blog"
    auth_style: ClassVar[AuthStyle] = AuthStyle.BEARER  # optional: JWT/OAuth plugins, WordPress.com
    default_api_base: ClassVar[str] = "{site}"  # the account id is the address itself
    default_version: ClassVar[str] = "wp/v2"
    settings_model: ClassVar[type[PlatformSettings]] = FeedsSettings
    incremental: ClassVar[bool] = True

    # --- helpers ---------------------------------------------------------------------------

    def _url(self, account: AccountRef, source: ids.Source) -> str:
        url = ids.effective_url(source.url, account.api_base or self.settings.api_base)
        return url.rstrip("/") if source.mode == "wordpress" else url

    def _rest(self, account: AccountRef, source: ids.Source) -> str:
        return f"{self._url(account, source)}/wp-json/{self.settings.api_version or self.default_version}"

    def _wp_json_list(self, exchange: CapturedExchange, account: AccountRef, what: str) -> list[Any]:
        try:
            data = json.loads(exchange.body)
        except ValueError:
            data = None
        if not isinstance(data, list):
            raise UnexpectedResponse(
                f"WordPress sent {what} for {account.account_id} in a shape we do not understand; capture of "
                "this account is paused until the connector is updated (the response is kept in the WARC)",
                platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
            )
        return data

    def auth(self, secret: str | None) -> Auth:
        """`user:application password` (WordPress 5.6+) goes as HTTP Basic; any other secret is
        a bearer token (JWT and OAuth plugins, WordPress.com)."""
        if secret and ":" in secret:
            return BasicAuth.from_secret(secret)
        return super().auth(secret)

    # --- contract --------------------------------------------------------------------------

    def normalize_account_id(self, raw: str) -> str:
        return ids.normalize(raw)

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        source = ids.source_of(account.account_id)
        if source.mode == "wordpress":
            exchange = http.get(f"{self._url(account, source)}/wp-json/")
            wordpress.raise_for_status(exchange, account=account.account_id, subject="the site index",
                                       min_wait=self.min_wait())
            try:
                data = json.loads(exchange.body)
            except ValueError:
                data = {}
            namespaces = data.get("namespaces", []) if isinstance(data, dict) else []
            if "wp/v2" not in namespaces:
                raise NeedsAttention(
                    f"{account.account_id} answers but offers no wp/v2 REST API; register its RSS feed instead",
                    platform=self.platform, account=account.account_id, evidence=exchange.response_pointer)
            return CheckResult(True, "WordPress REST API answers", display_name=str(data.get("name", "")))
        exchange = self._get_feed(account, self._url(account, source), None, http)
        doc = self._feed_doc(account, exchange)
        return CheckResult(True, f"feed answers with {len(doc.entries)} entries", display_name=doc.title)

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        source = ids.source_of(account.account_id)
        if source.mode == "wordpress":
            state = dict(cursor or {})
            if plan.full or not isinstance(state.get("modified"), str) or not isinstance(state.get("comments_after"), str):
                yield from self._harvest_wordpress(account, source, http)
            else:
                yield from self._wordpress_since(account, source, state, http, plan)
        else:
            yield from self._harvest_feed(account, source, dict(cursor or {}), http, plan)

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        source = ids.source_of(account.account_id)
        if source.mode == "wordpress":
            return self._confirm_wordpress(account, source, item_id, http)
        if not item_id.startswith(("http://", "https://")):
            return Present((), None)  # a guid that is not an address: nothing we can fetch to judge it
        target = item_id.split("#", 1)[0]
        if urlsplit(target).netloc == urlsplit(source.url).netloc:  # same site: same route as the feed
            target = ids.effective_url(target, account.api_base or self.settings.api_base)
        exchange = http.get(target)
        if exchange.status in (404, 410):
            return Gone(reason="deleted", evidence=exchange.response_pointer, status=exchange.status,
                        detail=f"the entry's address answers HTTP {exchange.status}")
        return Present((), exchange.response_pointer)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        source = ids.source_of(account.account_id)
        if source.mode == "wordpress":
            yield from wordpress.parse_wordpress(account, source, exchange)
        else:
            yield from self._parse_feed(account, source, exchange)

    # --- WordPress -------------------------------------------------------------------------

    def _wp_fetch(self, account: AccountRef, http: HttpClient, subject: str) -> Fetch:
        def fetch(request: PageRequest) -> Page:
            exchange = http.get(request.url, params=request.params)
            if exchange.status == 400 and wordpress.error_code(exchange)[0] == wordpress.PAST_END:
                return Page(exchange, None, [])  # the listing shrank while we walked it: it ended
            wordpress.raise_for_status(exchange, account=account.account_id, subject=subject,
                                       min_wait=self.min_wait())
            rows = self._wp_json_list(exchange, account, subject)
            return Page(exchange, rows, rows)

        return fetch

    def _harvest_wordpress(self, account: AccountRef, source: ids.Source, http: HttpClient) -> Iterator[HarvestEvent]:
        rest = self._rest(account, source)
        per_page = self.settings.page_limit
        paginator = PageNumber("x-wp-totalpages", per_page)
        post_ids: list[int] = []
        marks = _Marks()
        posts = self.listing(account, "posts")
        first = PageRequest(f"{rest}/posts", {"per_page": str(per_page), "orderby": "date", "order": "desc",
                                              "_embed": "wp:featuredmedia", "page": "1"})
        for page in posts.pages(self._wp_fetch(account, http, "posts"), first, paginator):
            yield from posts.observe(page.exchange)
            post_ids += [r["id"] for r in page.rows if isinstance(r, dict) and isinstance(r.get("id"), int)]
            marks.posts(page.rows)
        yield from posts.covered(None, ItemKind.POST)
        yield from self._wp_comments(account, source, post_ids, http, marks)
        yield Checkpoint({"mode": "wordpress", "posts": len(post_ids), **marks.dump()})

    def _wp_comments(
        self, account: AccountRef, source: ids.Source, post_ids: list[int], http: HttpClient, marks: _Marks,
    ) -> Iterator[HarvestEvent]:
        """Every approved comment of `post_ids`, 50 posts a listing, each post's read whole."""
        rest, per_page = self._rest(account, source), self.settings.page_limit
        paginator = PageNumber("x-wp-totalpages", per_page)
        for start in range(0, len(post_ids), COMMENT_BATCH):
            batch = post_ids[start:start + COMMENT_BATCH]
            comments = self.listing(account, "comments")
            first = PageRequest(f"{rest}/comments", {"post": ",".join(map(str, batch)), "per_page": str(per_page),
                                                     "orderby": "id", "order": "asc", "page": "1"})
            for page in comments.pages(self._wp_fetch(account, http, "comments"), first, paginator):
                yield from comments.observe(page.exchange)
                marks.comments(page.rows)
            for post in batch:
                yield from comments.covered(wordpress.item_id(source, "posts", post), ItemKind.COMMENT, ItemKind.REPLY)

    def _wordpress_since(
        self, account: AccountRef, source: ids.Source, state: dict[str, Any], http: HttpClient, plan: HarvestPlan,
    ) -> Iterator[HarvestEvent]:
        """Posts modified and comments made since the last cycle, then this cycle's sweep. A
        bound the site refuses (`rest_invalid_param`) falls back to one full capture."""
        rest, per_page = self._rest(account, source), self.settings.page_limit
        paginator = PageNumber("x-wp-totalpages", per_page)
        marks = _Marks(state.get("modified"), state.get("comments_after"))
        since = [
            ("posts", {"modified_after": str(state["modified"]), "orderby": "modified", "order": "asc",
                       "_embed": "wp:featuredmedia"}, marks.posts),
            ("comments", {"after": str(state["comments_after"]), "orderby": "date_gmt", "order": "asc"},
             marks.comments),
        ]
        seen: set[str] = set()
        for kind, params, mark in since:
            listing = self.listing(account, kind)
            first = PageRequest(f"{rest}/{kind}", {**params, "per_page": str(per_page), "page": "1"})
            try:
                for page in listing.pages(self._wp_since_fetch(account, http, kind), first, paginator):
                    for event in listing.observe(page.exchange):
                        if isinstance(event, Observed):
                            seen.add(event.item.item_id)
                        yield event
                    mark(page.rows)
            except _BoundRefused as exc:
                log.warning("%s refused the incremental bound (%s); capturing the whole site once",
                            account.account_id, exc)
                yield from self._harvest_wordpress(account, source, http)
                return
        swept = [k.item_id for k in plan.swept(ItemKind.POST.value)]
        numbers = [int(n) for i in swept if (n := i.rsplit("/", 1)[-1]).isdigit()]
        for start in range(0, len(numbers), INCLUDE_BATCH):
            batch = numbers[start:start + INCLUDE_BATCH]
            listing = self.listing(account, "swept posts")
            first = PageRequest(f"{rest}/posts", {"include": ",".join(map(str, batch)), "per_page": str(INCLUDE_BATCH),
                                                  "_embed": "wp:featuredmedia", "page": "1"})
            for page in listing.pages(self._wp_fetch(account, http, "posts"), first,
                                      PageNumber("x-wp-totalpages", INCLUDE_BATCH)):
                yield from listing.observe(page.exchange)
            if listing.whole:
                yield Checked(tuple(wordpress.item_id(source, "posts", n) for n in batch))
        yield from self._wp_comments(account, source, numbers, http, marks)
        yield Checkpoint({"mode": "wordpress", "posts": state.get("posts"), **marks.dump()})

    def _wp_since_fetch(self, account: AccountRef, http: HttpClient, subject: str) -> Fetch:
        plain = self._wp_fetch(account, http, subject)

        def fetch(request: PageRequest) -> Page | None:
            if request.params and request.params.get("page") == "1":
                exchange = http.get(request.url, params=request.params)
                if exchange.status == 400 and wordpress.error_code(exchange)[0] == "rest_invalid_param":
                    raise _BoundRefused(wordpress.error_code(exchange)[1])
                wordpress.raise_for_status(exchange, account=account.account_id, subject=subject,
                                           min_wait=self.min_wait())
                rows = self._wp_json_list(exchange, account, subject)
                return Page(exchange, rows, rows)
            return plain(request)

        return fetch

    def _confirm_wordpress(self, account: AccountRef, source: ids.Source, item_id: str, http: HttpClient) -> Gone | Present:
        kind, _, number = item_id.removeprefix(f"{source.key}/").partition("/")
        if kind not in ("posts", "comments") or not number.isdigit():
            return Present((), None)
        exchange = http.get(f"{self._rest(account, source)}/{kind}/{number}")
        code, message = wordpress.error_code(exchange)
        if exchange.status == 404 and code in wordpress.NOT_FOUND_CODES:
            return Gone(reason="deleted", evidence=exchange.response_pointer, status=404,
                        detail=f"WordPress {code}: {message}")
        if exchange.status in (401, 403) and code in wordpress.NOT_PUBLIC_CODES:
            return Gone(reason="unpublished", evidence=exchange.response_pointer, status=exchange.status,
                        detail=f"WordPress {code}: no longer public (trashed, drafted, made private or held)")
        wordpress.raise_for_status(exchange, account=account.account_id, subject=f"{kind} {number}",
                                   min_wait=self.min_wait())
        return Present(items_of(self, account, exchange), exchange.response_pointer)

    # --- RSS / Atom ------------------------------------------------------------------------

    def _get_feed(self, account: AccountRef, url: str, headers: dict[str, str] | None, http: HttpClient) -> CapturedExchange:
        exchange = http.get(url, headers=headers)
        status = exchange.status
        if status == 304 or 200 <= status < 300:
            return exchange
        kwargs: dict[str, Any] = {"platform": self.platform, "account": account.account_id,
                                  "evidence": exchange.response_pointer}
        if status in (404, 410):
            raise AccountGone(f"The feed {account.account_id} is gone (HTTP {status}); check the blog for its new "
                              "feed address and register that", **kwargs)
        if status in (401, 403):
            raise NeedsAttention(f"The feed {account.account_id} refuses the archiver (HTTP {status}); ask the "
                                 "webmaster to allow the archiver's user agent", **kwargs)
        raise UnexpectedResponse(f"The feed {account.account_id} answered HTTP {status}; the response is kept in "
                                 "the WARC and the next poll retries", **kwargs)

    def _feed_doc(self, account: AccountRef, exchange: CapturedExchange) -> FeedDoc:
        try:
            return parse_feed(fromstring(exchange.body))
        except UnsafeXml as exc:
            raise UnexpectedResponse(
                f"The feed {account.account_id} contains XML entity declarations, which the archiver refuses "
                "to expand; the raw response is kept in the WARC", detail=str(exc), platform=self.platform,
                account=account.account_id, evidence=exchange.response_pointer) from None
        except ValueError as exc:
            raise UnexpectedResponse(
                f"The feed {account.account_id} is not a readable RSS or Atom document; the response is kept "
                "in the WARC and the next poll retries", detail=str(exc), platform=self.platform,
                account=account.account_id, evidence=exchange.response_pointer) from None

    def _harvest_feed(
        self, account: AccountRef, source: ids.Source, state: dict[str, Any], http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        headers = {}
        if isinstance(state.get("etag"), str):
            headers["If-None-Match"] = state["etag"]
        if isinstance(state.get("last_modified"), str):
            headers["If-Modified-Since"] = state["last_modified"]
        url = self._url(account, source)
        first = self._get_feed(account, url, headers or None, http)
        if first.status == 304:
            yield Checkpoint(state)  # unchanged since the last poll: nothing new, nothing judged
            return
        complete, undated = False, False
        dates: list[datetime] = []
        pages_seen: set[str | None] = {url}

        def fetch(request: PageRequest) -> Page:
            exchange = first if request.url == url else self._get_feed(account, request.url, None, http)
            doc = self._feed_doc(account, exchange)
            next_url = urljoin(exchange.url, doc.next_url) if doc.next_url else None
            if next_url in pages_seen:  # a feed whose pages loop: the walk ends here
                next_url = None
            pages_seen.add(next_url)
            return Page(exchange, {"next": next_url, "complete": doc.complete}, doc.entries)

        feed = self.listing(account, "the feed")
        stopped = False
        for page in feed.pages(fetch, PageRequest(url), NextUrl(("next",))):
            shown = []
            for event in feed.observe(page.exchange):
                if isinstance(event, Observed):
                    shown.append(event.item)
                yield event
            complete = complete or page.body["complete"]
            dates += [e.dated for e in page.rows if e.dated is not None]
            undated = undated or any(e.dated is None for e in page.rows)
            if page.body["next"] and plan.page_is_old(shown):
                stopped = True  # a paged feed, newest first: older pages hold only known entries
                break
        if stopped:
            complete = False  # the pages not read prove nothing; what was read covers its span
            feed.ended = True
        oldest_now = min(dates) if dates else None
        oldest_ever = _parse_iso(state.get("oldest"))
        spans_all = (not undated and oldest_now is not None and oldest_ever is not None and oldest_now <= oldest_ever)
        if complete or spans_all:
            yield from feed.covered(None, ItemKind.POST)
        elif oldest_now is not None and not undated:
            # A latest-N feed: entries older than its oldest one rolled off (that proves
            # nothing); a missing entry newer than that is checked by fetching its address.
            yield from feed.covered(None, ItemKind.POST, created_after=oldest_now)
        oldest = min(d for d in (oldest_now, oldest_ever) if d is not None) if (oldest_now or oldest_ever) else None
        yield Checkpoint({
            "mode": "feed",
            "etag": first.header("etag"),
            "last_modified": first.header("last-modified"),
            "oldest": oldest.isoformat() if oldest else None,
            "covered": bool(complete or spans_all),
        })

    def _parse_feed(self, account: AccountRef, source: ids.Source, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        if exchange.status != 200:
            return
        ctype = (exchange.header("content-type") or "").lower()
        head = exchange.body[:200].lstrip().lower()
        if not any(t in ctype for t in FEED_TYPES) and not head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf")):
            return  # an entry's web page fetched by confirm_gone, not a feed
        try:
            doc = parse_feed(fromstring(exchange.body))
        except UnsafeXml as exc:
            yield ParseWarning("feeds.unsafe_xml", str(exc), exchange.response_pointer)
            return
        except ValueError as exc:
            yield ParseWarning("feeds.malformed_xml", str(exc)[:200], exchange.response_pointer)
            return
        for problem in doc.problems:
            yield ParseWarning("feeds.entry_without_id", problem, exchange.response_pointer)
        for entry in doc.entries:
            yield Item(
                platform=self.platform, account_id=account.account_id,
                item_id=entry_item_id(source.url, entry.guid), kind=ItemKind.POST, content=entry.content,
                created_at=entry.published, parent_id=None, author=entry.author, text=entry.text,
                url=entry.url, media=entry.media,
            )


class _BoundRefused(Exception):
    """WordPress refused `modified_after` or `after` (a bound it cannot read)."""


class _Marks:
    """The newest post `modified` and comment `date` seen (site-local, as WordPress compares
    them), for the next cycle's `modified_after` / `after`, a second early."""

    def __init__(self, modified: Any = None, comments_after: Any = None) -> None:
        self.modified = _parse_iso(modified)
        self.comment = _parse_iso(comments_after)
        # A time past any site's clock (a post dated in the future, a wrong server clock) must
        # not become the bound, or every later edit would fall before it until the sweep.
        self.latest = datetime.now(UTC).replace(tzinfo=None) + SITE_CLOCK_SLACK

    def _newest(self, current: datetime | None, rows: list[Any], field: str) -> datetime | None:
        for row in rows:
            when = _parse_iso(row.get(field)) if isinstance(row, dict) else None
            if when is None or when.tzinfo is not None or when > self.latest:
                continue
            if current is None or when - MARGIN > current:
                current = when - MARGIN
        return current

    def posts(self, rows: list[Any]) -> None:
        self.modified = self._newest(self.modified, rows, "modified")

    def comments(self, rows: list[Any]) -> None:
        self.comment = self._newest(self.comment, rows, "date")

    def dump(self) -> dict[str, Any]:
        return {"modified": self.modified.isoformat() if self.modified else "1970-01-01T00:00:00",
                "comments_after": self.comment.isoformat() if self.comment else "1970-01-01T00:00:00"}


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
