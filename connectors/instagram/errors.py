"""What Graph API error envelopes mean for an Instagram professional account.

Instagram API with Facebook Login speaks Graph API: errors arrive as HTTP 400 (or 403/500) with
`{"error": {"code", "error_subcode", "message", "type"}}`, so we key on `code`, never on the
status. Throttles are code 80002 (per IG account, Business Use Case) or 4/17/32/613 (app and
user level); the `X-Business-Use-Case-Usage` header says how long until access returns.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from archiver.core.errors import AccountGone, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import CapturedExchange
from connectors.facebook.errors import error_of, is_not_found

__all__ = ["error_of", "is_not_found", "raise_for_error", "usage_of", "NONEXISTING_FIELD"]

PLATFORM = "instagram"
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80002})
TOKEN_CODES = frozenset({190, 102})
PERMISSION_CODES = frozenset({10, 200, 299})
USER_NOT_FOUND_CODES = frozenset({110})
NONEXISTING_FIELD = 100  # also "tried accessing nonexisting field" on the wrong node type
USAGE_HEADERS = ("x-business-use-case-usage", "x-app-usage")
USAGE_LIMIT = 95  # percent; above it we pause before Instagram blocks the account


def usage_of(exchange: CapturedExchange) -> tuple[int, int] | None:
    """(highest usage percent, minutes until access returns) from the usage headers, if any.

    The BUC header maps an id to a list of entries; X-App-Usage is one flat entry. Anything
    malformed is ignored: a header must never turn a good response into a crash.
    """
    top, wait = -1, 0
    for name in USAGE_HEADERS:
        raw = exchange.header(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries: list[Any] = []
        if isinstance(data, dict) and "call_count" in data:
            entries = [data]
        elif isinstance(data, dict):
            for value in data.values():
                if isinstance(value, list):
                    entries.extend(value)
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("call_count", "total_time", "total_cputime", "call_volume", "cpu_time"):
                top = max(top, _int(entry.get(key)))
            wait = max(wait, _int(entry.get("estimated_time_to_regain_access")))
    return (top, wait) if top >= 0 else None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def raise_for_error(
    exchange: CapturedExchange,
    *,
    account: str,
    now: datetime,
    min_wait: timedelta,
    subject: str = "",
) -> None:
    """Raise the archiver error a Graph answer calls for; return quietly on success."""
    kwargs: dict[str, Any] = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer}
    error = error_of(exchange)
    if error is None:
        usage = usage_of(exchange)
        if usage and usage[0] >= USAGE_LIMIT:
            raise TryLater(
                f"Instagram usage for {account} is at {usage[0]}% of its limit; pausing until "
                "Instagram lifts it (nothing to do)",
                retry_at=now + max(min_wait, timedelta(minutes=usage[1])),
                **kwargs,
            )
        return
    code = error.get("code")
    message = str(error.get("message", ""))[:200]
    if code in THROTTLE_CODES:
        usage = usage_of(exchange)
        raise TryLater(
            f"Instagram throttled {account} (code {code}); will retry automatically",
            retry_at=now + max(min_wait, timedelta(minutes=usage[1] if usage else 0)),
            detail=message,
            **kwargs,
        )
    if code in TOKEN_CODES:
        raise NeedsAttention(
            f"The Instagram token for {account} has expired or was revoked; create a new "
            "long-lived token for the linked Facebook Page and update the account's token file",
            detail=message,
            **kwargs,
        )
    if code in PERMISSION_CODES:
        raise NeedsAttention(
            f"The Instagram token for {account} lacks a permission (instagram_basic, "
            "instagram_manage_comments, pages_read_engagement, pages_show_list); grant it and retry",
            detail=message,
            **kwargs,
        )
    if code in USER_NOT_FOUND_CODES or (is_not_found(error, exchange.status) and subject == account):
        raise AccountGone(
            f"Instagram account {account} does not exist or is not visible to this token; "
            "check the username or id and the Page the account is linked to",
            detail=message,
            **kwargs,
        )
    raise UnexpectedResponse(
        f"Instagram answered HTTP {exchange.status} (code {code}) for {subject or account}; "
        "the response is kept in the WARC",
        detail=message,
        **kwargs,
    )
