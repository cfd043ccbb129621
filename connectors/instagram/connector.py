"""Instagram professional accounts through the Graph API (Instagram API with Facebook Login).

Each cycle lists the account's /media to the end (following `paging.next`), then each media's
top-level comments with their replies expanded inline; a reply list longer than the inline
page is read to its end through /{comment-id}/replies. Instagram has no edit timestamps, so
edits are found by diffing content (caption, media identity, a comment's `hidden` flag).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

from archiver.core.errors import AccountGone, NeedsAttention, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
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
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase
from connectors.instagram import errors
from connectors.instagram.ids import is_numeric_id, normalize_account_id
from connectors.instagram.parse import parse_response

MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,thumbnail_url,permalink,shortcode,"
    "timestamp,username,comments_count,like_count,"
    "children{id,media_type,media_url,thumbnail_url}"
)
_REPLY_FIELDS = "id,text,timestamp,username,from{id,username},hidden,parent_id,like_count"
COMMENT_FIELDS = (
    "id,text,timestamp,username,from{id,username},hidden,parent_id,like_count,media{id},"
    f"replies{{{_REPLY_FIELDS}}}"
)
REPLY_FIELDS = _REPLY_FIELDS
LINK_FIELDS = "id,name,instagram_business_account{id,username}"
COMMENTS_PAGE_MAX = 50  # "maximum of 50 comments per query"


class InstagramConnector(ConnectorBase):
    platform: ClassVar[str] = "instagram"
    label: ClassVar[str] = "Instagram"
    auth_style: ClassVar[AuthStyle] = AuthStyle.QUERY_ACCESS_TOKEN
    default_api_base: ClassVar[str] = "https://graph.facebook.com"
    default_version: ClassVar[str] = "v25.0"

    def normalize_account_id(self, raw: str) -> str:
        """Accept @username, a username, an instagram.com profile URL or the numeric IG user id."""
        return normalize_account_id(raw)

    # --- helpers ---------------------------------------------------------------------------

    def _base(self, account: AccountRef) -> str:
        return f"{self.api_root(account)}/{self.version}"

    def _checked(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> Any:
        errors.raise_for_error(
            exchange,
            account=account.account_id,
            now=exchange.captured_at,
            min_wait=timedelta(seconds=self.settings.min_retry_seconds),
            subject=subject,
        )
        return self.decode_json(exchange, account, subject)

    def _pages(
        self, account: AccountRef, url: str, params: dict[str, str] | None, http: HttpClient, subject: str,
        *, missing_ok: bool = False,
    ) -> Iterator[tuple[CapturedExchange, list[Any]]]:
        """Follow `paging.next` to the end; a listing we cannot read stops the harvest.

        With `missing_ok`, an object deleted since it was listed raises `_Vanished`, so the
        caller skips it without claiming its children were listed.
        """
        for _ in range(self.settings.max_pages):
            exchange = http.get(url, params=params)
            error = errors.error_of(exchange)
            if missing_ok and error is not None and errors.is_not_found(error, exchange.status):
                raise _Vanished(subject)
            data = self._checked(exchange, account, subject)
            rows = data.get("data") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise UnexpectedResponse(
                    f"Instagram listing for {subject} has no data array; it is kept in the WARC "
                    "and nothing in it is judged deleted",
                    platform=self.platform,
                    account=account.account_id,
                    evidence=exchange.response_pointer,
                )
            yield exchange, rows
            paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
            next_url = paging.get("next")
            if not isinstance(next_url, str) or not next_url:
                return
            url, params = next_url, None
        raise UnexpectedResponse(
            f"Instagram listing for {subject} exceeded {self.settings.max_pages} pages; raise "
            "connectors.instagram.max_pages if this account is that large",
            platform=self.platform,
            account=account.account_id,
        )

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
        error = errors.error_of(exchange)
        if error is None or error.get("code") != errors.NONEXISTING_FIELD:
            data = self._checked(exchange, account, "the token's Page")
            return _links([data])
        # A User token: /me is the person, whose Pages are listed at /me/accounts.
        linked: list[tuple[str, str]] = []
        for _exchange, rows in self._pages(
            account, f"{base}/me/accounts", {"fields": LINK_FIELDS, "limit": "100"}, http, "the token's Pages"
        ):
            linked += _links(rows)
        return linked

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        ig_id = self.resolve_user_id(account, None, http)
        exchange = http.get(f"{self._base(account)}/{ig_id}", params={"fields": "id,username,name,media_count"})
        data = self._checked(exchange, account, account.account_id)
        name = (data.get("name") or data.get("username") or "") if isinstance(data, dict) else ""
        return CheckResult(True, "token works", display_name=str(name), details={"ig_user_id": ig_id})

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient
    ) -> Iterator[HarvestEvent]:
        ig_id = self.resolve_user_id(account, cursor, http)
        state = {"ig_user_id": ig_id, "username": account.account_id if not is_numeric_id(account.account_id) else ""}
        yield Checkpoint(state)
        base = self._base(account)
        media: list[tuple[str, Any]] = []
        listing = f"{base}/{ig_id}/media"
        params = {"fields": MEDIA_FIELDS, "limit": str(self.settings.page_limit)}
        for exchange, rows in self._pages(account, listing, params, http, account.account_id):
            yield from self._observe(account, exchange)
            media += [(r["id"], r.get("comments_count")) for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)]
        yield Covered(None, (ItemKind.POST,))
        for media_id, count in media:
            yield from self._comments(account, media_id, count, http)
        yield Checkpoint(state)

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
        try:
            for exchange, rows in self._pages(
                account, f"{base}/{media_id}/comments", {"fields": COMMENT_FIELDS, "limit": limit}, http,
                media_id, missing_ok=True,
            ):
                yield from self._observe(account, exchange)
                for row in rows:
                    if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                        continue
                    comment_ids.append(row["id"])
                    replies = row.get("replies") if isinstance(row.get("replies"), dict) else {}
                    paging = replies.get("paging") if isinstance(replies.get("paging"), dict) else {}
                    if paging.get("next"):
                        truncated.add(row["id"])
        except _Vanished:
            return  # deleted since the media listing: the deletion check will find out
        yield Covered(media_id, (ItemKind.COMMENT,))
        for comment_id in comment_ids:
            if comment_id in truncated:
                try:
                    for exchange, _rows in self._pages(
                        account, f"{base}/{comment_id}/replies", {"fields": REPLY_FIELDS, "limit": limit},
                        http, comment_id, missing_ok=True,
                    ):
                        yield from self._observe(account, exchange)
                except _Vanished:
                    continue
            yield Covered(comment_id, (ItemKind.REPLY,))

    def _observe(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[HarvestEvent]:
        for parsed in self.parse(account, exchange):
            yield parsed if isinstance(parsed, ParseWarning) else Observed(parsed, exchange.response_pointer)

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        """`id,timestamp` exist on media and comments alike, so one request serves both."""
        exchange = http.get(f"{self._base(account)}/{item_id}", params={"fields": "id,timestamp"})
        error = errors.error_of(exchange)
        if error is not None and errors.is_not_found(error, exchange.status):
            return Gone(
                reason="deleted",
                evidence=exchange.response_pointer,
                status=exchange.status,
                detail=f"Graph API code {error.get('code')} subcode {error.get('error_subcode')}",
            )
        self._checked(exchange, account, item_id)  # raises for throttles, tokens, oddities
        return Present((), exchange.response_pointer)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        return parse_response(account.account_id, exchange)


class _Vanished(Exception):
    """An object was deleted between being listed and having its children listed."""


def _links(rows: list[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for row in rows:
        linked = row.get("instagram_business_account") if isinstance(row, dict) else None
        if isinstance(linked, dict) and is_numeric_id(str(linked.get("id", ""))):
            out.append((str(linked["id"]), str(linked.get("username") or "")))
    return out
