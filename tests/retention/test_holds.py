"""Holds: legal hold on every affected object, release, reconcile, request holds, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.catalog import audit
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.errors import ArchiverError, HoldConflict
from archiver.services.holds import add_hold, list_holds, release_hold
from tests.harness import Harness


def _legal_holds(h: Harness) -> dict[str, bool]:
    with h.app.catalog.session() as s:
        rows = s.execute(select(t.WarcFile.name, t.WarcFile.store_key)).all()
    return {name: h.app.store.head(key).legal_hold for name, key in rows}  # type: ignore[union-attr]


def test_a_hold_puts_every_object_under_legal_hold_until_released(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        h.poll()
        assert not any(_legal_holds(h).values())
        summary = add_hold(h.app, reason="Doe v. District", actor="counsel", account=h.account.label)
        assert summary.items == len(h.items()) and summary.objects == 1
        assert all(_legal_holds(h).values())
        h.poll()  # objects stored while the hold is in force are held at upload
        assert len(_legal_holds(h)) == 2 and all(_legal_holds(h).values())
        request = add_hold(h.app, reason="PRR 2026-17", actor="clerk", kind="request", request_id="R-17",
                           item_ids=[sorted(h.items())[0]])
        assert request.items == 1
        release_hold(h.app, summary.id, reason="settled", actor="counsel")
        held = _legal_holds(h)
        assert sum(held.values()) == 2  # the request's item has records in both objects
        release_hold(h.app, request.id, reason="request closed", actor="clerk")
        assert not any(_legal_holds(h).values())
        assert [x.id for x in list_holds(h.app, include_released=True)] == [summary.id, request.id]
        with h.app.catalog.session() as s:
            actions = [e.action for e in audit.entries(s, action_prefix="hold.")]
        assert actions == ["hold.add", "hold.add", "hold.release", "hold.release"]
        with pytest.raises(HoldConflict, match="No hold #99"):
            release_hold(h.app, 99, reason="x", actor="y")
        with pytest.raises(HoldConflict, match="already released"):
            release_hold(h.app, summary.id, reason="x", actor="y")
        with pytest.raises(ArchiverError, match="unclosed quote"):  # one line, nothing held
            add_hold(h.app, reason="x", actor="y", query='"unclosed phrase')
    finally:
        h.close()


def test_reconcile_finds_and_repairs_drift(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()
        add_hold(h.app, reason="audit 2026", actor="auditor")
        with h.app.catalog.session() as s:
            key = s.scalar(select(t.WarcFile.store_key))
        h.app.store.set_legal_hold(key, False)  # someone released it in the store
        env = {"ARCHIVER_HOME": str(h.home), "ARCHIVER_ACTOR": "officer"}
        dry = CliRunner().invoke(cli, ["holds", "reconcile", "--dry-run"], env=env)
        assert dry.exit_code == 1 and "legal hold missing on 1" in dry.output
        fixed = CliRunner().invoke(cli, ["holds", "reconcile"], env=env)
        assert fixed.exit_code == 0, fixed.output
        assert all(_legal_holds(h).values())
        listed = json.loads(CliRunner().invoke(cli, ["holds", "list", "--json"], env=env).output)
        assert listed[0]["reason"] == "audit 2026" and listed[0]["account"] is None and listed[0]["active"]
        bad = CliRunner().invoke(cli, ["holds", "release", "42", "--reason", "x"], env=env)
        assert bad.exit_code != 0 and "No hold #42" in bad.output
    finally:
        h.close()


def test_a_hold_by_query_holds_exactly_what_the_search_finds(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        sb, page = h.sandbox.sandbox, h.account.label.split(":", 1)[1]
        post = sb.publish(page, "Board meeting: the new bus contract with Acme Transit")
        other = sb.publish(page, "Homecoming dance tickets on sale")
        comment = sb.comment(post, "Why was the BUS contract not put out to bid?")
        h.poll()
        hold = add_hold(h.app, reason="Acme claim", actor="counsel", query="bus contract",
                        account=h.account.label)
        with h.app.catalog.session() as s:
            held = {i for _, i in s.execute(select(rt.HoldItem.platform, rt.HoldItem.item_id)
                                            .where(rt.HoldItem.hold_id == hold.id))}
            row = s.get(rt.Hold, hold.id)
            assert row is not None and row.account is None and row.query is not None
            assert "bus contract" in row.query and h.account.label in row.query
        assert held == {post, comment} and other not in held and hold.items == 2
        assert all(_legal_holds(h).values())  # the objects holding their records
        nothing = add_hold(h.app, reason="x", actor="y", query="zeppelin")
        assert nothing.items == 0
    finally:
        h.close()
