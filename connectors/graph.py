"""Meta's Graph API, shared by the Facebook and Instagram connectors.

Graph answers errors (throttles included) mostly with HTTP 400 and a JSON envelope
`{"error": {"code", "error_subcode", "message", ...}}`, so we key on `code`, never on the
status. Usage headers (`X-App-Usage`, `X-Business-Use-Case-Usage`, `X-Page-Usage`) say how
close the app is to a throttle and how long until access returns; a header we cannot read is
ignored, because it must never turn a good response into a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from archiver.core.errors import AccountGone, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import AccountRef, CapturedExchange, Gone, Present
from connectors.auth import AuthStyle
from connectors.base import HttpClient
from connectors.common import ConnectorBase
from connectors.paging import Fetch, NextUrl, Page, PageRequest

TOKEN_CODES = frozenset({190, 102})
PERMISSION_CODES = frozenset({10, 200, 299})
NOT_FOUND = (100, 33)
NONEXISTING_FIELD = 100  # also "tried accessing nonexisting field" on the wrong node type
USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage", "x-page-usage")
USAGE_KEYS = ("call_count", "total_time", "total_cputime", "call_volume", "cpu_time")
USAGE_LIMIT = 95  # percent; above it we pause before the platform blocks the app


def error_of(exchange: CapturedExchange) -> dict[str, Any] | None:
    """The `error` object of a failed Graph answer; None for a success."""
    if exchange.status < 400:
        return None
    try:
        body = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        return {"code": -1, "message": f"HTTP {exchange.status} with a non-JSON body"}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {"code": -1, "message": f"HTTP {exchange.status}"}


def is_not_found(error: dict[str, Any] | None, status: int) -> bool:
    if error is None:
        return status == 404
    return (error.get("code"), error.get("error_subcode")) == NOT_FOUND or status == 404


def _percent(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0


def _usage_entries(data: Any) -> Iterator[dict[str, Any]]:
    """X-App-Usage is one flat entry; the BUC and Page headers map ids to entries or lists."""
    if not isinstance(data, dict):
        return
    if any(key in data for key in USAGE_KEYS):
        yield data
        return
    for value in data.values():
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict):
                yield entry


def usage_of(exchange: CapturedExchange) -> tuple[int, int] | None:
    """(highest usage percent, minutes until access returns) from the usage headers, if any."""
    top, wait = -1, 0
    for name in USAGE_HEADERS:
        raw = exchange.header(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        for entry in _usage_entries(data):
            top = max(top, *(_percent(entry.get(key)) for key in USAGE_KEYS))
            wait = max(wait, _percent(entry.get("estimated_time_to_regain_access")))
    return (top, wait) if top >= 0 else None


@dataclass(frozen=True, slots=True)
class GraphWords:
    """What one Graph platform calls things in the one-line messages a person reads."""

    label: str  # "Facebook"
    owner: str  # "Page {account}"
    token_fix: str  # what to do when the token expired
    scopes: str  # the permissions to grant
    gone_fix: str  # what to check when the account is not found


def raise_for_error(
    exchange: CapturedExchange,
    *,
    platform: str,
    words: GraphWords,
    account: str,
    now: datetime,
    min_wait: timedelta,
    subject: str = "",
    throttle_codes: frozenset[int] = frozenset({4, 17, 32, 613, 80001, 80002}),
    account_codes: frozenset[int] = frozenset(),
) -> None:
    """Raise the archiver error a Graph answer calls for; return quietly on success."""
    kwargs: dict[str, Any] = {"platform": platform, "account": account, "evidence": exchange.response_pointer}
    owner = words.owner.format(account=account)
    error = error_of(exchange)
    usage = usage_of(exchange)
    if error is None:
        if usage and usage[0] >= USAGE_LIMIT:
            raise TryLater(
                f"{words.label} usage for {owner} is at {usage[0]}% of its limit; pausing until "
                f"{words.label} lifts it (nothing to do)",
                retry_at=now + max(min_wait, timedelta(minutes=usage[1])),
                **kwargs,
            )
        return
    code = error.get("code")
    message = str(error.get("message", ""))[:200]
    if code in throttle_codes:
        raise TryLater(
            f"{words.label} throttled {owner} (code {code}); will retry automatically",
            retry_at=now + max(min_wait, timedelta(minutes=usage[1] if usage else 0)),
            detail=message,
            **kwargs,
        )
    if code in TOKEN_CODES:
        raise NeedsAttention(
            f"The {words.label} token for {owner} has expired or was revoked; {words.token_fix}",
            detail=message,
            **kwargs,
        )
    if code in PERMISSION_CODES:
        raise NeedsAttention(
            f"The {words.label} token for {owner} lacks a permission ({words.scopes}); grant it and retry",
            detail=message,
            **kwargs,
        )
    if code in account_codes or (is_not_found(error, exchange.status) and subject == account):
        raise AccountGone(
            f"{words.label} {owner} does not exist or is no longer visible to this token; {words.gone_fix}",
            detail=message,
            **kwargs,
        )
    raise UnexpectedResponse(
        f"{words.label} answered HTTP {exchange.status} (code {code}) for {subject or account}; "
        "the response is kept in the WARC",
        detail=message,
        **kwargs,
    )


class Vanished(Exception):
    """An object was deleted between being listed and having its children listed."""


class GraphConnector(ConnectorBase):
    """What Facebook and Instagram share: versioned URLs, error mapping, paging, deletions."""

    auth_style: ClassVar[AuthStyle] = AuthStyle.QUERY_ACCESS_TOKEN
    default_api_base: ClassVar[str] = "https://graph.facebook.com"
    words: ClassVar[GraphWords]
    throttle_codes: ClassVar[frozenset[int]] = frozenset({4, 17, 32, 613, 80001, 80002})
    account_codes: ClassVar[frozenset[int]] = frozenset()
    probe_fields: ClassVar[str] = "id"  # fields a direct lookup in confirm_gone asks for

    def _checked(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> Any:
        raise_for_error(
            exchange,
            platform=self.platform,
            words=self.words,
            account=account.account_id,
            now=exchange.captured_at,
            min_wait=self.min_wait(),
            subject=subject,
            throttle_codes=self.throttle_codes,
            account_codes=self.account_codes,
        )
        return self.decode_json(exchange, account, subject)

    def _fetch(self, account: AccountRef, http: HttpClient, subject: str, *, missing_ok: bool = False) -> Fetch:
        """A page fetcher for `Listing.pages`: the `data` array of each page.

        With `missing_ok`, an object deleted since it was listed raises `Vanished`, so the
        caller skips it without claiming its children were listed.
        """

        def fetch(request: PageRequest) -> Page:
            exchange = http.get(request.url, params=request.params)
            error = error_of(exchange)
            if missing_ok and error is not None and is_not_found(error, exchange.status):
                raise Vanished(subject)
            data = self._checked(exchange, account, subject)
            rows = data.get("data") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise UnexpectedResponse(
                    f"{self.words.label} listing for {subject} has no data array; it is kept in the "
                    "WARC and nothing in it is judged deleted",
                    platform=self.platform,
                    account=account.account_id,
                    evidence=exchange.response_pointer,
                )
            return Page(exchange, data, rows)

        return fetch

    def _pages(
        self, account: AccountRef, url: str, params: dict[str, str] | None, http: HttpClient, subject: str,
        *, missing_ok: bool = False,
    ) -> Iterator[Page]:
        """A listing walked through `paging.next` (no observation: lookups such as /me/accounts)."""
        walk = self.listing(account, subject)
        yield from walk.pages(self._fetch(account, http, subject, missing_ok=missing_ok),
                              PageRequest(url, params), NextUrl())

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        """Graph answers code 100 subcode 33 for an object that no longer exists."""
        exchange = http.get(f"{self._base(account)}/{item_id}", params={"fields": self.probe_fields})
        error = error_of(exchange)
        if error is not None and is_not_found(error, exchange.status):
            return Gone(
                reason="deleted",
                evidence=exchange.response_pointer,
                status=exchange.status,
                detail=f"Graph API code {error.get('code')} subcode {error.get('error_subcode')}",
            )
        self._checked(exchange, account, item_id)  # raises for throttles, tokens, oddities
        return Present((), exchange.response_pointer)
