"""A series that transfers to the state archives is packaged (signed manifest), never destroyed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import archiver.sandbox.kit as sandbox_clock
import connectors.facebook.sandbox as fb
from archiver.catalog import tables as t
from archiver.core.clock import ManualClock
from archiver.services.keys import init_export_key
from archiver.services.retention import apply, plan
from archiver.services.schedules import verify_series
from tests.harness import Harness

REAL_NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    manual = ManualClock(REAL_NOW - timedelta(days=3 * 365))

    class SandboxTime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return manual.now()

    monkeypatch.setattr(sandbox_clock, "datetime", SandboxTime)  # every sandbox reads the time here
    return manual


def test_board_records_are_packaged_for_the_state_archives(tmp_path: Path, clock: ManualClock) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        app = h.app
        app.clock = clock
        with app.catalog.session() as s:
            s.scalar(select(t.Account)).role = "board"
        h.poll()
        for item_id in h.sandbox.live_item_ids(fb.LINCOLN):
            h.sandbox.delete(item_id)
        clock.advance(86400)
        h.poll()
        verify_series(app, "WA", "GS50-01-12", citation="CORE v5.0 GS50-01-12 Rev. 3", by="J. Doe", actor="officer")
        init_export_key(app, actor="officer")
        clock.current = REAL_NOW
        result = plan(app)
        assert len(result.eligible_objects("transfer")) == 2 and result.eligible_objects("destroy") == []
        first = apply(app, approver="J. Doe", actor="officer")
        again = apply(app, approver="J. Doe", actor="officer")
        assert first.certificate_id is None and first.destroyed_objects == []
        assert sorted(first.transfer_pending) == sorted(again.transfer_pending) and len(first.transfer_pending) == 2
        packages = list((h.home / "transfers").iterdir())
        assert len(packages) == 1  # the second run does not package the same objects again
        manifest = json.loads((packages[0] / "manifest.json").read_text())
        assert {o["file"] for o in manifest["manifest"]["objects"]} == set(first.transfer_pending)
        for o in manifest["manifest"]["objects"]:
            assert (packages[0] / o["file"]).stat().st_size > 0 and o["series"] == ["GS50-01-12"]
        with app.catalog.session() as s:
            assert len(list(s.scalars(select(t.WarcFile)))) == 2  # nothing destroyed
    finally:
        h.close()


def test_local_store_destruction_removes_key_sidecars_too(tmp_path: Path, clock: ManualClock) -> None:
    from archiver.services.keys import rotate_keys

    h = Harness(tmp_path, "facebook")
    try:
        app = h.app
        app.clock = clock
        h.poll()
        for item_id in h.sandbox.live_item_ids(fb.LINCOLN):
            h.sandbox.delete(item_id)
        clock.advance(86400)
        h.poll()
        rotate_keys(app)  # each object gets a key sidecar in the store (preservation/wrapped_keys.py)
        assert len(list(app.store.keys("wrapped-keys/"))) == 2
        verify_series(app, "WA", "GS2010-001", citation="CORE v5.0", by="J. Doe", actor="officer")
        init_export_key(app, actor="officer")
        clock.current = REAL_NOW
        before = len(h.items())
        result = apply(app, approver="J. Doe", actor="officer")
        assert len(result.destroyed_objects) == 2 and result.refused == []
        assert list(app.store.keys("warc/")) == []  # the objects are gone
        assert list(app.store.keys("wrapped-keys/")) == []  # and every other copy of their data keys
        assert result.destroyed_items == before and h.items() == {}
    finally:
        h.close()
