"""LinkedIn organization pages through the Community Management API (versioned REST).

A full capture (the first, or `--reconcile`) reads the organization's posts finder (`q=author`,
`sortBy=CREATED`) to its end with start/count paging, then each post's comments and each
comment's replies through socialActions. Any other cycle reads the finder with
`sortBy=LAST_MODIFIED` until a page reaches the newest `lastModifiedAt` the last cycle saw
(an edited post of any age moves to the top), asks socialMetadata (a batch of 50 posts a
request) for every known post's comment total, and lists the comments of posts that are new,
whose total moved, or that the reconciliation sweep names; a post socialMetadata no longer
knows is looked up directly (`Checked`). Every request carries `LinkedIn-Version` and
`X-Restli-Protocol-Version: 2.0.0`. Edits are found by diffing content; `lastModifiedAt` and
`isEditedByAuthor` stay out of it, because the first also moves for reasons that are not edits
and the second is only a hint.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Generator, Iterator
from datetime import timedelta
from typing import Any, ClassVar

from archiver.core.errors import AccountGone, UnexpectedResponse
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
    MediaRef,
    Observed,
    ParseWarning,
    Present,
)
from archiver.core.plan import FULL, HarvestPlan
from connectors.base import AuthStyle, HttpClient, remember_decoded
from connectors.common import ConnectorBase, PlatformSettings
from connectors.linkedin import errors
from connectors.linkedin.ids import ORG_URN, comment_parts, normalize_account_id, quote_urn
from connectors.linkedin.parse import comment_urn, parse_response
from connectors.paging import Fetch, Offset, Page, PageRequest, items_of
from connectors.shapes import as_dict, as_list

MEDIA_ENDPOINTS = {"image": "images", "video": "videos", "document": "documents"}
POSTS_PAGE_MAX = 100
METADATA_BATCH = 50  # post URNs per socialMetadata BATCH_GET (the URL stays short)
log = logging.getLogger(__name__)


class LinkedInSettings(PlatformSettings):
    """`[connectors.linkedin]`: `api_version` is the LinkedIn-Version header (YYYYMM)."""


class LinkedInConnector(ConnectorBase):
    platform: ClassVar[str] = "linkedin"
    label: ClassVar[str] = "LinkedIn"
    auth_style: ClassVar[AuthStyle] = AuthStyle.BEARER
    default_api_base: ClassVar[str] = "https://api.linkedin.com"
    default_version: ClassVar[str] = "202605"
    settings_model: ClassVar[type[PlatformSettings]] = LinkedInSettings
    incremental: ClassVar[bool] = True

    def normalize_account_id(self, raw: str) -> str:
        """Accept a numeric organization id, urn:li:organization:<id> or a company page URL."""
        return normalize_account_id(raw)

    # --- helpers ---------------------------------------------------------------------------

    def _base(self, account: AccountRef) -> str:
        return self.api_root(account)

    def _headers(self) -> dict[str, str]:
        return {"LinkedIn-Version": self.version, "X-Restli-Protocol-Version": "2.0.0"}

    def _get(self, http: HttpClient, url: str, params: dict[str, str] | None = None) -> CapturedExchange:
        return http.get(url, params=params, headers=self._headers())

    def raise_for_429(self, exchange: CapturedExchange, account_id: str) -> None:
        """The session's 429 hook: LinkedIn's quotas are daily, so wait for midnight UTC."""
        errors.raise_for_error(
            exchange,
            account=account_id,
            now=exchange.captured_at,
            min_wait=timedelta(seconds=self.settings.min_retry_seconds),
            version=self.version,
            subject=account_id,
        )

    def _checked(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> dict[str, Any]:
        errors.raise_for_error(
            exchange,
            account=account.account_id,
            now=exchange.captured_at,
            min_wait=timedelta(seconds=self.settings.min_retry_seconds),
            version=self.version,
            subject=subject,
        )
        # kept for the parser, which reads the same page next
        return remember_decoded(exchange, self.decode_json(exchange, account, subject))

    def _fetch(self, account: AccountRef, http: HttpClient, subject: str, *, missing_ok: bool = False,
               refusal_ok: bool = False) -> Fetch:
        """A page fetcher for a Rest.li collection; with `missing_ok`, an object deleted since
        it was listed raises `_Vanished`, so the caller skips it without claiming its children;
        with `refusal_ok`, a 400 (a parameter the API refuses) raises `_Refused`."""

        def fetch(request: PageRequest) -> Page:
            exchange = self._get(http, request.url, dict(request.params or {}))
            if missing_ok and errors.is_not_found(exchange):
                raise _Vanished(subject)
            if refusal_ok and exchange.status == 400:
                body = errors.error_body(exchange)
                raise _Refused(f"{body.get('code') or 'HTTP 400'}: {str(body.get('message') or '')[:120]}")
            data = self._checked(exchange, account, subject)
            elements = data.get("elements")
            if not isinstance(elements, list):
                raise UnexpectedResponse(
                    f"LinkedIn collection for {subject} has no elements array; it is kept in the "
                    "WARC and nothing in it is judged deleted",
                    platform=self.platform,
                    account=account.account_id,
                    evidence=exchange.response_pointer,
                )
            return Page(exchange, data, elements)

        return fetch

    def _first(self, url: str, params: dict[str, str], page_max: int = POSTS_PAGE_MAX) -> PageRequest:
        return PageRequest(url, {**params, "start": "0", "count": str(min(self.settings.page_limit, page_max))})

    def resolve_org_id(self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient) -> str:
        """A vanity name is looked up once (Organizations API, q=vanityName) and remembered."""
        wanted = account.account_id
        if wanted.isdigit():
            return wanted
        if cursor and cursor.get("vanity") == wanted and str(cursor.get("organization_id", "")).isdigit():
            return str(cursor["organization_id"])
        exchange = self._get(
            http, f"{self._base(account)}/rest/organizations", {"q": "vanityName", "vanityName": wanted}
        )
        data = self._checked(exchange, account, f"page name {wanted}")
        elements = as_list(data.get("elements"))
        for element in elements:
            org_id = str(element.get("id", "")) if isinstance(element, dict) else ""
            if org_id.isdigit():
                return org_id
        raise AccountGone(
            f"No LinkedIn organization page is named '{wanted}'; check the page URL or register "
            "the numeric organization id",
            platform=self.platform,
            account=wanted,
            evidence=exchange.response_pointer,
        )

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        """One post from the finder proves the token, its scope and the member's page role."""
        org_id = self.resolve_org_id(account, None, http)
        exchange = self._get(
            http, f"{self._base(account)}/rest/posts",
            {"author": f"{ORG_URN}{org_id}", "q": "author", "count": "1"},
        )
        self._checked(exchange, account, account.account_id)
        return CheckResult(True, "token works", display_name=f"{ORG_URN}{org_id}",
                           details={"organization_id": org_id, "linkedin_version": self.version})

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        org_id = self.resolve_org_id(account, cursor, http)
        old = cursor if isinstance(cursor, dict) else {}
        state: dict[str, Any] = {
            "organization_id": org_id, "vanity": "" if account.account_id.isdigit() else account.account_id,
            "modified": old.get("modified"), "comments": as_dict(old.get("comments")),
        }
        yield Checkpoint(dict(state))  # a copy: `state` changes as the cycle goes on
        base = self._base(account)
        posts: list[str] = []
        media_cache: dict[str, tuple[MediaRef, ...]] = {}
        watermark = None if plan.full else _watermark(old.get("modified"))
        if not plan.full and watermark is None:
            log.warning("LinkedIn %s: no usable lastModifiedAt watermark in the cursor (%r); reading the "
                        "whole posts listing once", account.account_id, old.get("modified"))
        newest = watermark
        for sort in (("LAST_MODIFIED",) if watermark is not None else ()) + ("CREATED",):
            finder = {"author": f"{ORG_URN}{org_id}", "q": "author", "sortBy": sort}
            listing = self.listing(account, account.account_id)
            fetch = self._fetch(account, http, account.account_id, refusal_ok=sort == "LAST_MODIFIED")
            first = self._first(f"{base}/rest/posts", finder)
            rejected = False
            try:
                for page in listing.pages(fetch, first, Offset()):
                    for event in listing.observe(page.exchange):
                        if not isinstance(event, Observed):
                            yield event
                            continue
                        item = event.item
                        known = plan.known.get(item.item_id)
                        refs: list[MediaRef] = list(item.media)
                        if plan.full or known is None or known.content_sha256 != item.content_sha256:
                            for urn in item.content.get("media", []):  # files are kept once seen
                                found, warning = self._media(account, urn, http, media_cache)
                                refs += found
                                if warning:
                                    yield warning
                        posts.append(item.item_id)
                        yield Observed(dataclasses.replace(item, media=tuple(refs)), event.evidence)
                    modified = [m for m in (_int(r.get("lastModifiedAt")) for r in page.rows if isinstance(r, dict))
                                if m is not None]
                    newest = max([newest or 0, *modified]) or None
                    if sort == "LAST_MODIFIED" and watermark is not None and modified and min(modified) <= watermark:
                        break  # the rest of the listing was modified before the last cycle
            except _Refused as exc:
                rejected = True
                log.warning("LinkedIn %s: the posts finder refused sortBy=LAST_MODIFIED (%s); reading the "
                            "whole listing by creation once", account.account_id, exc)
            if rejected:
                posts.clear()
                continue
            if sort == "CREATED":
                yield from listing.covered(None, ItemKind.POST)
            break
        totals, unknown = self._totals(account, http, sorted(
            {k.item_id for k in plan.known.values() if k.kind == ItemKind.POST} | set(posts)))
        if unknown:
            yield Checked(tuple(sorted(u for u in unknown if u in plan.known)))
        wanted: dict[str, None] = {}
        for post in posts:
            if plan.full or plan.is_new(post):
                wanted.setdefault(post)
        for post, total in totals.items():
            if state["comments"].get(post) != total:
                wanted.setdefault(post)
        for known in plan.swept(ItemKind.POST):
            if known.item_id not in unknown:
                wanted.setdefault(known.item_id)
        if plan.recent_since is not None:
            for known in plan.known.values():
                if known.kind == ItemKind.POST and known.created_at and known.created_at >= plan.recent_since:
                    wanted.setdefault(known.item_id)
        counts = dict(state["comments"])
        for post in wanted:
            whole = yield from self._comments(account, post, http, plan)
            if whole and post in totals:
                counts[post] = totals[post]
        state["comments"] = {p: c for p, c in sorted(counts.items()) if p in totals}
        state["modified"] = newest
        yield Checkpoint(state)

    def _totals(self, account: AccountRef, http: HttpClient, posts: list[str]) -> tuple[dict[str, int], set[str]]:
        """socialMetadata BATCH_GET: each post's comment total (replies included), the change
        signal of its comments, and the posts it no longer knows (deletion candidates)."""
        totals: dict[str, int] = {}
        unknown: set[str] = set()
        base = self._base(account)
        for start in range(0, len(posts), METADATA_BATCH):
            batch = posts[start:start + METADATA_BATCH]
            ids = ",".join(quote_urn(p) for p in batch)
            exchange = self._get(http, f"{base}/rest/socialMetadata?ids=List({ids})")
            data = self._checked(exchange, account, account.account_id)
            results = as_dict(data.get("results"))
            for post in batch:
                summary = as_dict(as_dict(results.get(post)).get("commentSummary"))
                count = summary.get("count")
                if isinstance(count, int) and not isinstance(count, bool):
                    totals[post] = count
                elif post in as_dict(data.get("errors")):
                    unknown.add(post)
        return totals, unknown

    def _comments(
        self, account: AccountRef, post: str, http: HttpClient, plan: HarvestPlan = FULL
    ) -> Generator[HarvestEvent, None, bool]:
        """A post's comments, and the replies of each comment that is new or whose reply count
        moved (all of them on a full capture or for a swept post); returns whether the comments
        were read whole."""
        base = self._base(account)
        url = f"{base}/rest/socialActions/{quote_urn(post)}/comments"
        wanted: list[tuple[str, bool]] = []  # (comment URN, has replies or unknown)
        comments = self.listing(account, post)
        try:
            for page in comments.pages(self._fetch(account, http, post, missing_ok=True), self._first(url, {}),
                                       Offset()):
                parsed: dict[str, Item] = {}
                for event in comments.observe(page.exchange):
                    if isinstance(event, Observed):
                        parsed[event.item.item_id] = event.item
                    yield event
                for row in page.rows:
                    urn = _comment_urn(row)
                    # A swept post is read to the bottom: reply edits move no count.
                    if urn and (post in plan.sweep or urn not in parsed or plan.wants_children(parsed[urn])):
                        summary = as_dict(row.get("commentsSummary"))
                        first_level = summary.get("totalFirstLevelComments")
                        known_empty = first_level == 0 and not isinstance(first_level, bool)
                        wanted.append((urn, not known_empty))
        except _Vanished:
            return False  # deleted since the posts listing: the deletion check will find out
        yield from comments.covered(post, ItemKind.COMMENT)
        for urn, has_replies in wanted:
            replies = self.listing(account, urn)
            if has_replies:
                first = self._first(f"{base}/rest/socialActions/{quote_urn(urn)}/comments", {})
                try:
                    for page in replies.pages(self._fetch(account, http, urn, missing_ok=True), first, Offset()):
                        yield from replies.observe(page.exchange)
                except _Vanished:
                    continue
            yield from replies.covered(urn, ItemKind.REPLY)
        return comments.whole

    def _media(
        self, account: AccountRef, urn: str, http: HttpClient, cache: dict[str, tuple[MediaRef, ...]]
    ) -> tuple[tuple[MediaRef, ...], ParseWarning | None]:
        """Images/Videos/Documents API: the expiring download URL of a media URN, fetched now."""
        if urn in cache:
            return cache[urn], None
        endpoint = MEDIA_ENDPOINTS.get(urn.split(":")[2] if urn.count(":") >= 3 else "")
        if endpoint is None:
            return (), None
        exchange = self._get(http, f"{self._base(account)}/rest/{endpoint}/{quote_urn(urn)}")
        if exchange.status in (403, 404):
            return (), ParseWarning(
                "linkedin.media_unavailable",
                f"{urn} answered HTTP {exchange.status}; the post is kept without that file",
                exchange.response_pointer,
                urn,
            )
        data = self._checked(exchange, account, urn)
        refs: list[MediaRef] = []
        for key, kind in (("downloadUrl", endpoint.rstrip("s")), ("thumbnail", "thumbnail")):
            url = data.get(key)
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                refs.append(MediaRef(url, kind, urn))
        cache[urn] = tuple(refs)
        return cache[urn], None

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        base = self._base(account)
        parts = comment_parts(item_id)
        if parts is not None:
            activity, comment_id = parts
            url = f"{base}/rest/socialActions/{quote_urn(activity)}/comments/{comment_id}"
        elif item_id.startswith(("urn:li:share:", "urn:li:ugcPost:")):
            url = f"{base}/rest/posts/{quote_urn(item_id)}"
        else:
            raise UnexpectedResponse(
                f"Cannot check whether LinkedIn item {item_id} still exists: unknown URN type",
                platform=self.platform,
                account=account.account_id,
            )
        exchange = self._get(http, url)
        if errors.is_not_found(exchange):
            body = errors.error_body(exchange)
            return Gone(
                reason="deleted",
                evidence=exchange.response_pointer,
                status=exchange.status,
                detail=f"LinkedIn {body.get('code') or 'NOT_FOUND'}: {str(body.get('message') or '')[:160]}",
            )
        self._checked(exchange, account, item_id)
        return Present(items_of(self, account, exchange), exchange.response_pointer)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        return parse_response(account.account_id, exchange)


class _Refused(Exception):
    """The API refused a listing parameter (400): the caller falls back to a plainer listing."""


class _Vanished(Exception):
    """A post or comment was deleted between being listed and having its comments listed."""


def _watermark(value: Any) -> int | None:
    """The cursor's newest lastModifiedAt (epoch ms); None when missing or not a sane time."""
    if isinstance(value, int) and not isinstance(value, bool) and 10**12 <= value < 10**14:
        return value
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _comment_urn(row: Any) -> str:
    return comment_urn(row) if isinstance(row, dict) else ""
