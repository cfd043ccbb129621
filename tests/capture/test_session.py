"""CaptureSession over real HTTP: retries, throttles, redaction, wire-encoding headers."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.capture.session import CaptureSession
from archiver.core.clock import ManualClock
from archiver.core.errors import TryLater
from archiver.core.settings import CaptureSettings
from archiver.sandbox.server import Request, Response, SandboxServer
from archiver.warc.reader import iter_records
from archiver.warc.rolling import RollingWarc
from connectors.base import AuthStyle

TOKEN = "EAAB-session-test-token-42"


class Script:
    """Answers each request with the next scripted response."""

    def __init__(self) -> None:
        self.queue: list[Response] = []
        self.seen: list[Request] = []

    def __call__(self, req: Request) -> Response:
        self.seen.append(req)
        return self.queue.pop(0) if self.queue else Response.json({"ok": True})


@pytest.fixture
def server() -> Iterator[tuple[SandboxServer, Script]]:
    script = Script()
    srv = SandboxServer(script).start()
    yield srv, script
    srv.stop()


def make_session(tmp_path: Path, style: AuthStyle = AuthStyle.QUERY_ACCESS_TOKEN,
                 **capture: object) -> tuple[CaptureSession, RollingWarc, ManualClock]:
    clock = ManualClock()
    rolling = RollingWarc(tmp_path / "spool", "test", {"archiver-platform": "test"}, max_bytes=10**9, clock=clock)
    settings = CaptureSettings(backoff_base=0.5, max_retries=2, **capture)  # type: ignore[arg-type]
    return CaptureSession(warc=rolling, clock=clock, settings=settings, auth_style=style, token=TOKEN,
                          platform="test", account="acct"), rolling, clock


def records(rolling: RollingWarc) -> list:
    out = []
    for sealed in rolling.seal_all():
        with open(sealed.path, "rb") as fh:
            out.extend(iter_records(fh, sealed.name))
    return out


def test_token_is_sent_but_never_written(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    script.queue.append(Response.json({"paging": {"next": f"{srv.url}/x?access_token={TOKEN}&after=2"}}))
    session, rolling, _ = make_session(tmp_path)
    exchange = session.get(f"{srv.url}/feed", params={"limit": "2"})
    assert script.seen[0].query["access_token"] == TOKEN  # the platform got it
    assert TOKEN.encode() not in exchange.body and "REDACTED" in exchange.url
    recs = records(rolling)
    raw = b"".join(gzip.decompress(p.read_bytes()) for p in (tmp_path / "spool").glob("*.warc.gz"))
    assert TOKEN.encode() not in raw
    response = next(r for r in recs if r.rec_type == "response")
    assert response.headers["X-Archiver-Redaction"].startswith("access_token query values")
    # Following the redacted next link puts the real token back.
    session.get(exchange.json()["paging"]["next"])
    assert script.seen[1].query["access_token"] == TOKEN and script.seen[1].query["after"] == "2"


def test_bearer_header_is_dropped_from_the_request_record(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    session, rolling, _ = make_session(tmp_path, AuthStyle.BEARER)
    session.get(f"{srv.url}/me")
    assert script.seen[0].header("authorization") == f"Bearer {TOKEN}"
    request = next(r for r in records(rolling) if r.rec_type == "request")
    assert all(k.lower() != "authorization" for k, _ in request.http_headers)


def test_httpx_redundant_defaults_are_neither_sent_nor_recorded(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    """`Accept: */*` and `Connection: keep-alive` say what HTTP/1.1 means without them; every
    request record of every cycle carried them (issue 12). What is recorded is what was sent,
    and an Accept a caller chose, or a shared client's own defaults, go through the same rule."""
    import httpx

    srv, script = server
    session, rolling, _ = make_session(tmp_path)
    session.get(f"{srv.url}/feed")
    session.get(f"{srv.url}/feed", headers={"Accept": "application/json"})
    shared = httpx.Client(headers={"User-Agent": "shared"})  # as the daemon's worker builds one
    try:
        other = CaptureSession(warc=rolling, clock=ManualClock(), settings=CaptureSettings(),
                               auth_style=AuthStyle.NONE, platform="test", account="acct", client=shared)
        other.get(f"{srv.url}/feed")
    finally:
        shared.close()
    sent = [{k.lower() for k in r.headers} for r in script.seen]
    assert all("accept" not in h and "connection" not in h for h in (sent[0], sent[2]))
    assert script.seen[1].header("accept") == "application/json" and "connection" not in sent[1]
    recorded = [{k.lower(): v for k, v in r.http_headers} for r in records(rolling) if r.rec_type == "request"]
    assert [h.get("accept") for h in recorded] == [None, "application/json", None]
    assert all("connection" not in h for h in recorded)
    assert [h.get("accept-encoding") for h in recorded] == [s.get("accept-encoding") for s in (
        {k.lower(): v for k, v in r.headers.items()} for r in script.seen)]


def test_5xx_is_retried_with_backoff_and_every_attempt_is_kept(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    script.queue += [Response.json({"e": 1}, 502), Response.json({"e": 2}, 503)]
    session, rolling, clock = make_session(tmp_path)
    start = clock.now()
    exchange = session.get(f"{srv.url}/feed")
    assert exchange.status == 200
    assert (clock.now() - start).total_seconds() == pytest.approx(0.5 + 1.0)
    statuses = [r.http_status for r in records(rolling) if r.rec_type == "response"]
    assert statuses == [502, 503, 200]


def test_persistent_5xx_becomes_try_later(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    script.queue += [Response.json({}, 500)] * 3
    session, _, _ = make_session(tmp_path)
    with pytest.raises(TryLater) as info:
        session.get(f"{srv.url}/feed")
    assert "HTTP 500" in info.value.message


def test_429_raises_try_later_at_retry_after(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    script.queue.append(Response.json({"error": "slow down"}, 429, [("Retry-After", "120")]))
    session, _, clock = make_session(tmp_path)
    with pytest.raises(TryLater) as info:
        session.get(f"{srv.url}/feed")
    assert (info.value.retry_at - clock.now()).total_seconds() == 120
    assert info.value.evidence is not None


def test_unreachable_api_is_one_clear_line(tmp_path: Path) -> None:
    session, _, _ = make_session(tmp_path)
    with pytest.raises(TryLater) as info:
        session.get("http://127.0.0.1:9/feed")  # discard port: nothing listens
    message = info.value.message
    assert message.startswith("Cannot reach test at http://127.0.0.1:9") and "\n" not in message
    assert TOKEN not in message


def test_compressed_bodies_are_stored_decoded_with_honest_headers(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    body = b'{"data": []}'
    script.queue.append(Response(200, gzip.compress(body), [("Content-Type", "application/json"),
                                                           ("Content-Encoding", "gzip")]))
    session, rolling, _ = make_session(tmp_path)
    exchange = session.get(f"{srv.url}/feed")
    assert exchange.body == body
    response = next(r for r in records(rolling) if r.rec_type == "response")
    headers = dict(response.http_headers)
    assert "Content-Encoding" not in headers
    assert headers["X-Archiver-Original-Content-Encoding"] == "gzip"
    assert headers["Content-Length"] == str(len(body))
    assert response.body == body


def test_media_over_the_cap_is_recorded_as_truncated(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    script.queue.append(Response(200, b"x" * 5000, [("Content-Type", "video/mp4")]))
    session, rolling, _ = make_session(tmp_path, media_max_bytes=1000)
    assert session.fetch_media(f"{srv.url}/cdn/v.mp4") is None
    response = next(r for r in records(rolling) if r.rec_type == "response")
    assert response.headers["WARC-Truncated"] == "length" and response.body == b""
    assert response.headers["X-Archiver-Purpose"] == "media"


def test_retry_warnings_name_the_redacted_url(tmp_path: Path, server, caplog) -> None:  # type: ignore[no-untyped-def]
    """The URL in a retry warning is redacted when the warning is written (issue 13: not
    eagerly for every exchange): it names the request, never the token."""
    srv, script = server
    script.queue.append(Response.json({"e": 1}, 502))
    session, _, _ = make_session(tmp_path)
    with caplog.at_level("WARNING", logger="archiver.capture.session"):
        session.get(f"{srv.url}/feed", params={"limit": "2"})
        with pytest.raises(TryLater):
            session.get("http://127.0.0.1:9/gone")  # discard port: a network error each attempt
    lines = [r.getMessage() for r in caplog.records]
    assert f"HTTP 502 from {srv.url}/feed?limit=2&access_token=REDACTED (attempt 1/3)" in lines
    assert "network error on http://127.0.0.1:9/gone?access_token=REDACTED (attempt 1/3): ConnectError" in lines
    assert all(TOKEN not in line for line in lines)
