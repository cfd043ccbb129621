"""Threads specifics against the Threads-API-shaped sandbox over real HTTP: the token-owner
check, paging by `paging.next`, conversations turned into comments and replies, hidden replies
as new versions, deletions confirmed by Graph's 100/33, throttles and token errors, identifier
forms and a parser that never raises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.core.errors import ConfigError, NeedsAttention, TryLater
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Covered,
    Gone,
    Item,
    ParseWarning,
)
from archiver.core.settings import ConnectorSettings
from archiver.sandbox.server import SandboxServer
from connectors.base import AuthStyle
from connectors.threads import ThreadsConnector
from connectors.threads.sandbox import ThreadsSandbox
from tests.harness import Harness, Live, observed

TOKEN = "THAAG-threads-test-token-31"
ME, OTHER = "27000000000000011", "27000000000000012"


@pytest.fixture
def live(tmp_path: Path, server: SandboxServer) -> Iterator[Live]:
    sb = ThreadsSandbox()
    sb.add_user(ME, "lincolnhighschool", "Lincoln High School")
    sb.add_user(OTHER, "pta.volunteer", "PTA Volunteer")
    sb.tokens[TOKEN] = ME
    connector = ThreadsConnector(ConnectorSettings.model_validate(
        {"min_retry_seconds": 0.01, "page_limit": 10, "threads_page_limit": 10}))
    lv = Live(tmp_path, server, sb, connector, token=TOKEN, auth_style=AuthStyle.QUERY_ACCESS_TOKEN,
              account="lincolnhighschool")
    yield lv
    lv.close()


# --- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("@LincolnHighSchool", "lincolnhighschool"),
    ("lincoln.high_2", "lincoln.high_2"),
    ("https://www.threads.net/@LincolnHighSchool", "lincolnhighschool"),
    ("threads.com/@lincolnhighschool/post/C8abc123", "lincolnhighschool"),
])
def test_identifier_forms(raw: str, expected: str) -> None:
    assert ThreadsConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "@", "has space", "@" + "a" * 31, ".dotfirst",
                                 "https://www.threads.net/about", "https://threads.net.evil.example/@x"])
def test_bad_identifiers_are_config_errors(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        ThreadsConnector().normalize_account_id(raw)
    assert "\n" not in info.value.message and "Threads" in info.value.message


# --- listing -----------------------------------------------------------------------------------


def test_threads_are_paged_by_next_and_conversations_become_comments_and_replies(live: Live) -> None:
    sb = live.sandbox
    start = datetime.now(UTC) - timedelta(days=5)
    posts = [sb.post(ME, f"update {n}", at=start + timedelta(hours=n)) for n in range(23)]
    comment = sb.post(OTHER, "Great news!", reply_to=posts[-1])
    reply = sb.post(ME, "Thank you!", reply_to=comment)
    events = live.harvest()
    items = observed(events)
    assert set(items) == {*posts, comment, reply}
    assert items[comment].kind == "comment" and items[comment].parent_id == posts[-1]
    assert items[reply].kind == "reply" and items[reply].parent_id == comment
    assert len([r for r in live.server.requests if r.path.endswith(f"/{ME}/threads")]) == 3
    covered = {(e.parent_id, k) for e in events if isinstance(e, Covered) for k in e.kinds}
    assert {(None, "post"), (posts[-1], "comment"), (comment, "reply"), (posts[0], "comment")} <= covered
    conversations = [r.path for r in live.server.requests if r.path.endswith("/conversation")]
    assert conversations == [f"/v1.0/{posts[-1]}/conversation"], "only threads that have replies are read"


def test_a_thread_deleted_between_the_listings_is_skipped_without_covering_its_replies(live: Live) -> None:
    sb = live.sandbox
    kept, doomed = sb.post(ME, "stays"), sb.post(ME, "goes")
    sb.post(OTHER, "a reply", reply_to=kept)
    lost = sb.post(OTHER, "a reply that goes too", reply_to=doomed)

    def delete_after_listing(req):  # type: ignore[no-untyped-def]
        answer = sb(req)
        if req.path.endswith(f"/{ME}/threads"):
            sb.delete(doomed)  # gone before its conversation is asked for
        return answer

    live.server.app = delete_after_listing
    events = live.harvest()  # no UnexpectedResponse: the 100/33 on /conversation means "vanished"
    covered = {(e.parent_id, k) for e in events if isinstance(e, Covered) for k in e.kinds}
    assert (kept, "comment") in covered and (None, "post") in covered
    assert not {(doomed, "comment"), (lost, "reply"), (doomed, "reply")} & covered


def test_a_token_of_another_account_needs_attention(live: Live) -> None:
    live.sandbox.tokens[TOKEN] = OTHER
    with pytest.raises(NeedsAttention) as info:
        live.harvest()
    assert "@pta.volunteer" in info.value.message
    assert not any(r.path.endswith("/threads") for r in live.server.requests)


def test_hiding_a_reply_is_a_new_version_and_signed_urls_are_not(live: Live) -> None:
    sb = live.sandbox
    post = sb.post(ME, "Game day", image=True)
    rude = sb.post(OTHER, "Rude remark", reply_to=post)
    before = observed(live.harvest())
    sb.hide(rude)
    after = observed(live.harvest())
    assert after[rude].content["hide_status"] == "HIDDEN"
    assert before[rude].content_sha256 != after[rude].content_sha256
    assert before[post].media[0].url != after[post].media[0].url
    assert before[post].content_sha256 == after[post].content_sha256
    assert "oe=" not in json.dumps(after[post].content)


def test_deleted_thread_is_gone_with_graph_100_33(live: Live) -> None:
    sb = live.sandbox
    post = sb.post(ME, "Oops")
    comment = sb.post(OTHER, "hello", reply_to=post)
    sb.delete(post)
    for item_id in (post, comment):
        verdict = live.connector.confirm_gone(live.ref(), item_id, live.http)
        assert isinstance(verdict, Gone) and verdict.status == 400 and "subcode 33" in verdict.detail
    alive = sb.post(ME, "Still here")
    assert not isinstance(live.connector.confirm_gone(live.ref(), alive, live.http), Gone)


def test_throttle_is_try_later_and_an_expired_token_needs_attention(live: Live) -> None:
    live.sandbox.post(ME, "hello")
    live.sandbox.throttle_next = 1
    with pytest.raises(TryLater) as info:
        live.harvest()
    assert "code 4" in info.value.message
    live.sandbox.expire_token(TOKEN)
    with pytest.raises(NeedsAttention) as attention:
        live.harvest()
    assert "token" in attention.value.message.lower()


# --- the parser never raises ---------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["data", "id", "text", "media_type", "timestamp", "is_reply", "root_post", "replied_to",
                         "hide_status", "media_url", "username", "permalink", "paging", "x"]),
        inner, max_size=6),
    max_leaves=25,
)
_URLS = ["https://graph.threads.net/v1.0/1/threads?fields=id", "https://graph.threads.net/v1.0/2/conversation",
         "https://graph.threads.net/v1.0/3", "https://graph.threads.net/v1.0/me"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_json, url=st.sampled_from(_URLS))
def test_parse_never_raises_on_arbitrary_json(body: object, url: str) -> None:
    exchange = CapturedExchange(url, "GET", 200, (), json.dumps(body).encode(), datetime.now(UTC))
    out = list(ThreadsConnector().parse(AccountRef("threads", "lincolnhighschool"), exchange))
    assert all(isinstance(o, Item | ParseWarning) for o in out)


def test_has_replies_is_the_only_reply_signal_and_the_rest_waits_for_a_sweep(tmp_path: Path) -> None:
    """A first reply to an old thread flips `has_replies`, so the next cycle reads that
    conversation; a second reply moves nothing, so only a sweep or `--reconcile` finds it."""
    h = Harness(tmp_path, "threads")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        old = sb.post(sb.tokens[h.seed.token], "An old thread.", at=datetime.now(UTC) - timedelta(days=200))
        assert h.poll().plan.startswith("full")
        mark = len(h.server.requests)
        idle = h.poll()
        assert idle.plan.startswith("incremental") and not [
            r for r in h.server.requests[mark:] if r.path.endswith("/conversation")]
        first = sb.post("27000000000000002", "A first reply.", reply_to=old)
        mark = len(h.server.requests)
        assert h.poll().new == 1 and first in h.items()
        assert [r.path for r in h.server.requests[mark:] if r.path.endswith("/conversation")] == [
            f"/v1.0/{old}/conversation"]
        second = sb.post("27000000000000003", "A second reply.", reply_to=old)
        h.poll()
        assert second not in h.items()
        (report,) = h.poller.poll(h.account.label, reconcile=True)
        assert report.new == 1 and second in h.items()
    finally:
        h.close()


def test_an_idle_cycle_takes_the_owner_from_its_rows_and_a_swapped_token_still_needs_attention(tmp_path: Path) -> None:
    """An incremental cycle asks no /me when every listed row names this profile as its owner
    (`owner` is only on top-level posts the token's user owns); a token of another profile
    after the first capture gives rows without `owner`, so /me is asked before any row is read
    and the cycle stops with nothing observed or judged deleted."""
    h = Harness(tmp_path, "threads")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        assert h.poll().plan.startswith("full")
        mark = len(h.server.requests)
        idle = h.poll()
        paths = [r.path for r in h.server.requests[mark:]]
        assert idle.status == "complete" and idle.unchanged and paths and all(p.endswith("/threads") for p in paths)
        before = {i: (len(r.versions), r.tombstone is None, r.last_seen_at) for i, r in h.items().items()}
        sb.tokens[h.seed.token] = "27000000000000002"  # pta.volunteer's token in the account's file
        mark = len(h.server.requests)
        swapped = h.poll()
        assert isinstance(swapped.error, NeedsAttention) and "@pta.volunteer" in swapped.message
        assert [r.path for r in h.server.requests[mark:]][-1] == "/v1.0/me"
        assert swapped.new == swapped.unchanged == swapped.deleted == 0
        assert {i: (len(r.versions), r.tombstone is None, r.last_seen_at) for i, r in h.items().items()} == before
    finally:
        h.close()


def test_an_empty_listing_asks_me_before_any_thread_is_judged_deleted(tmp_path: Path) -> None:
    """With no row to vouch for the owner, /me is asked before the listing's end is trusted:
    with a token of another profile nothing is deleted; with the right one the deletions stand."""
    h = Harness(tmp_path, "threads")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        h.poll()
        owner = sb.tokens[h.seed.token]
        for post in [p for p in sb.posts.live() if p.owner == owner and p.root is None]:
            sb.delete(post.id)
        sb.tokens[h.seed.token] = "27000000000000002"
        mark = len(h.server.requests)
        swapped = h.poll()
        assert isinstance(swapped.error, NeedsAttention) and swapped.deleted == 0
        assert [r.path for r in h.server.requests[mark:]] == ["/v1.0/27000000000000001/threads", "/v1.0/me"]
        assert all(r.tombstone is None for r in h.items().values())
        sb.tokens[h.seed.token] = owner
        mark = len(h.server.requests)
        right = h.poll()
        assert right.status == "complete" and right.deleted == len(h.items()) > 55  # the threads and their replies
        assert all(r.tombstone is not None for r in h.items().values())
        assert [r.path for r in h.server.requests[mark:]][:2] == ["/v1.0/27000000000000001/threads", "/v1.0/me"]
    finally:
        h.close()


def test_a_listing_refused_to_a_token_of_another_profile_names_the_token_not_a_gone_account(tmp_path: Path) -> None:
    """The reference says a token may only list its own user's threads. Should Graph refuse the
    stored user id to another profile's token (here: 100/33, "does not exist or missing
    permissions"), the incremental cycle asks /me before giving up, so the account needs
    attention for its token instead of being reported gone."""
    from archiver.sandbox.server import Request, Response
    from connectors.facebook.graph_sandbox import graph_not_found

    h = Harness(tmp_path, "threads")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        h.poll()
        owner = sb.tokens[h.seed.token]
        sb.tokens[h.seed.token] = "27000000000000002"
        inner = h.server.app

        def refusing(req: Request) -> Response:
            if req.path.endswith(f"/{owner}/threads"):
                return graph_not_found(owner)
            return inner(req)

        h.server.app = refusing
        report = h.poll()
        assert isinstance(report.error, NeedsAttention) and "@pta.volunteer" in report.message
        assert report.deleted == 0 and all(r.tombstone is None for r in h.items().values())
    finally:
        h.close()
