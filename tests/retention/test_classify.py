"""Classification at index time: series, rule, retain-until; re-assignment; never earlier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.retention.classify import choose
from archiver.retention.retain_until import ItemFacts, compute, earliest_lawful, never_earlier
from archiver.retention.schedules import load_state, overlay
from archiver.services.accounts import register_account
from tests.harness import Harness

WA = overlay(load_state("WA"), None)
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _rows(h: Harness) -> dict[str, tuple[t.Item, rt.ItemRetention]]:
    with h.app.catalog.session() as s:
        rows = s.execute(select(t.Item, rt.ItemRetention).join(rt.ItemRetention,
                                                               rt.ItemRetention.item_pk == t.Item.id)).all()
        return {item.item_id: (item, r) for item, r in rows}


def test_items_are_classified_when_indexed_and_a_deletion_starts_the_clock(tmp_path: Path,
                                                                           database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        h.poll()
        rows = _rows(h)
        assert rows and len(rows) == len(h.items())
        for item, r in rows.values():
            assert r.series in {"GS2010-001", "GS50-01-12"} or r.flagged, (item.kind, r.rule)
            if item.kind == "post":
                assert r.series == "GS2010-001" and r.rule == "GS2010-001: default series for post"
                assert r.retain_until is None and "removal" in r.waits_for
        victim = next(i for i, (item, _) in rows.items() if item.kind == "post")
        h.sandbox.delete(victim)
        h.poll()
        item, r = _rows(h)[victim]
        assert item.deleted_at is not None
        assert r.trigger_at == item.deleted_at
        assert r.retain_until == item.deleted_at.replace(year=item.deleted_at.year + 2)
        # the account becomes the board's: re-classified under the executive series at once
        register_account(h.app, "facebook", h.seed.raw_id, role="board", replace=True)
        _, r2 = _rows(h)[victim]
        assert r2.series == "GS50-01-12" and "account role 'board'" in r2.rule
        assert r2.retain_until == r.retain_until
    finally:
        h.close()


def test_unmatched_items_get_the_most_conservative_series_flagged() -> None:
    facts = ItemFacts(kind="profile", account_role="", first_seen_at=T0, last_seen_at=T0)
    chosen = choose(WA, facts)
    assert chosen.flagged and chosen.series is not None and chosen.series.key == "GS50-01-12"
    ks = overlay(load_state("KS"), None)
    none = choose(ks, facts)
    assert none.series is None and none.flagged
    assert compute(None, facts).retain_until is None


def test_a_live_post_has_no_end_date_but_a_lower_bound() -> None:
    series = WA.get("GS2010-001")
    live = ItemFacts(kind="post", account_role="", first_seen_at=T0, last_seen_at=T0 + timedelta(days=30),
                     created_at=T0 - timedelta(days=3))
    assert compute(series, live).retain_until is None
    assert earliest_lawful(series, live) == datetime(2028, 2, 4, 12, tzinfo=UTC)


dates = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1),
                     timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["GS2010-001", "GS50-01-12", "GS50-02-01"]),
                          st.one_of(st.none(), dates), st.sampled_from(["", "board"])),
                min_size=1, max_size=12), dates)
def test_retain_until_never_moves_earlier(history: list, seen: datetime) -> None:
    """Whatever series changes, deletions and role changes arrive, a date once given only
    moves later."""
    floor = None
    last = None
    for key, deleted, role in history:
        facts = ItemFacts(kind="post", account_role=role, first_seen_at=seen, last_seen_at=seen,
                          created_at=seen, deleted_at=deleted)
        clock, floor = never_earlier(floor, compute(WA.get(key), facts))
        if clock.retain_until is not None:
            if last is not None:
                assert clock.retain_until >= last
            last = clock.retain_until
