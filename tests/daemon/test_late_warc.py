"""A killed worker's WARC indexed after a later capture of the same account (issue 14's
SIGKILL test): the catalog must come out as if the WARCs had been indexed in capture order,
as `catalog rebuild` reads them. The earlier capture (A) is sealed and then "killed" before
it is stored; a later capture (B) that never knew A's results runs and is indexed; then the
spool sweep indexes A. A's sightings must become the first-seen times, the versions where the
content first appeared, and A's deletion record the tombstone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.preservation.rebuild import rebuild
from tests.harness import Harness


def _killed_after_sealing(*_args: Any, **_kwargs: Any) -> Any:
    raise KeyboardInterrupt  # the process dies between sealing its WARC and storing it


def test_an_earlier_capture_indexed_late_takes_its_place_in_capture_order(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        first = h.poll()
        assert first.status == "complete", first.message
        posts = sorted(i for i, row in h.items().items() if row.kind == "post")
        edited, deleted = posts[0], posts[1]
        h.sandbox.edit(edited)
        h.sandbox.delete(deleted)
        new = h.sandbox.publish(h.seed.account_id)

        poller = h.poller
        account = poller.accounts()[0]
        poller.outbox.store_sealed = _killed_after_sealing  # type: ignore[method-assign]
        with poller.outbox.exclusive(), pytest.raises(KeyboardInterrupt):
            poller.poll_account(account, reconcile=True)  # capture A: left sealed in the spool
        del poller.outbox.store_sealed
        assert [p for p in h.app.settings.spool_dir.iterdir() if p.name != ".lock"]

        h.sandbox.publish(h.seed.account_id)
        time.sleep(1.1)  # WARC-Date counts seconds: B is later than A, as after a lease ran out
        with poller.outbox.exclusive():  # capture B, by a worker that never saw A's results
            later = poller.poll_account(poller.accounts()[0], reconcile=True)
        assert later.status == "complete", later.message
        with h.app.catalog.session() as s:
            b_time = s.scalar(select(t.Item.first_seen_at).where(t.Item.item_id == new))
        poller.recover()  # the restarted worker's sweep indexes A, after B
        assert not [p for p in h.app.settings.spool_dir.iterdir() if p.name != ".lock"]

        items = h.items()
        assert items[new].first_seen_at < b_time  # first seen by A, not by B
        versions = sorted(items[edited].versions, key=lambda v: v.version_no)
        assert [v.version_no for v in versions] == [1, 2]
        assert versions[1].observed_at < b_time  # the edit first seen by A
        assert items[deleted].tombstone is not None and items[deleted].deleted_at is not None
        assert items[deleted].tombstone.detected_at < b_time  # A's deletion record, not B's
        with h.app.catalog.session() as s:
            assert s.scalar(select(t.Item.latest_version_pk).where(t.Item.item_id == edited)) == versions[1].id
        report = rebuild(h.app)
        assert report.equal, [(d.table, d.only_live[:3], d.only_rebuilt[:3]) for d in report.diffs if not d.equal]
    finally:
        h.close()


def test_an_edit_seen_only_by_the_late_capture_and_then_reverted_splits_the_version(tmp_path: Path) -> None:
    """Z sees a post as written, A (killed, indexed last) sees it edited, B sees the edit
    undone: the history is a, c, a in capture order, not a alone with c tacked on."""
    h = Harness(tmp_path, "facebook")
    try:
        assert h.poll().status == "complete"
        edited = sorted(i for i, row in h.items().items() if row.kind == "post")[0]
        post = h.sandbox.sandbox.posts[edited]  # type: ignore[attr-defined]
        original = (post.message, post.updated)
        h.sandbox.edit(edited)
        time.sleep(1.1)  # WARC-Date counts seconds: Z, A and B each in a second of their own
        poller = h.poller
        poller.outbox.store_sealed = _killed_after_sealing  # type: ignore[method-assign]
        with poller.outbox.exclusive(), pytest.raises(KeyboardInterrupt):
            poller.poll_account(poller.accounts()[0], reconcile=True)  # A
        del poller.outbox.store_sealed
        post.message, post.updated = original  # the edit undone
        time.sleep(1.1)
        with poller.outbox.exclusive():
            assert poller.poll_account(poller.accounts()[0], reconcile=True).status == "complete"  # B
        assert len(h.items()[edited].versions) == 1  # B saw what Z saw
        poller.recover()
        row = h.items()[edited]
        versions = sorted(row.versions, key=lambda v: v.version_no)
        assert [v.version_no for v in versions] == [1, 2, 3]
        assert versions[0].content_sha256 == versions[2].content_sha256 != versions[1].content_sha256
        assert versions[0].observed_at < versions[1].observed_at < versions[2].observed_at
        with h.app.catalog.session() as s:
            seen = dict(s.execute(select(t.Observation.observed_at, t.Observation.version_pk)
                                  .where(t.Observation.item_pk == row.id)).all())
            latest = s.scalar(select(t.Item.latest_version_pk).where(t.Item.id == row.id))
        assert sorted(seen.items()) == [(v.observed_at, v.id) for v in versions]  # each sighting: its version
        assert latest == versions[2].id and row.version_count == 3
        report = rebuild(h.app)
        diffs = {d.table: (d.only_live[:2], d.only_rebuilt[:2]) for d in report.diffs if not d.equal}
        assert not diffs, diffs
    finally:
        h.close()
