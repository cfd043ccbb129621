"""What YouTube Data API errors mean for the archiver.

Google wraps every error as `{"error": {"code", "message", "errors": [{"reason", ...}],
"status", "details"}}`; the `reason` strings decide. Quota is counted per Google Cloud project
per Pacific day, so `quotaExceeded` means "wait for midnight in Los Angeles", not "retry soon".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from archiver.core.errors import AccountGone, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import CapturedExchange

PLATFORM = "youtube"
PACIFIC = ZoneInfo("America/Los_Angeles")
QUOTA = frozenset({"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"})
RATE = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
KEY = frozenset({"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED", "authError",
                 "invalidCredentials", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED",
                 "API_KEY_IP_ADDRESS_BLOCKED", "ipRefererBlocked", "forbidden"})
DISABLED = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})
GONE = frozenset({"channelNotFound", "playlistNotFound", "channelSuspended", "channelClosed"})


def next_pacific_midnight(now: datetime) -> datetime:
    """The next 00:00 in America/Los_Angeles (DST-aware), as UTC."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return midnight.astimezone(UTC)


def error_of(exchange: CapturedExchange) -> dict[str, Any] | None:
    """The `error` object of a non-2xx answer ({} when the body is not Google's envelope)."""
    if exchange.status < 400:
        return None
    try:
        body = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def reasons(error: dict[str, Any] | None) -> set[str]:
    """Every reason the envelope names: errors[].reason, details[].reason and status."""
    if not error:
        return set()
    found: set[str] = set()
    for key in ("errors", "details"):
        entries = error.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("reason"), str):
                found.add(entry["reason"])
    if isinstance(error.get("status"), str):
        found.add(error["status"])
    return found


def raise_for_error(
    exchange: CapturedExchange, *, account: str, subject: str, floor: timedelta
) -> Any:
    """The decoded body of a 200; otherwise the exception that says what to do next."""
    kwargs: dict[str, Any] = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer}
    error = error_of(exchange)
    if error is None:
        try:
            body = json.loads(exchange.body)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise UnexpectedResponse(
                f"YouTube sent a response that is not a JSON object for {subject}; it is kept in the WARC",
                **kwargs,
            )
        return body
    found = reasons(error)
    message = str(error.get("message", ""))[:200]
    now = exchange.captured_at
    if found & QUOTA:
        retry_at = max(next_pacific_midnight(now), now + floor)
        raise TryLater(
            f"The YouTube API quota of this key's Google Cloud project is used up for today; "
            f"capture of {account} resumes after midnight Pacific ({retry_at:%Y-%m-%d %H:%M} UTC). "
            "If this recurs, poll less often or request more quota from Google",
            retry_at=retry_at,
            detail=message,
            **kwargs,
        )
    if found & RATE or exchange.status == 429:
        raise TryLater(
            f"YouTube is rate limiting requests for {account}; will retry shortly",
            retry_at=now + floor,
            detail=message,
            **kwargs,
        )
    if found & DISABLED:
        raise NeedsAttention(
            "The YouTube Data API v3 is not enabled for this API key's Google Cloud project; "
            "enable it in the Cloud console (APIs & Services) and retry",
            detail=message,
            **kwargs,
        )
    if exchange.status == 401 or found & KEY or "api key" in message.lower():
        raise NeedsAttention(
            f"The YouTube API key (token) for {account} was rejected: invalid, expired, deleted "
            "or restricted; create a new key in the Google Cloud console and update the "
            "account's token variable or file",
            detail=message,
            **kwargs,
        )
    if found & GONE and subject == account:
        raise AccountGone(
            f"YouTube channel {account} or its uploads list no longer exists (deleted, "
            "suspended or closed)",
            detail=message,
            **kwargs,
        )
    raise UnexpectedResponse(
        f"YouTube answered HTTP {exchange.status} ({', '.join(sorted(found)) or 'no reason'}) for "
        f"{subject}; the response is kept in the WARC",
        detail=message,
        **kwargs,
    )
