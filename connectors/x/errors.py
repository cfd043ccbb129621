"""What X API v2 answers mean for the archiver.

X reports a missing or hidden object with HTTP 200 and an `errors` array ("partial errors"),
so the problem `type` decides, not the status. 401/403 are credential or plan problems a
person must fix; 429 normally never reaches a connector (the capture session turns it into
TryLater from `x-rate-limit-reset`), but a raw one is mapped the same way here.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from archiver.core.errors import AccountGone, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import CapturedExchange
from connectors.ratelimit import parse_retry_after

PLATFORM = "x"
NOT_FOUND = "/problems/resource-not-found"
NOT_AUTHORIZED = "/problems/not-authorized-for-resource"
USAGE_CAPPED = "/problems/usage-capped"


def body_of(exchange: CapturedExchange) -> Any:
    try:
        return json.loads(exchange.body)
    except ValueError:
        return None


def problems(body: Any) -> list[dict[str, Any]]:
    """The dict entries of a response's `errors` array (empty for anything else)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def problem_type(problem: dict[str, Any]) -> str:
    return str(problem.get("type", ""))


def is_not_found(problem: dict[str, Any]) -> bool:
    return problem_type(problem).endswith(NOT_FOUND) or problem.get("title") == "Not Found Error"


def is_suspended(problem: dict[str, Any]) -> bool:
    return "suspended" in str(problem.get("detail", "")).lower()


def reset_time(exchange: CapturedExchange, floor: timedelta) -> datetime:
    """x-rate-limit-reset (epoch seconds) or Retry-After, never sooner than `floor` from now."""
    now = exchange.captured_at
    when = now + floor
    reset = (exchange.header("x-rate-limit-reset") or "").strip()
    if reset.isdigit():
        from datetime import UTC

        when = datetime.fromtimestamp(int(reset), UTC)
    elif exchange.header("retry-after"):
        when = parse_retry_after(exchange.header("retry-after"), now, floor)
    return max(when, now + floor)


def raise_for_status(
    exchange: CapturedExchange, *, account: str, subject: str, floor: timedelta
) -> Any:
    """The decoded body of a usable answer; otherwise the exception that says what to do."""
    kwargs: dict[str, Any] = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer}
    body = body_of(exchange)
    found = problems(body)
    detail = str(found[0].get("detail") or found[0].get("title") or "")[:200] if found else ""
    if exchange.status == 429:
        capped = any(problem_type(p).endswith(USAGE_CAPPED) for p in found) or (
            isinstance(body, dict) and str(body.get("type", "")).endswith(USAGE_CAPPED)
        )
        if capped:
            raise TryLater(
                f"The X API plan's usage cap is spent for {account}; capture resumes when the "
                "cap resets, or upgrade the plan in the X developer portal",
                retry_at=reset_time(exchange, max(floor, timedelta(hours=24))),
                **kwargs,
            )
        retry_at = reset_time(exchange, floor)
        raise TryLater(
            f"X rate limit reached for {account}; will retry after {retry_at:%Y-%m-%d %H:%M:%S} UTC",
            retry_at=retry_at,
            **kwargs,
        )
    if exchange.status == 401:
        raise NeedsAttention(
            f"X rejected the bearer token for {account} (HTTP 401: expired, revoked or "
            "regenerated); create a new token in the X developer portal and update the "
            "account's token variable or file",
            detail=detail,
            **kwargs,
        )
    if exchange.status == 403:
        raise NeedsAttention(
            f"X refused access for {account} (HTTP 403): the token's app must belong to a "
            "Project whose access level includes user timelines and recent search; check the "
            "X developer portal",
            detail=_problem_detail(body) or detail,
            **kwargs,
        )
    if exchange.status >= 400:
        raise UnexpectedResponse(
            f"X answered HTTP {exchange.status} for {subject}; the response is kept in the WARC",
            detail=_problem_detail(body) or detail,
            **kwargs,
        )
    if not isinstance(body, dict):
        raise UnexpectedResponse(
            f"X sent a response that is not a JSON object for {subject}; it is kept in the WARC",
            **kwargs,
        )
    return body


def raise_for_listing_problems(body: dict[str, Any], exchange: CapturedExchange, *, account: str) -> None:
    """A listing page with problems and no `data` failed as a whole (an empty page has only
    `meta`); problems next to data are partial errors about referenced posts and are kept."""
    if "data" in body or not problems(body):
        return
    raise_for_user_problems(body, exchange, account=account)


def raise_for_user_problems(body: dict[str, Any], exchange: CapturedExchange, *, account: str) -> None:
    """A user lookup (or listing) with no `data`: the account is gone, suspended or protected."""
    if isinstance(body.get("data"), dict):
        return
    kwargs: dict[str, Any] = {"platform": PLATFORM, "account": account, "evidence": exchange.response_pointer}
    found = problems(body)
    detail = str(found[0].get("detail", ""))[:200] if found else ""
    if any(is_suspended(p) for p in found):
        raise AccountGone(f"X account {account} is suspended", detail=detail, **kwargs)
    if any(is_not_found(p) for p in found):
        raise AccountGone(
            f"X account {account} does not exist (deleted, or the handle changed); "
            "re-register it with its current handle or numeric user id",
            detail=detail,
            **kwargs,
        )
    if any(problem_type(p).endswith(NOT_AUTHORIZED) for p in found):
        raise NeedsAttention(
            f"X account {account} is protected; its posts cannot be read with this token",
            detail=detail,
            **kwargs,
        )
    raise UnexpectedResponse(
        f"X answered a user lookup or listing for {account} without data; the response is kept in the WARC",
        detail=detail,
        **kwargs,
    )


def _problem_detail(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or "")[:200]
    return ""
