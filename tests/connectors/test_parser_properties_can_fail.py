"""The parser property tests can fail: with a deliberately broken parser each one goes red.

They used to pass whatever the parser did, because each connector's `parse` swallowed every
exception (issue 9 item 2). Now `parse` is the raw parser and only the call sites guard it,
so a parser that raises fails the `never_raises` tests, and a parser that silently finds
nothing fails the valid-shape tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import Phase, settings

from connectors.feeds.connector import FeedsConnector
from tests.connectors import test_bluesky, test_feeds, test_mastodon, test_x, test_youtube

# platform -> (its test module, the attributes the connector's parse calls)
RAW_PARSERS: dict[str, tuple[ModuleType, list[tuple[Any, str]]]] = {
    "mastodon": (test_mastodon, [("connectors.mastodon.connector", "parse_exchange")]),
    "bluesky": (test_bluesky, [("connectors.bluesky.connector", "parse_exchange")]),
    "feeds": (test_feeds, [("connectors.feeds.wordpress", "parse_wordpress"), (FeedsConnector, "_parse_feed")]),
    "x": (test_x, [("connectors.x.connector", "parse_tweets")]),
    "youtube": (test_youtube, [("connectors.youtube.connector", "parse_response")]),
}


def _raising(*_args: Any, **_kwargs: Any) -> Iterator[Any]:
    raise AttributeError("a deliberately broken parser")


def _silent(*_args: Any, **_kwargs: Any) -> Iterator[Any]:
    return iter(())


def _tests(module: ModuleType, word: str) -> list[Callable[[], None]]:
    return [getattr(module, name) for name in sorted(dir(module)) if name.startswith("test_") and word in name]


def _fails_fast(test: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The same test without shrinking or the example database: a failure is all we need."""
    own = test._hypothesis_internal_use_settings  # type: ignore[attr-defined]
    quick = settings(own, phases=[Phase.explicit, Phase.generate], database=None)
    monkeypatch.setattr(test, "_hypothesis_internal_use_settings", quick)
    return test


def _break(monkeypatch: pytest.MonkeyPatch, platform: str, parser: Callable[..., Iterator[Any]]) -> ModuleType:
    module, targets = RAW_PARSERS[platform]
    for target, name in targets:
        owner = importlib.import_module(target) if isinstance(target, str) else target
        monkeypatch.setattr(owner, name, parser)
    return module


@pytest.mark.parametrize("platform", sorted(RAW_PARSERS))
def test_never_raises_tests_fail_with_a_raising_parser(platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _break(monkeypatch, platform, _raising)
    tests = _tests(module, "never_raises")
    assert tests
    for test in tests:
        with pytest.raises(AttributeError, match="deliberately broken"):
            _fails_fast(test, monkeypatch)()


@pytest.mark.parametrize("platform", sorted(RAW_PARSERS))
def test_valid_shape_tests_fail_with_a_parser_that_finds_nothing(
    platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _break(monkeypatch, platform, _silent)
    tests = _tests(module, "_valid_")
    assert tests
    for test in tests:
        with pytest.raises(AssertionError):
            _fails_fast(test, monkeypatch)()


def test_there_are_thirteen_never_raises_tests_and_one_valid_shape_test_each() -> None:
    assert sum(len(_tests(module, "never_raises")) for module, _ in RAW_PARSERS.values()) == 13
    assert all(len(_tests(module, "_valid_")) == 1 for module, _ in RAW_PARSERS.values())


def test_facebook_property_tests_fail_with_a_broken_entry_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.facebook import FacebookConnector
    from tests.connectors import test_facebook

    monkeypatch.setattr(FacebookConnector, "_entry", _raising)
    with pytest.raises(AttributeError, match="deliberately broken"):
        _fails_fast(test_facebook.test_parse_never_raises_on_a_mutated_post, monkeypatch)()
    monkeypatch.setattr(FacebookConnector, "_entry", _silent)
    with pytest.raises(AssertionError):
        _fails_fast(test_facebook.test_valid_listings_yield_every_entry_and_no_parser_error, monkeypatch)()
