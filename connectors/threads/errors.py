"""What Threads API error envelopes mean for the archiver.

The Threads API is served by Meta's Graph infrastructure: errors arrive (mostly as HTTP 400)
with `{"error": {"code", "error_subcode", "message", "type"}}`, so we key on `code`. Throttles
are the app and user request limits (codes 4, 17, 32, 613); X-App-Usage says how close we are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from archiver.core.errors import AccountGone, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import CapturedExchange
from connectors.facebook.errors import error_of, is_not_found, usage_wait

__all__ = ["error_of", "is_not_found", "raise_for_error"]

THROTTLE_CODES = frozenset({4, 17, 32, 613})
TOKEN_CODES = frozenset({190, 102})
PERMISSION_CODES = frozenset({10, 200})
USAGE_LIMIT = 95  # percent; above it we pause before Meta blocks the app


def raise_for_error(exchange: CapturedExchange, *, account: str, now: datetime, min_wait: timedelta,
                    subject: str = "") -> None:
    """Raise the archiver error a Threads answer calls for; return quietly on success."""
    kwargs: dict[str, Any] = {"platform": "threads", "account": account, "evidence": exchange.response_pointer}
    error = error_of(exchange)
    usage = usage_wait(exchange)
    if error is None:
        if usage and usage[0] >= USAGE_LIMIT:
            raise TryLater(f"Threads usage for @{account} is at {usage[0]}% of its limit; pausing until Meta "
                           "lifts it (nothing to do)", retry_at=now + max(min_wait, timedelta(minutes=usage[1])),
                           **kwargs)
        return
    code = error.get("code")
    message = str(error.get("message", ""))[:200]
    if code in THROTTLE_CODES:
        raise TryLater(f"Threads throttled @{account} (code {code}); will retry automatically",
                       retry_at=now + max(min_wait, timedelta(minutes=usage[1] if usage else 0)),
                       detail=message, **kwargs)
    if code in TOKEN_CODES:
        raise NeedsAttention(f"The Threads token for @{account} has expired or was revoked; create a new "
                             "long-lived token (60 days) for the account and update its token file",
                             detail=message, **kwargs)
    if code in PERMISSION_CODES:
        raise NeedsAttention(f"The Threads token for @{account} lacks a permission (threads_basic, "
                             "threads_read_replies); grant it and create a new token", detail=message, **kwargs)
    if is_not_found(error, exchange.status) and subject == account:
        raise AccountGone(f"Threads account @{account} does not exist or is not visible to this token; "
                          "check the username", detail=message, **kwargs)
    raise UnexpectedResponse(f"Threads answered HTTP {exchange.status} (code {code}) for {subject or account}; "
                             "the response is kept in the WARC", detail=message, **kwargs)
