"""LinkedIn organization pages through the Community Management API (versioned REST).

Each cycle reads the organization's posts finder (`q=author`) to its end with start/count
paging, then each post's comments and each comment's replies through socialActions. Every
request carries `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`. Edits are found by
diffing content; `lastModifiedAt` and `isEditedByAuthor` stay out of it, because the first
also moves for reasons that are not edits and the second is only a hint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

from archiver.core.errors import AccountGone, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
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
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase, PlatformSettings
from connectors.linkedin import errors
from connectors.linkedin.ids import ORG_URN, comment_parts, normalize_account_id, quote_urn
from connectors.linkedin.parse import comment_urn, parse_response
from connectors.paging import Fetch, Offset, Page, PageRequest, items_of
from connectors.shapes import as_dict, as_list

MEDIA_ENDPOINTS = {"image": "images", "video": "videos", "document": "documents"}
POSTS_PAGE_MAX = 100


class LinkedInSettings(PlatformSettings):
    """`[connectors.linkedin]`: `api_version` is the LinkedIn-Version header (YYYYMM)."""


class LinkedInConnector(ConnectorBase):
    platform: ClassVar[str] = "linkedin"
    label: ClassVar[str] = "LinkedIn"
    auth_style: ClassVar[AuthStyle] = AuthStyle.BEARER
    default_api_base: ClassVar[str] = "https://api.linkedin.com"
    default_version: ClassVar[str] = "202605"
    settings_model: ClassVar[type[PlatformSettings]] = LinkedInSettings

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
        return self.decode_json(exchange, account, subject)

    def _fetch(self, account: AccountRef, http: HttpClient, subject: str, *, missing_ok: bool = False) -> Fetch:
        """A page fetcher for a Rest.li collection; with `missing_ok`, an object deleted since
        it was listed raises `_Vanished`, so the caller skips it without claiming its children."""

        def fetch(request: PageRequest) -> Page:
            exchange = self._get(http, request.url, dict(request.params or {}))
            if missing_ok and errors.is_not_found(exchange):
                raise _Vanished(subject)
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
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient
    ) -> Iterator[HarvestEvent]:
        org_id = self.resolve_org_id(account, cursor, http)
        state = {"organization_id": org_id, "vanity": "" if account.account_id.isdigit() else account.account_id}
        yield Checkpoint(state)
        base = self._base(account)
        posts: list[str] = []
        media_cache: dict[str, tuple[MediaRef, ...]] = {}
        finder = {"author": f"{ORG_URN}{org_id}", "q": "author", "sortBy": "CREATED"}
        listing = self.listing(account, account.account_id)
        fetch = self._fetch(account, http, account.account_id)
        for page in listing.pages(fetch, self._first(f"{base}/rest/posts", finder), Offset()):
            for event in listing.observe(page.exchange):
                if not isinstance(event, Observed):
                    yield event
                    continue
                refs: list[MediaRef] = list(event.item.media)
                for urn in event.item.content.get("media", []):
                    found, warning = self._media(account, urn, http, media_cache)
                    refs += found
                    if warning:
                        yield warning
                posts.append(event.item.item_id)
                yield Observed(dataclasses.replace(event.item, media=tuple(refs)), event.evidence)
        yield from listing.covered(None, ItemKind.POST)
        for post in posts:
            yield from self._comments(account, post, http)
        yield Checkpoint(state)

    def _comments(self, account: AccountRef, post: str, http: HttpClient) -> Iterator[HarvestEvent]:
        base = self._base(account)
        url = f"{base}/rest/socialActions/{quote_urn(post)}/comments"
        wanted: list[tuple[str, bool]] = []  # (comment URN, has replies or unknown)
        comments = self.listing(account, post)
        try:
            for page in comments.pages(self._fetch(account, http, post, missing_ok=True), self._first(url, {}),
                                       Offset()):
                yield from comments.observe(page.exchange)
                for row in page.rows:
                    urn = _comment_urn(row)
                    if urn:
                        summary = as_dict(row.get("commentsSummary"))
                        first_level = summary.get("totalFirstLevelComments")
                        known_empty = first_level == 0 and not isinstance(first_level, bool)
                        wanted.append((urn, not known_empty))
        except _Vanished:
            return  # deleted since the posts listing: the deletion check will find out
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


class _Vanished(Exception):
    """A post or comment was deleted between being listed and having its comments listed."""


def _comment_urn(row: Any) -> str:
    return comment_urn(row) if isinstance(row, dict) else ""
