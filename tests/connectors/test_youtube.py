"""YouTube-specific behaviour against the YouTube sandbox over real HTTP: quota exhaustion,
commentsDisabled, replies beyond a thread's embedded few, deleted vs private videos, the
comment rescan policy, and parse robustness."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.capture.session import CaptureSession
from archiver.catalog import tables as t
from archiver.core.clock import Clock, ManualClock
from archiver.core.errors import ConfigError, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import AccountRef, CapturedExchange, Item, ParseWarning
from archiver.sandbox.server import SandboxServer
from archiver.warc.reader import iter_records
from connectors.youtube import YouTubeConnector
from connectors.youtube import errors as yt_errors
from connectors.youtube.sandbox import YouTubeContract, YouTubeSandbox
from tests.harness import Harness, scratch_session

PACIFIC = yt_errors.PACIFIC


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, "youtube")
    yield h
    h.close()


def _contract(h: Harness) -> YouTubeContract:
    assert isinstance(h.sandbox, YouTubeContract)
    return h.sandbox


def _requests(h: Harness, since: int, endpoint: str) -> list[dict[str, str]]:
    return [r.query for r in h.server.requests[since:] if r.path.endswith(f"/{endpoint}")]


def _account(h: Harness) -> t.Account:
    with h.app.catalog.session() as s:
        row = s.get(t.Account, h.account.id)
        assert row is not None
        s.expunge(row)
        return row


def _tombstones(h: Harness) -> dict[str, t.Tombstone]:
    return {k: v.tombstone for k, v in h.items().items() if v.tombstone is not None}


# --- identifiers -----------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("@LincolnHS", "@lincolnhs"),
    ("LincolnHS", "@lincolnhs"),
    ("https://www.youtube.com/@LincolnHS/videos", "@lincolnhs"),
    ("youtube.com/channel/UC_x5XG1OV2P6uZZ5FSM9Ttw", "UC_x5XG1OV2P6uZZ5FSM9Ttw"),
    (" UC_x5XG1OV2P6uZZ5FSM9Ttw ", "UC_x5XG1OV2P6uZZ5FSM9Ttw"),
    ("https://m.youtube.com/user/GoogleDevelopers", "user:GoogleDevelopers"),
    ("user:GoogleDevelopers", "user:GoogleDevelopers"),
])
def test_normalize_accepts_what_people_type(raw: str, expected: str) -> None:
    assert YouTubeConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "@a", "lincoln high", "https://vimeo.com/LincolnHS", "https://www.youtube.com/c/LincolnHS",
    "https://youtu.be/dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "user:bad name",
])
def test_normalize_rejects_bad_input_with_one_helpful_line(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        YouTubeConnector().normalize_account_id(raw)
    assert "\n" not in info.value.message and "@handle" in info.value.message


# --- quota and errors ------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 1, 5, 15, 0, tzinfo=UTC), datetime(2026, 1, 6, 8, 0, tzinfo=UTC)),  # PST
    (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 2, 7, 0, tzinfo=UTC)),  # PDT
    (datetime(2026, 1, 6, 7, 59, tzinfo=UTC), datetime(2026, 1, 6, 8, 0, tzinfo=UTC)),  # 23:59 PST
    (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 9, 7, 0, tzinfo=UTC)),  # DST began today
])
def test_next_pacific_midnight(now: datetime, expected: datetime) -> None:
    assert yt_errors.next_pacific_midnight(now) == expected


def test_quota_exhaustion_retries_at_the_next_midnight_in_los_angeles(tmp_path: Path) -> None:
    sb = YouTubeSandbox(keys={"AIza-quota-key-0001"})
    channel = sb.add_channel("@Riverside", "Riverside SD")
    for n in range(60):
        sb.upload(channel, f"Video {n}", at=sb.now() - timedelta(days=90 - n))
    sb.quota_limit = 4  # channels + 3 playlist pages, then the quota is gone mid-harvest
    clock = ManualClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))  # 07:00 in Los Angeles
    with SandboxServer(sb) as server, _direct(server.url, "AIza-quota-key-0001", tmp_path, clock) as http:
        ref = AccountRef("youtube", "@riverside", api_base=server.url)
        connector = YouTubeConnector()
        connector.settings.page_limit = 25
        with pytest.raises(TryLater) as info:
            list(connector.harvest(ref, None, http))
    assert info.value.retry_at == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    assert "midnight Pacific" in info.value.message and "AIza" not in info.value.message


def test_quota_exhaustion_pauses_the_account_without_deleting_anything(harness: Harness) -> None:
    harness.poll()
    # An idle incremental cycle spends 3 units (channel, uploads page, channel-wide threads):
    # the quota runs out at the third.
    _contract(harness).sandbox.quota_limit = _contract(harness).sandbox.units_used + 2
    before = datetime.now(UTC)
    report = harness.poll()
    assert report.status == "partial" and isinstance(report.error, TryLater)
    assert report.deleted == 0 and not _tombstones(harness)
    row = _account(harness)
    assert row.status == "throttled" and row.next_poll_after is not None
    local = row.next_poll_after.astimezone(PACIFIC)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert timedelta(0) < row.next_poll_after - before <= timedelta(hours=24)


@pytest.mark.parametrize(("status", "error", "expected"), [
    (400, {"code": 400, "message": "API key not valid. Please pass a valid API key.",
           "errors": [{"message": "API key not valid.", "domain": "global", "reason": "badRequest"}],
           "status": "INVALID_ARGUMENT",
           "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]},
     NeedsAttention),
    (401, {"code": 401, "message": "Request had invalid authentication credentials.",
           "errors": [{"reason": "authError", "domain": "global"}], "status": "UNAUTHENTICATED"}, NeedsAttention),
    (403, {"code": 403, "message": "YouTube Data API v3 has not been used in project 1 before or it is disabled.",
           "errors": [{"reason": "accessNotConfigured", "domain": "usageLimits"}]}, NeedsAttention),
    (403, {"code": 403, "message": "Rate Limit Exceeded",
           "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}]}, TryLater),
    (400, {"code": 400, "message": "Invalid filter", "errors": [{"reason": "invalidFilters"}]}, UnexpectedResponse),
])
def test_google_error_envelopes_map_to_actionable_errors(status: int, error: dict[str, Any], expected: type) -> None:
    now = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    exchange = CapturedExchange("https://www.googleapis.com/youtube/v3/videos", "GET", status,
                                (("content-type", "application/json"),), json.dumps({"error": error}).encode(), now)
    with pytest.raises(expected) as info:
        yt_errors.raise_for_error(exchange, account="@lincolnhs", subject="@lincolnhs", floor=timedelta(seconds=30))
    if expected is TryLater:
        assert info.value.retry_at == now + timedelta(seconds=30)
    if expected is NeedsAttention:
        assert "enable" in info.value.message or "token" in info.value.message


# --- comments --------------------------------------------------------------------------------

def test_comments_disabled_is_not_an_error_and_hides_nothing(harness: Harness) -> None:
    contract = _contract(harness)
    report = harness.poll()
    assert report.status == "complete" and report.warnings == 0
    disabled = contract.marks["disabled"]
    assert disabled in harness.items()
    assert not [i for i in harness.items().values() if i.parent_id == disabled]
    answered = [r for r in harness.server.requests if r.path.endswith("/commentThreads")
                and r.query.get("videoId") == disabled]
    assert answered, "the disabled video was asked for its comments"

    # Turning comments off later hides the old ones from the API; that is not a deletion.
    recent = contract.marks["recent0"]
    contract.sandbox.videos[recent].comments_disabled = True
    report = harness.poll()
    assert report.status == "complete" and report.deleted == 0 and not _tombstones(harness)


def test_replies_beyond_the_embedded_few_come_from_comments_list(harness: Harness) -> None:
    contract = _contract(harness)
    busy = contract.marks["busy_thread"]
    harness.poll()
    replies = sorted((c for c in contract.sandbox.comments.values() if c.parent == busy), key=lambda c: c.published)
    assert len(replies) == 7
    items = harness.items()
    assert all(items[r.id].kind == "reply" and items[r.id].parent_id == busy for r in replies)
    assert [q for q in _requests(harness, 0, "comments") if q.get("parentId") == busy]

    last = replies[-1].id  # never embedded in the thread: only comments.list shows it
    contract.delete(last)
    report = harness.poll()
    assert report.deleted == 1 and set(_tombstones(harness)) == {last}


def test_comment_edits_are_versions_and_counts_are_not(harness: Harness) -> None:
    contract = _contract(harness)
    harness.poll()
    report = harness.poll()  # view, like and comment counts moved in between
    assert report.edited == 0 and report.new == 0
    first = contract.marks["recent1_first"]
    contract.edit(first)
    report = harness.poll()
    assert report.edited == 1
    versions = harness.items()[first].versions
    assert [v.text for v in versions] == ["Great performance! (1)", "Edited comment #1"]
    assert "updatedAt" not in json.dumps(versions[-1].content)


def test_an_idle_cycle_spends_three_units_and_new_comments_on_old_videos_still_arrive(harness: Harness) -> None:
    contract = _contract(harness)
    sb = contract.sandbox
    harness.poll()
    units, mark = sb.units_used, len(harness.server.requests)
    report = harness.poll()
    assert report.plan.startswith("incremental") and report.new == report.edited == 0
    # channels.list, one uploads page, one page of the channel-wide threads: no video re-read.
    assert sb.units_used - units == 3
    assert not [q for q in _requests(harness, mark, "commentThreads") if "videoId" in q]
    assert not _requests(harness, mark, "videos")
    old = sorted(sb.visible_videos(contract.channel_id), key=lambda v: v.published)[5].id
    new_comment = sb.comment(old, "Found this again - great memories!")
    mark = len(harness.server.requests)
    report = harness.poll()
    assert new_comment in harness.items() and report.new == 1
    assert harness.items()[new_comment].parent_id == old
    channel_wide = _requests(harness, mark, "commentThreads")
    assert channel_wide and all(q.get("allThreadsRelatedToChannelId") == contract.channel_id for q in channel_wide)
    # A new reply beyond the few a thread embeds: the thread's totalReplyCount (its signal)
    # moved, so its replies are listed again.
    busy = contract.marks["busy_thread"]
    reply = sb.comment(sb.comments[busy].video_id, "Me too!", parent=busy)
    mark = len(harness.server.requests)
    report = harness.poll()
    assert reply in harness.items() and report.new == 1
    assert [q for q in _requests(harness, mark, "comments") if q.get("parentId") == busy]


def test_quota_units_are_charged_per_method_as_youtube_does(harness: Harness) -> None:
    sb = _contract(harness).sandbox
    harness.poll()
    assert sb.units_used == sum(sb.units_by_method.values())
    assert sb.units_by_method["commentThreads"] >= 1 and set(sb.units_by_method) >= {"channels", "videos"}
    import urllib.error
    import urllib.request

    before = sb.units_used
    with pytest.raises(urllib.error.HTTPError):  # the sandbox has no search results, but charges the call
        urllib.request.urlopen(f"{harness.server.url}/youtube/v3/search?part=snippet&key={_contract(harness).token}")
    assert sb.units_used - before == 100 and sb.units_by_method["search"] == 100


def test_deleted_and_private_videos_are_told_apart(harness: Harness) -> None:
    contract = _contract(harness)
    harness.poll()
    videos = sorted(v.id for v in contract.sandbox.visible_videos(contract.channel_id))
    deleted, private = videos[0], videos[1]
    contract.delete(deleted)
    contract.sandbox.videos[private].privacy = "private"
    # Any two videos, of any age: a reconciliation reads them all now (an incremental cycle
    # finds old ones when the sweep reaches them; tests/capture/test_incremental.py).
    harness.poller.poll(harness.account.label, reconcile=True)
    tombs = _tombstones(harness)
    assert tombs[deleted].reason == "deleted" and tombs[private].reason == "unavailable"
    evidence = _record(harness, tombs[deleted].evidence_record_id)
    assert evidence.http_status == 404 and b"videoNotFound" in evidence.exchange().body
    assert _record(harness, tombs[private].evidence_record_id).http_status == 200


# --- parse robustness ------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
_URLS = st.sampled_from([f"http://127.0.0.1/youtube/v3/{e}" for e in
                         ("videos", "commentThreads", "comments", "channels", "playlistItems")])
_COMMENT = {"kind": "youtube#comment", "id": "UgyZ1jqkHKYvi1-ruOZ4AaABAg", "snippet": {
    "videoId": "F1UP7wRCPH8", "textOriginal": "Hi", "textDisplay": "Hi", "parentId": "Ugy",
    "authorDisplayName": "A", "authorChannelId": {"value": "UC1"}, "publishedAt": "2019-11-26T15:51:44Z"}}
_VIDEO = {"kind": "youtube#video", "id": "D-lhorsDlUQ", "snippet": {
    "publishedAt": "2019-03-21T20:37:49Z", "title": "T", "description": "D", "tags": ["a"], "categoryId": "28",
    "thumbnails": {"high": {"url": "https://i.ytimg.com/vi/D-lhorsDlUQ/hqdefault.jpg"}}},
    "status": {"privacyStatus": "public"}, "contentDetails": {"regionRestriction": {"blocked": ["DE"]}}}
_REF = AccountRef("youtube", "@lincolnhs")


def _outputs(url: str, body: bytes) -> list[Any]:
    exchange = CapturedExchange(url, "GET", 200, (("Content-Type", "application/json"),), body,
                                datetime(2026, 1, 5, tzinfo=UTC))
    out = list(YouTubeConnector().parse(_REF, exchange))  # the raw parser: nothing catches
    assert not [o for o in out if isinstance(o, ParseWarning) and o.code.endswith(".parser_error")]
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=_URLS, value=_json)
def test_parse_never_raises_on_arbitrary_json(url: str, value: Any) -> None:
    for body in (json.dumps(value).encode(), json.dumps({"items": value}).encode(),
                 json.dumps({"items": [value, {"id": "x", "snippet": value}]}).encode()):
        assert all(isinstance(o, Item | ParseWarning) for o in _outputs(url, body))


@settings(max_examples=100, deadline=None)
@given(part=st.sampled_from(["snippet", "status", "contentDetails", "id"]), key=st.text(max_size=15),
       value=_json, garbage=st.binary(max_size=40))
def test_parse_never_raises_on_mutated_resources(part: str, key: str, value: Any, garbage: bytes) -> None:
    video = json.loads(json.dumps(_VIDEO))
    comment = json.loads(json.dumps(_COMMENT))
    for resource in (video, comment):
        if isinstance(resource.get(part), dict):
            resource[part][key or "title"] = value
        else:
            resource[part] = value
    thread = {"id": "t", "snippet": {"videoId": value, "topLevelComment": comment},
              "replies": {"comments": [comment, value]}}
    cases = [("videos", video), ("comments", comment), ("commentThreads", thread)]
    for endpoint, resource in cases:
        raw = json.dumps({"items": [resource]}).encode()
        for body in (raw, garbage, raw[: len(garbage)]):
            out = _outputs(f"http://h/youtube/v3/{endpoint}", body)
            assert all(isinstance(o, Item | ParseWarning) for o in out)


def test_field_type_changes_become_coded_warnings() -> None:
    bad_title = {**_VIDEO, "snippet": {**_VIDEO["snippet"], "title": 12}}
    codes = {o.code for o in _outputs("http://h/youtube/v3/videos", json.dumps({"items": [bad_title]}).encode())
             if isinstance(o, ParseWarning)}
    assert codes == {"youtube.bad_field_type"}
    out = _outputs("http://h/youtube/v3/videos", json.dumps({"items": {"id": "x"}}).encode())
    assert [o.code for o in out] == ["youtube.bad_field_type"]
    out = _outputs("http://h/youtube/v3/comments", json.dumps({"items": [{"id": "c", "snippet": []}]}).encode())
    assert [o.code for o in out] == ["youtube.missing_snippet"]
    bad_time = {**_COMMENT, "snippet": {**_COMMENT["snippet"], "publishedAt": "last week"}}
    out = _outputs("http://h/youtube/v3/comments", json.dumps({"items": [bad_time]}).encode())
    assert [o.code for o in out if isinstance(o, ParseWarning)] == ["youtube.bad_time"]
    assert [o.code for o in _outputs("http://h/youtube/v3/videos", b"<html>")] == ["youtube.malformed_json"]


def test_changed_field_types_in_live_answers_give_a_clear_account_status(harness: Harness) -> None:
    def tags_as_text(path: str, body: dict[str, Any]) -> dict[str, Any]:
        for video in body.get("items", []) if path.endswith("/videos") else []:
            video["snippet"]["tags"] = "school,district"
        return body

    harness.sandbox.sandbox.mutate = tags_as_text  # type: ignore[attr-defined]
    report = harness.poll()
    assert report.status == "complete" and report.warnings > 0

    harness.sandbox.sandbox.mutate = lambda path, body: (  # type: ignore[attr-defined]
        {**body, "items": "UC-moved"} if path.endswith("/channels") else body)
    report = harness.poll()
    assert report.status == "partial" and isinstance(report.error, UnexpectedResponse)
    row = _account(harness)
    assert row.status == "error" and "channel lookup" in row.status_message and not _tombstones(harness)


# --- helpers ---------------------------------------------------------------------------------

class _direct:
    """A CaptureSession writing to a scratch WARC, for calls outside a poll."""

    def __init__(self, base_url: str, key: str, home: Path, clock: Clock | None = None) -> None:
        self.session = scratch_session(home, "youtube", auth_style=YouTubeConnector.auth_style, token=key,
                                       clock=clock, backoff_base=0.01)
        self.rolling = self.session.warc

    def __enter__(self) -> CaptureSession:
        return self.session

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.rolling.seal_all()


def _record(h: Harness, record_id: str) -> Any:
    for path in h.warc_files():
        with open(path, "rb") as fh:
            for record in iter_records(fh, path.name):
                if record.pointer.record_id == record_id:
                    return record
    raise AssertionError(f"no record {record_id}")

@settings(max_examples=60, deadline=None)
@given(videos=st.lists(st.tuples(st.from_regex(r"\A[A-Za-z0-9_-]{11}\Z"), st.text(max_size=60)), max_size=6,
                       unique_by=lambda v: v[0]))
def test_valid_videos_yield_one_item_each_and_no_warning(videos: list[tuple[str, str]]) -> None:
    items = [{**_VIDEO, "id": video_id, "snippet": {**_VIDEO["snippet"], "title": title, "description": title}}
             for video_id, title in videos]
    out = _outputs("http://h/youtube/v3/videos", json.dumps({"items": items}).encode())
    assert len([o for o in out if isinstance(o, Item)]) == len(videos)
    assert not [w for w in out if isinstance(w, ParseWarning)]
