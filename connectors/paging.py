"""Walking a platform's listings: paginators, the page cap and the cut-short rule.

A connector says how to fetch one page (its URL, its error mapping) and which paginator its
API speaks; `Listing` walks the pages to the end, stops with a clear error past `max_pages`,
observes each page through the guarded parser, and yields `Covered` only for a listing that
was read whole and parsed whole. A listing cut short never lets anything be marked deleted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from archiver.core.errors import UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Covered,
    HarvestEvent,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
)
from connectors.base import Connector, is_quarantine, parse_guarded


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What to ask for one page: GET `url` with `params`, or POST `json` when it is set."""

    url: str
    params: Mapping[str, str] | None = None
    json: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page: the exchange, its decoded body and the rows it lists."""

    exchange: CapturedExchange
    body: Any
    rows: list[Any]
    request: PageRequest | None = None


Fetch = Callable[[PageRequest], Page | None]  # None: the listing ended early (gone, past end)


def _path(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        body = body.get(key) if isinstance(body, dict) else None
    return body


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Paginator:
    """Decides the request for the next page from the one just read; None ends the listing."""

    def next(self, request: PageRequest, page: Page) -> PageRequest | None:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class NextUrl(Paginator):
    """A full URL for the next page in the body (Graph API `paging.next`)."""

    path: tuple[str, ...] = ("paging", "next")

    def next(self, request: PageRequest, page: Page) -> PageRequest | None:
        url = _text(_path(page.body, self.path))
        return PageRequest(url) if url else None


_LINK = re.compile(r'<(?P<url>[^>]*)>\s*;\s*rel="?(?P<rel>[^";]+)"?')


def link_next(header: str | None) -> str | None:
    """The `rel="next"` target of an RFC 8288 Link header."""
    for match in _LINK.finditer(header or ""):
        if "next" in match["rel"].split():
            return match["url"]
    return None


@dataclass(frozen=True, slots=True)
class LinkHeader(Paginator):
    """The next page in the Link header (Mastodon); an empty page ends the listing too."""

    def next(self, request: PageRequest, page: Page) -> PageRequest | None:
        url = link_next(page.exchange.header("link"))
        return PageRequest(url) if url and page.rows else None


@dataclass(frozen=True, slots=True)
class Token(Paginator):
    """An opaque token in the body, sent back as query parameter `param` (X `next_token`,
    YouTube `nextPageToken`, Bluesky `cursor`) or, with `in_json`, in the POST body."""

    path: tuple[str, ...]
    param: str
    stop_on_empty: bool = False
    in_json: bool = False

    def next(self, request: PageRequest, page: Page) -> PageRequest | None:
        token = _path(page.body, self.path)
        if token is None or token == "" or isinstance(token, bool) or (self.stop_on_empty and not page.rows):
            return None
        if self.in_json:
            return replace(request, json={**(request.json or {}), self.param: token})
        if not isinstance(token, str):
            return None
        return replace(request, params={**(request.params or {}), self.param: token})


@dataclass(frozen=True, slots=True)
class PageNumber(Paginator):
    """`page=N` until the total-pages header says the last one was read (WordPress), or, without
    it, until a page shorter than `per_page`."""

    total_header: str
    per_page: int

    def next(self, request: PageRequest, page: Page) -> PageRequest | None:
        params = dict(request.params or {})
        number = int(params.get("page", "1"))
        raw = (page.exchange.header(self.total_header) or "").strip()
        total = int(raw) if raw.isdigit() else None
        if not page.rows or (total is not None and number >= total) or (total is None and len(page.rows) < self.per_page):
            return None
        return replace(request, params={**params, "page": str(number + 1)})


@dataclass(frozen=True, slots=True)
class Offset(Paginator):
    """`start`/`count` paging (LinkedIn Rest.li): more while `paging.total` or a `rel=next`
    link says so; when the API sends neither, until an empty page, since a short page may
    only mean a server-side cap on `count`."""

    def next(self, request: PageRequest, page: Page) -> PageRequest | None:
        if not page.rows:
            return None
        params = dict(request.params or {})
        start = int(params.get("start", "0")) + len(page.rows)
        paging = _path(page.body, ("paging",))
        paging = paging if isinstance(paging, dict) else {}
        total, links = paging.get("total"), paging.get("links")
        has_total = isinstance(total, int) and not isinstance(total, bool)
        has_links = isinstance(links, list)
        more_by_total = isinstance(total, int) and has_total and start < total
        more_by_link = isinstance(links, list) and any(isinstance(k, dict) and k.get("rel") == "next" for k in links)
        if (has_total or has_links) and not (more_by_total or more_by_link):
            return None
        return replace(request, params={**params, "start": str(start)})


class Listing:
    """One listing of one scope, walked to its end and observed through the guarded parser.

    `whole` stays False when the walk stopped early (the object vanished, a page was past the
    end) or a page's parser was quarantined; `covered()` then yields nothing, so nothing in
    the scope can be judged deleted this cycle.
    """

    def __init__(self, connector: Connector, account: AccountRef, *, max_pages: int, subject: str) -> None:
        self.connector = connector
        self.account = account
        self.max_pages = max_pages
        self.subject = subject
        self.ended = True  # a scope observed without paging is whole unless a parser fails
        self.quarantined = False

    @property
    def whole(self) -> bool:
        return self.ended and not self.quarantined

    def pages(self, fetch: Fetch, first: PageRequest, paginator: Paginator) -> Iterator[Page]:
        """Every page, first to last; past `max_pages` the walk stops with UnexpectedResponse."""
        self.ended = False
        request: PageRequest | None = first
        for _ in range(self.max_pages):
            assert request is not None
            page = fetch(request)
            if page is None:
                return
            page = replace(page, request=request)
            yield page
            request = paginator.next(request, page)
            if request is None:
                self.ended = True
                return
        platform = self.connector.platform
        label = getattr(self.connector, "label", "") or platform
        raise UnexpectedResponse(
            f"{label} listing of {self.subject} for {self.account.account_id} exceeded "
            f"{self.max_pages} pages; raise connectors.{platform}.max_pages if it is that large "
            "(nothing in it is judged deleted)",
            platform=platform,
            account=self.account.account_id,
        )

    def observe(self, exchange: CapturedExchange) -> Iterator[HarvestEvent]:
        """The items a page shows, as Observed events with their evidence, and its warnings."""
        for parsed in parse_guarded(self.connector, self.account, exchange):
            if isinstance(parsed, ParseWarning):
                self.quarantined = self.quarantined or is_quarantine(parsed)
                yield parsed
            else:
                yield Observed(parsed, exchange.response_pointer)

    def covered(
        self, parent_id: str | None, *kinds: ItemKind, created_after: datetime | None = None
    ) -> Iterator[Covered]:
        if self.whole:
            yield Covered(parent_id, kinds, created_after=created_after)


def items_of(connector: Connector, account: AccountRef, exchange: CapturedExchange) -> tuple[Item, ...]:
    """The items of one response through the guarded parser (direct lookups in confirm_gone)."""
    return tuple(p for p in parse_guarded(connector, account, exchange) if isinstance(p, Item))
