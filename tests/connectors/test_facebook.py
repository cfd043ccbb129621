"""Facebook specifics against the Graph-shaped sandbox over real HTTP: identifier forms, the
feed and comment listings, deletions (100/33), throttles, expired tokens, the usage headers,
a parser that never raises on what Graph may send, and one malformed post that must not stop
capture, later polls, the start-up sweep or a rebuild."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.core.errors import ConfigError, NeedsAttention, TryLater
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Covered,
    Gone,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
)
from archiver.core.settings import ConnectorSettings
from archiver.preservation.rebuild import rebuild
from archiver.sandbox.server import SandboxServer
from connectors.base import AuthStyle, parse_guarded
from connectors.facebook import FacebookConnector
from connectors.facebook.sandbox import LINCOLN, GraphSandbox
from connectors.graph import usage_of
from tests.harness import Harness, scratch_session

TOKEN = "EAAB-facebook-test-token-5c1d"
T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


class Live:
    """A Graph sandbox on 127.0.0.1 plus a CaptureSession writing to a temporary WARC."""

    def __init__(self, tmp_path: Path, server: SandboxServer) -> None:
        self.sandbox = GraphSandbox(tokens={TOKEN})
        server.app, server.requests = self.sandbox, []
        self.server = server
        self.sandbox.base_url = server.url
        self.sandbox.add_page(LINCOLN, "Lincoln High School")
        self.http = scratch_session(tmp_path, "facebook", auth_style=AuthStyle.QUERY_ACCESS_TOKEN,
                                    token=TOKEN, account="test")
        self.connector = FacebookConnector(ConnectorSettings.model_validate({"min_retry_seconds": 0.01, "page_limit": 5, "feed_page_limit": 5}))

    def ref(self) -> AccountRef:
        return AccountRef("facebook", LINCOLN, api_base=self.server.url)

    def harvest(self) -> list[Any]:
        return list(self.connector.harvest(self.ref(), None, self.http))

    def close(self) -> None:
        self.http.close()
        self.http.warc.seal_all()


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    srv = SandboxServer(GraphSandbox(tokens=set())).start()
    yield srv
    srv.stop()


@pytest.fixture
def live(tmp_path: Path, server: SandboxServer) -> Iterator[Live]:
    live = Live(tmp_path, server)
    yield live
    live.close()


def _items(events: list[Any]) -> dict[str, Item]:
    return {e.item.item_id: e.item for e in events if isinstance(e, Observed)}


# --- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1000001", "1000001"),
        ("https://www.facebook.com/LincolnHighSchool", "LincolnHighSchool"),
        ("facebook.com/lincoln.high/about", "lincoln.high"),
        ("https://www.facebook.com/profile.php?id=1000001", "1000001"),
    ],
)
def test_identifier_forms(raw: str, expected: str) -> None:
    assert FacebookConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "https://www.facebook.com/", "not a page!", "a" * 101])
def test_bad_identifiers_are_config_errors_with_one_line(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        FacebookConnector().normalize_account_id(raw)
    assert "\n" not in info.value.message


def test_unknown_setting_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as info:
        FacebookConnector(ConnectorSettings.model_validate({"page_limt": 5}))
    assert "connectors.facebook.page_limt" in info.value.message


# --- listings, replies, deletions, throttles --------------------------------------------------


def test_harvest_pages_the_feed_and_flattens_replies(live: Live) -> None:
    sb = live.sandbox
    posts = [sb.publish(LINCOLN, f"post {n}", at=T0 + timedelta(hours=n), picture=(n == 0)) for n in range(12)]
    top = sb.comment(posts[3], "First!")
    reply = sb.comment(posts[3], "Thanks", parent=top)
    events = live.harvest()
    items = _items(events)
    assert set(posts) | {top, reply} == set(items)
    assert items[reply].kind is ItemKind.REPLY and items[reply].parent_id == top
    assert items[top].kind is ItemKind.COMMENT and items[top].parent_id == posts[3]
    assert items[posts[0]].media and "oe=" not in json.dumps(items[posts[0]].content)
    covered = {(e.parent_id, k) for e in events if isinstance(e, Covered) for k in e.kinds}
    assert {(None, "post"), (posts[3], "comment"), (posts[3], "reply")} <= covered
    feed_pages = [r for r in live.server.requests if r.path.endswith("/feed")]
    assert len(feed_pages) == 3  # 12 posts, 5 a page: paging.next followed to its end


def test_deleted_post_is_gone_with_graph_100_33(live: Live) -> None:
    sb = live.sandbox
    post = sb.publish(LINCOLN, "Oops")
    alive = sb.publish(LINCOLN, "Still here")
    sb.delete_post(post)
    verdict = live.connector.confirm_gone(live.ref(), post, live.http)
    assert isinstance(verdict, Gone) and verdict.status == 400 and "subcode 33" in verdict.detail
    assert not isinstance(live.connector.confirm_gone(live.ref(), alive, live.http), Gone)


def test_throttle_80001_is_try_later_with_the_floor(live: Live) -> None:
    live.sandbox.publish(LINCOLN, "hello")
    live.sandbox.throttle_next = 1
    with pytest.raises(TryLater) as info:
        live.harvest()
    wait = (info.value.retry_at - datetime.now(UTC)).total_seconds()
    assert -1 < wait < 5 and "80001" in info.value.message


def test_expired_token_needs_attention_without_the_token_in_the_message(live: Live) -> None:
    live.sandbox.expire_token(TOKEN)
    with pytest.raises(NeedsAttention) as info:
        live.harvest()
    assert "token" in info.value.message and TOKEN not in info.value.message + info.value.detail


def test_listing_past_max_pages_stops_and_covers_nothing(live: Live) -> None:
    for n in range(12):
        live.sandbox.publish(LINCOLN, f"post {n}")
    live.connector = FacebookConnector(ConnectorSettings.model_validate({"page_limit": 5, "feed_page_limit": 5, "max_pages": 2}))
    events: list[Any] = []
    with pytest.raises(Exception, match="exceeded 2 pages"):
        for event in live.connector.harvest(live.ref(), None, live.http):
            events.append(event)
    assert len(_items(events)) == 10 and not any(isinstance(e, Covered) for e in events)


# --- usage headers: one tolerant parser for Facebook and Instagram -----------------------------


def _with_headers(**headers: str) -> CapturedExchange:
    pairs = tuple((k.replace("_", "-"), v) for k, v in headers.items())
    return CapturedExchange("https://graph.facebook.com/v21.0/1/feed", "GET", 200, pairs, b'{"data": []}', T0)


@pytest.mark.parametrize("value", ["[1,2]", '{"123":{"call_count":5}}', '{"call_count":"n/a"}', "null", "7", "{"])
def test_odd_usage_headers_never_fail_a_good_response(value: str) -> None:
    exchange = _with_headers(x_app_usage=value, x_business_use_case_usage=value, x_page_usage=value)
    usage_of(exchange)  # must not raise
    connector = FacebookConnector()
    connector._checked(exchange, AccountRef("facebook", LINCOLN), LINCOLN)


def test_usage_headers_are_read_in_every_shape() -> None:
    flat = _with_headers(x_app_usage='{"call_count":96,"total_time":10,"total_cputime":3}')
    buc = _with_headers(x_business_use_case_usage=json.dumps(
        {"17841": [{"type": "instagram", "call_count": 20, "estimated_time_to_regain_access": 7}]}))
    page = _with_headers(x_page_usage='{"1000001":{"call_count":40}}')
    assert usage_of(flat) == (96, 0) and usage_of(buc) == (20, 7) and usage_of(page) == (40, 0)
    with pytest.raises(TryLater):
        FacebookConnector()._checked(flat, AccountRef("facebook", LINCOLN), LINCOLN)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_json, header=st.sampled_from(["x-app-usage", "x-business-use-case-usage", "x-page-usage"]))
def test_usage_parser_never_raises(value: object, header: str) -> None:
    usage = usage_of(_with_headers(**{header.replace("-", "_"): json.dumps(value)}))
    assert usage is None or (usage[0] >= 0 and usage[1] >= 0)


# --- parse is pure and total ---------------------------------------------------------------

ACCOUNT = AccountRef("facebook", LINCOLN)
FEED = f"https://graph.facebook.com/v21.0/{LINCOLN}/feed?fields=id&limit=25"
COMMENTS = "https://graph.facebook.com/v21.0/1000001_3000001/comments?filter=stream"
URLS = [FEED, COMMENTS, "https://graph.facebook.com/v21.0/1000001_3000001?fields=id,created_time,message"]


def _sample_post() -> dict[str, Any]:
    sb = GraphSandbox(tokens=set(), now=lambda: T0)
    sb.base_url = "https://scontent.xx.fbcdn.net"
    sb.add_page(LINCOLN, "Lincoln High School")
    return sb._post_json(sb.posts[sb.publish(LINCOLN, "Hello", picture=True)])


SAMPLE = _sample_post()


def _check(exchange: CapturedExchange) -> list[Item | ParseWarning]:
    """The raw parser: an exception here fails the test (nothing catches it on the way)."""
    out = list(FacebookConnector().parse(ACCOUNT, exchange))
    assert all(isinstance(x, Item | ParseWarning) for x in out)
    return out


def _exchange(url: str, body: object) -> CapturedExchange:
    return CapturedExchange(url, "GET", 200, (("Content-Type", "application/json"),), json.dumps(body).encode(), T0)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.sampled_from(URLS), body=_json)
def test_parse_never_raises_on_arbitrary_json(url: str, body: object) -> None:
    _check(_exchange(url, body))


@settings(max_examples=150, deadline=None)
@example(url=FEED, key="attachments", value=[{"media": {}}], attachment_key="media")  # issue 9 item 1
@given(url=st.sampled_from(URLS), key=st.sampled_from(sorted(SAMPLE)), value=_json,
       attachment_key=st.sampled_from(["media", "target", "media_type", "type"]))
def test_parse_never_raises_on_a_mutated_post(url: str, key: str, value: object, attachment_key: str) -> None:
    post = {**SAMPLE, key: value}
    if key != "attachments":
        first = {**SAMPLE["attachments"]["data"][0], attachment_key: value}
        post["attachments"] = {"data": [first]}
    _check(_exchange(url, post if url == URLS[2] else {"data": [post]}))


@given(body=st.binary(max_size=200))
def test_parse_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    _check(CapturedExchange(FEED, "GET", 200, (), body, T0))


_ids = st.from_regex(r"\A[0-9]{4,12}_[0-9]{4,12}\Z")
_posts = st.fixed_dictionaries(
    {"id": _ids, "message": st.text(max_size=40),
     "created_time": st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2035, 1, 1),
                                  timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S+0000"))},
    optional={"story": st.text(max_size=20), "is_hidden": st.booleans(), "full_picture": st.just("https://cdn/x.jpg"),
              "from": st.fixed_dictionaries({"id": st.text(max_size=8), "name": st.text(max_size=12)}),
              "attachments": st.fixed_dictionaries({"data": st.lists(st.fixed_dictionaries({
                  "media": st.just({"image": {"src": "https://cdn/a.jpg"}}), "type": st.just("photo")}), max_size=2)})},
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(posts=st.lists(_posts, max_size=6, unique_by=lambda p: p["id"]), comments=st.booleans())
def test_valid_listings_yield_every_entry_and_no_parser_error(posts: list[dict[str, Any]], comments: bool) -> None:
    if comments:
        posts = [{**p, "parent": {"id": "1_2"}} if n % 2 else p for n, p in enumerate(posts)]
    exchange = _exchange(COMMENTS if comments else FEED, {"data": posts})
    out = list(parse_guarded(FacebookConnector(), ACCOUNT, exchange))
    assert [i.item_id for i in out if isinstance(i, Item)] == [p["id"] for p in posts]
    assert not [w for w in out if isinstance(w, ParseWarning)]


# --- one malformed post blocks nothing (issue 9 item 1) -----------------------------------------


def _feed_posts(h: Harness) -> list[str]:
    """The Page's live posts, newest first: the order the feed lists them."""
    sb = h.sandbox.sandbox  # type: ignore[attr-defined]
    posts = [p for p in sb.posts.values() if p.page_id == LINCOLN and not p.deleted]
    return [p.id for p in sorted(posts, key=lambda p: p.created, reverse=True)]


def _crash_shipping_once(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies after encrypting, before indexing: the WARC waits in the spool."""
    outbox = h.poller.outbox

    def die(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.undo()
        raise RuntimeError("killed before the catalog transaction")

    monkeypatch.setattr(outbox, "ship", die)


def test_attachments_as_a_list_blocks_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        bad = _feed_posts(h)[2]
        original = sb._post_json

        def post_json(post: Any, summary: bool = False) -> dict[str, Any]:
            data = original(post, summary)
            if post.id == bad:
                data["attachments"] = [{"media": {"image": {"src": f"{sb.base_url}/cdn/x.jpg"}}}]
            return data

        sb._post_json = post_json
        assert h.poll().status == "complete"
        live = h.sandbox.live_item_ids(LINCOLN)
        assert live <= set(h.items())  # the post itself and every other item are indexed
        _crash_shipping_once(h, monkeypatch)
        assert h.poll().status != "complete"
        swept = h.poller.recover()  # what the daemon does at start-up
        assert swept.indexed and not swept.failed
        assert h.poll().status == "complete"
        assert rebuild(h.app).equal
        with h.app.catalog.session() as s:
            codes = set(s.scalars(select(t.CaptureWarning.code)))
        assert "facebook.bad_field_type" in codes
    finally:
        h.close()


def test_a_parser_bug_quarantines_one_response_and_the_rest_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        bad = _feed_posts(h)[2]
        original = FacebookConnector._entry

        def buggy(self: FacebookConnector, account: AccountRef, entry: Any, *args: Any) -> Iterator[Any]:
            if isinstance(entry, dict) and entry.get("id") == bad:
                raise AttributeError("'list' object has no attribute 'get'")
            return original(self, account, entry, *args)

        with monkeypatch.context() as patch:
            patch.setattr(FacebookConnector, "_entry", buggy)
            report = h.poll()
            assert report.status == "complete" and report.deleted == 0
            first_page = set(_feed_posts(h)[:25])  # the harness asks 25 a page
            missing = h.sandbox.live_item_ids(LINCOLN) - set(h.items())
            assert bad in missing and missing <= first_page  # other pages, all comments: indexed
            with h.app.catalog.session() as s:
                warning = s.scalars(select(t.CaptureWarning).where(
                    t.CaptureWarning.code == "facebook.parser_error")).one()
                assert warning.warc_file and warning.warc_length > 0 and "AttributeError" in warning.message
                assert not list(s.scalars(select(t.Tombstone)))  # a quarantined listing judges nothing
            _crash_shipping_once(h, monkeypatch)
            h.poll()
            swept = h.poller.recover()
            assert swept.indexed and not swept.failed
            assert h.poll().status == "complete"
            assert rebuild(h.app).equal
        # The parser is fixed: a rebuild from the WARCs indexes what was quarantined.
        assert rebuild(h.app, apply=True).applied
        assert h.sandbox.live_item_ids(LINCOLN) <= set(h.items())
    finally:
        h.close()
