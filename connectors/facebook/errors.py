"""What Graph API error envelopes mean for the archiver.

Graph API answers errors (throttles included) mostly with HTTP 400 and a JSON envelope
`{"error": {"code", "error_subcode", "message", ...}}`, so we key on `code`, never on status.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from archiver.core.errors import AccountGone, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import CapturedExchange

THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001, 80002})
TOKEN_CODES = frozenset({190, 102})
PERMISSION_CODES = frozenset({10, 200, 299})
NOT_FOUND = (100, 33)
USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage", "x-page-usage")
USAGE_LIMIT = 95  # percent; above it we stop before the platform blocks the app


def error_of(exchange: CapturedExchange) -> dict | None:
    if exchange.status < 400:
        return None
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return {"code": -1, "message": f"HTTP {exchange.status} with a non-JSON body"}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {"code": -1, "message": f"HTTP {exchange.status}"}


def is_not_found(error: dict | None, status: int) -> bool:
    if error is None:
        return status == 404
    return (error.get("code"), error.get("error_subcode")) == NOT_FOUND or status == 404


def usage_wait(exchange: CapturedExchange) -> tuple[int, int] | None:
    """(highest usage percent, minutes to regain access) from the usage headers, if any."""
    top, wait = -1, 0
    for name in USAGE_HEADERS:
        raw = exchange.header(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries = [data] if "call_count" in data else [e for v in data.values() for e in v]
        for entry in entries:
            for key in ("call_count", "total_time", "total_cputime"):
                top = max(top, int(entry.get(key, 0) or 0))
            wait = max(wait, int(entry.get("estimated_time_to_regain_access", 0) or 0))
    return (top, wait) if top >= 0 else None


def raise_for_error(
    exchange: CapturedExchange,
    *,
    account: str,
    now: datetime,
    min_wait: timedelta,
    subject: str = "",
) -> None:
    error = error_of(exchange)
    if error is None:
        usage = usage_wait(exchange)
        if usage and usage[0] >= USAGE_LIMIT:
            raise TryLater(
                f"Facebook usage for Page {account} is at {usage[0]}% of its limit; pausing",
                retry_at=now + max(min_wait, timedelta(minutes=usage[1])),
                platform="facebook",
                account=account,
                evidence=exchange.response_pointer,
            )
        return
    code = error.get("code")
    message = str(error.get("message", ""))[:200]
    kwargs = {"platform": "facebook", "account": account, "evidence": exchange.response_pointer}
    if code in THROTTLE_CODES:
        usage = usage_wait(exchange)
        minutes = usage[1] if usage else 0
        raise TryLater(
            f"Facebook throttled Page {account} (code {code}); will retry later",
            retry_at=now + max(min_wait, timedelta(minutes=minutes)),
            detail=message,
            **kwargs,
        )
    if code in TOKEN_CODES:
        raise NeedsAttention(
            f"The Facebook token for Page {account} has expired or was revoked; "
            "create a new Page access token and update the account's token variable or file",
            detail=message,
            **kwargs,
        )
    if code in PERMISSION_CODES:
        raise NeedsAttention(
            f"The Facebook token for Page {account} lacks a permission "
            "(pages_read_engagement, pages_read_user_content); grant it and retry",
            detail=message,
            **kwargs,
        )
    if is_not_found(error, exchange.status) and subject == account:
        raise AccountGone(
            f"Facebook Page {account} does not exist or is no longer visible to this token",
            detail=message,
            **kwargs,
        )
    raise UnexpectedResponse(
        f"Facebook answered HTTP {exchange.status} (code {code}) for {subject or account}; "
        "the response is kept in the WARC",
        detail=message,
        **kwargs,
    )
