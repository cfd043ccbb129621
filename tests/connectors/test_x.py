"""X-specific behaviour against the X sandbox over real HTTP: edit chains, since_id polling,
sweeps triggered by tweet_count, 429 resets, partial-error deletions and parse robustness."""

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
from archiver.core.errors import (
    AccountGone,
    ConfigError,
    NeedsAttention,
    TryLater,
    UnexpectedResponse,
)
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checkpoint,
    Covered,
    Item,
    Observed,
    ParseWarning,
    Present,
)
from archiver.core.settings import ConnectorSettings
from archiver.sandbox.server import SandboxServer
from archiver.warc.reader import iter_records
from connectors.x import XConnector
from connectors.x import errors as x_errors
from connectors.x.sandbox import XContract, XSandbox
from tests.harness import Harness, scratch_session


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, "x")
    yield h
    h.close()


def _contract(h: Harness) -> XContract:
    assert isinstance(h.sandbox, XContract)
    return h.sandbox


def _timeline_requests(h: Harness, since: int) -> list[dict[str, str]]:
    return [r.query for r in h.server.requests[since:] if r.path.endswith("/tweets") and "/users/" in r.path]


def _account(h: Harness) -> t.Account:
    with h.app.catalog.session() as s:
        row = s.get(t.Account, h.account.id)
        assert row is not None
        s.expunge(row)
        return row


# --- identifiers -----------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("@LincolnHS", "lincolnhs"),
    ("LincolnHS", "lincolnhs"),
    ("  https://x.com/LincolnHS  ", "lincolnhs"),
    ("https://twitter.com/LincolnHS/status/1631682421757181953", "lincolnhs"),
    ("mobile.twitter.com/lincoln_hs", "lincoln_hs"),
    ("https://x.com/i/user/783214001", "783214001"),
    ("https://twitter.com/intent/user?user_id=12", "12"),
    ("783214001", "783214001"),
    ("@1234", "@1234"),
])
def test_normalize_accepts_what_people_type(raw: str, expected: str) -> None:
    assert XConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "@", "lincoln high", "@waytoolonghandle123", "https://facebook.com/LincolnHS",
    "https://x.com/home", "x.com/", "https://x.com/i/lists/1", "lincoln.hs",
])
def test_normalize_rejects_bad_input_with_one_helpful_line(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        XConnector().normalize_account_id(raw)
    assert "\n" not in info.value.message and "x.com/" in info.value.message


# --- edits, incremental polling, deletions ----------------------------------------------------

def test_edit_chain_is_one_item_with_versions_and_superseded_ids_never_die(harness: Harness) -> None:
    contract = _contract(harness)
    sb = contract.sandbox
    root = contract.marks["edited"]  # seeded with one edit already: chain [root, v2]
    harness.poll()
    items = harness.items()
    chain = [v.id for v in sb.chains[root].versions]
    assert len(chain) == 2 and chain[1] not in items
    first = items[root].versions[0]
    assert first.content["versions"] == chain and "corrected time" in first.text
    original_time = sb.chains[root].versions[0].created
    assert abs((items[root].created_at - original_time).total_seconds()) < 1  # not the edit time

    v3 = sb.edit(root, "Lincoln High update #51: third and final wording.")
    report = harness.poll()
    assert report.edited == 1 and report.deleted == 0
    items = harness.items()
    assert v3 not in items and chain[1] not in items
    assert [v.content["versions"] for v in items[root].versions] == [chain, [*chain, v3]]

    # A deletion elsewhere forces a full sweep: the edited chain must stay alive.
    victim = contract.marks["recent0"]
    sb.delete(victim)
    report = harness.poll()
    tombstoned = {k for k, v in harness.items().items() if v.tombstone is not None}
    assert victim in tombstoned and root not in tombstoned
    assert not {chain[1], v3} & set(harness.items())

    ref = AccountRef("x", harness.seed.account_id, api_base=harness.server.url)
    with _direct(harness.server.url, contract.token, harness.home) as http:
        assert isinstance(XConnector().confirm_gone(ref, root, http), Present)


def test_since_id_polls_only_new_posts_and_edits(harness: Harness) -> None:
    contract = _contract(harness)
    harness.poll()
    newest = _account(harness).cursor["newest_id"]
    assert all("since_id" not in q for q in _timeline_requests(harness, 0))  # first cycle: full walk
    mark = len(harness.server.requests)
    new_id = contract.publish(harness.seed.account_id)
    oldest = sorted(contract.live_item_ids(harness.seed.account_id))[0]
    contract.edit(oldest)
    report = harness.poll()
    assert report.status == "complete" and report.new == 1 and report.edited == 1
    polls = _timeline_requests(harness, mark)
    assert polls and all(q.get("since_id") == newest for q in polls), "no full walk without a reason"
    assert new_id in harness.items()
    edited_id = contract.sandbox.chains[oldest].current.id
    assert _account(harness).cursor["newest_id"] == max(new_id, edited_id, key=int)


def test_a_deletion_shows_in_tweet_count_and_triggers_a_full_sweep(harness: Harness) -> None:
    contract = _contract(harness)
    harness.poll()
    victim = sorted(contract.live_item_ids(harness.seed.account_id))[3]
    contract.delete(victim)
    mark = len(harness.server.requests)
    report = harness.poll()
    queries = _timeline_requests(harness, mark)
    assert "since_id" in queries[0] and any("since_id" not in q for q in queries[1:])
    assert report.deleted == 1
    tomb = harness.items()[victim].tombstone
    assert tomb is not None and tomb.reason == "deleted"
    # X's not-found answer is HTTP 200 with a resource-not-found problem; that is the evidence.
    evidence = _record(harness, tomb.evidence_record_id)
    assert evidence.http_status == 200
    body = json.loads(evidence.exchange().body)
    assert "data" not in body and body["errors"][0]["type"].endswith("/problems/resource-not-found")


def test_replies_are_comments_and_replies_with_the_right_parents(harness: Harness) -> None:
    contract = _contract(harness)
    report = harness.poll()
    assert report.status == "complete"
    items = harness.items()
    root, first = contract.marks["recent0"], contract.marks["recent0_first"]
    assert items[root].kind == "post" and items[first].kind == "comment" and items[first].parent_id == root
    school = [i for i in items.values() if i.parent_id == first]
    assert len(school) == 1 and school[0].kind == "reply"
    assert set(items) == contract.live_item_ids(harness.seed.account_id)
    searches = [r.query["query"] for r in harness.server.requests if r.path.endswith("/search/recent")]
    # New replies to the account's posts of any age: one `to:` search; then every conversation
    # of the last week in one query.
    assert searches[0] == "to:LincolnHS" and len(searches) == 2
    assert all(f"conversation_id:{contract.marks[f'recent{i}']}" in searches[1] for i in range(3))


def test_photo_and_best_video_variant_are_downloaded(harness: Harness) -> None:
    harness.poll()
    with harness.app.catalog.session() as s:
        urls = {m.url for m in s.query(t.MediaCapture).all()}
    assert any("/cdn/media/F" in u for u in urls)
    assert any(u.endswith("high.mp4?tag=12") for u in urls) and not any("low.mp4" in u for u in urls)
    assert any("ext_tw_video_thumb" in u for u in urls) and not any(".m3u8" in u for u in urls)


def test_engagement_and_edit_eligibility_changes_are_not_edits(harness: Harness) -> None:
    harness.poll()
    harness.sandbox.sandbox.calls += 37  # type: ignore[attr-defined] - moves likes and impressions
    report = harness.poll()
    assert report.edited == 0 and report.new == 0


def test_a_protected_account_needs_attention_and_marks_nothing_deleted(harness: Harness) -> None:
    contract = _contract(harness)
    harness.poll()
    contract.delete(contract.marks["recent1"])  # would force a sweep if the timeline answered
    contract.sandbox.users["783214001"].protected = True
    report = harness.poll()
    assert isinstance(report.error, NeedsAttention) and "protected" in report.error.message
    assert report.deleted == 0 and not [i for i in harness.items().values() if i.tombstone]


def test_a_sweep_stopped_by_the_3200_post_cap_covers_only_what_it_reached(tmp_path: Path) -> None:
    sb = XSandbox(tokens={"cap-token"})
    sb.add_user("42", "Busy", "Busy District")
    start = datetime.now(UTC) - timedelta(days=400)
    for n in range(3205):
        sb.post("42", f"post {n}", at=start + timedelta(hours=n))
    with SandboxServer(sb) as server, _direct(server.url, "cap-token", tmp_path) as http:
        ref = AccountRef("x", "busy", api_base=server.url)
        events = list(XConnector(ConnectorSettings(page_limit=100)).harvest(ref, None, http))
    observed = [e for e in events if isinstance(e, Observed)]
    covered = [e for e in events if isinstance(e, Covered)]
    assert len(observed) == 3200 and len(covered) == 1
    oldest = min(e.item.created_at for e in observed)
    assert covered[0].created_after == oldest  # older posts fell off the cap, not deleted
    assert isinstance(events[-1], Checkpoint) and events[-1].cursor["newest_id"]


# --- throttles and credentials ---------------------------------------------------------------

def test_429_retry_at_comes_from_x_rate_limit_reset(tmp_path: Path) -> None:
    sb = XSandbox(tokens={"tok-429"})
    sb.add_user("42", "Riverside", "Riverside SD")
    sb.throttle_next = 1
    sb.throttle_reset_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=14)
    with SandboxServer(sb) as server, _direct(server.url, "tok-429", tmp_path) as http:
        ref = AccountRef("x", "riverside", api_base=server.url)
        with pytest.raises(TryLater) as info:
            list(XConnector().harvest(ref, None, http))
    assert info.value.retry_at == sb.throttle_reset_at
    assert info.value.evidence is not None and "tok-429" not in info.value.message


def test_raw_429_mapping_applies_the_floor_and_knows_usage_caps() -> None:
    now = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    soon = _exchange(429, {"title": "Too Many Requests", "status": 429}, now,
                     [("x-rate-limit-reset", str(int(now.timestamp()) + 5))])
    with pytest.raises(TryLater) as info:
        x_errors.raise_for_status(soon, account="a", subject="a", floor=timedelta(seconds=60))
    assert info.value.retry_at == now + timedelta(seconds=60)
    capped = _exchange(429, {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
                             "type": "https://api.twitter.com/2/problems/usage-capped"}, now)
    with pytest.raises(TryLater) as info:
        x_errors.raise_for_status(capped, account="a", subject="a", floor=timedelta(seconds=60))
    assert "usage cap" in info.value.message and info.value.retry_at >= now + timedelta(hours=24)


def test_bad_token_and_missing_accounts_say_what_to_do(tmp_path: Path) -> None:
    sb = XSandbox(tokens={"good-token"})
    sb.add_user("42", "Riverside", "Riverside SD").suspended = True
    with SandboxServer(sb) as server:
        with _direct(server.url, "bad-token-value", tmp_path / "a") as http:
            with pytest.raises(NeedsAttention) as info:
                XConnector().check(AccountRef("x", "riverside", api_base=server.url), http)
            assert "token" in info.value.message and "bad-token-value" not in info.value.message
        with _direct(server.url, "good-token", tmp_path / "b") as http:
            with pytest.raises(AccountGone, match="suspended"):
                XConnector().check(AccountRef("x", "riverside", api_base=server.url), http)
            with pytest.raises(AccountGone, match="does not exist"):
                list(XConnector().harvest(AccountRef("x", "nosuchschool", api_base=server.url), None, http))


# --- parse robustness ------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
_URLS = st.sampled_from([
    "http://127.0.0.1/2/users/42/tweets", "http://127.0.0.1/2/tweets/search/recent",
    "http://127.0.0.1/2/tweets/1631682421757181953", "http://127.0.0.1/2/tweets?ids=1,2",
    "http://127.0.0.1/2/users/by/username/x",
])
_TWEET = {
    "id": "1631682421757181953", "text": "hello", "edit_history_tweet_ids": ["1631682421757181953"],
    "created_at": "2023-03-03T15:46:19.000Z", "author_id": "9710852", "conversation_id": "1631682421757181953",
    "attachments": {"media_keys": ["3_1"]}, "referenced_tweets": [{"type": "replied_to", "id": "1"}],
    "possibly_sensitive": False, "withheld": {"country_codes": ["DE"]},
}
_REF = AccountRef("x", "lincolnhs")


def _outputs(url: str, body: bytes) -> list[Any]:
    exchange = CapturedExchange(url, "GET", 200, (("Content-Type", "application/json"),), body,
                                datetime(2026, 1, 5, tzinfo=UTC))
    out = list(XConnector().parse(_REF, exchange))  # the raw parser: nothing catches
    assert not [o for o in out if isinstance(o, ParseWarning) and o.code.endswith(".parser_error")]
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=_URLS, value=_json)
def test_parse_never_raises_on_arbitrary_json(url: str, value: Any) -> None:
    for body in (json.dumps(value).encode(), json.dumps({"data": value}).encode(),
                 json.dumps({"data": [value], "includes": value}).encode()):
        assert all(isinstance(o, Item | ParseWarning) for o in _outputs(url, body))


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from(sorted(_TWEET)), value=_json, garbage=st.binary(max_size=40))
def test_parse_never_raises_on_mutated_tweets(key: str, value: Any, garbage: bytes) -> None:
    tweet = {**_TWEET, key: value}
    body = {"data": [tweet], "includes": {"media": [{"media_key": "3_1", "type": "photo", "url": value}],
                                          "tweets": [tweet], "users": [value]}, "meta": value}
    for raw in (json.dumps(body).encode(), garbage, json.dumps(body).encode()[: len(garbage)]):
        assert all(isinstance(o, Item | ParseWarning) for o in _outputs("http://h/2/users/1/tweets", raw))


def test_field_type_changes_become_coded_warnings() -> None:
    cases = {
        "x.bad_field_type": {"data": [{**_TWEET, "text": 12}]},
        "x.bad_edit_history": {"data": [{**_TWEET, "edit_history_tweet_ids": ["1"]}]},
        "x.tweet_without_id": {"data": [{**_TWEET, "id": 1631682421757181953}]},
        "x.bad_time": {"data": [{**_TWEET, "created_at": "yesterday"}]},
    }
    for code, body in cases.items():
        out = _outputs("http://h/2/users/1/tweets", json.dumps(body).encode())
        assert code in {o.code for o in out if isinstance(o, ParseWarning)}, code
    listing = _outputs("http://h/2/users/1/tweets", json.dumps({"data": "oops"}).encode())
    assert [o.code for o in listing] == ["x.bad_field_type"]
    assert [o.code for o in _outputs("http://h/2/users/1/tweets", b"{not json")] == ["x.malformed_json"]
    # A superseded version looked up by id shows no item: the chain's latest one carries it.
    old = {**_TWEET, "edit_history_tweet_ids": [_TWEET["id"], "1631682421757181999"]}
    assert _outputs("http://h/2/tweets/1631682421757181953", json.dumps({"data": old}).encode()) == []


def test_changed_field_types_in_live_answers_give_a_clear_account_status(harness: Harness) -> None:
    def text_as_number(path: str, body: dict[str, Any]) -> dict[str, Any]:
        for tweet in body.get("data", []) if isinstance(body.get("data"), list) else []:
            tweet["text"] = 42
        return body

    harness.sandbox.sandbox.mutate = text_as_number  # type: ignore[attr-defined]
    report = harness.poll()
    assert report.status == "complete" and report.warnings > 0

    harness.sandbox.sandbox.mutate = lambda path, body: (  # type: ignore[attr-defined]
        {"data": [body["data"]]} if path.startswith("/2/users/") and path.count("/") == 3 else body)
    report = harness.poll()
    assert report.status == "partial" and isinstance(report.error, UnexpectedResponse)
    row = _account(harness)
    assert row.status == "error" and "user lookup" in row.status_message


# --- helpers ---------------------------------------------------------------------------------

class _direct:
    """A CaptureSession writing to a scratch WARC, for calls outside a poll."""

    def __init__(self, base_url: str, token: str, home: Path) -> None:
        self.session = scratch_session(home, "x", auth_style=XConnector.auth_style, token=token,
                                       backoff_base=0.01)
        self.rolling = self.session.warc

    def __enter__(self) -> CaptureSession:
        return self.session

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.rolling.seal_all()


def _exchange(status: int, body: Any, now: datetime, headers: list[tuple[str, str]] | None = None) -> CapturedExchange:
    return CapturedExchange("https://api.x.com/2/users/1/tweets", "GET", status,
                            (("content-type", "application/json"), *(headers or [])),
                            json.dumps(body).encode(), now)


def _record(h: Harness, record_id: str) -> Any:
    for path in h.warc_files():
        with open(path, "rb") as fh:
            for record in iter_records(fh, path.name):
                if record.pointer.record_id == record_id:
                    return record
    raise AssertionError(f"no record {record_id}")


def test_connector_settings_choose_page_size_and_base() -> None:
    connector = XConnector(ConnectorSettings(api_base="http://127.0.0.1:9", api_version="2", page_limit=3))
    assert connector._base(AccountRef("x", "a")) == "http://127.0.0.1:9/2"
    assert connector._base(AccountRef("x", "a", api_base="http://127.0.0.1:8/")) == "http://127.0.0.1:8/2"

@settings(max_examples=60, deadline=None)
@given(tweets=st.lists(st.tuples(st.integers(10**15, 10**19), st.text(max_size=60)), max_size=6,
                       unique_by=lambda t: t[0]))
def test_valid_timeline_yields_one_item_per_post_and_no_warning(tweets: list[tuple[int, str]]) -> None:
    data = [{**_TWEET, "id": str(n), "text": text, "edit_history_tweet_ids": [str(n)], "conversation_id": str(n),
             "referenced_tweets": []} for n, text in tweets]
    out = _outputs("http://h/2/users/1/tweets", json.dumps({"data": data}).encode())
    assert len([o for o in out if isinstance(o, Item)]) == len(tweets)
    assert not [w for w in out if isinstance(w, ParseWarning)]


def test_a_refused_reply_since_id_falls_back_to_the_whole_search_window_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Recent search refuses a since_id older than its seven days (an account polled again
    after a long pause): the `to:` search is asked again without it, once, with a warning."""
    import logging

    contract = _contract(harness)
    harness.poll()
    stale = contract.sandbox.new_id(datetime.now(UTC) - timedelta(days=9))
    with harness.app.catalog.session() as s:
        row = s.get(t.Account, harness.account.id)
        assert row is not None
        row.cursor = {**row.cursor, "reply_newest": stale}
    old = contract.publish_old(harness.seed.account_id, 200)
    harness.poll()  # the back-dated post and its old reply, by the tweet_count walk
    with harness.app.catalog.session() as s:
        row = s.get(t.Account, harness.account.id)
        assert row is not None
        row.cursor = {**row.cursor, "reply_newest": stale}
    reply = contract.comment_on(old)
    mark = len(harness.server.requests)
    with caplog.at_level(logging.WARNING, logger="connectors.x.connector"):
        report = harness.poll()
    assert report.status == "complete" and report.plan.startswith("incremental")
    assert reply in harness.items() and harness.items()[reply].parent_id == old
    asked = [r.query.get("since_id") for r in harness.server.requests[mark:]
             if r.query.get("query", "").startswith("to:")]
    assert asked == [stale, None]
    assert any("refused since_id" in r.getMessage() for r in caplog.records)
    assert int(_account(harness).cursor["reply_newest"]) >= int(reply)
    mark = len(harness.server.requests)
    harness.poll()  # once: the next cycle asks from the reply it saw
    asked = [r.query.get("since_id") for r in harness.server.requests[mark:]
             if r.query.get("query", "").startswith("to:")]
    assert asked == [_account(harness).cursor["reply_newest"]]


def test_the_sweep_looks_old_posts_up_in_batches_and_follows_edit_chains(tmp_path: Path) -> None:
    """Swept posts are looked up 100 ids a call; an edited post's first id answers with its old
    version, so its current id is asked for in turn; a deleted post is left out and reported
    Checked, so the capture asks confirm_gone about it."""
    from archiver.core.models import Checked
    from archiver.core.plan import HarvestPlan, KnownItem

    sb = XSandbox(tokens={"sweep-token"})
    sb.add_user("42", "Sweepy", "Sweepy District")
    start = datetime.now(UTC) - timedelta(days=400)
    posts = [sb.post("42", f"post {n}", at=start + timedelta(days=n)) for n in range(150)]
    edited, deleted = posts[3], posts[120]
    latest = sb.edit(edited, "post 3, corrected", at=start + timedelta(days=3, minutes=5))
    sb.delete(deleted)
    known = {p: KnownItem(p, "post", None, "x", "r", start) for p in posts}
    newest = max((c.current.id for c in sb.live("42")), key=int)
    count = len(sb.live("42"))
    cursor = {"user_id": "42", "username": "sweepy", "newest_id": newest, "tweet_count": count}
    plan = HarvestPlan(full=False, reason="incremental", known=known, sweep=frozenset(posts))
    with SandboxServer(sb) as server, _direct(server.url, "sweep-token", tmp_path) as http:
        ref = AccountRef("x", "sweepy", api_base=server.url)
        events = list(XConnector().harvest(ref, cursor, http, plan=plan))
        lookups = [r.query["ids"].split(",") for r in server.requests if r.path == "/2/tweets"]
    assert [len(batch) for batch in lookups] == [100, 1, 50] and lookups[1] == [latest]
    checked = {i for e in events if isinstance(e, Checked) for i in e.item_ids}
    seen = {e.item.item_id: e.item for e in events if isinstance(e, Observed)}
    assert checked == set(posts) and deleted not in seen
    assert seen[edited].content["versions"] == [edited, latest]
    assert not [e for e in events if isinstance(e, Covered)]  # nothing listed whole this cycle
