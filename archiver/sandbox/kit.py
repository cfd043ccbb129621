"""The sandbox kit: what every fake platform needs, so a platform's sandbox holds only its shapes.

A platform sandbox (`connectors/<platform>/sandbox.py`) subclasses `PlatformSandbox`, declares
its endpoints with `@route`, answers its own token and fault checks in `gate()` (the kit
provides the switches and the token bookkeeping, the platform the real error envelopes), keeps
its items in `Store`s (cascading delete, live ids) and serves media from `cdn_prefix`.

Loopback and stdlib only; it imports nothing from the archive (no storage, no catalog), so
connectors and the demo may both use it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar

from archiver.sandbox.server import Request, Response

JSON_TYPE = "application/json; charset=UTF-8"
Handler = Callable[..., Response]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_millis(when: datetime) -> str:
    """UTC ISO 8601 with milliseconds and a Z, as X, Bluesky and Mastodon write times."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def route(pattern: str, *methods: str) -> Callable[[Handler], Handler]:
    """Declare a method as the answer to `pattern` ("/2/users/{user_id}"); `{name}` matches one
    path segment and is passed to the handler as a keyword argument."""
    regex = re.compile("".join(
        f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
        for part in re.split(r"(\{\w+\})", pattern)))

    def mark(fn: Handler) -> Handler:
        routes = getattr(fn, "__sandbox_routes__", [])
        fn.__sandbox_routes__ = [(regex, methods or ("GET",)), *routes]  # type: ignore[attr-defined]
        return fn

    return mark


class PlatformSandbox:
    """State plus an HTTP app (`__call__`): CDN, gate (tokens and faults), route table.

    The fault switches are counters a test or the contract suite sets; `take()` spends one.
    `expired`/`revoked` hold tokens that stopped working; `tokens` is whatever the platform
    keys them by (a set, or a dict to an owner), so `token in self.tokens` works for both.
    """

    cdn_prefix: ClassVar[str] = "/cdn/"
    cdn_tag: ClassVar[bytes] = b"sandbox"
    headers_on_errors: ClassVar[bool] = False  # do gate headers ride on 4xx/5xx answers too?
    _routes: ClassVar[list[tuple[re.Pattern[str], tuple[str, ...], str]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._routes = [(regex, methods, name) for klass in reversed(cls.__mro__)
                       for name, fn in vars(klass).items()
                       for regex, methods in getattr(fn, "__sandbox_routes__", ())]

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self.now = now or utcnow
        self.base_url = ""  # set by whoever serves the app, for paging links and media URLs
        self.tokens: set[str] | dict[str, Any] = set()
        self.expired: set[str] = set()
        self.revoked: set[str] = set()
        self.throttle_next = 0  # the platform's rate-limit answer
        self.malformed_next = 0  # HTTP 200 with a cut-off JSON body
        self.fail_next_5xx = 0  # the platform's HTTP 500
        self.exhaust_next = 0  # HTTP 200 whose rate-limit headers say nothing is left
        self.mutate: Callable[[str, Any], Any] | None = None  # tests: rewrite a 200 JSON body

    # --- switches and tokens ------------------------------------------------------------------

    def take(self, switch: str) -> bool:
        """Spend one use of a fault switch (`throttle_next`, ...); False when it is off."""
        left = getattr(self, switch)
        if left <= 0:
            return False
        setattr(self, switch, left - 1)
        return True

    def token_state(self, token: str) -> str:
        """'missing', 'expired', 'revoked', 'unknown' or 'ok': the platform picks the envelope."""
        if not token:
            return "missing"
        if token in self.expired:
            return "expired"
        if token in self.revoked:
            return "revoked"
        return "ok" if token in self.tokens else "unknown"

    def expire_token(self, token: str) -> None:
        self.expired.add(token)

    # --- HTTP -----------------------------------------------------------------------------

    def __call__(self, req: Request) -> Response:
        if req.path.startswith(self.cdn_prefix):
            return self.cdn(req)
        stop = self.gate(req)
        if stop is not None:
            return stop
        resp = self.dispatch(req)
        if req.reply_headers and (resp.status < 400 or self.headers_on_errors):
            resp.headers = [*resp.headers, *req.reply_headers]
        if self.mutate is not None and resp.status == 200:
            resp.body = json.dumps(self.mutate(req.path, json.loads(resp.body))).encode()
        return resp

    def gate(self, req: Request) -> Response | None:
        """Token and fault checks before routing; add headers to `req.reply_headers`."""
        return None

    def dispatch(self, req: Request, path: str | None = None) -> Response:
        path = req.path if path is None else path
        for regex, methods, name in self._routes:
            match = regex.fullmatch(path)
            if match and req.method in methods:
                # from the class: an instance attribute (a store named `comments`) may share the name
                return getattr(type(self), name)(self, req, **match.groupdict())
        return self.no_route(req)

    def no_route(self, req: Request) -> Response:
        return Response(404, b"Not Found", [("Content-Type", "text/plain")])

    def cdn(self, req: Request) -> Response:
        """Media bytes that look like what the URL names (enough for a WARC and a checksum)."""
        tail = self.cdn_tag + b"-" + req.path.encode()
        if req.path.endswith(".mp4"):
            return Response(200, b"\x00\x00\x00\x18ftypmp42" + tail, [("Content-Type", "video/mp4")])
        return Response(200, b"\xff\xd8\xff\xe0JFIF-" + tail + b"\xff\xd9", [("Content-Type", "image/jpeg")])


def broken_json(prefix: bytes) -> Response:
    """The malformed-body fault: HTTP 200, JSON content type, a body cut off mid-value."""
    return Response(200, prefix, [("Content-Type", JSON_TYPE)])


# --- items --------------------------------------------------------------------------------------


class Deletable(Protocol):
    deleted: bool


T = TypeVar("T", bound=Deletable)


class Store(dict[str, T]):
    """Items by id. Deleted ones stay (marked), as a platform's tombstones do, so a test can
    still look at them; `live()` is what the platform shows."""

    def live(self, keep: Callable[[T], bool] = lambda _row: True) -> list[T]:
        return [row for row in self.values() if not row.deleted and keep(row)]

    def delete(self, key: str, *also: Iterable[Deletable]) -> None:
        """Mark `key` deleted and, with it, every row in `also` (its comments, its replies)."""
        rows: list[Deletable] = [self[key]]
        for group in also:
            rows.extend(group)
        for row in rows:
            row.deleted = True


# --- paging ---------------------------------------------------------------------------------


def b64_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def from_b64_offset(cursor: str | None) -> int:
    return int(base64.urlsafe_b64decode(cursor).decode()) if cursor else 0


def window(rows: list[T], start: int, size: int) -> tuple[list[T], bool]:
    """One page of an offset listing, and whether more follow."""
    return rows[start:start + size], start + size < len(rows)


def int_arg(req: Request, name: str, default: int, low: int, high: int) -> int:
    """A numeric query parameter clamped the way most platforms clamp it."""
    return max(low, min(int(req.query.get(name) or default), high))


# --- seeding --------------------------------------------------------------------------------


def spread(count: int, *, days: int, start: datetime, hour_cycle: int) -> list[datetime]:
    """One post a day with the hour wandering, as a school's account posts."""
    begin = start - timedelta(days=days)
    return [begin + timedelta(days=n, hours=n % hour_cycle) for n in range(count)]


def seed_bulk(count: int, start: datetime, post: Callable[[str, datetime], str],
              reply: Callable[[str, str, datetime], object] | None, per_post: int = 2) -> None:
    """`count` items in all: posts, each followed by up to `per_post` replies (none if the
    platform has no comments), an hour apart, for the capture benchmarks."""
    made = 0
    while made < count:
        parent = post(f"Bulk post {made}", start + timedelta(hours=made))
        made += 1
        for n in range(per_post if reply else 0):
            if made < count:
                assert reply is not None
                reply(parent, f"Bulk comment {n}", start + timedelta(hours=made, minutes=n + 1))
                made += 1


def bearer(req: Request) -> str:
    """The token of an `Authorization: Bearer ...` header ('' when there is none)."""
    return req.header("authorization").removeprefix("Bearer ").strip()
