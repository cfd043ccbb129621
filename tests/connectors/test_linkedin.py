"""LinkedIn specifics against the Rest.li-shaped sandbox over real HTTP: versioned headers, vanity
lookup, start/count paging with and without `links`/`total`, edits by content (not by
lastModifiedAt), 404 deletions, image URNs resolved to expiring download URLs, throttles and
token errors, identifier forms and a parser that never raises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.core.clock import ManualClock
from archiver.core.errors import AccountGone, ConfigError, NeedsAttention, TryLater
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checkpoint,
    Covered,
    Gone,
    Item,
    ParseWarning,
    Present,
)
from archiver.core.settings import ConnectorSettings
from archiver.sandbox.server import SandboxServer
from connectors.linkedin import LinkedInConnector
from connectors.linkedin.errors import next_midnight_utc, raise_for_error
from connectors.linkedin.sandbox import LinkedInSandbox
from tests.harness import Harness, Live, observed

TOKEN = "AQV-linkedin-test-token-77"
ORG = "2414183"


def _live(tmp_path: Path, server: SandboxServer, **connector: object) -> Live:
    sb = LinkedInSandbox()
    sb.tokens.add(TOKEN)
    sb.add_org(ORG, "lincoln-high-school", "Lincoln High School")
    settings = ConnectorSettings(**{"min_retry_seconds": 0.01, "page_limit": 10, **connector})  # type: ignore[arg-type]
    return Live(tmp_path, server, sb, LinkedInConnector(settings), token=TOKEN, account=ORG)


@pytest.fixture
def live(tmp_path: Path, server: SandboxServer) -> Iterator[Live]:
    lv = _live(tmp_path, server)
    yield lv
    lv.close()


def _seed(sb: LinkedInSandbox, posts: int) -> list[str]:
    start = datetime.now(UTC) - timedelta(days=30)
    return [sb.publish(ORG, f"post {n}", at=start + timedelta(hours=n)) for n in range(posts)]


# --- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2414183", "2414183"),
        ("urn:li:organization:2414183", "2414183"),
        ("https://www.linkedin.com/company/2414183/", "2414183"),
        ("https://www.linkedin.com/company/Lincoln-High-School/posts/?feedView=all", "lincoln-high-school"),
        ("linkedin.com/school/riverside-sd", "riverside-sd"),
        ("lincoln-high-school", "lincoln-high-school"),
    ],
)
def test_identifier_forms(raw: str, expected: str) -> None:
    assert LinkedInConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "urn:li:person:A8xe03Qt10", "urn:li:organization:abc", "https://www.linkedin.com/in/jane-doe/",
     "https://www.linkedin.com/company/", "https://linkedin.com.evil.example/company/x", "two words"],
)
def test_bad_identifiers_are_config_errors(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        LinkedInConnector().normalize_account_id(raw)
    assert "\n" not in info.value.message and "LinkedIn" in info.value.message


# --- headers, versions, vanity -------------------------------------------------------------------


def test_every_request_carries_the_version_headers(live: Live) -> None:
    _seed(live.sandbox, 3)
    live.harvest()
    assert live.server.requests
    for req in live.server.requests:
        assert req.header("linkedin-version") == LinkedInConnector.default_version
        assert req.header("x-restli-protocol-version") == "2.0.0"


def test_api_version_comes_from_settings_and_a_dead_one_is_a_config_error(tmp_path: Path, server: SandboxServer) -> None:
    live = _live(tmp_path, server, api_version="202001")
    try:
        with pytest.raises(ConfigError) as info:
            live.harvest()
        assert "202001" in info.value.message and "api_version" in info.value.message
        assert live.server.requests[-1].header("linkedin-version") == "202001"
    finally:
        live.close()


def test_vanity_name_is_looked_up_once_and_remembered(live: Live) -> None:
    _seed(live.sandbox, 2)
    events = live.harvest("lincoln-high-school")
    cursor = next(e for e in events if isinstance(e, Checkpoint)).cursor
    assert {k: cursor[k] for k in ("organization_id", "vanity")} == {"organization_id": ORG,
                                                                      "vanity": "lincoln-high-school"}
    assert len(observed(events)) == 2
    seen = len(live.server.requests)
    live.harvest("lincoln-high-school", cursor)
    assert not any(r.path == "/rest/organizations" for r in live.server.requests[seen:])


def test_unknown_vanity_is_account_gone(live: Live) -> None:
    with pytest.raises(AccountGone):
        live.harvest("no-such-school")


# --- paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("links", "total"), [(True, False), (False, True), (False, False), (True, True)])
def test_posts_are_read_to_the_end_whatever_paging_hints_arrive(live: Live, links: bool, total: bool) -> None:
    live.sandbox.send_links, live.sandbox.send_total = links, total
    posts = _seed(live.sandbox, 23)
    events = live.harvest()
    assert set(posts) <= set(observed(events))
    assert Covered(None, ("post",)) in events  # type: ignore[arg-type]


def test_comments_and_replies_are_listed_and_covered(live: Live) -> None:
    sb = live.sandbox
    post = _seed(sb, 1)[0]
    top = sb.comment(post, "Congrats!")
    reply = sb.comment(post, "Thanks!", parent=top, actor=f"urn:li:organization:{ORG}")
    lonely = sb.comment(post, "No replies here")
    events = live.harvest()
    items = observed(events)
    assert items[top].kind == "comment" and items[top].parent_id == post
    assert items[reply].kind == "reply" and items[reply].parent_id == top
    covered = {(e.parent_id, k) for e in events if isinstance(e, Covered) for k in e.kinds}
    assert {(post, "comment"), (top, "reply"), (lonely, "reply")} <= covered
    from urllib.parse import quote

    assert not any(quote(lonely, safe="") in r.path for r in live.server.requests), "empty reply list not asked"


# --- edits, deletions, media ---------------------------------------------------------------------


def test_last_modified_alone_is_not_an_edit_but_new_commentary_is(live: Live) -> None:
    sb = live.sandbox
    post = _seed(sb, 1)[0]
    comment = sb.comment(post, "Original")
    first = observed(live.harvest())
    sb.touch_post(post)
    second = observed(live.harvest())
    assert second[post].content_sha256 == first[post].content_sha256
    sb.edit_post(post, "Corrected")
    sb.edit_comment(comment, "Edited comment")
    third = observed(live.harvest())
    assert third[post].content["commentary"] == "Corrected" and third[post].content_sha256 != first[post].content_sha256
    assert third[comment].content_sha256 != first[comment].content_sha256


def test_deleted_post_and_comment_are_gone_with_linkedin_404(live: Live) -> None:
    sb = live.sandbox
    post, keep = _seed(sb, 2)
    comment = sb.comment(keep, "to be removed")
    sb.delete_post(post)
    sb.delete_comment(comment)
    for item_id in (post, comment):
        verdict = live.connector.confirm_gone(live.ref(), item_id, live.http)
        assert isinstance(verdict, Gone) and verdict.status == 404 and "NOT_FOUND" in verdict.detail
    present = live.connector.confirm_gone(live.ref(), keep, live.http)
    assert isinstance(present, Present) and present.items[0].item_id == keep


def test_image_urn_is_resolved_to_its_download_url_at_harvest(live: Live) -> None:
    sb = live.sandbox
    post = sb.publish(ORG, "Science fair", image=True)
    item = observed(live.harvest())[post]
    image_urn = sb.posts[post].image
    assert item.content["media"] == [image_urn]
    assert item.media and item.media[0].media_id == image_urn and "/cdn/dms/image/" in item.media[0].url
    again = observed(live.harvest())[post]
    assert again.content_sha256 == item.content_sha256 and again.media[0].url != item.media[0].url
    # parse alone (catalog rebuild) sees the same content, only without the looked-up URL
    exchange = live.http.get(f"{live.server.url}/rest/posts/urn%3Ali%3Ashare%3A{post.rsplit(':', 1)[1]}",
                             headers={"LinkedIn-Version": "202605", "X-Restli-Protocol-Version": "2.0.0"})
    (pure,) = [i for i in live.connector.parse(live.ref(), exchange) if isinstance(i, Item)]
    assert pure.content_sha256 == item.content_sha256 and pure.media == ()


def test_throttle_429_is_try_later(live: Live) -> None:
    live.sandbox.throttle_next = 1
    with pytest.raises(TryLater):
        live.harvest()


def test_daily_quota_without_retry_after_waits_for_midnight_utc() -> None:
    now = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
    body = json.dumps({"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS",
                       "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."})
    exchange = CapturedExchange("https://api.linkedin.com/rest/posts", "GET", 429, (), body.encode(), now)
    with pytest.raises(TryLater) as info:
        raise_for_error(exchange, account=ORG, now=now, min_wait=timedelta(seconds=60), version="202605")
    assert info.value.retry_at == next_midnight_utc(now) == datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["expired", "revoked"])
def test_expired_or_revoked_token_needs_attention(live: Live, kind: str) -> None:
    getattr(live.sandbox, kind).add(TOKEN)
    with pytest.raises(NeedsAttention) as info:
        live.harvest()
    assert "token" in info.value.message and TOKEN not in info.value.message + info.value.detail
    assert ("EXPIRED" if kind == "expired" else "REVOKED") in info.value.message


def test_unknown_organization_is_access_denied_needing_attention(live: Live) -> None:
    with pytest.raises(NeedsAttention) as info:
        live.harvest("9999999")
    assert "ACCESS_DENIED" in info.value.message


def test_field_type_change_is_a_warning_not_a_crash(live: Live) -> None:
    _seed(live.sandbox, 2)
    live.sandbox.field_override = {"commentary": {"text": "now an object"}, "publishedAt": "yesterday"}
    events = live.harvest()
    codes = {e.code for e in events if isinstance(e, ParseWarning)}
    assert {"linkedin.bad_field_type", "linkedin.bad_time"} <= codes
    assert len(observed(events)) == 2


def test_whole_cycle_through_the_poller(tmp_path: Path) -> None:
    h = Harness(tmp_path, "linkedin")
    try:
        assert h.poll().status == "complete"
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        newest = max(sb.posts.values(), key=lambda p: p.created)
        sb.touch_post(newest.urn)  # lastModifiedAt moves, nothing else
        reply = next(c for c in sb.comments.values() if c.parent)
        sb.delete_comment(reply.urn)
        report = h.poll()
        assert report.status == "complete" and report.edited == 0 and report.deleted == 1
        assert h.items()[reply.urn].tombstone is not None
    finally:
        h.close()


# --- the parser never raises ---------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "elements", "commentary", "content", "media", "multiImage", "images", "article",
                         "poll", "options", "createdAt", "publishedAt", "message", "text", "created", "time",
                         "commentUrn", "object", "parentComment", "entity", "url", "x"]),
        inner, max_size=6),
    max_leaves=25,
)
_URLS = ["https://api.linkedin.com/rest/posts?q=author",
         "https://api.linkedin.com/rest/posts/urn%3Ali%3Ashare%3A1",
         "https://api.linkedin.com/rest/socialActions/urn%3Ali%3Ashare%3A1/comments",
         "https://api.linkedin.com/rest/socialActions/urn%3Ali%3Aactivity%3A1/comments/2"]


def _exchange(url: str, body: bytes) -> CapturedExchange:
    return CapturedExchange(url, "GET", 200, (("Content-Type", "application/json"),), body, datetime.now(UTC))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_json, url=st.sampled_from(_URLS))
def test_parse_never_raises_on_arbitrary_json(body: object, url: str) -> None:
    out = list(LinkedInConnector().parse(AccountRef("linkedin", ORG), _exchange(url, json.dumps(body).encode())))
    assert all(isinstance(o, Item | ParseWarning) for o in out)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=300), junk=st.binary(max_size=8))
def test_parse_never_raises_on_mutated_bytes(cut: int, junk: bytes) -> None:
    good = json.dumps({"elements": [{"id": "urn:li:share:1", "commentary": "hi", "createdAt": 1700000000000,
                                     "content": {"media": {"id": "urn:li:image:X"}}}]}).encode()
    body = good[:cut] + junk + good[cut + len(junk):]
    out = list(LinkedInConnector().parse(AccountRef("linkedin", ORG), _exchange(_URLS[0], body)))
    assert all(isinstance(o, Item | ParseWarning) for o in out)


def test_collection_shape_change_is_a_clear_error_and_covers_nothing(live: Live) -> None:
    from archiver.core.errors import UnexpectedResponse
    from archiver.sandbox.server import Request, Response

    _seed(live.sandbox, 2)
    sandbox = live.sandbox

    def changed(req: Request) -> Response:
        resp = sandbox(req)
        if req.path == "/rest/posts" and resp.status == 200:
            body = json.loads(resp.body)
            return Response.json({"paging": body["paging"], "elements": {"posts": body["elements"]}})
        return resp

    live.server.app = changed
    events: list = []
    with pytest.raises(UnexpectedResponse) as info:
        for event in live.connector.harvest(live.ref(), None, live.http):
            events.append(event)
    assert "no elements array" in info.value.message and not any(isinstance(e, Covered) for e in events)


# --- incremental capture ------------------------------------------------------------------------


def _set_cursor(h: Harness, **changes: object) -> None:
    from archiver.catalog import tables as t

    with h.app.catalog.session() as s:
        row = s.get(t.Account, h.account.id)
        assert row is not None
        row.cursor = {**(row.cursor or {}), **changes}
        s.commit()


def _posts_requests(h: Harness, since: int) -> list[dict[str, str]]:
    return [r.query for r in h.server.requests[since:] if r.path == "/rest/posts"]


def test_old_posts_edits_deletions_and_new_comments_arrive_in_the_next_cycle(tmp_path: Path) -> None:
    h = Harness(tmp_path, "linkedin")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        olds = [h.sandbox.publish_old(h.seed.account_id, 200 + n) for n in range(3)]
        assert h.poll().plan.startswith("full")
        mark = len(h.server.requests)
        idle = h.poll()
        assert idle.plan.startswith("incremental") and idle.new == idle.edited == idle.deleted == 0
        assert not [r for r in h.server.requests[mark:] if r.path.endswith("/comments")]
        assert [q["sortBy"] for q in _posts_requests(h, mark)] == ["LAST_MODIFIED"]
        sb.edit_post(olds[0], "Corrected: the board meeting moved to Thursday.")  # lastModifiedAt moves
        sb.delete_post(olds[1])  # socialMetadata no longer knows it
        comment = h.sandbox.comment_on(olds[2])  # its comment total moves
        mark = len(h.server.requests)
        report = h.poll()
        assert report.plan.startswith("incremental")
        assert (report.new, report.edited, report.deleted) == (1, 1, 2)  # the post and its comment
        items = h.items()
        assert items[comment].parent_id == olds[2] and items[olds[1]].tombstone is not None
        assert len(items[olds[0]].versions) == 2
        read = [unquote(r.path) for r in h.server.requests[mark:] if r.path.endswith("/comments")]
        assert read == [f"/rest/socialActions/{olds[2]}/comments"]  # only the post whose total moved
    finally:
        h.close()


@pytest.mark.parametrize("broken", [None, "not-a-time", 99])
def test_a_missing_or_broken_watermark_reads_the_whole_listing_once(
    tmp_path: Path, broken: object, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness(tmp_path, "linkedin")
    try:
        h.poll()
        _set_cursor(h, modified=broken)
        mark = len(h.server.requests)
        with caplog.at_level("WARNING"):
            report = h.poll()
        assert report.status == "complete" and report.deleted == 0 and report.plan.startswith("incremental")
        assert [q["sortBy"] for q in _posts_requests(h, mark)] == ["CREATED"] * 3  # 55 posts, 25 a page
        assert "watermark" in caplog.text
        mark = len(h.server.requests)
        h.poll()  # the whole listing restored the watermark: back to one page
        assert [q["sortBy"] for q in _posts_requests(h, mark)] == ["LAST_MODIFIED"]
    finally:
        h.close()


def test_a_refused_last_modified_sort_falls_back_to_the_whole_listing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness(tmp_path, "linkedin")
    try:
        h.poll()
        h.sandbox.sandbox.refused_sorts.add("LAST_MODIFIED")  # type: ignore[attr-defined]
        post = h.sandbox.publish(h.seed.account_id)
        mark = len(h.server.requests)
        with caplog.at_level("WARNING"):
            report = h.poll()
        assert report.status == "complete" and report.new == 1 and post in h.items()
        assert [q["sortBy"] for q in _posts_requests(h, mark)] == ["LAST_MODIFIED"] + ["CREATED"] * 3
        assert "refused sortBy=LAST_MODIFIED" in caplog.text
    finally:
        h.close()


def test_a_swept_post_is_read_to_its_replies(tmp_path: Path) -> None:
    """A reply's edit moves no count anywhere: the sweep must read a swept post's replies even
    when its comments' reply counts stand still."""
    h = Harness(tmp_path, "linkedin")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        old = h.sandbox.publish_old(h.seed.account_id, 200)
        top = next(c.urn for c in sb.comments.values() if c.post == old)
        reply = sb.comment(old, "Thanks, answered on the site.", parent=top)
        clock = ManualClock(h.app.clock.now())
        h.app.clock = clock
        h.poll()
        sb.edit_comment(reply, "Thanks, answered on the district site (updated).")
        clock.advance(60)
        h.poll()
        assert len(h.items()[reply].versions) == 1  # nothing signalled it, and no sweep was due
        settings = h.app.settings.connector("linkedin")
        settings.cold_every_hours, settings.sweep_share = 0.001, 1.0  # sweep every post now
        clock.advance(3600)
        report = h.poll()
        assert report.plan.startswith("incremental") and report.edited == 1
        assert len(h.items()[reply].versions) == 2
    finally:
        h.close()
