"""What TikTok's error envelope means for the archiver.

Every answer carries `{"error": {"code", "message", "log_id"}}`; `code` is "ok" on success.
Token problems are HTTP 401 (`access_token_invalid`, `scope_not_authorized`), throttling is
HTTP 429 `rate_limit_exceeded` (600 requests a minute per endpoint, no rate-limit headers).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from archiver.core.errors import NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import CapturedExchange

PLATFORM = "tiktok"
THROTTLE_CODES = frozenset({"rate_limit_exceeded", "spam_risk_too_many_requests"})
SCOPE_CODES = frozenset({"scope_not_authorized", "scope_permission_missed"})
WINDOW = timedelta(minutes=1)  # the documented sliding window


def envelope_error(exchange: CapturedExchange) -> dict[str, Any]:
    """The `error` object of a TikTok answer, or a synthetic one when there is none."""
    try:
        body = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return error
    if 200 <= exchange.status < 300 and isinstance(body, dict):
        return {"code": "ok"}
    return {"code": f"http_{exchange.status}", "message": "no TikTok error envelope"}


def raise_for_error(
    exchange: CapturedExchange, *, account: str, now: datetime, min_wait: timedelta, subject: str = ""
) -> None:
    error = envelope_error(exchange)
    code = error["code"]
    if code == "ok" and 200 <= exchange.status < 300:
        return
    message = str(error.get("message") or "")[:200]
    detail = f"HTTP {exchange.status} {code} (log_id {error.get('log_id', '')}): {message}"
    kwargs: dict[str, Any] = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer}
    if code in THROTTLE_CODES or exchange.status == 429:
        raise TryLater(
            f"TikTok rate limit reached for @{account}; will retry automatically",
            retry_at=now + max(min_wait, WINDOW),
            detail=detail,
            **kwargs,
        )
    if code in SCOPE_CODES:
        raise NeedsAttention(
            f"The TikTok token for @{account} lacks a scope (user.info.basic, user.info.profile, "
            "video.list); log in again through the archiver's TikTok app and grant all three",
            detail=detail,
            **kwargs,
        )
    if code.startswith("access_token") or exchange.status == 401:
        raise NeedsAttention(
            f"The TikTok token for @{account} has expired or was revoked; refresh it with the "
            "refresh token (valid 365 days) or log in again, and update the account's token file",
            detail=detail,
            **kwargs,
        )
    raise UnexpectedResponse(
        f"TikTok answered HTTP {exchange.status} ({code}) for {subject or account}; "
        "the response is kept in the WARC",
        detail=detail,
        **kwargs,
    )
