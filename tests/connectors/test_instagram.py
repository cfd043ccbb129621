"""Instagram specifics against the Graph-shaped sandbox over real HTTP: username lookup through
the linked Page, hidden comments as new versions, deleted media (100/33), long reply lists,
throttles, expired tokens, identifier forms and a parser that never raises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.core.errors import AccountGone, ConfigError, NeedsAttention, TryLater
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checkpoint,
    Covered,
    Gone,
    Item,
    ParseWarning,
)
from archiver.core.settings import ConnectorSettings
from archiver.sandbox.server import SandboxServer
from connectors.base import AuthStyle
from connectors.instagram import InstagramConnector
from connectors.instagram.connector import LEAN_MEDIA_FIELDS
from connectors.instagram.sandbox import LINCOLN_IG, LINCOLN_PAGE, InstagramSandbox
from tests.harness import Harness, Live, observed

PAGE_TOKEN = "EAAGig-page-token-0001"
USER_TOKEN = "EAAGig-user-token-0002"


def _live(tmp_path: Path, token: str, server: SandboxServer) -> Live:
    """A fresh sandbox on the module's server plus a CaptureSession writing to a temporary WARC."""
    sb = InstagramSandbox()
    sb.add_account(LINCOLN_IG, "lincolnhighschool", "Lincoln High School", LINCOLN_PAGE)
    sb.add_account("17841400000000777", "riversidesd", "Riverside School District", "1000777")
    sb.add_token(PAGE_TOKEN, "page", [LINCOLN_PAGE])
    sb.add_token(USER_TOKEN, "user", ["1000777", LINCOLN_PAGE])
    connector = InstagramConnector(ConnectorSettings(min_retry_seconds=0.01, page_limit=25))
    return Live(tmp_path, server, sb, connector, token=token, auth_style=AuthStyle.QUERY_ACCESS_TOKEN,
                account="test")


@pytest.fixture
def page_live(tmp_path: Path, server: SandboxServer) -> Iterator[Live]:
    live = _live(tmp_path, PAGE_TOKEN, server)
    yield live
    live.close()


@pytest.fixture
def user_live(tmp_path: Path, server: SandboxServer) -> Iterator[Live]:
    live = _live(tmp_path, USER_TOKEN, server)
    yield live
    live.close()


# --- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("17841400000000001", "17841400000000001"),
        ("@LincolnHighSchool", "lincolnhighschool"),
        ("lincoln.high_school", "lincoln.high_school"),
        ("https://www.instagram.com/LincolnHighSchool/", "lincolnhighschool"),
        ("instagram.com/lincolnhighschool?hl=en", "lincolnhighschool"),
        ("  http://instagr.am/riversidesd  ", "riversidesd"),
    ],
)
def test_identifier_forms(raw: str, expected: str) -> None:
    assert InstagramConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "@", "https://www.instagram.com/p/CSgf9BChwVq/", "https://evil-instagram.com.example/x",
     "@12345678", "has space", "https://www.instagram.com/", "1234", "@" + "a" * 31],
)
def test_bad_identifiers_are_config_errors_with_one_line(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        InstagramConnector().normalize_account_id(raw)
    assert "\n" not in info.value.message and "Instagram" in info.value.message


# --- username lookup ---------------------------------------------------------------------------


def test_username_resolves_through_the_page_token_and_is_remembered(page_live: Live) -> None:
    sb = page_live.sandbox
    sb.publish(LINCOLN_IG, "Welcome back!")
    events = page_live.harvest("lincolnhighschool")
    checkpoint = next(e for e in events if isinstance(e, Checkpoint))
    assert checkpoint.cursor == {"ig_user_id": LINCOLN_IG, "username": "lincolnhighschool"}
    asked = len(page_live.server.requests)
    page_live.harvest("lincolnhighschool", checkpoint.cursor)
    paths = [r.path for r in page_live.server.requests[asked:]]
    assert not any(p.endswith("/me") for p in paths), "a remembered id needs no lookup"


def test_user_token_lists_its_pages_and_business_discovery_is_not_needed(user_live: Live) -> None:
    assert user_live.connector.resolve_user_id(user_live.ref("riversidesd"), None, user_live.http) == "17841400000000777"
    paths = [r.path for r in user_live.server.requests]
    assert paths[-1].endswith("/me/accounts")


def test_other_username_uses_business_discovery(page_live: Live) -> None:
    ig_id = page_live.connector.resolve_user_id(page_live.ref("riversidesd"), None, page_live.http)
    assert ig_id == "17841400000000777"
    assert "business_discovery.username(riversidesd)" in page_live.server.requests[-1].query["fields"]


def test_unknown_username_is_account_gone(page_live: Live) -> None:
    with pytest.raises(AccountGone) as info:
        page_live.connector.resolve_user_id(page_live.ref("nosuchschool"), None, page_live.http)
    assert "nosuchschool" in info.value.message


# --- listings, replies, edits, deletions --------------------------------------------------------


def test_harvest_covers_media_comments_and_long_reply_lists(page_live: Live) -> None:
    sb = page_live.sandbox
    sb.nested_limit = 2
    media = sb.publish(LINCOLN_IG, "Album", media_type="CAROUSEL_ALBUM", children=2)
    top = sb.comment(media, "First!")
    replies = [sb.comment(media, f"reply {n}", parent=top) for n in range(5)]
    quiet = sb.publish(LINCOLN_IG, "No comments here")
    events = page_live.harvest(LINCOLN_IG)
    items = observed(events)
    assert set(replies) <= set(items) and items[replies[0]].parent_id == top
    assert items[top].kind == "comment" and items[top].parent_id == media
    covered = {(e.parent_id, k) for e in events if isinstance(e, Covered) for k in e.kinds}
    assert {(None, "post"), (media, "comment"), (top, "reply"), (quiet, "comment")} <= covered
    assert any(r.path.endswith(f"/{top}/replies") for r in page_live.server.requests)
    assert not any(r.path.endswith(f"/{quiet}/comments") for r in page_live.server.requests)
    album = items[media]
    assert [c["media_type"] for c in album.content["children"]] == ["IMAGE", "VIDEO"]
    assert {m.kind for m in album.media} == {"image", "video", "thumbnail"}
    assert "oe=" not in json.dumps(album.content)


def test_signed_urls_change_but_content_does_not(page_live: Live) -> None:
    media = page_live.sandbox.publish(LINCOLN_IG, "Same photo")
    first = observed(page_live.harvest(LINCOLN_IG))[media]
    second = observed(page_live.harvest(LINCOLN_IG))[media]
    assert first.media[0].url != second.media[0].url
    assert first.content_sha256 == second.content_sha256


def test_hiding_a_comment_is_a_new_version_and_a_like_is_not(page_live: Live) -> None:
    sb = page_live.sandbox
    media = sb.publish(LINCOLN_IG, "Game day")
    comment = sb.comment(media, "Rude remark")
    before = observed(page_live.harvest(LINCOLN_IG))
    sb.hide(comment)
    after = observed(page_live.harvest(LINCOLN_IG))
    assert after[comment].content["hidden"] is True
    assert before[comment].content_sha256 != after[comment].content_sha256
    assert before[media].content_sha256 == after[media].content_sha256  # comments_count moved


def test_deleted_media_is_gone_with_graph_100_33(page_live: Live) -> None:
    sb = page_live.sandbox
    media = sb.publish(LINCOLN_IG, "Oops")
    comment = sb.comment(media, "hello")
    sb.delete_media(media)
    for item_id in (media, comment):
        verdict = page_live.connector.confirm_gone(page_live.ref(LINCOLN_IG), item_id, page_live.http)
        assert isinstance(verdict, Gone) and verdict.status == 400 and "subcode 33" in verdict.detail
    alive = sb.publish(LINCOLN_IG, "Still here")
    assert not isinstance(page_live.connector.confirm_gone(page_live.ref(LINCOLN_IG), alive, page_live.http), Gone)


def test_throttle_80002_is_try_later_with_the_floor(page_live: Live) -> None:
    page_live.sandbox.throttle_next = 1
    with pytest.raises(TryLater) as info:
        page_live.harvest(LINCOLN_IG)
    wait = (info.value.retry_at - datetime.now(UTC)).total_seconds()
    assert -1 < wait < 5 and "80002" in info.value.message


def test_expired_token_needs_attention_without_the_token_in_the_message(page_live: Live) -> None:
    page_live.sandbox.expired.add(PAGE_TOKEN)
    with pytest.raises(NeedsAttention) as info:
        page_live.harvest(LINCOLN_IG)
    assert "token" in info.value.message and PAGE_TOKEN not in info.value.message + info.value.detail


def test_field_type_change_is_a_warning_not_a_crash(page_live: Live) -> None:
    page_live.sandbox.publish(LINCOLN_IG, "caption")
    page_live.sandbox.field_override = {"caption": {"text": "now an object"}, "timestamp": 1700000000}
    events = page_live.harvest(LINCOLN_IG)
    codes = {e.code for e in events if isinstance(e, ParseWarning)}
    assert {"instagram.bad_field_type", "instagram.bad_time"} <= codes
    assert observed(events)  # the media is still archived


def test_whole_cycle_through_the_poller_marks_hidden_and_deleted(tmp_path: Path) -> None:
    h = Harness(tmp_path, "instagram")
    try:
        assert h.poll().status == "complete"
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        newest = max((m for m in sb.media.values()), key=lambda m: m.created)
        comment = next(c for c in sb.comments.values() if c.media_id == newest.id and c.parent is None)
        sb.hide(comment.id)
        oldest = sorted(m.id for m in sb.media.values())[0]
        sb.delete_media(oldest)
        # An incremental cycle finds the deleted media (the /media listing is whole every
        # cycle) but not the hidden comment: hiding moves no count, so only a sweep of that
        # media or a reconciliation reads its comments again.
        report = h.poll()
        assert report.plan.startswith("incremental")
        assert report.status == "complete" and report.edited == 0 and report.deleted == 1
        assert len(h.items()[comment.id].versions) == 1
        (report,) = h.poller.poll(h.account.label, reconcile=True)
        assert report.status == "complete" and report.edited == 1 and report.deleted == 0
        assert len(h.items()[comment.id].versions) == 2
    finally:
        h.close()


def test_a_new_comment_on_an_old_media_moves_its_count_and_only_it_is_read(tmp_path: Path) -> None:
    h = Harness(tmp_path, "instagram")
    try:
        assert h.poll().status == "complete"
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        oldest = min((m for m in sb.media.values()), key=lambda m: m.created)
        mark = len(h.server.requests)
        idle = h.poll()
        assert idle.plan.startswith("incremental") and not [
            r for r in h.server.requests[mark:] if r.path.endswith("/comments")]
        comment = sb.comment(oldest.id, "Found this photo again!")
        mark = len(h.server.requests)
        report = h.poll()
        assert report.new == 1 and h.items()[comment].parent_id == oldest.id
        read = [r.path for r in h.server.requests[mark:] if r.path.endswith("/comments")]
        assert read == [f"/v25.0/{oldest.id}/comments"]
    finally:
        h.close()


def _media_records(h: Harness, warcs: tuple[str, ...]) -> list[tuple[str, str]]:
    """(record type, target URI) of the /media listing answers a cycle stored."""
    from archiver.warc.reader import iter_records

    out = []
    for path in h.warc_files():
        if path.name in warcs:
            with open(path, "rb") as fh:
                out += [(r.rec_type, r.target_uri) for r in iter_records(fh, path.name)
                        if r.rec_type in ("response", "revisit") and "/media?" in r.target_uri]
    return out


def test_an_incremental_listing_asks_no_signed_urls_and_repeats_as_revisits(tmp_path: Path) -> None:
    """Graph re-signs every `media_url` on every call, so a listing that asks for it never
    repeats; the incremental listing asks only the change signals and repeats byte for byte."""
    h = Harness(tmp_path, "instagram")
    try:
        assert h.poll().plan.startswith("full")
        h.poll()
        mark = len(h.server.requests)
        idle = h.poll()
        listed = [r for r in h.server.requests[mark:] if r.path.endswith("/media")]
        assert len(listed) == 1  # 55 media, 100 a page
        assert all(r.query.get("fields") == LEAN_MEDIA_FIELDS for r in listed)
        assert idle.new == idle.edited == idle.deleted == 0
        assert [kind for kind, _ in _media_records(h, idle.warcs)] == ["revisit"]
    finally:
        h.close()


def test_a_new_media_is_read_whole_with_its_files_and_nothing_else_is(tmp_path: Path) -> None:
    h = Harness(tmp_path, "instagram")
    try:
        h.poll()
        h.poll()
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        video = sb.publish(LINCOLN_IG, "Graduation highlights", media_type="VIDEO")
        mark = len(h.server.requests)
        report = h.poll()
        assert report.new == 1 and report.edited == 0 and report.media == 2  # the video and its thumbnail
        paths = [r.path for r in h.server.requests[mark:]]
        assert paths.count(f"/v25.0/{video}") == 1  # the media object, once
        assert not [p for p in paths if p.startswith("/v25.0/1790") and p != f"/v25.0/{video}"
                    and not p.endswith("/comments")]  # no other media object was read
        item = h.items()[video]
        assert item.versions[-1].content["media"] == f"/cdn/v/t50.2886-16/{video}_n.mp4"
        assert item.versions[-1].content["thumbnail"] == f"/cdn/v/t51.29350-15/{video}_thumb_n.jpg"
    finally:
        h.close()


def test_an_old_caption_edit_is_found_next_cycle_and_lean_pages_make_no_versions(tmp_path: Path) -> None:
    """The caption is in the lean listing's signal: its edit is found in the next cycle, not
    only by the sweep; the lean pages themselves hold no items, so nothing else looks edited,
    and the catalog rebuilt from the WARCs alone is the live one."""
    from archiver.preservation.rebuild import rebuild

    h = Harness(tmp_path, "instagram")
    try:
        h.poll()
        h.poll()
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        oldest = min(sb.media.values(), key=lambda m: m.created)
        before = h.items()[oldest.id].versions[-1].content
        sb.edit_caption(oldest.id, "Corrected: the concert is on Friday")
        report = h.poll()
        assert report.plan.startswith("incremental") and report.edited == 1 and report.new == 0
        items = h.items()
        after = items[oldest.id].versions[-1].content
        assert after == {**before, "caption": "Corrected: the concert is on Friday"}  # same files
        assert all(len(i.versions) == 1 for i in items.values() if i.item_id != oldest.id)
        result = rebuild(h.app)
        assert result.complete and result.equal, [d for d in result.diffs if not d.equal]
    finally:
        h.close()


def test_signals_stored_before_the_lean_listing_are_read_once_without_false_edits(tmp_path: Path) -> None:
    """An archive whose media signals are the count alone (`comments:N`, before the lean
    listing): the first incremental cycle reads every media whole once, finds no edit, and
    the next cycle is idle again."""
    from sqlalchemy import update

    from archiver.catalog import tables as t

    h = Harness(tmp_path, "instagram")
    try:
        h.poll()
        with h.app.catalog.session() as s:
            for item in s.query(t.Item).filter(t.Item.kind == "post"):
                old = (item.signal or "").split(" ")[0]
                s.execute(update(t.Item).where(t.Item.id == item.id).values(signal=old))
            s.commit()
        mark = len(h.server.requests)
        upgraded = h.poll()
        assert upgraded.new == upgraded.edited == upgraded.deleted == 0
        objects = [r.path for r in h.server.requests[mark:] if r.query.get("fields", "").startswith("id,caption")
                   and not r.path.endswith("/media")]
        assert len(objects) == 55  # every media read whole, once
        mark = len(h.server.requests)
        idle = h.poll()
        assert idle.new == idle.edited == 0
        assert not [r for r in h.server.requests[mark:] if r.path.count("/") == 2 and r.path.startswith("/v25.0/1790")]
    finally:
        h.close()


def test_a_hidden_comment_on_an_old_media_is_found_by_the_sweep_that_reaches_it(tmp_path: Path) -> None:
    """Hiding moves no count and the lean listing does not show comments: only the sweep (which
    reads the media whole and its comments) finds it, within the cold window's week."""
    from archiver.core.clock import ManualClock

    h = Harness(tmp_path, "instagram", settings={"daemon": {"poll_interval_minutes": 60}})
    try:
        old = h.sandbox.publish_old(h.seed.account_id, 200)
        clock = ManualClock(h.app.clock.now())
        h.app.clock = clock
        h.poll()
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        comment = next(c.id for c in sb.comments.values() if c.media_id == old)
        sb.hide(comment)
        assert h.poll().edited == 0  # the next cycle: nothing signals it
        clock.advance(7 * 24 * 3600)
        for _ in range(60):
            clock.advance(3600)
            if h.poll().edited:
                break
        assert len(h.items()[comment].versions) == 2
        assert h.items()[comment].versions[-1].content["hidden"] is True
    finally:
        h.close()


# --- the parser never raises ---------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "data", "caption", "text", "timestamp", "media_type", "children", "replies",
                         "hidden", "from", "media_url", "thumbnail_url", "parent_id", "media", "paging", "x"]),
        inner, max_size=6),
    max_leaves=25,
)
_URLS = ["https://graph.facebook.com/v25.0/1784/media", "https://graph.facebook.com/v25.0/1790/comments",
         "https://graph.facebook.com/v25.0/1791/replies", "https://graph.facebook.com/v25.0/1790?fields=id"]


def _exchange(url: str, body: bytes) -> CapturedExchange:
    return CapturedExchange(url, "GET", 200, (("Content-Type", "application/json"),), body,
                            datetime.now(UTC) - timedelta(seconds=1))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_json, url=st.sampled_from(_URLS))
def test_parse_never_raises_on_arbitrary_json(body: object, url: str) -> None:
    out = list(InstagramConnector().parse(AccountRef("instagram", "1784"), _exchange(url, json.dumps(body).encode())))
    assert all(isinstance(o, Item | ParseWarning) for o in out)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=400), junk=st.binary(max_size=8))
def test_parse_never_raises_on_mutated_bytes(cut: int, junk: bytes) -> None:
    good = json.dumps({"data": [{"id": "1", "caption": "hi", "media_type": "IMAGE",
                                 "timestamp": "2026-01-01T00:00:00+0000",
                                 "children": {"data": [{"id": "2", "media_type": "VIDEO"}]}}]}).encode()
    body = good[:cut] + junk + good[cut + len(junk):]
    out = list(InstagramConnector().parse(AccountRef("instagram", "1784"), _exchange(_URLS[0], body)))
    assert all(isinstance(o, Item | ParseWarning) for o in out)


def test_unknown_numeric_account_is_account_gone(page_live: Live) -> None:
    with pytest.raises(AccountGone) as info:
        page_live.harvest("17841499999999999")
    assert "17841499999999999" in info.value.message


def test_listing_shape_change_is_a_clear_error_and_covers_nothing(page_live: Live) -> None:
    from archiver.core.errors import UnexpectedResponse
    from archiver.sandbox.server import Request, Response

    page_live.sandbox.publish(LINCOLN_IG, "caption")
    sandbox = page_live.sandbox

    def changed(req: Request) -> Response:
        resp = sandbox(req)
        if req.path.endswith("/media") and resp.status == 200:
            return Response.json({"data": {"items": json.loads(resp.body)["data"]}})
        return resp

    page_live.server.app = changed
    events: list = []
    with pytest.raises(UnexpectedResponse) as info:
        for event in page_live.connector.harvest(page_live.ref(LINCOLN_IG), None, page_live.http):
            events.append(event)
    assert "no data array" in info.value.message and not any(isinstance(e, Covered) for e in events)
