"""The connector kit on its own: paginators, the page cap, the cut-short rule, auth strategies
the capture session applies and redacts, per-connector settings, and rate-limit headers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archiver.capture.session import CaptureSession
from archiver.core.clock import SystemClock
from archiver.core.errors import ConfigError, UnexpectedResponse
from archiver.core.models import AccountRef, CapturedExchange, Covered, Item, ItemKind, ParseWarning
from archiver.core.settings import CaptureSettings, ConnectorSettings
from archiver.sandbox.server import Request, Response
from archiver.warc.reader import iter_records
from archiver.warc.rolling import RollingWarc
from connectors.auth import AuthBase, BasicAuth, Query
from connectors.base import parse_guarded
from connectors.bluesky.connector import BlueskyConnector
from connectors.paging import (
    LinkHeader,
    Listing,
    NextUrl,
    Offset,
    Page,
    PageNumber,
    PageRequest,
    Token,
    link_next,
)
from connectors.ratelimit import parse_reset, parse_retry_after
from connectors.x import XConnector
from connectors.youtube import YouTubeConnector
from tests.harness import switch_server

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
ACCOUNT = AccountRef("kit", "acct")


def _page(body: Any = None, rows: list[Any] | None = None, headers: Iterable[tuple[str, str]] = ()) -> Page:
    exchange = CapturedExchange("https://api.example/list", "GET", 200, tuple(headers), b"{}", T0)
    return Page(exchange, body, rows if rows is not None else [1])


# --- paginators ----------------------------------------------------------------------------


def test_next_url_follows_the_body_link_until_there_is_none() -> None:
    first = PageRequest("https://g/v1/feed", {"limit": "5"})
    assert NextUrl().next(first, _page({"paging": {"next": "https://g/v1/feed?after=x"}})) == PageRequest(
        "https://g/v1/feed?after=x")
    assert NextUrl().next(first, _page({"paging": {}})) is None
    assert NextUrl().next(first, _page({"paging": {"next": 7}})) is None


def test_link_header_stops_on_an_empty_page() -> None:
    link = '<https://m/api/v1/x?max_id=5>; rel="next", <https://m/api/v1/x?min_id=9>; rel="prev"'
    assert link_next(link) == "https://m/api/v1/x?max_id=5"
    request = PageRequest("https://m/api/v1/x")
    assert LinkHeader().next(request, _page(headers=[("Link", link)])) == PageRequest("https://m/api/v1/x?max_id=5")
    assert LinkHeader().next(request, _page(rows=[], headers=[("Link", link)])) is None


def test_token_goes_back_as_a_parameter_or_in_the_json_body() -> None:
    request = PageRequest("https://y/v3/items", {"part": "id"})
    token = Token(("nextPageToken",), "pageToken")
    assert token.next(request, _page({"nextPageToken": "CAUQ"})) == PageRequest(
        "https://y/v3/items", {"part": "id", "pageToken": "CAUQ"})
    assert token.next(request, _page({"nextPageToken": ""})) is None
    cursor = Token(("cursor",), "cursor", in_json=True)
    posted = PageRequest("https://t/v2/video/list/", None, {"max_count": 20})
    assert cursor.next(posted, _page({"cursor": 1700})) == PageRequest(
        "https://t/v2/video/list/", None, {"max_count": 20, "cursor": 1700})
    assert Token(("cursor",), "cursor", stop_on_empty=True).next(request, _page({"cursor": "c"}, rows=[])) is None


def test_page_number_and_offset() -> None:
    wp = PageNumber("x-wp-totalpages", per_page=2)
    request = PageRequest("https://w/wp-json/wp/v2/posts", {"page": "1", "per_page": "2"})
    assert wp.next(request, _page(rows=[1, 2], headers=[("X-WP-TotalPages", "3")])).params["page"] == "2"  # type: ignore[union-attr]
    assert wp.next(request, _page(rows=[1, 2], headers=[("X-WP-TotalPages", "1")])) is None
    assert wp.next(request, _page(rows=[1])) is None  # short page, no header: the last one
    li = Offset()
    request = PageRequest("https://l/rest/posts", {"start": "0", "count": "2"})
    assert li.next(request, _page({"paging": {"total": 5}}, rows=[1, 2])).params["start"] == "2"  # type: ignore[union-attr]
    assert li.next(request, _page({"paging": {"total": 2}}, rows=[1, 2])) is None
    assert li.next(request, _page({}, rows=[1, 2])) is not None  # neither total nor links: read on
    assert li.next(request, _page({}, rows=[])) is None


# --- Listing: the cap and the cut-short rule --------------------------------------------------


@dataclass
class _Parser:
    """A connector whose parser raises on one body (a parser bug) and reads one item otherwise."""

    platform: str = "kit"
    label: str = "Kit"

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        if exchange.body == b"boom":
            raise KeyError("a parser bug")
        yield Item("kit", account.account_id, exchange.body.decode(), ItemKind.POST, {})


def _listing(max_pages: int = 10) -> Listing:
    return Listing(_Parser(), ACCOUNT, max_pages=max_pages, subject="the posts")  # type: ignore[arg-type]


def _fetch(bodies: list[bytes]) -> Any:
    def fetch(request: PageRequest) -> Page:
        n = int((request.params or {}).get("page", "1"))
        exchange = CapturedExchange(request.url, "GET", 200, (), bodies[n - 1], T0)
        return Page(exchange, None, [n] if n < len(bodies) else [])

    return fetch


def _walk(listing: Listing, bodies: list[bytes]) -> list[Any]:
    events: list[Any] = []
    first = PageRequest("https://k/posts", {"page": "1"})
    for page in listing.pages(_fetch(bodies), first, PageNumber("x-total", per_page=1)):
        events += listing.observe(page.exchange)
    return events + list(listing.covered(None, ItemKind.POST))


def test_a_whole_listing_is_covered() -> None:
    events = _walk(_listing(), [b"a", b"b", b"c"])
    assert [e for e in events if isinstance(e, Covered)] == [Covered(None, (ItemKind.POST,))]


def test_a_quarantined_page_covers_nothing_but_the_walk_goes_on() -> None:
    events = _walk(_listing(), [b"a", b"boom", b"c"])
    codes = [e.code for e in events if isinstance(e, ParseWarning)]
    assert codes == ["kit.parser_error"] and not any(isinstance(e, Covered) for e in events)
    assert sum(1 for e in events if not isinstance(e, ParseWarning)) == 2  # a and c observed


def test_a_listing_past_its_cap_raises_and_a_vanished_one_covers_nothing() -> None:
    with pytest.raises(UnexpectedResponse, match="exceeded 2 pages"):
        _walk(_listing(max_pages=2), [b"a", b"b", b"c"])
    listing = _listing()
    assert list(listing.pages(lambda request: None, PageRequest("https://k/x"), NextUrl())) == []
    assert not listing.whole and list(listing.covered(None, ItemKind.POST)) == []


def test_parse_guarded_keeps_what_came_before_the_bug() -> None:
    class Half(_Parser):
        def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
            yield from super().parse(account, CapturedExchange("u", "GET", 200, (), b"first", T0))
            raise ValueError("then a bug")

    out = list(parse_guarded(Half(), ACCOUNT, CapturedExchange("u", "GET", 200, (), b"x", T0)))  # type: ignore[arg-type]
    assert isinstance(out[0], Item) and isinstance(out[1], ParseWarning)
    assert out[1].code == "kit.parser_error" and "ValueError" in out[1].message


# --- auth strategies, applied and redacted by the session -------------------------------------


@dataclass(frozen=True)
class _SessionCookie(AuthBase):
    """A style the session has never heard of: a token in a custom header plus a query flag."""

    token: str

    def apply(self, query: Query, headers: dict[str, str]) -> Query:
        headers["X-Session"] = self.token
        return [*query, ("session", self.token)]

    def secrets(self) -> Iterable[str]:
        return (self.token,)


@pytest.mark.parametrize("auth", [BasicAuth("archiver", "abcd efgh ijkl mnop"), _SessionCookie("sess-4f1e9a0c77")])
def test_a_new_auth_style_needs_no_session_change_and_never_reaches_the_warc(tmp_path: Path, auth: Any) -> None:
    seen: list[Request] = []

    def app(req: Request) -> Response:
        seen.append(req)
        return Response.json({"echo": req.header("authorization") + req.header("x-session") + req.query.get("session", "")})

    with switch_server() as (switch, server):
        switch.target = app
        rolling = RollingWarc(tmp_path / "spool", "kit-auth", {"archiver-platform": "kit"}, max_bytes=10**9,
                              clock=SystemClock())
        session = CaptureSession(warc=rolling, clock=SystemClock(), settings=CaptureSettings(max_retries=0),
                                 auth=auth, platform="kit", account="acct")
        exchange = session.get(f"{server.url}/v1/me")
        session.close()
        sealed = session.warc.seal_all()
    wire = seen[0].header("authorization") + seen[0].header("x-session") + seen[0].query.get("session", "")
    assert wire  # the platform got the credential
    stored = b"".join(p.path.read_bytes() for p in sealed)
    records = b"".join(r.body + json.dumps(r.http_headers).encode() for p in sealed
                       for r in iter_records(p.path.open("rb"), p.name))
    for secret in auth.secrets():
        assert secret.encode() not in stored and secret.encode() not in records
        assert secret not in exchange.url and secret.encode() not in exchange.body
    if isinstance(auth, BasicAuth):
        assert seen[0].header("authorization") == "Basic " + base64.b64encode(b"archiver:abcd efgh ijkl mnop").decode()


# --- per-connector settings -------------------------------------------------------------------


def test_each_connector_reads_its_own_settings_and_refuses_unknown_keys() -> None:
    x = XConnector(ConnectorSettings.model_validate({"page_limit": 50, "cold_every_hours": 72}))
    assert x.settings.page_limit == 50 and x.settings.cold_every_hours == 72
    # X's own daily full walk became the shared reconciliation windows: the old key is refused.
    with pytest.raises(ConfigError, match="connectors.x.sweep_every_hours"):
        XConnector(ConnectorSettings.model_validate({"sweep_every_hours": 6}))
    bluesky = BlueskyConnector(ConnectorSettings.model_validate({"feed_page_limit": 50}))
    assert bluesky.settings.feed_page_limit == 50
    assert YouTubeConnector(ConnectorSettings.model_validate({"rescan_every_hours": 2})).rescan_every == timedelta(hours=2)
    with pytest.raises(ConfigError, match="connectors.youtube.sweep_every_hours"):
        YouTubeConnector(ConnectorSettings.model_validate({"sweep_every_hours": 6}))


# --- rate-limit headers -----------------------------------------------------------------------


def test_reset_headers_in_every_form() -> None:
    assert parse_reset("1767225600", T0) == datetime(2026, 1, 1, tzinfo=UTC)  # epoch seconds
    assert parse_reset("30", T0) == T0 + timedelta(seconds=30)  # seconds from now
    assert parse_reset("2026-09-01T12:05:00Z", T0) == T0 + timedelta(minutes=5)
    assert parse_reset("2026-09-01T12:05:00", T0) is None and parse_reset("soon", T0) is None
    assert parse_retry_after("Tue, 01 Sep 2026 12:01:00 GMT", T0, timedelta(0)) == T0 + timedelta(minutes=1)
    assert parse_retry_after("garbage", T0, timedelta(seconds=9)) == T0 + timedelta(seconds=9)
