"""The indexer reuses the harvest's parse of a response only for that very response."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from archiver.core.models import AccountRef, CapturedExchange, ParseWarning, WarcPointer
from connectors.base import ParseMemo, parse_guarded, remembered_parse, remembering_parses

ACCOUNT = AccountRef("facebook", "1000001", "School")
EXCHANGE = CapturedExchange(
    url="http://127.0.0.1/feed", method="GET", status=200,
    headers=(("Content-Type", "application/json"),), body=b'{"data": [1, 2]}',
    captured_at=datetime(2026, 12, 3, tzinfo=UTC),
    response_pointer=WarcPointer("a.warc.gz", 10, 20, "<urn:uuid:1>"),
)


class Counting:
    platform = "facebook"

    def __init__(self) -> None:
        self.calls = 0

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Any:
        self.calls += 1
        yield ParseWarning("facebook.seen", exchange.body.decode())


def test_a_parse_read_to_its_end_is_remembered_and_reused_for_the_same_response() -> None:
    connector, memo = Counting(), ParseMemo()
    with remembering_parses(memo):
        made = list(parse_guarded(connector, ACCOUNT, EXCHANGE))  # type: ignore[arg-type]
    assert connector.calls == 1 and "<urn:uuid:1>" in memo
    same = replace(EXCHANGE, captured_at=datetime(2027, 1, 1, tzinfo=UTC))  # read back from the WARC
    assert remembered_parse(memo, ACCOUNT, same) == tuple(made)


def test_a_different_body_status_headers_or_account_is_parsed_again() -> None:
    connector, memo = Counting(), ParseMemo()
    with remembering_parses(memo):
        list(parse_guarded(connector, ACCOUNT, EXCHANGE))  # type: ignore[arg-type]
    assert remembered_parse(memo, ACCOUNT, replace(EXCHANGE, body=b'{"data": [1, 3]}')) is None
    assert remembered_parse(memo, ACCOUNT, replace(EXCHANGE, status=-1)) is None
    assert remembered_parse(memo, ACCOUNT, replace(EXCHANGE, headers=())) is None
    assert remembered_parse(memo, replace(ACCOUNT, role="staff"), EXCHANGE) is None


def test_outside_a_capture_nothing_is_remembered() -> None:
    connector, memo = Counting(), ParseMemo()
    list(parse_guarded(connector, ACCOUNT, EXCHANGE))  # type: ignore[arg-type]
    with remembering_parses(memo):
        first = parse_guarded(connector, ACCOUNT, EXCHANGE)  # type: ignore[arg-type]
        next(first)  # a parse not read to its end
    assert memo == {}
