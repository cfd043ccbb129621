"""What Mastodon's HTTP answers mean for the archiver.

Mastodon errors are `{"error": "..."}` with a meaningful HTTP status: 401 for a bad token
(or an instance that requires one), 403 for a missing scope, 404 `Record not found` for a
deleted or hidden status or an unknown account, 410 for a suspended account (older
versions) and 429 with `X-RateLimit-Reset` as an ISO 8601 timestamp.
"""

from __future__ import annotations

import json
from datetime import timedelta

from archiver.core.errors import AccountGone, NeedsAttention, UnexpectedResponse
from archiver.core.models import CapturedExchange
from connectors.ratelimit import Window, iso_time

PLATFORM = "mastodon"


def error_text(exchange: CapturedExchange) -> str:
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return ""
    value = body.get("error") if isinstance(body, dict) else None
    return str(value)[:200] if value is not None else ""


WINDOW = Window("Mastodon", PLATFORM, "x-ratelimit-remaining", "x-ratelimit-reset", iso_time)
reset_time = WINDOW.reset_of
exhausted = WINDOW.spent
throttled = WINDOW.throttled


def raise_for_status(
    exchange: CapturedExchange, *, account: str, subject: str, min_wait: timedelta,
    account_scope: bool = False,
) -> None:
    """Raise the archiver error a non-2xx answer stands for; return on success.

    `account_scope`: the request named the account itself, so 404/410 mean the account is gone.
    """
    status = exchange.status
    if 200 <= status < 300:
        return
    message = error_text(exchange)
    kwargs = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer,
              "detail": message}
    if status == 429:
        raise throttled(exchange, account, min_wait)
    if status == 401:
        if "requires an authenticated user" in message:
            raise NeedsAttention(
                f"The Mastodon instance of {account} only answers API reads with a token; "
                "create a read-only access token (scope read:statuses) and register it for the account",
                **kwargs,
            )
        raise NeedsAttention(
            f"The Mastodon access token for {account} is invalid, expired or revoked; create a "
            "new token (scope read:statuses) in the instance's Development settings and update "
            "the account's token variable or file",
            **kwargs,
        )
    if status == 403:
        raise NeedsAttention(
            f"The Mastodon token for {account} is not allowed to read {subject}; give the token "
            "the read:statuses and read:accounts scopes and retry",
            **kwargs,
        )
    if account_scope and status in (404, 410):
        raise AccountGone(
            f"Mastodon account {account} does not exist or is suspended on its instance; "
            "check the handle, or retire the account if it was closed",
            **kwargs,
        )
    raise UnexpectedResponse(
        f"Mastodon answered HTTP {status} for {subject}; the response is kept in the WARC "
        "and the next poll retries",
        **kwargs,
    )
