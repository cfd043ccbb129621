"""Mastodon specifics against the sandbox over real HTTP: ISO 8601 rate-limit resets, edit
history capture, reply threads, identifier forms, and parse robustness."""

from __future__ import annotations

import gzip
import html
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
    Covered,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
)
from archiver.core.settings import ConnectorSettings
from archiver.sandbox.server import SandboxServer
from archiver.warc.rolling import RollingWarc
from connectors.base import AuthStyle
from connectors.mastodon import MastodonConnector
from connectors.mastodon.errors import reset_time
from connectors.mastodon.sandbox import MastodonContract, MastodonSandbox
from tests.harness import Harness, SwitchApp, scratch_session, switch_server

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HANDLE = "@lincolnhigh@k12.social"


# --- identifiers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("@LincolnHigh@K12.social", HANDLE),
    ("lincolnhigh@k12.social", HANDLE),
    ("  https://k12.social/@lincolnhigh  ", HANDLE),
    ("k12.social/@lincolnhigh/", HANDLE),
    ("https://k12.social/users/lincolnhigh", HANDLE),
    ("https://mastodon.social/@lincolnhigh@k12.social", HANDLE),
    ("109876543210", "109876543210"),
    ("https://k12.social/web/accounts/4242", "4242"),
])
def test_identifier_forms_are_normalised(raw: str, expected: str) -> None:
    assert MastodonConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize(("raw", "hint"), [
    ("@lincolnhigh", "no instance"),
    ("lincolnhigh", "no instance"),
    ("", "not a Mastodon account"),
    ("https://k12.social/about", "not a Mastodon account"),
    ("@lincoln high@k12.social", "not a Mastodon account"),
    ("@user@nodot", "not a Mastodon account"),
])
def test_bad_identifiers_raise_one_helpful_line(raw: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        MastodonConnector().normalize_account_id(raw)
    assert hint in err.value.message and "\n" not in err.value.message
    assert "@user@instance" in err.value.message


def test_numeric_id_without_api_base_asks_for_the_instance(tmp_path: Path) -> None:
    session, _ = _session(tmp_path, "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="api_base"):
        list(MastodonConnector().harvest(AccountRef("mastodon", "4242"), None, session))


# --- direct sessions -----------------------------------------------------------------------

def _session(tmp_path: Path, url: str, token: str | None = None) -> tuple[CaptureSession, RollingWarc]:
    session = scratch_session(tmp_path, "mastodon", auth_style=AuthStyle.BEARER, token=token,
                              clock=ManualClock(T0), account=HANDLE, max_retries=4)
    return session, session.warc


@pytest.fixture(scope="module")
def shared_server() -> Iterator[tuple[SwitchApp, SandboxServer]]:
    with switch_server() as pair:
        yield pair


@pytest.fixture
def instance(shared_server) -> tuple[MastodonContract, SandboxServer]:  # type: ignore[no-untyped-def]
    switch, server = shared_server
    contract = MastodonContract()
    contract.sandbox.now = lambda: T0
    switch.target = contract.sandbox
    server.requests.clear()
    contract.bind(server.url)
    contract.seed_account()
    return contract, server


def _ref(server: SandboxServer) -> AccountRef:
    return AccountRef("mastodon", HANDLE, api_base=server.url)


def test_429_reset_is_read_as_an_iso_timestamp(tmp_path: Path, instance) -> None:  # type: ignore[no-untyped-def]
    contract, server = instance
    contract.sandbox.throttle_next = 1
    session, _ = _session(tmp_path, server.url, contract.token)
    with pytest.raises(TryLater) as err:
        list(MastodonConnector().harvest(_ref(server), None, session))
    assert err.value.retry_at == T0 + timedelta(milliseconds=400)  # X-RateLimit-Reset: ...15:00:00.400000Z
    assert err.value.evidence is not None


def test_exhausted_window_pauses_before_the_next_call_until_the_iso_reset(tmp_path: Path, instance) -> None:  # type: ignore[no-untyped-def]
    contract, server = instance
    contract.sandbox.exhaust_next = 1  # the account lookup answers 200 with X-RateLimit-Remaining: 0
    session, _ = _session(tmp_path, server.url, contract.token)
    connector = MastodonConnector(ConnectorSettings(min_retry_seconds=0.05))
    with pytest.raises(TryLater) as err:
        list(connector.harvest(_ref(server), None, session))
    assert err.value.retry_at == T0 + timedelta(milliseconds=300)
    assert "rate limit" in err.value.message and "\n" not in err.value.message
    assert len(server.requests) == 1  # it stopped instead of spending a request it did not have

    contract.sandbox.exhaust_next = 1
    slow = MastodonConnector(ConnectorSettings(min_retry_seconds=90))
    with pytest.raises(TryLater) as err:
        list(slow.harvest(_ref(server), None, session))
    assert err.value.retry_at == T0 + timedelta(seconds=90)  # the configured floor wins


def test_reset_header_forms() -> None:
    def exchange(value: str) -> CapturedExchange:
        return CapturedExchange("u", "GET", 429, (("X-RateLimit-Reset", value),), b"", T0)

    assert reset_time(exchange("2026-08-01T15:00:00.130933Z")) == datetime(2026, 8, 1, 15, 0, 0, 130933, tzinfo=UTC)
    assert reset_time(exchange("2026-08-01T15:00:00+02:00")) == datetime(2026, 8, 1, 13, 0, tzinfo=UTC)
    assert reset_time(exchange("1767225600")) is None  # not Mastodon's format: fall back to a safe wait
    assert reset_time(exchange("soon")) is None


def test_unauthenticated_large_thread_is_not_claimed_complete(tmp_path: Path, instance) -> None:  # type: ignore[no-untyped-def]
    contract, server = instance
    sb = contract.sandbox
    school = contract.handles[HANDLE]
    fan = sb.add_account("fan", "Fan")
    big = sb.post(school, "Prom tickets are on sale", at=T0 - timedelta(hours=5))
    for n in range(61):
        sb.post(fan, f"reply {n}", reply_to=big, at=T0 - timedelta(hours=4, minutes=-n))
    sb.async_refresh.add(sb.post(school, "Async thread", at=T0 - timedelta(hours=3)))
    sb.post(fan, "remote-ish reply", reply_to=next(iter(sb.async_refresh)), at=T0 - timedelta(hours=2))
    session, _ = _session(tmp_path, server.url, None)  # no token: the 60-descendant cap applies
    events = list(MastodonConnector().harvest(_ref(server), None, session))
    covered = {e.parent_id for e in events if isinstance(e, Covered)}
    assert f"k12.social/{big}" not in covered
    assert f"k12.social/{next(iter(sb.async_refresh))}" not in covered
    assert None in covered and len(covered) > 3


# --- full cycles through the poller --------------------------------------------------------

@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, "mastodon")
    yield h
    h.close()


def _warc_text(h: Harness) -> str:
    return b"".join(gzip.decompress(p.read_bytes()) for p in h.warc_files()).decode("utf-8", "replace")


def _history_requests(h: Harness) -> list[str]:
    return [r.path for r in h.server.requests if r.path.endswith("/history")]


def test_edit_history_is_captured_when_edited_at_moves(harness: Harness) -> None:
    sb = harness.sandbox.sandbox  # type: ignore[attr-defined]
    report = harness.poll()
    assert report.status == "complete" and report.media == 1  # the image's original file
    pre_edited = [s for s in sb.statuses.values() if s.edited]
    assert len(_history_requests(harness)) == len(pre_edited) == 1  # history from before we started
    assert "CORRECTED bus schedule" in _warc_text(harness)

    school = harness.sandbox.handles[HANDLE]  # type: ignore[attr-defined]
    target = sorted(s.id for s in sb.statuses.values() if s.account_id == school and not s.edited)[0]
    old_text = sb.statuses[target].text
    sb.edit(target, "Updated: the game moved to Saturday.")
    harness.server.requests.clear()
    report = harness.poll()
    assert report.edited == 1
    assert _history_requests(harness) == [f"/api/v1/statuses/{target}/history"]
    history = _last_history_body(harness, target)
    assert [e["content"] for e in history] == [f"<p>{old_text}</p>", "<p>Updated: the game moved to Saturday.</p>"]
    item = harness.items()[f"k12.social/{target}"]
    assert len(item.versions) == 2 and "Saturday" in item.versions[1].text

    harness.server.requests.clear()
    assert harness.poll().edited == 0
    assert _history_requests(harness) == []  # the cursor remembers edited_at


def _last_history_body(h: Harness, status_id: str) -> list[dict]:
    from archiver.warc.reader import iter_records

    found: list[dict] = []
    for path in h.warc_files():
        with open(path, "rb") as fh:
            for record in iter_records(fh, path.name):
                if record.rec_type == "response" and record.target_uri.endswith(f"/statuses/{status_id}/history"):
                    found = json.loads(record.body)
    return found


def test_replies_are_threaded_and_a_deleted_reply_leaves_its_orphan_alive(harness: Harness) -> None:
    sb = harness.sandbox.sandbox  # type: ignore[attr-defined]
    harness.poll()
    items = harness.items()
    replies = {k: v for k, v in items.items() if v.kind == "reply"}
    assert replies and all(v.parent_id for v in replies.values())
    school_reply = [k for k, v in items.items() if v.kind == "post" and "calendar" in v.versions[0].text]
    assert school_reply, "the account's own reply in a thread is one of its posts"
    victim = next(s for s in sb.statuses.values() if "Great news! (0)" in s.text)
    orphan = next(s for s in sb.statuses.values() if s.in_reply_to_id == victim.id and "Agreed" in s.text)
    sb.delete(victim.id)
    report = harness.poll()
    assert report.deleted == 1
    after = harness.items()
    assert after[f"k12.social/{victim.id}"].tombstone is not None
    assert after[f"k12.social/{orphan.id}"].tombstone is None  # Mastodon keeps orphaned replies


def test_revoked_token_needs_attention_with_an_actionable_message(tmp_path: Path, instance) -> None:  # type: ignore[no-untyped-def]
    contract, server = instance
    contract.expire_token(contract.token)
    session, _ = _session(tmp_path, server.url, contract.token)
    with pytest.raises(NeedsAttention) as err:
        list(MastodonConnector().harvest(_ref(server), None, session))
    assert "read:statuses" in err.value.message and contract.token not in err.value.message
    assert err.value.detail == "The access token is invalid"


def test_instance_that_requires_a_token_says_so(tmp_path: Path, instance) -> None:  # type: ignore[no-untyped-def]
    contract, server = instance
    contract.sandbox.require_token = True
    session, _ = _session(tmp_path, server.url, None)
    with pytest.raises(NeedsAttention, match="only answers API reads with a token"):
        list(MastodonConnector().harvest(_ref(server), None, session))


def test_field_type_change_is_a_warning_and_a_broken_listing_a_clear_status(harness: Harness) -> None:
    from archiver.catalog import tables as t

    sb = harness.sandbox.sandbox  # type: ignore[attr-defined]
    victim = sorted(sb.statuses)[5]
    sb.overrides[victim] = lambda data: {**data, "content": {"html": data["content"]}}
    report = harness.poll()
    assert report.status == "complete" and report.warnings >= 1
    assert f"k12.social/{victim}" not in harness.items()
    with harness.app.catalog.session() as s:
        assert "mastodon.bad_field_type" in {w.code for w in s.query(t.CaptureWarning).all()}

    sb.malformed_next = 1
    report = harness.poll()
    assert isinstance(report.error, UnexpectedResponse) and report.deleted == 0
    with harness.app.catalog.session() as s:
        account = s.get(t.Account, harness.account.id)
        assert account.status == "error" and "not JSON" in account.status_message


# --- parse is pure and total ---------------------------------------------------------------

ACCOUNT = AccountRef("mastodon", HANDLE, api_base="https://k12.social")
URLS = [
    "https://k12.social/api/v1/accounts/100002/statuses?limit=25",
    "https://k12.social/api/v1/statuses/1234/context",
    "https://k12.social/api/v1/statuses/1234",
]
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)


def _sample_status() -> dict:
    sb = MastodonSandbox(now=lambda: T0)
    sb.base_url = "https://k12.social"
    account = sb.add_account("lincolnhigh", "Lincoln High")
    return sb.status_json(sb.statuses[sb.post(account, "Hello", image=True)])


def _check(exchange: CapturedExchange) -> list[Item | ParseWarning]:
    out = list(MastodonConnector().parse(ACCOUNT, exchange))  # the raw parser: nothing catches
    assert all(isinstance(x, Item | ParseWarning) for x in out)
    assert not [o for o in out if isinstance(o, ParseWarning) and o.code.endswith(".parser_error")]
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.sampled_from(URLS), body=_json)
def test_parse_never_raises_on_arbitrary_json(url: str, body: object) -> None:
    _check(CapturedExchange(url, "GET", 200, (), json.dumps(body).encode(), T0))


@settings(max_examples=100, deadline=None)
@given(url=st.sampled_from(URLS), key=st.sampled_from(sorted(_sample_status())), value=_json)
def test_parse_never_raises_on_a_mutated_status(url: str, key: str, value: object) -> None:
    status = {**_sample_status(), key: value}
    body = {"ancestors": [], "descendants": [status]} if "context" in url else [status] if "accounts" in url else status
    _check(CapturedExchange(url, "GET", 200, (), json.dumps(body).encode(), T0))


@given(body=st.binary(max_size=200))
def test_parse_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    _check(CapturedExchange(URLS[0], "GET", 200, (), body, T0))


def test_parse_is_the_same_for_a_status_in_the_listing_and_in_a_thread() -> None:
    status = _sample_status()
    listed = _check(CapturedExchange(URLS[0], "GET", 200, (), json.dumps([status]).encode(), T0))
    threaded = _check(CapturedExchange(URLS[1], "GET", 200, (),
                                       json.dumps({"ancestors": [], "descendants": [status]}).encode(), T0))
    assert [i for i in listed if isinstance(i, Item)] == [i for i in threaded if isinstance(i, Item)]
    item = listed[0]
    assert isinstance(item, Item) and item.kind is ItemKind.POST and item.media
    assert "favourites_count" not in json.dumps(item.content) and "edited_at" not in item.content


def test_harvest_yields_observed_items_for_every_status(tmp_path: Path, instance) -> None:  # type: ignore[no-untyped-def]
    contract, server = instance
    session, _ = _session(tmp_path, server.url, contract.token)
    events = list(MastodonConnector().harvest(_ref(server), None, session))
    observed = {e.item.item_id for e in events if isinstance(e, Observed)}
    assert observed == contract.live_item_ids(HANDLE)

@settings(max_examples=60, deadline=None)
@given(statuses=st.lists(st.tuples(st.integers(1, 10**18), st.text(max_size=60)), max_size=6,
                         unique_by=lambda s: s[0]))
def test_valid_statuses_yield_one_item_each_and_no_warning(statuses: list[tuple[int, str]]) -> None:
    sample = _sample_status()
    body = [{**sample, "id": str(n), "content": f"<p>{html.escape(text)}</p>"} for n, text in statuses]
    out = _check(CapturedExchange(URLS[0], "GET", 200, (), json.dumps(body).encode(), T0))
    assert len([i for i in out if isinstance(i, Item)]) == len(statuses)
    assert not [w for w in out if isinstance(w, ParseWarning)]
