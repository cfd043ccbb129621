"""One JSON decode per page (issue 13): what a harvest decoded is handed to its parser only for
the very same body object, never for another body; Bluesky's not-found check reads no 200 body."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import connectors.base as base
from archiver.core.clock import ManualClock
from archiver.core.models import AccountRef, CapturedExchange, Item, Observed
from archiver.sandbox.server import SandboxServer
from archiver.warc.reader import iter_records
from connectors.base import AuthStyle, decoded_json, remember_decoded
from connectors.bluesky import BlueskyConnector
from connectors.bluesky import errors as bluesky_errors
from connectors.bluesky.sandbox import BlueskyContract, BlueskySandbox
from connectors.linkedin import LinkedInConnector
from connectors.linkedin.sandbox import LinkedInContract
from tests.harness import SwitchApp, scratch_session, switch_server

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HANDLE = "lincolnhs.bsky.social"
THREAD = "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread?uri=at%3A%2F%2Fx&depth=10&parentHeight=0"


def _exchange(url: str, body: bytes, status: int = 200) -> CapturedExchange:
    return CapturedExchange(url, "GET", status, (), body, T0)


def _thread_body(text: str) -> bytes:
    sb = BlueskySandbox(now=lambda: T0)
    sb.base_url = "https://cdn.bsky.app"
    did = sb.add_actor(HANDLE, "Lincoln High")
    return json.dumps({"thread": {"post": sb.post_view(sb.posts[sb.post(did, text)])}}).encode()


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    yield
    base._DECODED.body = base._DECODED.data = None


class _Counting:
    """json.loads for connectors.base, counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, body: Any) -> Any:
        self.calls += 1
        return json.loads(body)


def test_the_remembered_data_is_for_that_body_object_only(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b'{"a": [1, 2]}'
    data = remember_decoded(_exchange(THREAD, body), {"a": [1, 2]})
    equal = bytes(bytearray(body))  # equal content, another object: decoded afresh
    assert equal is not body
    fresh = decoded_json(_exchange(THREAD, equal))
    assert fresh == data and fresh is not data
    assert decoded_json(_exchange(THREAD, b'{"b": 3}')) == {"b": 3}  # same length, other body
    counting = _Counting()
    monkeypatch.setattr(base, "json", SimpleNamespace(loads=counting))
    assert decoded_json(_exchange(THREAD, body)) is data  # the same bytes object: no decode
    assert counting.calls == 0
    assert decoded_json(_exchange(THREAD, body)) == data and counting.calls == 1  # taken once
    assert base._DECODED.body is None  # nothing held between pages


def test_a_parse_after_another_page_was_remembered_reads_its_own_body() -> None:
    first, second = _thread_body("first post"), _thread_body("second post")
    connector = BlueskyConnector()
    account = AccountRef("bluesky", HANDLE)
    remember_decoded(_exchange(THREAD, first), json.loads(first))
    items = [i for i in connector.parse(account, _exchange(THREAD, second)) if isinstance(i, Item)]
    assert [i.text for i in items] == ["second post"]


def test_the_memory_is_per_thread() -> None:
    body = b'{"a": 1}'
    remember_decoded(_exchange(THREAD, body), {"a": "not what the body says"})
    seen: list[Any] = []
    worker = threading.Thread(target=lambda: seen.append(decoded_json(_exchange(THREAD, body))))
    worker.start()
    worker.join()
    assert seen == [{"a": 1}]


def test_bluesky_not_found_reads_no_body_of_a_success(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(body: Any) -> Any:
        raise AssertionError("a 200 body was decoded")

    monkeypatch.setattr(bluesky_errors, "json", SimpleNamespace(loads=refuse))
    assert not bluesky_errors.is_not_found(_exchange(THREAD, _thread_body("alive")))
    monkeypatch.undo()
    gone = json.dumps({"error": "NotFound", "message": "Post not found"}).encode()
    assert bluesky_errors.is_not_found(_exchange(THREAD, gone, 400))
    assert bluesky_errors.is_not_found(_exchange(THREAD, gone, 404))
    assert not bluesky_errors.is_not_found(_exchange(THREAD, gone, 500))
    assert not bluesky_errors.is_not_found(_exchange(THREAD, b'{"error": "InvalidRequest"}', 400))


# --- harvests decode each page once, and observe what a fresh parse gives ------------------

@pytest.fixture(scope="module")
def shared_server() -> Iterator[tuple[SwitchApp, SandboxServer]]:
    with switch_server() as pair:
        yield pair


def _harvest_once(tmp_path: Path, connector: Any, account: AccountRef, token: str | None,
                  monkeypatch: pytest.MonkeyPatch) -> list[Observed]:
    """The harvest's observations, after checking that its parser decoded no page itself and
    that each item is what the parser makes of its stored page decoded afresh."""
    session = scratch_session(tmp_path, account.platform, auth_style=AuthStyle.BEARER, token=token,
                              clock=ManualClock(T0), account=account.account_id, max_retries=4)
    counting = _Counting()
    with monkeypatch.context() as patch:
        patch.setattr(base, "json", SimpleNamespace(loads=counting))
        events = [e for e in connector.harvest(account, None, session) if isinstance(e, Observed)]
    assert events and counting.calls == 0  # every parsed page was the one the harvest decoded
    pages: dict[str, CapturedExchange] = {}
    for sealed in session.warc.seal_all():
        with open(sealed.path, "rb") as fh:
            pages.update((r.pointer.record_id, r.exchange()) for r in iter_records(fh, sealed.name)
                         if r.rec_type == "response")
    session.close()
    for event in events:
        assert event.evidence is not None
        again = [i for i in connector.parse(account, pages[event.evidence.record_id]) if isinstance(i, Item)]
        # LinkedIn's harvest adds the MediaRefs it looked up; everything else is the parser's
        assert any(i == replace(event.item, media=i.media) for i in again)
    return events


def test_bluesky_harvest_decodes_each_page_once(tmp_path: Path, shared_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    switch, server = shared_server
    contract = BlueskyContract()
    contract.sandbox.now = lambda: T0
    switch.target = contract.sandbox
    contract.bind(server.url)
    contract.seed_account()
    account = AccountRef("bluesky", HANDLE, api_base=server.url)
    events = _harvest_once(tmp_path, BlueskyConnector(), account, None, monkeypatch)
    assert {e.item.item_id for e in events} == contract.live_item_ids(HANDLE)


def test_linkedin_harvest_decodes_each_page_once(tmp_path: Path, shared_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    switch, server = shared_server
    contract = LinkedInContract()
    switch.target = contract.sandbox
    contract.bind(server.url)
    seeded = contract.seed_account()
    account = AccountRef("linkedin", seeded.account_id, api_base=server.url)
    events = _harvest_once(tmp_path, LinkedInConnector(), account, seeded.token, monkeypatch)
    assert {e.item.item_id for e in events} == contract.live_item_ids(seeded.account_id)
