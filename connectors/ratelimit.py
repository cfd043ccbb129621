"""Reading the rate-limit headers platforms send, in one place.

Retry-After is seconds or an HTTP date; `*-Reset` headers are epoch seconds (X, Bluesky),
seconds from now (the IETF RateLimit draft) or an ISO 8601 time (Mastodon). A `Budget`
remembers a window the platform said is spent, so the next call waits instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from archiver.core.errors import TryLater
from archiver.core.models import CapturedExchange

RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")
_EPOCH_FLOOR = 10**9  # a larger number is a Unix time, a smaller one a delay in seconds


def parse_retry_after(value: str | None, now: datetime, default: timedelta) -> datetime:
    """Retry-After may be seconds or an HTTP date; anything else falls back to `default`."""
    if value:
        value = value.strip()
        if value.isdigit():
            return now + timedelta(seconds=int(value))
        try:
            when = parsedate_to_datetime(value)
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError):
            pass
    return now + default


def parse_reset(value: str | None, now: datetime) -> datetime | None:
    """A `*-Reset` header value as a moment: epoch seconds, seconds from now or ISO 8601."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        number = int(value)
        return datetime.fromtimestamp(number, UTC) if number > _EPOCH_FLOOR else now + timedelta(seconds=number)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


def reset_of(exchange: CapturedExchange, names: tuple[str, ...] = RESET_HEADERS) -> datetime | None:
    """The first readable reset header of `names` on the exchange."""
    for name in names:
        when = parse_reset(exchange.header(name), exchange.captured_at)
        if when is not None:
            return when
    return None


def retry_at(exchange: CapturedExchange, now: datetime, default: timedelta = timedelta(seconds=60)) -> datetime:
    """When a throttled request may be sent again: Retry-After first, then a reset header."""
    retry_after = exchange.header("retry-after")
    if retry_after:
        return parse_retry_after(retry_after, now, default)
    for name in RESET_HEADERS:
        when = parse_reset(exchange.header(name), now)
        if when is not None:
            return when
    return now + default


def epoch_time(value: str | None) -> datetime | None:
    """A reset header that is only ever Unix seconds (Bluesky's RateLimit-Reset)."""
    value = (value or "").strip()
    return datetime.fromtimestamp(int(value), UTC) if value.isdigit() else None


def iso_time(value: str | None) -> datetime | None:
    """A reset header that is only ever ISO 8601 with a zone (Mastodon's X-RateLimit-Reset)."""
    value = (value or "").strip()
    if not value or value.isdigit():
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


@dataclass(frozen=True, slots=True)
class Window:
    """A platform's rate-limit window as its headers state it: calls left and when it resets.

    A spent window seen on one answer makes the next call wait (`budget`) instead of earning
    a 429; a reset the platform does not state means a safe five-minute wait.
    """

    label: str  # "Mastodon", for the message a person reads
    platform: str
    remaining_header: str
    reset_header: str
    read_reset: Callable[[str | None], datetime | None]

    def reset_of(self, exchange: CapturedExchange) -> datetime | None:
        return self.read_reset(exchange.header(self.reset_header))

    def spent(self, exchange: CapturedExchange) -> bool:
        left = (exchange.header(self.remaining_header) or "").strip()
        reset = self.reset_of(exchange)
        return left == "0" and reset is not None and reset > exchange.captured_at

    def retry_at(self, exchange: CapturedExchange, min_wait: timedelta) -> datetime:
        reset = self.reset_of(exchange)
        if reset is None:
            return exchange.captured_at + max(min_wait, timedelta(minutes=5))
        return max(reset, exchange.captured_at + min_wait)

    def throttled(self, exchange: CapturedExchange, account: str, min_wait: timedelta) -> TryLater:
        when = self.retry_at(exchange, min_wait)
        return TryLater(
            f"{self.label} rate limit reached for {account}; capture resumes after "
            f"{when:%Y-%m-%d %H:%M:%S} UTC on its own",
            retry_at=when,
            platform=self.platform,
            account=account,
            evidence=exchange.response_pointer,
        )

    def budget(self, account: str, min_wait: timedelta) -> Budget:
        return Budget(self.spent, lambda exchange: self.throttled(exchange, account, min_wait))


class Budget:
    """Remembers a spent rate-limit window so the next call raises TryLater instead of a 429."""

    def __init__(self, spent: Callable[[CapturedExchange], bool],
                 throttled: Callable[[CapturedExchange], TryLater]) -> None:
        self._spent = spent
        self._throttled = throttled
        self.blocked: CapturedExchange | None = None

    def check(self) -> None:
        if self.blocked is not None:
            raise self._throttled(self.blocked)

    def note(self, exchange: CapturedExchange) -> None:
        if self._spent(exchange):
            self.blocked = exchange
