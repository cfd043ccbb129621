"""Request use cases on SQLite and PostgreSQL: register, responsive set, review, decisions, audit."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from archiver.app import App
from archiver.catalog.request_tables import RequestItem, RequestSearch
from archiver.catalog.tables import AuditEntry
from archiver.core.clock import ManualClock
from archiver.core.errors import RequestError
from archiver.core.settings import Settings
from archiver.services import requests as svc
from archiver.services.search import search_items
from tests.catalog.search_corpus import seed

NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    app = App(Settings(home=tmp_path / "home", database_url=database_url, state="WA"),
              clock=ManualClock(NOW))
    with app.catalog.session() as s:
        seed(s)
    yield app
    app.close()


def _open(app: App, received: str = "2026-11-25", state: str = "WA") -> str:
    return svc.open_request(app, requester="Pat Doe", received=date.fromisoformat(received),
                            description="comments about the bus contract", state=state,
                            actor="officer").id


def test_register_orders_overdue_first_and_keeps_an_audit_trail(app: App) -> None:
    late = _open(app, "2026-11-02")  # due 2026-11-09: overdue on 12-03
    soon = _open(app, "2026-11-25")  # due 2026-12-04
    later = _open(app, "2026-12-01", state="OR")
    assert [v.id for v in svc.list_requests(app)] == [late, soon, later]
    assert late == "PRR-2026-0001" and svc.list_requests(app)[0].overdue
    svc.extend_request(app, soon, until=date(2026, 12, 18), reason="assembling records", actor="officer")
    svc.close_request(app, later, outcome="no-records", actor="officer")
    assert [v.id for v in svc.list_requests(app)] == [late, soon]
    assert [v.id for v in svc.list_requests(app, include_closed=True)][-1] == later
    detail = svc.show_request(app, soon)
    assert detail.request.due == "2026-12-18" and detail.request.statutory_due == "2026-12-04"
    assert [a.action for a in detail.audit] == ["request.open", "request.extend"]
    assert [a.action for a in svc.show_request(app, later).audit][-1] == "request.close"


def test_bad_register_input_is_one_clear_line_and_changes_nothing(app: App) -> None:
    rid = _open(app)
    cases = [
        (lambda: svc.open_request(app, requester="A", received=date(2026, 12, 25), description="d"),
         "in the future"),
        (lambda: svc.show_request(app, "PRR-2026-9999"), "No request has the id"),
        (lambda: svc.open_request(app, requester="A", received=date(2026, 12, 1), description="d",
                                  state="TX"), "No public-records deadline rule"),
        (lambda: svc.extend_request(app, rid, until=date(2026, 12, 1), reason="x"), "not after"),
        (lambda: svc.close_request(app, rid, outcome="maybe"), "--outcome must be one of"),
    ]
    for call, message in cases:
        with pytest.raises(RequestError, match=message) as err:
            call()
        assert "\n" not in err.value.message
    assert len(svc.list_requests(app, include_closed=True)) == 1


def test_michigan_allows_one_extension_of_ten_business_days(app: App) -> None:
    rid = _open(app, state="MI")  # due 2026-12-03
    with pytest.raises(RequestError, match="the latest is 2026-12-17"):
        svc.extend_request(app, rid, until=date(2026, 12, 18), reason="volume")
    svc.extend_request(app, rid, until=date(2026, 12, 17), reason="volume")
    with pytest.raises(RequestError, match="allows 1 extension"):
        svc.extend_request(app, rid, until=date(2026, 12, 20), reason="more")


def test_a_query_adds_items_and_is_recorded_with_its_filters(app: App) -> None:
    rid = _open(app)
    from archiver.catalog.search import SearchFilters

    result = svc.add_items(app, rid, query='"bus contract" OR busses',
                           filters=SearchFilters(kind="comment"), actor="officer")
    assert sorted(result.added) == ["c1", "c2"] and result.search_id
    again = svc.add_items(app, rid, items=["c1", "p1"], actor="officer")
    assert again.added == ("p1",) and again.already == ("c1",)
    items = {i.id: i for i in svc.request_items(app, rid)}
    assert set(items) == {"c1", "c2", "p1"}
    assert items["c1"].found_by == '"bus contract" OR busses' and items["p1"].found_by == "item"
    detail = svc.show_request(app, rid)
    assert detail.searches[0].filters == {"kind": "comment"} and detail.searches[0].results == 2
    assert "request.search" in [a.action for a in detail.audit]


def test_an_unknown_item_adds_nothing(app: App) -> None:
    rid = _open(app)
    with pytest.raises(RequestError, match="No captured item has the id 'nope'"):
        svc.add_items(app, rid, items=["c1", "nope"])
    with app.catalog.session() as s:
        assert s.scalar(select(func.count()).select_from(RequestItem)) == 0


def test_review_finds_personal_information_and_the_roster_is_never_stored(app: App, tmp_path: Path) -> None:
    rid = _open(app)
    svc.add_items(app, rid, items=["c1", "c2", "c5"])
    roster = tmp_path / "roster.csv"
    roster.write_text("first_name,last_name\nPat,Doe\nZed,Quill\n", encoding="utf-8")
    findings = svc.review(app, rid, roster=roster, actor="officer")
    found = {(f.item_id, f.version, f.kind, f.text) for f in findings}
    assert ("c2", 1, "phone", "555-201-7788") in found
    assert ("c5", 1, "email", "kim@example.org") in found
    assert not any(f.kind == "student-name" for f in findings)  # "Pat Doe" is an author, not in text
    roster.write_text("name\nAcme Transit\n", encoding="utf-8")  # a "student" named in c1's text
    names = [f for f in svc.review(app, rid, roster=roster) if f.kind == "student-name"]
    assert [(f.item_id, f.text) for f in names] == [("c1", "Acme Transit")]
    with app.catalog.engine.connect() as conn:  # nothing of the roster reached the catalog
        for table in ("audit_log", "request_decisions", "request_searches"):
            dump = " ".join(str(r) for r in conn.execute(text(f"SELECT * FROM {table}")))
            assert "Acme Transit" not in dump and "Quill" not in dump


def test_a_roster_with_bad_rows_names_the_row_not_the_student(app: App, tmp_path: Path) -> None:
    rid = _open(app)
    roster = tmp_path / "roster.csv"
    roster.write_text("first_name,last_name\nPat,Doe\nQuillon\n", encoding="utf-8")
    with pytest.raises(RequestError, match="row 3 has 1 fields") as err:
        svc.review(app, rid, roster=roster)
    assert "Quillon" not in err.value.message
    roster.write_text("student\nPat Doe\n", encoding="utf-8")
    with pytest.raises(RequestError, match="needs a 'name' column"):
        svc.review(app, rid, roster=roster)


def test_decisions_are_recorded_with_who_when_and_citation(app: App) -> None:
    rid = _open(app)
    svc.add_items(app, rid, items=["c2", "c5"])
    with pytest.raises(RequestError, match="does not appear in item c2"):
        svc.redact(app, rid, item="c2", text="555-000-0000", exemption="RCW 42.56.230(1)")
    with pytest.raises(RequestError, match="--exemption is empty"):
        svc.withhold(app, rid, item="c5", exemption=" ")
    with pytest.raises(RequestError, match="not in request"):
        svc.withhold(app, rid, item="p1", exemption="RCW 42.56.230(1)")
    svc.redact(app, rid, item="c2", text="555-201-7788", exemption="RCW 42.56.230(1)", actor="officer")
    svc.withhold(app, rid, item="c5", exemption="20 U.S.C. 1232g", actor="officer")
    model = svc.export_model(app, rid)
    assert [(r.item_id, r.text, r.exemption, r.by) for r in model.redactions] == [
        ("c2", "555-201-7788", "RCW 42.56.230(1)", "officer")]
    assert [(w.item_id, w.exemption) for w in model.withheld] == [("c5", "20 U.S.C. 1232g")]
    assert model.state == "WA" and model.item_ids == ("c2", "c5") and model.due == date(2026, 12, 4)
    svc.release(app, rid, item="c5", actor="officer")
    assert svc.export_model(app, rid).withheld == ()
    svc.release(app, rid, item="c2", text="555-201-7788", actor="officer")
    assert svc.export_model(app, rid).redactions == ()
    detail = svc.show_request(app, rid)
    assert [d.action for d in detail.decisions] == ["redact", "withhold", "release", "release"]
    actions = [a.action for a in detail.audit]
    assert actions.count("request.release") == 2 and "request.redact" in actions
    with app.catalog.session() as s:  # the redacted words are not in the audit log
        details = " ".join(str(e.details) for e in s.scalars(select(AuditEntry)))
    assert "555-201-7788" not in details


def test_a_closed_request_takes_no_more_changes(app: App) -> None:
    rid = _open(app)
    svc.add_items(app, rid, items=["c1"])
    svc.close_request(app, rid, outcome="released")
    for call in (lambda: svc.add_items(app, rid, items=["c2"]),
                 lambda: svc.withhold(app, rid, item="c1", exemption="x"),
                 lambda: svc.close_request(app, rid, outcome="denied")):
        with pytest.raises(RequestError, match="is closed"):
            call()


def test_export_hands_the_model_to_the_package_builder_and_is_audited(
        app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = _open(app)
    with pytest.raises(RequestError, match="no responsive items"):
        svc.export_request(app, rid, tmp_path / "out")
    svc.add_items(app, rid, items=["c1"])

    @dataclass(frozen=True)
    class Summary:
        items: int

    seen = {}

    def build_package(app_, req, out_dir, *, progress=None):  # type: ignore[no-untyped-def]
        seen["req"], seen["out"] = req, out_dir
        return Summary(len(req.item_ids))

    fake = types.ModuleType("archiver.requests.package.build")
    fake.build_package = build_package  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "archiver.requests.package.build", fake)
    assert svc.export_request(app, rid, tmp_path / "out", actor="officer") == Summary(1)
    assert seen["req"].item_ids == ("c1",) and seen["req"].district == "Demo School District"
    trail = svc.show_request(app, rid).audit
    assert trail[-1].action == "request.export" and trail[-1].details["summary"] == {"items": 1}


def test_every_search_is_an_audit_event(app: App) -> None:
    search_items(app, "bus", actor="officer")
    with app.catalog.session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert entry.action == "search" and entry.details["query"] == "bus"
        assert entry.details["total"] == 3


def test_a_request_search_is_recorded_even_with_no_results(app: App) -> None:
    rid = _open(app)
    svc.add_items(app, rid, query="zeppelin")
    with app.catalog.session() as s:
        assert s.scalar(select(RequestSearch.results)) == 0



def test_responsive_items_are_held_until_the_request_closes(app: App) -> None:
    holds = pytest.importorskip("archiver.services.holds")  # the retention helper's service
    rid = _open(app)
    first = svc.add_items(app, rid, items=["c1", "c2"], actor="officer")
    second = svc.add_items(app, rid, items=["p1"], actor="officer")
    assert first.holds and second.holds
    active = [h for h in holds.list_holds(app) if h.request_id == rid]
    assert sorted(h.items for h in active) == [1, 2] and all(h.kind == "request" for h in active)
    svc.close_request(app, rid, outcome="released", actor="officer")
    assert not [h for h in holds.list_holds(app) if h.request_id == rid]
    released = [h for h in holds.list_holds(app, include_released=True) if h.request_id == rid]
    assert len(released) == 2 and all(h.released_by == "officer" for h in released)
