"""Sessions, CSRF, security headers and the trusted reverse proxy, as plain ASGI pieces.

Sessions are signed cookies (itsdangerous) holding the user name, a CSRF token and when the
session began; they expire `session_minutes` after sign-in by the App's clock (so tests can
move time). Cookies are HttpOnly and SameSite=Strict, and Secure whenever the request came
over TLS (directly or, from the configured proxy only, by X-Forwarded-Proto).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "archiver_console"
SECRET_FILE = "console-session.key"

# No inline script or style anywhere, nothing from another origin, no framing, no plugins.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def load_secret(home: Path) -> bytes:
    """The signing key for session cookies, made once per archive home (0600). Deleting the
    file signs everyone out."""
    path = home / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


@dataclass
class ProxyConfig:
    """The district's reverse proxy: only requests from `address` may set X-Forwarded-* (and
    `user_header`, the name of the user the proxy authenticated)."""

    address: str | None = None
    user_header: str | None = None

    def trusts(self, client: str | None) -> bool:
        if not self.address or not client:
            return False
        try:
            return ipaddress.ip_address(client) == ipaddress.ip_address(self.address)
        except ValueError:
            return False


class ProxyHeaders:
    """Honours X-Forwarded-Proto/Host/For from the configured proxy address only; from
    anywhere else they are dropped before the app sees them, as is the user header."""

    def __init__(self, app: ASGIApp, proxy: ProxyConfig) -> None:
        self.app, self.proxy = app, proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            trusted = self.proxy.trusts(client[0] if client else None)
            forwarded = {b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-for"}
            user_header = (self.proxy.user_header or "").lower().encode()
            headers = []
            values: dict[bytes, bytes] = {}
            for k, v in scope["headers"]:
                if k in forwarded or (user_header and k == user_header):
                    if trusted:
                        values[k] = v
                    continue
                headers.append((k, v))
            scope = dict(scope)
            scope["proxied_user"] = None
            if trusted:
                proto = values.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto
                host = values.get(b"x-forwarded-host")
                if host:
                    headers = [(k, v) for k, v in headers if k != b"host"] + [(b"host", host)]
                hop = values.get(b"x-forwarded-for", b"").decode("latin-1").split(",")[-1].strip()
                if hop:
                    scope["client"] = (hop, 0)
                if user_header and values.get(user_header):
                    scope["proxied_user"] = values[user_header].decode("utf-8", "replace").strip()
            scope["headers"] = headers
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Every response gets the strict CSP and its companions (unless a route set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in HEADERS if k not in have]
                if b"cache-control" not in have:
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, wrapped)


@dataclass
class Sessions:
    """Read and write the signed session cookie."""

    secret: bytes
    minutes: int
    now: Callable[[], float]  # seconds since the epoch, by the App's clock
    serializer: URLSafeSerializer = field(init=False)

    def __post_init__(self) -> None:
        self.serializer = URLSafeSerializer(self.secret, salt="archiver-console-session")

    def read(self, raw: str | None) -> dict[str, Any]:
        """The session, or a new anonymous one (with a fresh CSRF token) when the cookie is
        missing, forged or expired."""
        if raw:
            try:
                data = self.serializer.loads(raw)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("t"), (int, float)):
                if data.get("u") is None or self.now() - data["t"] < self.minutes * 60:
                    return data
                return {"c": secrets.token_urlsafe(24), "t": self.now(), "u": None, "expired": True}
        return {"c": secrets.token_urlsafe(24), "t": self.now(), "u": None}

    def write(self, data: dict[str, Any], *, secure: bool) -> str:
        value = self.serializer.dumps({k: v for k, v in data.items() if k != "expired"})
        parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict",
                 f"Max-Age={self.minutes * 60}"]
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    @staticmethod
    def csrf_ok(data: dict[str, Any], token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(data.get("c", "")), str(token))


@dataclass
class SourceThrottle:
    """Wrong passwords per client address (any user names): a sprayer is slowed even though
    no single user reaches the lockout."""

    limit: int = 20
    window: float = 900.0
    clock: Callable[[], float] = time.monotonic
    seen: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, source: str) -> bool:
        q = self.seen.get(source)
        now = self.clock()
        while q and now - q[0] > self.window:
            q.popleft()
        return q is not None and len(q) >= self.limit

    def failed(self, source: str) -> None:
        self.seen.setdefault(source, deque()).append(self.clock())


def dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)
