"""What LinkedIn's Rest.li error answers mean for the archiver.

LinkedIn uses real HTTP statuses with a body `{"status", "serviceErrorCode", "code", "message"}`:
401 for an expired, revoked or invalid token, 403 ACCESS_DENIED for a missing scope or page role,
404 NOT_FOUND for a deleted post or comment, 426/400 for an API version it no longer serves,
and 429 TOO_MANY_REQUESTS for its daily (APPLICATION DAY / MEMBER DAY) quotas.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.core.errors import (
    AccountGone,
    ConfigError,
    NeedsAttention,
    TryLater,
    UnexpectedResponse,
)
from archiver.core.models import CapturedExchange
from connectors.ratelimit import parse_retry_after

PLATFORM = "linkedin"
VERSION_CODES = frozenset({"VERSION_MISSING", "NONEXISTENT_VERSION", "VERSION_NOT_ACTIVE"})


def error_body(exchange: CapturedExchange) -> dict[str, Any]:
    """The Rest.li error envelope, or {} when the body is not one."""
    try:
        body = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def is_not_found(exchange: CapturedExchange) -> bool:
    """LinkedIn's own 404: a JSON envelope, not a proxy's HTML page."""
    if exchange.status != 404:
        return False
    body = error_body(exchange)
    return body.get("status") == 404 or body.get("code") == "NOT_FOUND"


def next_midnight_utc(now: datetime) -> datetime:
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def raise_for_error(
    exchange: CapturedExchange,
    *,
    account: str,
    now: datetime,
    min_wait: timedelta,
    version: str,
    subject: str = "",
) -> None:
    if 200 <= exchange.status < 300:
        return
    body = error_body(exchange)
    code = str(body.get("code") or "")
    message = str(body.get("message") or "")[:200]
    detail = f"HTTP {exchange.status} {code} (serviceErrorCode {body.get('serviceErrorCode')}): {message}"
    kwargs: dict[str, Any] = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer}
    if exchange.status == 429:
        # Quotas are per day and reset at midnight UTC, so a short wait only wastes calls; a
        # Retry-After, when one is sent, says exactly when.
        daily = "DAY" in message.upper()
        retry_after = exchange.header("retry-after")
        if retry_after:
            retry_at = parse_retry_after(retry_after, now, min_wait)
        else:
            retry_at = next_midnight_utc(now) if daily else now + min_wait
        what = "daily API quota is used up" if daily else "rate limit was reached"
        raise TryLater(
            f"LinkedIn's {what} for organization {account}; capture resumes "
            f"after {retry_at:%Y-%m-%d %H:%M} UTC (nothing to do)",
            retry_at=max(retry_at, now + min_wait),
            detail=detail,
            **kwargs,
        )
    if exchange.status == 401:
        raise NeedsAttention(
            f"The LinkedIn token for organization {account} has expired or was revoked ({code or 'HTTP 401'}); "
            "have a page admin re-authorize the app (r_organization_social) and update the token file",
            detail=detail,
            **kwargs,
        )
    if exchange.status == 403:
        raise NeedsAttention(
            f"LinkedIn denied access to organization {account} ({code or 'HTTP 403'}); the token needs "
            "r_organization_social and its member must be an ADMINISTRATOR or CONTENT_ADMIN of the page",
            detail=detail,
            **kwargs,
        )
    if exchange.status == 426 or code in VERSION_CODES:
        raise ConfigError(
            f"LinkedIn no longer serves API version {version}; set connectors.linkedin.api_version "
            "to a current YYYYMM version",
            detail=detail,
        )
    if is_not_found(exchange) and subject == account:
        raise AccountGone(
            f"LinkedIn organization {account} was not found; check the organization id or page URL",
            detail=detail,
            **kwargs,
        )
    raise UnexpectedResponse(
        f"LinkedIn answered HTTP {exchange.status} {code} for {subject or account}; "
        "the response is kept in the WARC",
        detail=detail,
        **kwargs,
    )
