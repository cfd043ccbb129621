"""Quota budgets: periods, configuration, and YouTube's daily units never exceeded."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archiver.app import App
from archiver.capture.budget import Budget, BudgetSpent, period_bounds
from archiver.core.clock import ManualClock
from archiver.core.errors import ConfigError
from archiver.core.settings import Settings
from archiver.services.accounts import register_account
from connectors.quotas import MODELS, model_for
from tests.harness import Harness

PACIFIC = ZoneInfo("America/Los_Angeles")


def test_youtube_days_reset_at_pacific_midnight_across_dst() -> None:
    yt = MODELS["youtube"]
    start, end = period_bounds(yt, datetime(2026, 12, 3, 7, 59, tzinfo=UTC))  # 23:59 PST Dec 2
    assert (start, end) == (datetime(2026, 12, 2, 8, tzinfo=UTC), datetime(2026, 12, 3, 8, tzinfo=UTC))
    start, end = period_bounds(yt, datetime(2026, 3, 8, 12, tzinfo=UTC))  # the day DST starts
    assert end - start == timedelta(hours=23) and end == datetime(2026, 3, 9, 7, tzinfo=UTC)
    five = model_for("mastodon")
    assert five is not None
    assert period_bounds(five, datetime(2026, 12, 3, 10, 7, 30, tzinfo=UTC)) == (
        datetime(2026, 12, 3, 10, 5, tzinfo=UTC), datetime(2026, 12, 3, 10, 10, tzinfo=UTC))


def test_a_request_that_would_cross_the_limit_is_never_sent() -> None:
    yt = model_for("youtube", {"limit": 200, "reserve": 0})
    assert yt is not None
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    budget = Budget(yt, "env:YT", *period_bounds(yt, now), spent_before=100)
    budget.charge("GET", "https://www.googleapis.com/youtube/v3/videos?id=a")
    assert budget.remaining == 99
    with pytest.raises(BudgetSpent) as caught:
        budget.charge("GET", "https://www.googleapis.com/youtube/v3/search?q=x")  # 100 units > 99 left
    assert caught.value.retry_at == datetime(2026, 12, 4, 8, tzinfo=UTC)
    assert budget.spent == 1 and "resumes after 2026-12-04 08:00 UTC" in caught.value.message
    budget.charge("GET", "https://www.googleapis.com/youtube/v3/comments?id=a")
    assert budget.remaining == 98


@pytest.mark.parametrize(("overrides", "named"), [
    ({"costs": {"videos.lst": 1}}, "videos.lst"),
    ({"costs": {"videos.list": -1}}, "videos.list"),
    ({"limit": -5}, "limit"),
    ({"period": "fortnight"}, "period"),
    ({"limt": 5}, "limt"),
    ({"reset_tz": "Mars/Olympus"}, "reset_tz"),
])
def test_a_bad_budget_is_a_config_error_naming_it(tmp_path: Path, overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        App(Settings(home=tmp_path, connectors={"youtube": {"budget": overrides}}))
    assert named in caught.value.message and "connectors.youtube.budget" in caught.value.message


def _units(path: str) -> int:
    """YouTube's documented prices, independent of the archiver's table: list 1, search 100."""
    if not path.startswith("/youtube/v3/"):
        return 0  # thumbnails are on the CDN, outside the quota
    return 100 if path.rstrip("/").endswith("/search") else 1


def test_youtube_budget_is_never_exceeded_over_a_day_of_96_cycles_with_20_channels(tmp_path: Path) -> None:
    limit = 1500
    h = Harness(tmp_path, "youtube", settings={"connectors": {"youtube": {
        "api_base": "", "min_retry_seconds": 0.05, "page_limit": 25, "budget": {"limit": limit}}}})
    try:
        h.app.settings.connectors["youtube"].api_base = h.server.url
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        token = h.home.parent / "token.txt"
        for n in range(20):
            channel = sb.add_channel(f"@School{n}", f"School {n}")
            for v in range(6):
                video = sb.upload(channel, f"School {n} video {v}", at=sb.now() - timedelta(days=3 * v + n))
                if v < 2:
                    sb.comment(video, f"Nice video {v}")
            register_account(h.app, "youtube", f"@school{n}", name=f"School {n}", token_file=str(token))
        start = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # noon in Pacific time: the day resets mid-run
        clock = ManualClock(start)
        h.app.clock = clock
        spent_by_day: Counter[str] = Counter()
        captured: Counter[str] = Counter()
        for _cycle in range(96):
            seen = len(h.server.requests)
            reports = h.poller.poll()
            day = clock.now().astimezone(PACIFIC).date().isoformat()
            spent_by_day[day] += sum(_units(r.path) for r in h.server.requests[seen:])
            captured.update(r.account for r in reports if r.status == "complete")
            clock.advance(15 * 60)
        usable = int(limit * 0.95)
        assert spent_by_day and all(units <= usable for units in spent_by_day.values()), spent_by_day
        assert max(spent_by_day.values()) > usable * 0.8  # the budget was what bound the captures
        assert len(captured) == 21  # every channel captured at least once: none starved
    finally:
        h.close()


def test_a_short_window_is_waited_out_not_failed() -> None:
    """Mastodon's 300 requests / 5 min: a capture of 343 requests is paced through two windows."""
    model = model_for("mastodon", {"limit": 10, "reserve": 0})
    assert model is not None
    clock = ManualClock(datetime(2026, 12, 3, 10, 3, tzinfo=UTC))
    budget = Budget(model, "env:M", *period_bounds(model, clock.now()), spent_before=4)
    for _ in range(15):
        budget.charge("GET", "https://mastodon.example/api/v1/statuses", "m", clock)
    assert clock.now() == datetime(2026, 12, 3, 10, 5, tzinfo=UTC)  # waited for the next window
    assert budget.closed == [(datetime(2026, 12, 3, 10, 0, tzinfo=UTC), datetime(2026, 12, 3, 10, 5, tzinfo=UTC), 6)]
    assert budget.spent == 9 and budget.total == 15 and budget.fits(10_000)
    day = model_for("youtube", {"limit": 5, "reserve": 0})
    assert day is not None
    daily = Budget(day, "env:Y", *period_bounds(day, clock.now()), spent_before=5)
    with pytest.raises(BudgetSpent):  # a day is never slept through inside a capture
        daily.charge("GET", "https://www.googleapis.com/youtube/v3/videos", "y", clock)
