"""CaptureSession: the only way a connector reaches the network.

Every exchange becomes a WARC request + response pair before the connector sees the
response, so nothing a platform said can be lost by a parser bug. The credential is added here,
at send time, by the connector's auth strategy, and every value the strategy names is removed
from everything written or returned: connectors follow `next` URLs whose token already reads
REDACTED, and the session puts the real one back.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from archiver.capture.budget import Budget
from archiver.capture.redact import REDACTED, Redactor
from archiver.core.clock import Clock
from archiver.core.errors import TryLater
from archiver.core.log import install_filters, register_secret
from archiver.core.models import CapturedExchange
from archiver.core.settings import CaptureSettings
from archiver.warc.journal import JournaledWarcFile
from archiver.warc.revisit import PayloadIndex, StoredPayload, dedupable, payload_digest
from archiver.warc.rolling import RollingWarc
from archiver.warc.writer import HttpMessage
from connectors.auth import Auth, AuthStyle, strategy_for
from connectors.ratelimit import retry_at as rate_limit_reset

log = logging.getLogger(__name__)

# The body is stored decoded, so headers that describe the wire encoding are renamed
# (the Common Crawl practice) and Content-Length is made true for what is stored.
_WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")

# httpx's defaults that say what HTTP/1.1 already means without them: `Accept: */*` (a request
# without Accept accepts any media type, RFC 9110 §12.5.1) and `Connection: keep-alive`
# (persistence is HTTP/1.1's default, RFC 9112 §9.3). Every request is archived as sent, so
# each needless header costs every request record of every cycle (issue 12); a value a caller
# chose (an `Accept: application/json`) is sent.
_NEEDLESS_HEADERS = (("accept", "*/*"), ("connection", "keep-alive"))


def without_needless_headers(request: httpx.Request) -> httpx.Request:
    """The request with httpx's redundant defaults removed, whichever client built it (the
    session's own or the daemon's shared one); what remains is what is sent and recorded."""
    for name, default in _NEEDLESS_HEADERS:
        if request.headers.get(name, "").lower() == default:
            del request.headers[name]
    return request


class CaptureSession:
    def __init__(
        self,
        *,
        warc: RollingWarc,
        clock: Clock,
        settings: CaptureSettings,
        auth: Auth | None = None,
        auth_style: AuthStyle = AuthStyle.NONE,
        token: str | None = None,
        platform: str = "",
        account: str = "",
        client: httpx.Client | None = None,
        rate_limit_hook: Callable[[CapturedExchange, str], None] | None = None,
        min_retry_seconds: float = 0.0,
        budget: Budget | None = None,
        stored_payloads: Mapping[str, StoredPayload] | None = None,
    ) -> None:
        """`stored_payloads`: the account's latest stored payload per target URI (the
        poller preloads them from the catalog); a 200 response identical to one of them, or
        to one written earlier into the same WARC file, is written as a revisit record."""
        self.warc = warc
        self.budget = budget  # API requests are charged before they are sent (media is not)
        self.payloads = PayloadIndex(stored_payloads)
        self.rate_limit_hook = rate_limit_hook
        self.min_retry_seconds = min_retry_seconds
        self.clock = clock
        self.settings = settings
        # `auth_style` + `token` is the shorthand for the plain token styles.
        self.auth = auth if auth is not None else strategy_for(auth_style, token)
        self.platform = platform
        self.account = account
        self.redactor = Redactor([])
        install_filters()
        self._learn_secrets()
        self._logged_in: set[str] = set()  # origins the auth strategy has logged in to
        # A client per session keeps cookies from one account away from another; the TLS
        # context (loading the CA bundle costs ~0.1 s) is built once per process.
        self._client = client or httpx.Client(
            timeout=settings.timeout,
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent},
            verify=_tls_context(),
        )
        self._own_client = client is None
        self.exchanges = 0

    def _learn_secrets(self) -> None:
        """Redact every value the strategy holds now (a login may have brought new ones)."""
        secrets = [value for value in self.auth.secrets() if value]
        self.redactor = Redactor(secrets)
        for value in secrets:
            register_secret(value)

    def _auth_post(self, url: str, *, json: object = None, form: dict[str, str] | None = None,
                   bearer: str | None = None) -> tuple[int, Any]:
        """A login or token refresh for the auth strategy: sent, never recorded (it carries the
        password and the tokens it returns), and logged without them."""
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        try:
            response = self._client.post(url, json=json, data=form, headers=headers)
        except httpx.TransportError as exc:
            raise TryLater(
                f"Cannot reach {self.platform or 'the platform'} at {_origin(url)} to log in "
                f"({type(exc).__name__}); check the network and the API base URL",
                retry_at=self.clock.now() + timedelta(minutes=5),
                platform=self.platform,
                account=self.account,
            ) from None
        log.info("%s login step %s answered HTTP %d", self.platform, urlsplit(url).path, response.status_code)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def _ensure_login(self, url: str) -> None:
        origin = _origin(url)
        if origin not in self._logged_in:
            self.auth.login(origin, self._auth_post)
            self._logged_in.add(origin)
            self._learn_secrets()

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    # --- public API (connectors.base.HttpClient) -------------------------------------------

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CapturedExchange:
        exchange = self._get_with_retries(url, params, headers, authenticated=True)
        self._raise_if_throttled(exchange)
        return exchange

    def post_json(
        self,
        url: str,
        *,
        json: object,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CapturedExchange:
        """POST a JSON body (TikTok's list and query endpoints); recorded with its body."""
        import json as _json

        body = _json.dumps(json, separators=(",", ":")).encode("utf-8")
        send = {**(headers or {}), "Content-Type": "application/json; charset=UTF-8"}
        exchange = self._get_with_retries(
            url, params, send, authenticated=True, method="POST", body=body
        )
        self._raise_if_throttled(exchange)
        return exchange

    def _raise_if_throttled(self, exchange: CapturedExchange) -> None:
        """HTTP 429 -> TryLater. The connector's hook may raise its own TryLater first: it knows
        quotas the headers do not say (LinkedIn's daily limits, X's monthly usage cap)."""
        if exchange.status != 429:
            return
        if self.rate_limit_hook is not None:
            self.rate_limit_hook(exchange, self.account)
        retry_at = rate_limit_reset(exchange, self.clock.now())
        retry_at = max(retry_at, self.clock.now() + timedelta(seconds=self.min_retry_seconds))
        raise TryLater(
            f"{self.platform} rate limit reached for {self.account}; will retry after "
            f"{retry_at:%Y-%m-%d %H:%M:%S} UTC",
            retry_at=retry_at,
            platform=self.platform,
            account=self.account,
            evidence=exchange.response_pointer,
        )

    def fetch_media(self, url: str, *, max_bytes: int | None = None) -> CapturedExchange | None:
        """Media lives on CDNs that need no token; follow redirects, recording each hop."""
        cap = self.settings.media_max_bytes if max_bytes is None else max_bytes
        for _hop in range(6):
            exchange = self._get_with_retries(
                url, None, None, authenticated=False, max_bytes=cap, purpose="media"
            )
            location = exchange.header("location")
            if exchange.status in (301, 302, 303, 307, 308) and location:
                url = str(httpx.URL(url).join(location))
                continue
            return exchange if exchange.status != -1 else None
        return None

    # --- internals -------------------------------------------------------------------------

    def _prepare(
        self, url: str, params: Mapping[str, str] | None, authenticated: bool
    ) -> tuple[str, dict[str, str]]:
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if v != REDACTED]
        query += list((params or {}).items())
        extra_headers: dict[str, str] = {}
        if authenticated:
            query = self.auth.apply(query, extra_headers)
        full = urlunsplit(parts._replace(query=urlencode(query, safe=",{}():")))
        return full, extra_headers

    def _get_with_retries(
        self,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        *,
        authenticated: bool,
        max_bytes: int | None = None,
        purpose: str = "",
        method: str = "GET",
        body: bytes = b"",
    ) -> CapturedExchange:
        if authenticated:
            self._ensure_login(url)
        full_url, auth_headers = self._prepare(url, params, authenticated)
        send_headers = {**(headers or {}), **auth_headers}
        attempts = self.settings.max_retries + 1
        delay = self.settings.backoff_base
        safe_url = ""  # redacted only when a message needs it (most exchanges need none)
        refreshed = False
        for attempt in range(1, attempts + 1):
            try:
                exchange = self._send(method, full_url, send_headers, body, max_bytes, purpose)
            except httpx.TransportError as exc:
                reason = type(exc).__name__
                safe_url = safe_url or self.redactor.url(full_url)
                log.warning("network error on %s (attempt %d/%d): %s", safe_url, attempt, attempts, reason)
                if attempt == attempts:
                    raise TryLater(
                        f"Cannot reach {self.platform or 'the platform'} at "
                        f"{_origin(safe_url)} ({reason}); check the network and the API base URL",
                        retry_at=self.clock.now() + timedelta(minutes=5),
                        platform=self.platform,
                        account=self.account,
                    ) from None
                self.clock.sleep(delay)
                delay *= 2
                continue
            if authenticated and not refreshed and self.auth.expired(exchange.status, exchange.body):
                refreshed = True  # the session token expired: renew it once and ask again
                if self.auth.refresh(_origin(url), self._auth_post):
                    self._learn_secrets()
                    full_url, auth_headers = self._prepare(url, params, authenticated)
                    send_headers = {**(headers or {}), **auth_headers}
                    exchange = self._send(method, full_url, send_headers, body, max_bytes, purpose)
            if exchange.status >= 500 and attempt < attempts:
                safe_url = safe_url or self.redactor.url(full_url)
                log.warning("HTTP %d from %s (attempt %d/%d)", exchange.status, safe_url, attempt, attempts)
                self.clock.sleep(delay)
                delay *= 2
                continue
            if exchange.status >= 500:
                raise TryLater(
                    f"{self.platform or 'The platform'} keeps answering HTTP {exchange.status}; "
                    "will retry in 15 minutes",
                    retry_at=self.clock.now() + timedelta(minutes=15),
                    platform=self.platform,
                    account=self.account,
                    evidence=exchange.response_pointer,
                )
            return exchange
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        max_bytes: int | None,
        purpose: str,
    ) -> CapturedExchange:
        metered = self.budget is not None and purpose != "media"
        if metered:
            assert self.budget is not None
            self.budget.charge(method, url, self.account, self.clock)
        when = self.clock.now()
        content = body if method != "GET" else None
        request = without_needless_headers(
            self._client.build_request(method, url, headers=headers, content=content))
        response = self._client.send(request, stream=True)
        try:
            resp_body, too_big = _read_capped(response, max_bytes)
            status = response.status_code
            reason = response.reason_phrase or ""
            raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
            ip = _peer_ip(response)
        finally:
            response.close()
        exchange = self._record(
            request, when, status, reason, raw_headers, resp_body, ip,
            truncated=too_big, purpose=purpose, request_body=body,
        )
        return exchange

    def _record(
        self,
        request: httpx.Request,
        when: datetime,
        status: int,
        reason: str,
        raw_headers: list[tuple[str, str]],
        body: bytes,
        ip: str | None,
        *,
        truncated: bool = False,
        purpose: str = "",
        request_body: bytes = b"",
    ) -> CapturedExchange:
        red = self.redactor
        target = red.url(str(request.url))
        path = urlsplit(target)
        method = request.method
        req_line = f"{method} {urlunsplit(('', '', path.path or '/', path.query, ''))} HTTP/1.1"
        req_headers = [
            (k, v) for k, v in request.headers.multi_items() if k.lower() != "authorization"
        ]
        req_headers = red.headers(req_headers)
        stored_body, notes = red.body(body)
        stored_request_body, _ = red.body(request_body)
        resp_headers: list[tuple[str, str]] = []
        for key, value in red.headers(raw_headers):
            if key.lower() in _WIRE_HEADERS:
                if key.lower() != "content-length":
                    resp_headers.append((f"X-Archiver-Original-{key}", value))
                continue
            resp_headers.append((key, value))
        resp_headers.append(("Content-Length", str(len(stored_body))))
        extra: dict[str, str] = {}
        if notes:
            extra["X-Archiver-Redaction"] = "; ".join(notes) + f" replaced by {REDACTED}"
        if truncated:
            extra["WARC-Truncated"] = "length"
        if purpose:
            extra["X-Archiver-Purpose"] = purpose
        if method != "GET":  # a response record does not say which method asked for it
            extra["X-Archiver-Request-Method"] = method
        current = self.warc.current
        digest = payload_digest(stored_body) if dedupable(status, stored_body, truncated) else ""
        original = self.payloads.original_for(target, digest, current.name, len(stored_body)) if digest else None
        resp_ptr, req_ptr = current.write_exchange(
            target,
            HttpMessage(req_line, req_headers, stored_request_body),
            HttpMessage(f"{status} {reason}".strip(), resp_headers, stored_body),
            when=when,
            extra_headers=extra,
            ip_address=ip,
            revisit_of=original,
        )
        if original is not None:
            # The indexer needs no store read-back for a JSON answer (its parser reads status and
            # body); a media file's row also takes the original's headers, so it is read back.
            if isinstance(current, JournaledWarcFile) and purpose != "media":
                current.journal.revisit_payloads[original.record_id] = stored_body
            self.payloads.revisits += 1
            self.payloads.bytes_saved += len(stored_body)
        elif digest:
            self.payloads.wrote(StoredPayload(target, digest, when.replace(microsecond=0), resp_ptr))
        self.warc.after_write()
        self.exchanges += 1
        return CapturedExchange(
            url=target,
            method=method,
            status=status if not truncated else -1,
            headers=tuple(resp_headers),
            body=stored_body,
            captured_at=when,
            response_pointer=resp_ptr,
            request_record_id=req_ptr.record_id,
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _read_capped(response: httpx.Response, max_bytes: int | None) -> tuple[bytes, bool]:
    """Read at most `max_bytes`; a larger body is cut and flagged (WARC-Truncated: length)."""
    if max_bytes is None:
        return response.read(), False
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _peer_ip(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    try:
        addr = stream.get_extra_info("server_addr") if stream is not None else None
    except Exception:  # noqa: BLE001 - best effort; the field is optional in WARC
        return None
    return str(addr[0]) if addr else None
