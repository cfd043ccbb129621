"""What XRPC error answers mean for the archiver.

XRPC errors are `{"error": "<Name>", "message": "..."}`; the name matters more than the status:
an expired access JWT is 400 `ExpiredToken` from a PDS but 401 from the AppView, a deleted
post is 400 `NotFound`, and throttling is 429 `RateLimitExceeded` with `RateLimit-Reset` in
epoch seconds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from archiver.core.errors import AccountGone, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import CapturedExchange

PLATFORM = "bluesky"
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired",
                          "AuthRequired", "BadJwt", "BadJwtSignature", "InvalidJwt"})
ACCOUNT_ERRORS = frozenset({"AccountTakedown", "AccountDeactivated", "ActorNotFound", "RepoNotFound",
                            "RepoTakendown", "RepoDeactivated"})
ACCOUNT_MESSAGES = ("Profile not found", "Unable to resolve handle", "Actor not found")
BLOCK_ERRORS = frozenset({"BlockedActor", "BlockedByActor"})


def xrpc_error(exchange: CapturedExchange) -> tuple[str, str]:
    """(error name, message) of an XRPC error body; ("", "") when there is none."""
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("error") or ""), str(body.get("message") or "")[:200]


def is_not_found(exchange: CapturedExchange) -> bool:
    name, _ = xrpc_error(exchange)
    return exchange.status in (400, 404) and name == "NotFound"


def reset_time(exchange: CapturedExchange) -> datetime | None:
    value = (exchange.header("ratelimit-reset") or "").strip()
    if not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value), UTC)


def exhausted(exchange: CapturedExchange) -> bool:
    reset = reset_time(exchange)
    remaining = (exchange.header("ratelimit-remaining") or "").strip()
    return remaining == "0" and reset is not None and reset > exchange.captured_at


def throttled(exchange: CapturedExchange, account: str, min_wait: timedelta) -> TryLater:
    reset = reset_time(exchange)
    floor = exchange.captured_at + min_wait
    when = max(reset, floor) if reset else exchange.captured_at + max(min_wait, timedelta(minutes=5))
    return TryLater(
        f"Bluesky rate limit reached for {account}; capture resumes after {when:%Y-%m-%d %H:%M:%S} UTC on its own",
        retry_at=when,
        platform=PLATFORM,
        account=account,
        evidence=exchange.response_pointer,
    )


def raise_for_status(
    exchange: CapturedExchange, *, account: str, subject: str, min_wait: timedelta,
    account_scope: bool = False,
) -> None:
    if 200 <= exchange.status < 300:
        return
    name, message = xrpc_error(exchange)
    kwargs = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer,
              "detail": f"{name}: {message}" if name else message}
    if exchange.status == 429 or name == "RateLimitExceeded":
        raise throttled(exchange, account, min_wait)
    if name in TOKEN_ERRORS or exchange.status == 401:
        raise NeedsAttention(
            f"The Bluesky access token for {account} has expired or is invalid ({name or 'HTTP 401'}); "
            "create a new session token, or remove the token to read through the public AppView",
            **kwargs,
        )
    if name in BLOCK_ERRORS:
        raise NeedsAttention(
            f"Bluesky refuses {subject} for {account} because of a block ({name}); remove the "
            "token to read through the public AppView, or use a token of an unblocked account",
            **kwargs,
        )
    if account_scope and (name in ACCOUNT_ERRORS or any(m in message for m in ACCOUNT_MESSAGES)):
        raise AccountGone(
            f"Bluesky account {account} cannot be found, is deactivated or was taken down ({name or message}); "
            "check the handle, or retire the account if it was closed",
            **kwargs,
        )
    raise UnexpectedResponse(
        f"Bluesky answered HTTP {exchange.status} {name} for {subject}; the response is kept in the "
        "WARC and the next poll retries",
        **kwargs,
    )
