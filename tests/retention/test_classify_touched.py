"""Index-time classification covers what changed, not everything a poll saw again (issue 14).

An idle poll re-reads listings and sees every item again, unchanged; classifying each of them
again cost about 7% of an idle daemon's CPU and cannot change a result (the facts it reads are
kind, creation, deletion, first sighting and the account's role; a re-sighting moves none)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

import archiver.retention.classify as classify_module
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from tests.harness import Harness


@contextmanager
def classified() -> Iterator[list[int]]:
    """The item row ids each index-time classification was given."""
    seen: list[int] = []
    original = classify_module.classify_items

    def spy(session: Any, effective: Any, now: Any, item_pks: Any = None) -> int:
        pks = list(item_pks or [])
        seen.extend(pks)
        return original(session, effective, now, pks)

    classify_module.classify_items = spy
    try:
        yield seen
    finally:
        classify_module.classify_items = original


def _pk(h: Harness, item_id: str) -> int:
    with h.app.catalog.session() as s:
        pk = s.scalar(select(t.Item.id).where(t.Item.item_id == item_id))
        assert pk is not None
        return pk


def test_only_new_edited_and_deleted_items_are_classified_again(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        with classified() as first:
            h.poller.poll(h.account.label, reconcile=True)
        assert len(set(first)) == len(h.items())  # a first capture classifies everything
        with classified() as idle:
            h.poller.poll(h.account.label, reconcile=True)  # a full re-read, nothing changed
        assert idle == []
        posts = [i for i, item in h.items().items() if item.kind == "post"]
        edited, deleted = posts[0], posts[1]
        h.sandbox.edit(edited)
        h.sandbox.delete(deleted)
        new = h.sandbox.publish(h.seed.account_id)
        with classified() as changed:
            h.poller.poll(h.account.label, reconcile=True)
        gone = {item.id for item in h.items().values() if item.deleted_at is not None}
        assert _pk(h, deleted) in gone  # with its comments: the post took them along
        assert set(changed) == {_pk(h, edited), _pk(h, new)} | gone
        with h.app.catalog.session() as s:  # and every item still has its classification
            assert s.scalar(select(rt.ItemRetention.item_pk).where(
                rt.ItemRetention.item_pk == _pk(h, new))) is not None
            row = s.get(rt.ItemRetention, _pk(h, deleted))
            assert row is not None and row.retain_until is not None  # the deletion started its clock
    finally:
        h.close()
