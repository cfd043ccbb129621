"""Placing and releasing a request's hold costs what the request's items cost, not the archive.

On the synthetic 1,000,000-item archive `requests add` with 100 items took 171 s (9.4 s of CPU):
the hold looked up every id after a `SELECT DISTINCT platform FROM items` (a scan of items, once
per id) and then asked the store about every object of the archive (2,000 HEADs)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import event, insert

from archiver.app import App
from archiver.catalog import tables as t
from archiver.core.clock import ManualClock
from archiver.core.settings import Settings
from archiver.services import holds
from archiver.services import requests as svc
from tests.catalog.search_corpus import T0, seed

NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


def _app(tmp_path: Path) -> App:
    app = App(Settings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'catalog.sqlite'}",
                       state="WA"), clock=ManualClock(NOW))
    with app.catalog.session() as s:
        seed(s)  # every version's records are in x.warc.gz
    with app.catalog.engine.begin() as conn:  # x.warc.gz and 50 objects no responsive item is in
        conn.execute(insert(t.WarcFile), [
            {"name": name, "size": 1, "sha256": "0" * 64, "records": 1, "first_date": T0, "last_date": T0,
             "store_key": f"warc/{name}", "stored_at": T0}
            for name in ["x.warc.gz"] + [f"other-{n}.warc.gz" for n in range(50)]])
    return app


def test_a_request_hold_reads_items_by_index_and_asks_the_store_about_its_objects_only(tmp_path: Path) -> None:
    app = _app(tmp_path)
    heads: list[str] = []
    real_head = app.store.head

    def head(key: str):
        heads.append(key)
        return real_head(key)

    app.store.head = head  # type: ignore[method-assign]
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            statements.append((statement, parameters))

    try:
        rid = svc.open_request(app, requester="Pat Doe", received=date(2026, 11, 25),
                               description="bus contract", actor="officer").id
        event.listen(app.catalog.engine, "before_cursor_execute", keep)
        try:
            added = svc.add_items(app, rid, items=["c1", "facebook:c2", "p1"], actor="officer")
            assert added.holds
            assert sorted(heads) == ["warc/x.warc.gz"]  # not the 50 objects the hold does not cover
            assert [(h.items, h.objects) for h in holds.list_holds(app)] == [(3, 1)]
            heads.clear()
            svc.close_request(app, rid, outcome="released", actor="officer")
            assert sorted(heads) == ["warc/x.warc.gz"]
        finally:
            event.remove(app.catalog.engine, "before_cursor_execute", keep)
        assert statements
        with app.catalog.engine.connect() as conn:
            raw = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for statement, parameters in statements:
                plan = " | ".join(str(row[-1]) for row in raw.execute("EXPLAIN QUERY PLAN " + statement,
                                                                      parameters))
                for table in ("items", "item_versions", "observations", "warc_files", "search_docs"):
                    assert f"SCAN {table}" not in plan, (statement, plan)
    finally:
        app.close()


def test_holding_ids_keeps_their_platforms_and_rejects_an_unknown_id(tmp_path: Path) -> None:
    app = _app(tmp_path)
    try:
        summary = holds.add_hold(app, reason="matter 12", actor="officer",
                                 item_ids=["c1", "facebook:p1", "c1", "p2"])
        assert summary.items == 3 and summary.objects == 1
        try:
            holds.add_hold(app, reason="matter 13", actor="officer", item_ids=["c1", "nope"])
        except Exception as exc:  # noqa: BLE001 - the message is what is checked
            assert "No captured item 'nope'" in str(exc)
        else:
            raise AssertionError("an unknown id was held")
        assert len(holds.list_holds(app)) == 1
    finally:
        app.close()
