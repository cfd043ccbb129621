"""What XRPC error answers mean for the archiver.

XRPC errors are `{"error": "<Name>", "message": "..."}`; the name matters more than the status:
an expired access JWT is 400 `ExpiredToken` from a PDS but 401 from the AppView, a deleted
post is 400 `NotFound`, and throttling is 429 `RateLimitExceeded` with `RateLimit-Reset` in
epoch seconds.
"""

from __future__ import annotations

import json
from datetime import timedelta

from archiver.core.errors import AccountGone, NeedsAttention, UnexpectedResponse
from archiver.core.models import CapturedExchange
from connectors.ratelimit import Window, epoch_time

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
    """An XRPC NotFound answer; the status is checked first, so a 200 body is not decoded."""
    return exchange.status in (400, 404) and xrpc_error(exchange)[0] == "NotFound"


WINDOW = Window("Bluesky", PLATFORM, "ratelimit-remaining", "ratelimit-reset", epoch_time)
reset_time = WINDOW.reset_of
exhausted = WINDOW.spent
throttled = WINDOW.throttled


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
