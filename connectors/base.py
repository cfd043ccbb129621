"""The contract every platform connector satisfies.

A connector knows one platform's API: which URLs to ask, how to page, what its errors mean
and how to turn a response into items. It never touches storage, SQL or schedules. It reaches
the network only through the `HttpClient` it is handed, which writes every exchange to the
WARC and strips credentials before a byte is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from archiver.core.errors import TryLater
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    CheckResult,
    Gone,
    HarvestEvent,
    Item,
    ParseWarning,
    Present,
)


class AuthStyle(StrEnum):
    """How the HttpClient presents the account's token to the platform."""

    NONE = "none"
    BEARER = "bearer"  # Authorization: Bearer <token>
    QUERY_ACCESS_TOKEN = "query_access_token"  # ?access_token=<token> (Graph API)
    QUERY_KEY = "query_key"  # ?key=<api key> (YouTube Data API)


class HttpClient(Protocol):
    """What a connector may do on the network. Implemented by archiver.capture.CaptureSession."""

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CapturedExchange:
        """GET and record. Retries network errors and 5xx; raises TryLater on HTTP 429."""
        ...

    def post_json(
        self,
        url: str,
        *,
        json: object,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CapturedExchange:
        """POST a JSON body and record it (APIs such as TikTok's list endpoints need this)."""
        ...

    def fetch_media(self, url: str, *, max_bytes: int | None = None) -> CapturedExchange | None:
        """Download a media file into the WARC; None when it is larger than the cap."""
        ...


@runtime_checkable
class Connector(Protocol):
    platform: ClassVar[str]
    auth_style: ClassVar[AuthStyle]
    default_api_base: ClassVar[str]

    def normalize_account_id(self, raw: str) -> str:
        """Turn a handle, URL or numeric id as a person types it into the canonical id."""
        ...

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        """A cheap call that proves the credentials still work."""
        ...

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient
    ) -> Iterator[HarvestEvent]:
        """Walk the account's listings; yield Observed items, Covered scopes, Checkpoints."""
        ...

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        """Fetch one item directly to tell a deletion from a listing gap."""
        ...

    def parse(
        self, account: AccountRef, exchange: CapturedExchange
    ) -> Iterator[Item | ParseWarning]:
        """Pure: the items one captured response shows, and a coded warning for each part it
        cannot understand. Shared by harvest and catalog rebuild, so both see the same."""
        ...


# Optional on a connector: `raise_for_429(exchange, account_id) -> None`, called by the session
# on HTTP 429 before its generic handling; it raises the platform's own TryLater when the
# quota reset is not in Retry-After (LinkedIn's daily limits, X's monthly usage cap).
# Without it, Retry-After / X-Rate-Limit-Reset / RateLimit-Reset decide.


@dataclass(frozen=True, slots=True)
class Registered:
    """A connector and the sandbox that imitates its platform, for the registry and tests."""

    connector: type[Connector]
    sandbox: str  # "module:Class" of its archiver.sandbox.contract.ContractSandbox adapter


def parse_retry_after(value: str | None, now: datetime, default: timedelta) -> datetime:
    """Retry-After may be seconds or an HTTP date; anything else falls back to `default`."""
    if value:
        value = value.strip()
        if value.isdigit():
            return now + timedelta(seconds=int(value))
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        except (TypeError, ValueError):
            pass
    return now + default


def raise_try_later(
    message: str, *, platform: str, account: str, retry_at: datetime, exchange: CapturedExchange
) -> None:
    raise TryLater(
        message,
        retry_at=retry_at,
        platform=platform,
        account=account,
        evidence=exchange.response_pointer,
    )
