"""TikTok specifics against the Display-API-shaped sandbox over real HTTP: POST list/query with
their JSON bodies recorded, cursor paging at max_count 20, the token-owner check, deleted and
privated videos left out of video/query, expiring cover URLs, throttles and token errors,
identifier forms and a parser that never raises."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.core.errors import ConfigError, NeedsAttention, TryLater, UnexpectedResponse
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
from archiver.sandbox.server import Request, Response, SandboxServer
from connectors.tiktok import TikTokConnector
from connectors.tiktok.sandbox import LINCOLN, TikTokSandbox
from tests.harness import Live, observed

TOKEN = "act.tiktok-test-token-4417"
OPEN_ID = "open-test-0001"


def _live(tmp_path: Path, server: SandboxServer) -> Live:
    sb = TikTokSandbox()
    sb.add_user(OPEN_ID, "lincolnhigh", "Lincoln High School")
    sb.add_user("open-other-0002", "otherschool", "Other School")
    sb.add_token(TOKEN, OPEN_ID)
    return Live(tmp_path, server, sb, TikTokConnector(ConnectorSettings(min_retry_seconds=0.01, page_limit=25)),
                token=TOKEN, account="lincolnhigh")


@pytest.fixture
def live(tmp_path: Path, server: SandboxServer) -> Iterator[Live]:
    lv = _live(tmp_path, server)
    yield lv
    lv.close()


def _seed(sb: TikTokSandbox, count: int) -> list[str]:
    start = datetime.now(UTC) - timedelta(days=30)
    return [sb.publish(OPEN_ID, f"clip {n}", at=start + timedelta(hours=n)) for n in range(count)]


# --- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@LincolnHigh", "lincolnhigh"),
        ("lincoln.high_2", "lincoln.high_2"),
        ("https://www.tiktok.com/@LincolnHigh", "lincolnhigh"),
        ("tiktok.com/@lincolnhigh/video/7380080137682881835?lang=en", "lincolnhigh"),
    ],
)
def test_identifier_forms(raw: str, expected: str) -> None:
    assert TikTokConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "@", "@a", "https://vm.tiktok.com/ZMabc123/", "https://www.tiktok.com/t/ZTL2SmoGF/",
     "https://www.tiktok.com/explore", "https://tiktok.com.evil.example/@x", "has space", "@" + "a" * 25],
)
def test_bad_identifiers_are_config_errors(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        TikTokConnector().normalize_account_id(raw)
    assert "\n" not in info.value.message and "TikTok" in info.value.message


# --- listing -----------------------------------------------------------------------------------


def test_video_list_is_paged_by_cursor_at_twenty_and_covered(live: Live) -> None:
    videos = _seed(live.sandbox, 45)
    events = live.harvest()
    assert set(observed(events)) == set(videos)
    assert [e for e in events if isinstance(e, Covered)] == [Covered(None, ("post",))]  # type: ignore[arg-type]
    posts = [r for r in live.server.requests if r.path == "/v2/video/list/"]
    assert [r.method for r in posts] == ["POST"] * 3
    bodies = [json.loads(r.body) for r in posts]
    assert bodies[0] == {"max_count": 20} and all(b["max_count"] == 20 for b in bodies)
    assert bodies[1]["cursor"] > bodies[2]["cursor"]  # newest first, milliseconds
    assert all(i.kind == "post" for i in observed(events).values()), "no comments through the Display API"


def test_post_bodies_are_recorded_in_the_warc(live: Live) -> None:
    _seed(live.sandbox, 3)
    live.harvest()
    live.close()
    data = b"".join(gzip.decompress(p.read_bytes()) for p in live.spool.glob("*.warc.gz"))
    assert b"POST /v2/video/list/?fields=" in data and b'{"max_count":20}' in data
    assert TOKEN.encode() not in data and b"Authorization:" not in data


def test_token_of_another_account_needs_attention(live: Live) -> None:
    _seed(live.sandbox, 1)
    with pytest.raises(NeedsAttention) as info:
        live.harvest("otherschool")
    assert "@lincolnhigh" in info.value.message
    with pytest.raises(NeedsAttention):
        live.harvest("lincolnhigh", {"open_id": "open-someone-else"})
    cursor = next(e for e in live.harvest() if isinstance(e, Checkpoint)).cursor
    assert cursor == {"open_id": OPEN_ID}


def test_cover_url_expires_but_content_keeps_only_its_path(live: Live) -> None:
    video = _seed(live.sandbox, 1)[0]
    first = observed(live.harvest())[video]
    second = observed(live.harvest())[video]
    assert "x-expires=" in first.media[0].url and first.media[0].kind == "thumbnail"
    assert first.media[0].url != second.media[0].url
    assert first.content_sha256 == second.content_sha256
    assert "x-expires" not in json.dumps(first.content) and first.url.endswith(f"/video/{video}")


def test_description_edit_changes_content(live: Live) -> None:
    video = _seed(live.sandbox, 1)[0]
    before = observed(live.harvest())[video]
    live.sandbox.edit(video, "New description #edited")
    after = observed(live.harvest())[video]
    assert before.content_sha256 != after.content_sha256


# --- deletions ---------------------------------------------------------------------------------


def test_deleted_and_private_videos_are_gone_and_live_ones_present(live: Live) -> None:
    deleted, privated, kept = _seed(live.sandbox, 3)
    live.sandbox.delete(deleted)
    live.sandbox.make_private(privated)
    for video in (deleted, privated):
        verdict = live.connector.confirm_gone(live.ref(), video, live.http)
        assert isinstance(verdict, Gone) and verdict.status == 200 and "video/query" in verdict.detail
    present = live.connector.confirm_gone(live.ref(), kept, live.http)
    assert isinstance(present, Present) and present.items[0].item_id == kept
    query = [json.loads(r.body) for r in live.server.requests if r.path == "/v2/video/query/"]
    assert query[0] == {"filters": {"video_ids": [deleted]}}


# --- errors ------------------------------------------------------------------------------------


def test_throttle_is_try_later(live: Live) -> None:
    live.sandbox.throttle_next = 1
    with pytest.raises(TryLater):
        live.harvest()


def test_expired_token_needs_attention(live: Live) -> None:
    live.sandbox.expired.add(TOKEN)
    with pytest.raises(NeedsAttention) as info:
        live.harvest()
    assert "token" in info.value.message and TOKEN not in info.value.message + info.value.detail


def test_missing_scope_needs_attention(live: Live) -> None:
    live.sandbox.scopes[TOKEN] = {"user.info.basic", "user.info.profile"}
    with pytest.raises(NeedsAttention) as info:
        live.harvest()
    assert "video.list" in info.value.message


def test_has_more_without_a_new_cursor_is_not_a_complete_listing(live: Live, server: SandboxServer) -> None:
    _seed(live.sandbox, 25)
    sandbox = live.sandbox

    def stuck(req: Request) -> Response:
        resp = sandbox(req)
        if req.path == "/v2/video/list/" and resp.status == 200:
            body = json.loads(resp.body)
            body["data"]["cursor"] = 0
            return Response.json(body)
        return resp

    server.app = stuck
    events: list = []
    with pytest.raises(UnexpectedResponse):
        for event in live.connector.harvest(live.ref(), None, live.http):
            events.append(event)
    assert not any(isinstance(e, Covered) for e in events)


def test_field_type_change_is_a_warning_not_a_crash(live: Live) -> None:
    _seed(live.sandbox, 2)
    live.sandbox.field_override = {"video_description": ["now", "a", "list"], "create_time": "yesterday"}
    events = live.harvest()
    codes = {e.code for e in events if isinstance(e, ParseWarning)}
    assert {"tiktok.bad_field_type", "tiktok.bad_time"} <= codes
    assert len(observed(events)) == 2


# --- the parser never raises ---------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["data", "videos", "error", "code", "id", "title", "video_description", "create_time",
                         "duration", "cover_image_url", "share_url", "cursor", "has_more", "x"]),
        inner, max_size=6),
    max_leaves=25,
)
_URLS = ["https://open.tiktokapis.com/v2/video/list/?fields=id", "https://open.tiktokapis.com/v2/video/query/",
         "https://open.tiktokapis.com/v2/user/info/"]


def _exchange(url: str, body: bytes) -> CapturedExchange:
    return CapturedExchange(url, "POST", 200, (("Content-Type", "application/json"),), body, datetime.now(UTC))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_json, url=st.sampled_from(_URLS))
def test_parse_never_raises_on_arbitrary_json(body: object, url: str) -> None:
    out = list(TikTokConnector().parse(AccountRef("tiktok", "lincolnhigh"), _exchange(url, json.dumps(body).encode())))
    assert all(isinstance(o, Item | ParseWarning) for o in out)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=250), junk=st.binary(max_size=8))
def test_parse_never_raises_on_mutated_bytes(cut: int, junk: bytes) -> None:
    good = json.dumps({"data": {"videos": [{"id": "7380080137682881835", "title": "hi", "create_time": 1718300000,
                                            "cover_image_url": "https://p16-sign.tiktokcdn-us.com/x.jpeg?x-expires=1"}],
                                "cursor": 1718299999000, "has_more": False},
                       "error": {"code": "ok", "message": "", "log_id": "1"}}).encode()
    body = good[:cut] + junk + good[cut + len(junk):]
    out = list(TikTokConnector().parse(AccountRef("tiktok", "lincolnhigh"), _exchange(_URLS[0], body)))
    assert all(isinstance(o, Item | ParseWarning) for o in out)


def test_deletion_through_the_poller_is_a_tombstone_whose_evidence_is_the_query_answer(tmp_path: Path) -> None:
    """TikTok's real not-found answer is HTTP 200 without the video; that is the evidence kept."""
    from archiver.warc.reader import iter_records
    from tests.harness import Harness

    h = Harness(tmp_path, "tiktok")
    try:
        assert h.poll().status == "complete"
        victim = sorted(h.sandbox.live_item_ids(h.seed.account_id))[0]
        h.sandbox.delete(victim)
        # The oldest video: an incremental cycle stops at the first page of known videos and
        # finds it only when the sweep reaches it, so the officer's --reconcile reads it whole.
        (report,) = h.poller.poll(h.account.label, reconcile=True)
        assert report.status == "complete" and report.deleted == 1
        tomb = h.items()[victim].tombstone
        assert tomb is not None
        records = []
        for path in h.warc_files():
            with open(path, "rb") as fh:
                records += list(iter_records(fh, path.name))
        evidence = next(r for r in records if r.pointer.record_id == tomb.evidence_record_id)
        assert evidence.http_status == 200 and evidence.target_uri.split("?")[0].endswith("/v2/video/query/")
        assert victim.encode() not in evidence.body
    finally:
        h.close()


def test_listing_shape_change_is_a_clear_error_and_covers_nothing(live: Live, server: SandboxServer) -> None:
    _seed(live.sandbox, 2)
    sandbox = live.sandbox

    def changed(req: Request) -> Response:
        resp = sandbox(req)
        if req.path == "/v2/video/list/" and resp.status == 200:
            body = json.loads(resp.body)
            body["data"]["videos"] = {"items": body["data"]["videos"]}
            return Response.json(body)
        return resp

    server.app = changed
    events: list = []
    with pytest.raises(UnexpectedResponse) as info:
        for event in live.connector.harvest(live.ref(), None, live.http):
            events.append(event)
    assert "data.videos" in info.value.message and not any(isinstance(e, Covered) for e in events)


# --- refresh token: a 24-hour access token renewed by the connector's auth strategy --------------


def test_refresh_token_gets_access_tokens_and_no_secret_reaches_a_warc(tmp_path: Path) -> None:
    from archiver.catalog import tables as t
    from archiver.services.accounts import register_account
    from connectors.tiktok.sandbox import LINCOLN
    from tests.harness import Harness

    h = Harness(tmp_path, "tiktok")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        sb.clients["awx-client-key"] = "client-secret-9d8c7b6a"
        sb.refresh_tokens["rft.lincoln-refresh-5e4d3c"] = LINCOLN
        secret = {"client_key": "awx-client-key", "client_secret": "client-secret-9d8c7b6a",
                  "refresh_token": "rft.lincoln-refresh-5e4d3c"}
        token = tmp_path / "tiktok-refresh.json"
        token.write_text(json.dumps(secret))
        token.chmod(0o600)
        register_account(h.app, "tiktok", h.seed.raw_id, api_base=h.server.url, token_file=str(token), replace=True)
        h.server.requests.clear()
        assert h.poll().status == "complete"
        paths = [r.path for r in h.server.requests]
        assert paths.count("/v2/oauth/token/") == 1
        bearers = {r.header("authorization") for r in h.server.requests if r.path.startswith("/v2/video")}
        assert bearers and all(b.startswith("Bearer act.refreshed-") for b in bearers)
        served = h.server.app

        def expire_mid_cycle(req):  # type: ignore[no-untyped-def]
            if req.path == "/v2/video/list/":
                sb.expired.update(t for t in sb.tokens if t.startswith("act.refreshed-"))
                h.server.app = served
            return served(req)

        h.server.app = expire_mid_cycle
        h.server.requests.clear()
        assert h.poll().status == "complete"
        assert [r.path for r in h.server.requests].count("/v2/oauth/token/") == 2  # login, then renewal
        for path in h.warc_files():
            with gzip.open(path, "rb") as fh:
                data = fh.read()
            leaked = [s for s in (*secret.values(), *sb.tokens) if s.startswith(("client-secret", "rft.", "act.refreshed"))
                      and s.encode() in data]
            assert not leaked
        sb.refresh_tokens.clear()  # the refresh token expired or was revoked
        h.poll()
        with h.app.catalog.session() as s:
            account = s.query(t.Account).filter_by(platform="tiktok").one()
            assert account.status == "needs-attention" and "refresh token" in account.status_message
    finally:
        h.close()


def test_an_incremental_cycle_judges_only_the_span_it_read(tmp_path: Path) -> None:
    """The video list stops at the first page of known videos: a deletion among the newest is
    judged at once, one among the older videos waits for the sweep (a listing cut short never
    marks anything deleted)."""
    from tests.harness import Harness

    h = Harness(tmp_path, "tiktok")
    try:
        assert h.poll().status == "complete"
        live = h.sandbox.sandbox._visible(LINCOLN)  # type: ignore[attr-defined]  # newest first
        newest, oldest = live[0].id, live[-1].id
        h.sandbox.delete(newest)
        h.sandbox.delete(oldest)
        mark = len(h.server.requests)
        report = h.poll()
        assert report.status == "complete" and report.plan.startswith("incremental")
        lists = [r for r in h.server.requests[mark:] if r.path.endswith("/video/list/")]
        assert len(lists) == 1  # one page of 20: all known, so the walk stopped
        items = h.items()
        assert items[newest].tombstone is not None and items[oldest].tombstone is None
    finally:
        h.close()
