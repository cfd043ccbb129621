"""The console's /holds counts each hold's items in the database, every hold in one statement
(issue 15): the counts must be exactly len(items_of(hold)), the rule disposition uses, for
every kind of hold, on both engines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.retention.holds import count_items, items_of
from archiver.services.holds import add_hold, list_holds, release_hold
from connectors.facebook.sandbox import FacebookContract
from tests.harness import Harness


def test_counts_are_items_of_for_every_kind_of_hold_in_one_statement(tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        assert isinstance(h.sandbox, FacebookContract)
        sb, page = h.sandbox.sandbox, h.account.label.split(":", 1)[1]
        post = sb.publish(page, "Board meeting: the new bus contract with Acme Transit")
        sb.comment(post, "Why was the BUS contract not put out to bid?")
        sb.publish(page, "Homecoming dance tickets on sale")
        h.poll()
        with h.app.catalog.session() as s:  # an item without a posted time: held by when first seen
            first = s.scalars(select(t.Item).order_by(t.Item.id.desc()).limit(1)).one()
            first.created_at = None
        with h.app.catalog.session() as s:
            rows = s.execute(select(t.Item.item_id, t.Item.created_at, t.Item.first_seen_at)
                             .order_by(t.Item.id)).all()
        whens = sorted(created or first for _, created, first in rows)
        assert len(whens) >= 4 and whens[0] != whens[-1], whens
        middle = whens[len(whens) // 2]
        ids = [r[0] for r in rows]
        label = h.account.label
        cases: list[dict[str, Any]] = [
            {}, dict(account=label), dict(account="facebook:no-such-account"), dict(since=middle),
            dict(until=middle), dict(since=middle, until=middle), dict(account=label, since=middle),
            dict(until=whens[0] - timedelta(days=1)), dict(item_ids=ids[:2]),
            dict(item_ids=ids[:2], since=middle), dict(item_ids=[ids[-1]], until=whens[0] - timedelta(days=1)),
            dict(query="bus contract"), dict(query="zeppelin")]
        placed = []
        for scope in cases:
            if scope.get("account") == "facebook:no-such-account":
                with h.app.catalog.session() as s:  # a hold whose account was since renamed away
                    hold = rt.Hold(kind="litigation", reason="gone", account=scope["account"], created_by="t",
                                   created_at=h.app.clock.now())
                    s.add(hold)
                    s.flush()
                    placed.append(hold.id)
                continue
            placed.append(add_hold(h.app, reason=str(scope), actor="counsel", **scope).id)
        release_hold(h.app, placed[1], reason="settled", actor="counsel")

        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        with h.app.catalog.session() as s:
            holds = list(s.scalars(select(rt.Hold).order_by(rt.Hold.id)))
            expected = {hold.id: len(items_of(s, hold)) if hold.released_at is None else 0 for hold in holds}
            event.listen(h.app.catalog.engine, "before_cursor_execute", record)
            try:
                counted = count_items(s, holds)
            finally:
                event.remove(h.app.catalog.engine, "before_cursor_execute", record)
        assert counted == expected
        assert len(statements) == 1, statements  # every hold at once
        assert len(set(expected.values())) >= 5, expected  # the cases tell the rules apart
        listed = list_holds(h.app, include_released=True, objects=False)
        assert [(x.id, x.items, x.objects) for x in listed] == [(i, n, None) for i, n in expected.items()]
        assert [x.items for x in list_holds(h.app)] == [n for i, n in expected.items() if i != placed[1]]
    finally:
        h.close()
