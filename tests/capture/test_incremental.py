"""Incremental capture, per platform against its sandbox over HTTP.

Every connector that declares `incremental = True` is held to issue 12's goal: an idle cycle
costs at most 5% of the first capture's requests; new posts and new comments on old posts are
captured in the next cycle; edits and deletions of 200-day-old items are found by the sweep
that covers them, and by `--reconcile` at once.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.capture.sweep import WINDOWS
from archiver.catalog import tables as t
from archiver.core.clock import ManualClock
from archiver.services.accounts import register_account
from connectors import CONNECTORS
from connectors.facebook.graph_sandbox import graph_error
from tests.harness import Harness

INCREMENTAL = sorted(p for p, r in CONNECTORS.items() if getattr(r.connector, "incremental", False))
# Platforms that give no change signal for a post's replies (see each README): a reply to an old
# post that already had replies waits for the sweep that covers the post. Strict: the day the
# platform gives a signal and the connector uses it, this fails and the entry goes.
NO_REPLY_SIGNAL = {
    "threads": "Threads gives no reply count, only has_replies, which a second reply leaves unchanged",
}


# Issue 12's byte goal: an idle cycle stores at most 1% of the first capture's stored bytes.
BYTE_GOAL = 0.01
# The first idle cycle after a full capture, once: the steady state plus the first answers of
# the URIs the capture never asked, stored whole (measured at 1,000 items: Instagram's lean
# listing 1.00%, the most; docs/benchmarks.md "Idle cycle bytes, night of 2026-12-03").
FIRST_IDLE_BOUND = 0.0105
# Account sizes for the idle-cycle test. An idle cycle of X (a since_id timeline call, a
# since_id search) and of WordPress feeds (modified_after posts, after comments) costs the same
# whatever the account's size, so its share falls as the account grows: 1,000 items say little
# about a realistic account. X at 2,500 tweets and a WordPress site at 4,000 posts and comments
# are ordinary district sizes; the others are measured at 1,000 items (bench/incremental.py).
ACCOUNT_ITEMS = {"x": 2500, "feeds": 4000}
# Platforms whose idle cycle still stores more than 1%: each re-reads its whole listing every
# cycle (the only change signal its API gives for new comments on old posts, or, for Mastodon,
# deletions of any age), one page per 25-100 posts against a first capture of about one small
# answer per post, so the share stays near or above 1% at any account size (measured at 1,000
# items, docs/benchmarks.md "Issue 12: an idle cycle's bytes", "... revisits without a block"
# and "Idle cycle bytes, night of 2026-12-03"). Each re-read page costs a request record
# (~470-630 gzipped bytes) and a block-less revisit (~480-620). The bound is the measured
# steady-state share plus ~0.05 points and guards against regressions; the day a platform
# meets the goal, its test fails here and the entry goes.
OVER_BYTE_GOAL = {
    "bluesky": (0.0122, "getAuthorFeed re-read whole (4 pages of 100 and the empty last one)"),
    "facebook": (0.0118, "the feed re-read whole for updated_time (4 pages of 100)"),
    "linkedin": (0.0217, "posts by LAST_MODIFIED and socialMetadata for every post (7 batches)"),
    "mastodon": (0.0178, "the whole account, 40 statuses a page (the API's maximum), every cycle"),
    "threads": (0.0109, "threads re-read whole for has_replies (4 pages; /me only when the rows do not name the owner)"),
}


def _stored_bytes(h: Harness, warcs: tuple[str, ...]) -> int:
    """What the cycle stored: the encrypted objects of its WARCs."""
    with h.app.catalog.session() as s:
        return sum(w.object_size or 0 for w in s.scalars(select(t.WarcFile).where(t.WarcFile.name.in_(warcs))))


def _bulk(h: Harness, items: int) -> Any:
    seeded = h.sandbox.seed_bulk(items)
    token_file = None
    if seeded.token:
        path = h.home.parent / "bulk-token.txt"
        path.write_text(seeded.token)
        path.chmod(0o600)
        token_file = str(path)
    return register_account(h.app, h.platform, seeded.raw_id, name=seeded.name, token_file=token_file)


def _poll(h: Harness, label: str, *, reconcile: bool = False) -> Any:
    (report,) = h.poller.poll(label, reconcile=reconcile)
    assert report.status == "complete", report.message
    return report


def _manual_clock(h: Harness) -> ManualClock:
    clock = ManualClock(h.app.clock.now())
    h.app.clock = clock
    return clock


@pytest.mark.parametrize("platform", INCREMENTAL)
def test_an_idle_cycle_costs_under_five_percent_of_the_first(tmp_path: Path, platform: str) -> None:
    """Requests under 5% and stored bytes under 1% of the first capture's (issue 12's goal);
    the platforms in OVER_BYTE_GOAL under their measured bound instead (an expected failure of
    the 1% goal, strict: meeting it fails here).

    Bytes are those of the steady state, the second idle cycle, which every later idle cycle
    repeats: the first one after a full capture may ask URIs the capture never asked (a
    since-cursor, Instagram's lean listing) and stores their first answers whole, once; it is
    held to FIRST_IDLE_BOUND."""
    h = Harness(tmp_path, platform)
    _production_pages(h)
    try:
        account = _bulk(h, ACCOUNT_ITEMS.get(platform, 1000))
        first_at = len(h.server.requests)
        first = _poll(h, account.label)
        first_requests = len(h.server.requests) - first_at
        assert first.plan.startswith("full")
        first_bytes = _stored_bytes(h, first.warcs)
        shares = []
        for _ in range(2):
            idle_at = len(h.server.requests)
            idle = _poll(h, account.label)
            idle_requests = len(h.server.requests) - idle_at
            assert idle.plan.startswith("incremental")
            assert idle.new == idle.edited == idle.deleted == 0
            assert idle_requests <= math.floor(0.05 * first_requests), (idle_requests, first_requests)
            # every exchange archived: a request record and a response or revisit for each request
            kinds = [r.rec_type for path in h.warc_files() if path.name in idle.warcs for r in _records(path)]
            assert kinds.count("request") == idle.exchanges > 0
            assert kinds.count("response") + kinds.count("revisit") == idle.exchanges
            assert kinds.count("revisit") == idle.revisits
            shares.append(_stored_bytes(h, idle.warcs) / first_bytes)
        first_idle, share = shares
        if platform in OVER_BYTE_GOAL:
            bound, why = OVER_BYTE_GOAL[platform]
            assert share <= bound, (share, first_bytes)
            assert share > BYTE_GOAL, f"{platform} now meets the 1% goal ({share:.2%}): remove it from OVER_BYTE_GOAL"
            pytest.xfail(f"idle cycle {share:.2%} of the first capture: {why}")
        assert first_idle <= FIRST_IDLE_BOUND, f"first idle cycle {first_idle:.2%}"
        assert share <= BYTE_GOAL, f"{share:.2%} of {first_bytes:,} B"
    finally:
        h.close()


def _production_pages(h: Harness) -> None:
    """The platform's default page sizes, not the harness's small ones (which exist to test
    paging): the share of an idle cycle depends on them, and bench/incremental.py uses them."""
    from archiver.core.settings import ConnectorSettings

    current = h.app.settings.connectors[h.platform].model_dump(exclude_unset=True)
    keep = {k: v for k, v in current.items() if k not in ("page_limit", "feed_page_limit")}
    h.app.settings.connectors[h.platform] = ConnectorSettings(**keep)


def _records(path: Path) -> list[Any]:
    from archiver.warc.reader import iter_records

    with open(path, "rb") as fh:
        return list(iter_records(fh, path.name))


@pytest.mark.parametrize("platform", [
    pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=NO_REPLY_SIGNAL[p])) if p in NO_REPLY_SIGNAL else p
    for p in INCREMENTAL
])
def test_a_new_post_and_a_new_comment_on_an_old_post_arrive_next_cycle(tmp_path: Path, platform: str) -> None:
    h = Harness(tmp_path, platform)
    try:
        label = h.account.label
        old = h.sandbox.publish_old(h.seed.account_id, 200)
        _poll(h, label)
        _poll(h, label)  # incremental from here on
        post = h.sandbox.publish(h.seed.account_id)
        comments = getattr(h.sandbox, "has_comments", True)
        comment = h.sandbox.comment_on(old) if comments else None
        report = _poll(h, label)
        assert report.plan.startswith("incremental")
        items = h.items()
        assert post in items
        if comment is None:
            pytest.skip(f"{platform}: its API lists no comments; the new post arrived")
        assert comment in items
        assert items[comment].parent_id == old or items[comment].parent_id in items
    finally:
        h.close()


@pytest.mark.parametrize("platform", INCREMENTAL)
def test_old_edits_and_deletions_are_found_by_the_sweep_and_by_reconcile(tmp_path: Path, platform: str) -> None:
    # An hourly poll: the planner sizes each slice for the configured interval, so the cold
    # pass still ends within its week, in a quarter of the cycles a 15-minute poll needs
    # (platforms whose listings show no old items run every cycle up to that week).
    h = Harness(tmp_path, platform, settings={"daemon": {"poll_interval_minutes": 60}})
    try:
        label = h.account.label
        olds = [h.sandbox.publish_old(h.seed.account_id, 200 + n) for n in range(3)]
        clock = _manual_clock(h)
        _poll(h, label)
        edited, deleted = olds[0], olds[1]
        h.sandbox.edit(edited)
        h.sandbox.delete(deleted)
        # Nothing signals an edit of a 200-day-old item on most platforms: the cold window's
        # next pass finds it. That pass starts a week after the first capture (its period),
        # then takes a bounded slice per cycle; jump to the week's end and cycle from there.
        interval = h.app.settings.daemon.poll_interval_minutes * 60
        _poll(h, label)  # an ordinary incremental cycle inside the week
        clock.advance(7 * 24 * 3600)
        for _ in range(60):
            clock.advance(interval)
            _poll(h, label)
            items = h.items()
            if len(items[edited].versions) > 1 and items[deleted].deleted_at is not None:
                break
        items = h.items()
        assert len(items[edited].versions) == 2
        assert items[deleted].deleted_at is not None and items[deleted].tombstone is not None
        # --reconcile finds the next change at once, whatever the windows say.
        h.sandbox.edit(olds[2])
        report = _poll(h, label, reconcile=True)
        assert report.plan == "full (reconcile requested)"
        assert len(h.items()[olds[2]].versions) == 2
    finally:
        h.close()


def test_windows_survive_restarts_and_a_failed_cycle_leaves_them(tmp_path: Path) -> None:
    platform = INCREMENTAL[0]
    h = Harness(tmp_path, platform)
    try:
        label = h.account.label
        clock = _manual_clock(h)
        _poll(h, label)
        with h.app.catalog.session() as s:
            rows = {r.window: r for r in s.scalars(select(t.ReconcileWindow))}
        assert set(rows) == set(WINDOWS)
        assert all(r.last_full_at == clock.now() for r in rows.values())
        clock.advance(8 * 24 * 3600)  # every window is due again
        h.sandbox.throttle_next(50)  # the cycle fails: no window may move
        (report,) = h.poller.poll(label)
        assert report.status != "complete"
        with h.app.catalog.session() as s:
            after = {r.window: (r.position, r.last_full_at) for r in s.scalars(select(t.ReconcileWindow))}
        assert after == {w: (r.position, r.last_full_at) for w, r in rows.items()}
    finally:
        h.close()


def test_a_moved_signal_whose_comments_were_not_read_is_read_again(tmp_path: Path) -> None:
    """A cycle cut short after the feed but before a post's comments must not keep the new
    signal, or the next cycle would think those comments already read."""
    h = Harness(tmp_path, "facebook")
    try:
        label = h.account.label
        old = h.sandbox.publish_old(h.seed.account_id, 200)
        _poll(h, label)
        comment = h.sandbox.comment_on(old)
        sb = h.sandbox.sandbox  # type: ignore[attr-defined]
        original = sb.faults

        def failing(req: Any) -> Any:
            if req.path.endswith("/comments"):
                return graph_error(500, "An unknown error has occurred.", "OAuthException", 1)
            return original(req)

        sb.faults = failing  # the feed answers; every comment listing then fails
        (cut,) = h.poller.poll(label)
        sb.faults = original
        assert cut.status != "complete" and comment not in h.items()
        _poll(h, label)
        assert comment in h.items()
    finally:
        h.close()


def test_the_sweep_slice_is_bounded_and_passes_complete(tmp_path: Path) -> None:
    from archiver.capture.sweep import WindowState, plan_sweep
    from archiver.core.plan import KnownItem
    from archiver.core.settings import ConnectorSettings

    settings = ConnectorSettings()
    now = ManualClock().now()
    items = [KnownItem(f"p{n:04}", "post", None, "x", "r", now - timedelta(days=100 + n)) for n in range(1000)]
    states = {w: WindowState(w, "", now - timedelta(days=30), now - timedelta(days=30)) for w in WINDOWS}
    seen: set[str] = set()
    cycles = 0
    while True:
        sweep = plan_sweep(items, states, settings, now=now, interval=timedelta(minutes=15))
        assert len(sweep.item_ids) <= math.ceil(settings.sweep_share * len(items))
        seen |= sweep.item_ids
        states = sweep.states
        cycles += 1
        if states["cold"].position == "":
            break
        now += timedelta(minutes=15)
    assert seen == {i.item_id for i in items}  # one pass covers every item once
    assert cycles == math.ceil(1000 / math.ceil(1000 / (168 * 4)))
    # Right after the pass, the cold window waits for its period.
    assert not plan_sweep(items, states, settings, now=now, interval=timedelta(minutes=15)).item_ids
