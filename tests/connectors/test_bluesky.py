"""Bluesky specifics against the sandbox over real HTTP: cid changes as edits, notFoundPost and
the XRPC NotFound error as deletion evidence, epoch rate-limit resets, deep threads, identifier
forms, and parse robustness."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.capture.session import CaptureSession
from archiver.core.clock import ManualClock
from archiver.core.errors import ConfigError, NeedsAttention, TryLater, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checkpoint,
    Covered,
    Gone,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
    Present,
)
from archiver.core.settings import ConnectorSettings
from archiver.sandbox.server import SandboxServer
from connectors.base import AuthStyle
from connectors.bluesky import BlueskyConnector
from connectors.bluesky.connector import THREAD_DEPTH
from connectors.bluesky.sandbox import NOT_FOUND, BlueskyContract, BlueskySandbox
from tests.harness import Harness, SwitchApp, scratch_session, switch_server

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HANDLE = "lincolnhs.bsky.social"
PLC = "did:plc:z72i7hdynmk6r22z27h6tvur"


# --- identifiers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("lincolnhs.bsky.social", HANDLE),
    ("@LincolnHS.bsky.social", HANDLE),
    ("https://bsky.app/profile/lincolnhs.bsky.social", HANDLE),
    ("bsky.app/profile/lincolnhs.bsky.social/", HANDLE),
    (PLC, PLC),
    ("DID:PLC:Z72I7HDYNMK6R22Z27H6TVUR", PLC),
    (f"https://bsky.app/profile/{PLC}", PLC),
    ("did:web:lincoln.k12.example", "did:web:lincoln.k12.example"),
    ("bsky.app", "bsky.app"),
    ("lincolnhigh.org", "lincolnhigh.org"),
])
def test_identifier_forms_are_normalised(raw: str, expected: str) -> None:
    assert BlueskyConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "lincolnhs", "did:plc:short", "did:key:z6Mk", "@@",
    "https://bsky.app/profile/lincolnhs.bsky.social/post/3l6oveex3ii2l",
    "https://example.com/about", "lincoln hs.bsky.social",
])
def test_bad_identifiers_raise_one_helpful_line(raw: str) -> None:
    with pytest.raises(ConfigError) as err:
        BlueskyConnector().normalize_account_id(raw)
    assert "bsky.app/profile" in err.value.message and "\n" not in err.value.message


# --- direct sessions on one shared server --------------------------------------------------

@pytest.fixture(scope="module")
def shared_server() -> Iterator[tuple[SwitchApp, SandboxServer]]:
    with switch_server() as pair:
        yield pair


@pytest.fixture
def network(shared_server) -> tuple[BlueskyContract, SandboxServer]:  # type: ignore[no-untyped-def]
    switch, server = shared_server
    contract = BlueskyContract()
    contract.sandbox.now = lambda: T0
    switch.target = contract.sandbox
    server.requests.clear()
    contract.bind(server.url)
    contract.seed_account()
    return contract, server


def _session(tmp_path: Path, token: str | None) -> CaptureSession:
    return scratch_session(tmp_path, "bluesky", auth_style=AuthStyle.BEARER, token=token,
                           clock=ManualClock(T0), account=HANDLE, max_retries=4)


def _ref(server: SandboxServer) -> AccountRef:
    return AccountRef("bluesky", HANDLE, api_base=server.url)


def test_429_reset_is_epoch_seconds(tmp_path: Path, network) -> None:  # type: ignore[no-untyped-def]
    contract, server = network
    contract.sandbox.throttle_next = 1
    with pytest.raises(TryLater) as err:
        list(BlueskyConnector().harvest(_ref(server), None, _session(tmp_path, contract.token)))
    assert err.value.retry_at == T0 + timedelta(seconds=1)


def test_exhausted_window_pauses_before_the_next_call(tmp_path: Path, network) -> None:  # type: ignore[no-untyped-def]
    contract, server = network
    contract.sandbox.exhaust_next = 1
    connector = BlueskyConnector(ConnectorSettings(min_retry_seconds=0.05))
    with pytest.raises(TryLater) as err:
        list(connector.harvest(_ref(server), None, _session(tmp_path, contract.token)))
    assert err.value.retry_at == T0 + timedelta(seconds=1) and len(server.requests) == 1


@pytest.mark.parametrize(("token_state", "name"), [("expired", "ExpiredToken"), ("unknown", "InvalidToken")])
def test_bad_tokens_need_attention(tmp_path: Path, network, token_state: str, name: str) -> None:  # type: ignore[no-untyped-def]
    contract, server = network
    token = contract.token if token_state == "expired" else "eyJ-some-other-jwt"
    contract.sandbox.expired.add(contract.token)
    with pytest.raises(NeedsAttention) as err:
        list(BlueskyConnector().harvest(_ref(server), None, _session(tmp_path, token)))
    assert name in err.value.message and token not in err.value.message
    assert "public AppView" in err.value.message


def test_public_appview_needs_no_token_and_handle_is_resolved_once(tmp_path: Path, network) -> None:  # type: ignore[no-untyped-def]
    contract, server = network
    events = list(BlueskyConnector().harvest(_ref(server), None, _session(tmp_path, None)))
    observed = {e.item.item_id for e in events if isinstance(e, Observed)}
    assert observed == contract.live_item_ids(HANDLE)
    assert not any("app.bsky.feed.repost" in i for i in observed)  # reposts are not the account's items
    cursor = next(e.cursor for e in events if isinstance(e, Checkpoint))
    assert cursor["did"] == contract.handles[HANDLE] and len(cursor["threads"]) == 3
    server.requests.clear()
    list(BlueskyConnector().harvest(_ref(server), cursor, _session(tmp_path, None)))
    assert not any(r.path.endswith("resolveHandle") for r in server.requests)


def test_unknown_handle_is_account_gone(tmp_path: Path, network) -> None:  # type: ignore[no-untyped-def]
    _, server = network
    from archiver.core.errors import AccountGone

    with pytest.raises(AccountGone, match="cannot be found"):
        list(BlueskyConnector().harvest(AccountRef("bluesky", "nobody.bsky.social", api_base=server.url), None,
                                        _session(tmp_path, None)))


def test_thread_cut_at_the_depth_limit_is_continued(tmp_path: Path, network) -> None:  # type: ignore[no-untyped-def]
    contract, server = network
    sb = contract.sandbox
    school, fan = contract.handles[HANDLE], sb.add_actor("fan.bsky.social", "Fan")
    parent = root = sb.post(school, "Long debate thread", at=T0 - timedelta(hours=30))
    chain = []
    for n in range(THREAD_DEPTH + 4):
        parent = sb.post(fan if n % 2 == 0 else school, f"level {n + 1}", reply_to=parent,
                         at=T0 - timedelta(hours=29 - n))
        chain.append(parent)
    events = list(BlueskyConnector().harvest(_ref(server), None, _session(tmp_path, None)))
    observed = {e.item.item_id for e in events if isinstance(e, Observed)}
    assert set(chain) <= observed
    covered = {e.parent_id for e in events if isinstance(e, Covered)}
    assert root in covered and chain[THREAD_DEPTH - 1] in covered  # the cut node's own thread


def test_anchor_answered_as_notfoundpost_is_gone(tmp_path: Path, network) -> None:  # type: ignore[no-untyped-def]
    contract, server = network
    uri = sorted(contract.live_item_ids(HANDLE))[0]
    contract.sandbox.delete(uri)
    contract.sandbox.anchor_tombstones = True
    verdict = BlueskyConnector().confirm_gone(_ref(server), uri, _session(tmp_path, None))
    assert isinstance(verdict, Gone) and "notFoundPost" in verdict.detail and verdict.evidence is not None
    contract.sandbox.anchor_tombstones = False
    verdict = BlueskyConnector().confirm_gone(_ref(server), uri, _session(tmp_path, None))
    assert isinstance(verdict, Gone) and verdict.status == 400 and "NotFound" in verdict.detail
    alive = sorted(contract.live_item_ids(HANDLE))[1]
    assert isinstance(BlueskyConnector().confirm_gone(_ref(server), alive, _session(tmp_path, None)), Present)


# --- full cycles through the poller --------------------------------------------------------

@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, "bluesky")
    yield h
    h.close()


def test_cid_change_is_an_edit_even_when_the_text_is_the_same(harness: Harness) -> None:
    sb: BlueskySandbox = harness.sandbox.sandbox  # type: ignore[attr-defined]
    assert harness.poll().media == 1  # the image's fullsize file from the CDN
    uri = sorted(u for u, p in sb.posts.items() if p.author == harness.sandbox.handles[HANDLE]  # type: ignore[attr-defined]
                 and p.repost_of is None)[3]
    sb.overrides[uri] = lambda view: {**view, "cid": "bafyreirewrittenrecordxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
    report = harness.poll()
    assert report.edited == 1
    versions = harness.items()[uri].versions
    assert [v.content["text"] for v in versions] == [versions[0].content["text"]] * 2
    assert versions[0].content["cid"] != versions[1].content["cid"]

    sb.rewrite(uri, "Rewritten announcement text")
    report = harness.poll()
    assert report.edited == 1 and harness.items()[uri].versions[2].text == "Rewritten announcement text"


def test_deleted_reply_shown_as_notfoundpost_is_tombstoned_and_its_replies_are_kept(harness: Harness) -> None:
    sb: BlueskySandbox = harness.sandbox.sandbox  # type: ignore[attr-defined]
    harness.poll()
    victim = next(p for p in sb.posts.values() if p.text == "Great news! (1)")
    children = [p.uri for p in sb.children(victim.uri)]
    sb.delete(victim.uri)
    report = harness.poll()
    assert report.deleted == 1
    items = harness.items()
    assert items[victim.uri].tombstone is not None
    assert all(items[c].tombstone is None for c in children)  # they still exist: confirm_gone says Present
    plain = b"".join(gzip.decompress(p.read_bytes()) for p in harness.warc_files())
    assert NOT_FOUND.encode() in plain and b"Post not found: " + victim.uri.encode() in plain


def test_field_type_change_is_a_warning_and_a_broken_feed_a_clear_status(harness: Harness) -> None:
    from archiver.catalog import tables as t

    sb: BlueskySandbox = harness.sandbox.sandbox  # type: ignore[attr-defined]
    victim = sorted(harness.sandbox.live_item_ids(HANDLE))[2]
    sb.overrides[victim] = lambda view: {**view, "record": {**view["record"], "text": ["not", "a", "string"]}}
    report = harness.poll()
    assert report.status == "complete" and report.warnings >= 1 and victim not in harness.items()
    with harness.app.catalog.session() as s:
        assert "bluesky.bad_field_type" in {w.code for w in s.query(t.CaptureWarning).all()}
    sb.malformed_next = 1
    report = harness.poll()
    assert isinstance(report.error, UnexpectedResponse) and report.deleted == 0
    with harness.app.catalog.session() as s:
        account = s.get(t.Account, harness.account.id)
        assert account.status == "error" and "not a JSON object" in account.status_message


# --- parse is pure and total ---------------------------------------------------------------

ACCOUNT = AccountRef("bluesky", HANDLE)
URLS = [
    "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed?actor=did%3Aplc%3Ax&limit=25",
    "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread?uri=at%3A%2F%2Fx&depth=10&parentHeight=0",
]
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)


def _sample_view() -> dict:
    sb = BlueskySandbox(now=lambda: T0)
    sb.base_url = "https://cdn.bsky.app"
    did = sb.add_actor(HANDLE, "Lincoln High")
    return sb.post_view(sb.posts[sb.post(did, "Hello", image=True)])


def _check(exchange: CapturedExchange) -> list[Item | ParseWarning]:
    out = list(BlueskyConnector().parse(ACCOUNT, exchange))  # the raw parser: nothing catches
    assert all(isinstance(x, Item | ParseWarning) for x in out)
    assert not [o for o in out if isinstance(o, ParseWarning) and o.code.endswith(".parser_error")]
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.sampled_from(URLS), body=_json)
def test_parse_never_raises_on_arbitrary_json(url: str, body: object) -> None:
    _check(CapturedExchange(url, "GET", 200, (), json.dumps(body).encode(), T0))


@settings(max_examples=100, deadline=None)
@given(url=st.sampled_from(URLS), key=st.sampled_from(sorted(_sample_view())), value=_json,
       record_key=st.sampled_from(["text", "createdAt", "embed", "reply", "facets", "langs"]))
def test_parse_never_raises_on_a_mutated_post(url: str, key: str, value: object, record_key: str) -> None:
    view = {**_sample_view(), key: value}
    if isinstance(view.get("record"), dict):
        view["record"] = {**view["record"], record_key: value}
    body = {"feed": [{"post": view}]} if "AuthorFeed" in url else {"thread": {"post": view, "replies": [
        {"$type": "app.bsky.feed.defs#threadViewPost", "post": view, "replies": value}]}}
    _check(CapturedExchange(url, "GET", 200, (), json.dumps(body).encode(), T0))


@given(body=st.binary(max_size=200))
def test_parse_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    _check(CapturedExchange(URLS[0], "GET", 200, (), body, T0))


def test_feed_and_thread_parse_a_post_identically_and_probes_parse_to_nothing() -> None:
    view = _sample_view()
    listed = _check(CapturedExchange(URLS[0], "GET", 200, (), json.dumps({"feed": [{"post": view}]}).encode(), T0))
    threaded = _check(CapturedExchange(URLS[1], "GET", 200, (), json.dumps({"thread": {"post": view}}).encode(), T0))
    assert listed == threaded and len(listed) == 1
    item = listed[0]
    assert isinstance(item, Item) and item.kind is ItemKind.POST
    assert item.media and item.media[0].media_id == view["record"]["embed"]["images"][0]["image"]["ref"]["$link"]
    assert "likeCount" not in json.dumps(item.content) and "indexedAt" not in json.dumps(item.content)
    probe = URLS[1].replace("depth=10", "depth=0")
    assert _check(CapturedExchange(probe, "GET", 200, (), json.dumps({"thread": {"post": view}}).encode(), T0)) == []

@settings(max_examples=60, deadline=None)
@given(posts=st.lists(st.tuples(st.from_regex(r"\A[a-z2-7]{13}\Z"), st.text(max_size=60)), max_size=6,
                      unique_by=lambda p: p[0]))
def test_valid_feed_yields_one_item_per_post_and_no_warning(posts: list[tuple[str, str]]) -> None:
    view = _sample_view()
    did = view["author"]["did"]
    feed = [{"post": {**view, "uri": f"at://{did}/app.bsky.feed.post/{rkey}", "record": {**view["record"], "text": text}}}
            for rkey, text in posts]
    out = _check(CapturedExchange(URLS[0], "GET", 200, (), json.dumps({"feed": feed}).encode(), T0))
    assert len([i for i in out if isinstance(i, Item)]) == len(posts)
    assert not [w for w in out if isinstance(w, ParseWarning)]


# --- handle + app password: createSession, refreshSession, nothing in a WARC ---------------------

APP_PASSWORD = "k3zq-7wmp-x2rt-9vhn"


def test_app_password_logs_in_refreshes_and_stays_out_of_warcs(tmp_path: Path) -> None:
    h = Harness(tmp_path, "bluesky")
    try:
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        sb.app_passwords[HANDLE] = APP_PASSWORD
        token = tmp_path / "bsky-app-password.txt"
        token.write_text(f"{HANDLE}:{APP_PASSWORD}\n")
        token.chmod(0o600)
        from archiver.services.accounts import register_account

        register_account(h.app, "bluesky", HANDLE, api_base=h.server.url, token_file=str(token), replace=True)
        h.server.requests.clear()
        assert h.poll().status == "complete"
        paths = [r.path for r in h.server.requests]
        assert paths.count("/xrpc/com.atproto.server.createSession") == 1
        reads = [r.header("authorization") for r in h.server.requests if "app.bsky" in r.path]
        assert reads and all(a.startswith("Bearer sbx-access-") for a in reads)
        served = h.server.app

        def expire_mid_cycle(req):  # type: ignore[no-untyped-def]
            # Two hours pass during the cycle: after the second read the access JWT expires.
            if sum(1 for r in h.server.requests if "app.bsky" in r.path) == 2:
                sb.expired.update(sb.tokens)
            return served(req)

        h.server.app = expire_mid_cycle
        h.server.requests.clear()
        assert h.poll().status == "complete"
        paths = [r.path for r in h.server.requests]
        assert paths.count("/xrpc/com.atproto.server.refreshSession") == 1
        assert paths.count("/xrpc/com.atproto.server.createSession") == 1
        h.server.app = served
        secrets = [APP_PASSWORD, *sb.tokens, *sb.refresh_tokens]
        for path in h.warc_files():
            with gzip.open(path, "rb") as fh:
                data = fh.read()
            assert not [s for s in secrets if s.encode() in data]
        token.write_text(f"{HANDLE}:wrong-pass-word-0000")
        h.poll()
        with h.app.catalog.session() as s:
            from archiver.catalog import tables as t

            account = s.query(t.Account).filter_by(platform="bluesky").one()
            assert account.status == "needs-attention" and "app password" in account.status_message
            assert "wrong-pass" not in account.status_message
    finally:
        h.close()
