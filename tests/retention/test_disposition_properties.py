"""Property tests of the disposition plan over random catalogs (hypothesis).

Whatever items, objects, holds, deletions, series and dates: nothing held is ever eligible,
nothing is eligible before its retain-until, an unverified series never disposes, and an
eligible object holds only eligible items' records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.retention.classify import classify_items
from archiver.retention.disposition import make_plan
from archiver.retention.objects import item_objects, object_items
from archiver.retention.schedules import ScheduleFile, blockers, overlay

T0 = datetime(2020, 1, 1, tzinfo=UTC)
SCHEDULE = ScheduleFile.model_validate({
    "schema_version": 1, "state": "ZZ",
    "schedules": [{"id": "S", "name": "Test schedule", "status": "verified"}],
    "series": [
        {"id": "OK", "schedule": "S", "applies_to": ["post", "comment"], "select_when": {"account_role_in": ["ok"]},
         "retention": "P1Y", "retention_kind": "fixed", "disposition": "destroy", "status": "verified",
         "trigger": {"type": "later_of", "events": ["received", "provided"]}, "sources": ["test"]},
        {"id": "UNV", "schedule": "S", "applies_to": ["post", "comment"], "select_when": {"default": True},
         "retention": "P1Y", "retention_kind": "fixed", "disposition": "destroy", "status": "partial",
         "trigger": {"type": "later_of", "events": ["received", "provided"]}, "sources": ["test"]},
    ],
})
EFFECTIVE = overlay(SCHEDULE, None)
ENGINE = create_engine("sqlite://")
t.all_models().create_all(ENGINE)
BLOCKERS = {s.key: blockers(s, EFFECTIVE.schedules[s.schedule], verified=False) for s in EFFECTIVE.series}

item_strategy = st.tuples(
    st.sampled_from(["ok", "unv"]),  # account role -> series
    st.one_of(st.none(), st.integers(0, 1500)),  # deleted after N days (None: still live)
    st.sets(st.integers(0, 4), min_size=1, max_size=3),  # objects holding its records
    st.booleans(),  # under a hold
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(item_strategy, min_size=1, max_size=10), st.integers(0, 2500))
@example([("ok", 0, {0}, True)], 2000)  # held, long past its date
@example([("unv", 0, {0}, False)], 2000)  # unverified series, long past its date
@example([("ok", 100, {0}, False)], 300)  # not yet at its date
@example([("ok", None, {0}, False)], 2500)  # a live post
@example([("ok", 0, {0, 1}, False), ("ok", 0, {1}, True)], 2000)  # shares an object with a held item
def test_nothing_held_early_or_unverified_is_ever_disposed(items: list, as_of_days: int) -> None:
    as_of = T0 + timedelta(days=as_of_days)
    with ENGINE.connect() as conn, conn.begin() as tx, Session(bind=conn) as s:  # rolled back after each example
        accounts = {role: t.Account(platform="x", account_id=role, role=role, created_at=T0) for role in ("ok", "unv")}
        s.add_all(accounts.values())
        s.flush()
        for n in range(5):
            s.add(t.WarcFile(name=f"w{n}", size=1, sha256="0" * 64, records=1, first_date=T0, last_date=T0,
                             store_key=f"k{n}", stored_at=T0))
        hold = rt.Hold(kind="litigation", reason="case", created_by="t", created_at=T0)
        s.add(hold)
        s.flush()
        held_ids = set()
        for i, (role, deleted, objects, is_held) in enumerate(items):
            deleted_at = T0 + timedelta(days=deleted) if deleted is not None else None
            item = t.Item(account_pk=accounts[role].id, platform="x", item_id=f"i{i}", kind="post", created_at=T0,
                          first_seen_at=T0, last_seen_at=deleted_at or T0, deleted_at=deleted_at)
            s.add(item)
            s.flush()
            for v, name in enumerate(sorted(objects)):
                s.add(t.ItemVersion(item_pk=item.id, version_no=v + 1, content_sha256="0" * 64, content={},
                                    observed_at=T0, warc_file=f"w{name}", warc_offset=0, warc_length=1,
                                    warc_record_id=f"r{i}-{v}"))
            if is_held:
                held_ids.add(item.id)
                s.add(rt.HoldItem(hold_id=hold.id, platform="x", item_id=f"i{i}"))
        s.flush()
        classify_items(s, EFFECTIVE, T0)
        plan = make_plan(s, EFFECTIVE, BLOCKERS, as_of)
        retention = {r.item_pk: r for r in s.query(rt.ItemRetention)}
        in_object = object_items(item_objects(s))
        tx.rollback()
    by_pk = {v.pk: v for v in plan.items}
    eligible_items = {v.pk for v in plan.items if v.status == "eligible" and v.action}
    destroyed = {o.name for o in plan.eligible_objects()}
    for obj in plan.eligible_objects():
        assert in_object[obj.name] <= eligible_items
    for pk in eligible_items:  # closed: an item goes only with every object holding its records
        assert set(by_pk[pk].objects) <= destroyed
    for pk in eligible_items | {pk for o in plan.eligible_objects() for pk in in_object[o.name]}:
        assert pk not in held_ids
        r = retention[pk]
        assert r.series == "OK" and not BLOCKERS["OK"]  # never the unverified series
        assert r.retain_until is not None and r.retain_until <= as_of
        assert by_pk[pk].deleted_at is not None  # a live post never disposes
    if not held_ids and any(role == "ok" and deleted is not None and deleted + 366 <= as_of_days
                            for role, deleted, _, _ in items):
        assert plan.by_status().get("eligible", 0) + plan.by_status().get("held", 0) > 0


def test_the_unverified_series_really_is_blocked() -> None:
    assert BLOCKERS["UNV"] and not BLOCKERS["OK"]
