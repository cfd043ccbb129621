"""The Object Lock and legal-hold sync after an upload costs what its new objects cost (issue 14).

An idle account's poll spent 31% of its CPU in `protect_new_objects`: 14 statements in six
transactions (every active hold's items listed, the whole schedule re-read, an ORM get+merge
per row written) and a HEAD of the new object even when nothing could hold it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

import archiver.services.poll as poll_module
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.retention.active import load_effective
from archiver.retention.locks import lock_dates
from archiver.services.holds import add_hold, release_hold, wanted_legal_holds
from tests.harness import Harness


class Costs:
    def __init__(self) -> None:
        self.statements = 0
        self.store: list[str] = []
        self.names: list[str] = []


@contextmanager
def measured(h: Harness) -> Iterator[Costs]:
    """Statements and store calls of the poll's retention controls only (in the index
    transaction)."""
    costs = Costs()
    on = [False]

    def count(*_: Any) -> None:
        if on[0]:
            costs.statements += 1

    store = h.app.store
    real = {name: getattr(store, name) for name in ("head", "extend_retention", "set_legal_hold")}

    def spy(name: str) -> Any:
        def call(*args: Any) -> Any:
            if on[0]:
                costs.store.append(name)
            return real[name](*args)
        return call

    for name in real:
        setattr(store, name, spy(name))
    original = poll_module.protect_in_transaction

    def protect(app: Any, session: Any, names: Any) -> Any:
        costs.names = list(names)
        on[0] = True
        try:
            return original(app, session, names)
        finally:
            on[0] = False

    poll_module.protect_in_transaction = protect
    event.listen(h.app.catalog.engine, "before_cursor_execute", count)
    try:
        yield costs
    finally:
        event.remove(h.app.catalog.engine, "before_cursor_execute", count)
        poll_module.protect_in_transaction = original
        for name, fn in real.items():
            setattr(store, name, fn)


def _expected(h: Harness, name: str) -> tuple[datetime | None, bool]:
    """The general way's answer: the lock date of the object and whether any hold wants it."""
    with h.app.catalog.session() as s:
        when = lock_dates(s, load_effective(s, h.app.settings.state), [name])[name]
        return when, name in wanted_legal_holds(s)


def _recorded(h: Harness, name: str) -> tuple[datetime | None, bool, bool]:
    with h.app.catalog.session() as s:
        key = s.scalar(select(t.WarcFile.store_key).where(t.WarcFile.name == name))
        row = s.get(rt.ObjectRetention, name)
        lock, held = (row.lock_until, row.legal_hold) if row is not None else (None, False)
    head = h.app.store.head(key)  # type: ignore[arg-type]
    assert head is not None
    return lock, held, head.legal_hold


def test_an_idle_poll_protects_its_new_object_in_a_few_statements_and_one_store_call(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()
        with measured(h) as costs:
            h.poll()  # nothing new on the platform: one new WARC of observations
        assert len(costs.names) == 1
        name = costs.names[0]
        when, wanted = _expected(h, name)
        assert when is not None and not wanted
        lock, held, store_held = _recorded(h, name)
        assert lock is not None and lock.replace(tzinfo=None) == when.replace(tzinfo=None)
        assert not held and not store_held
        # no hold anywhere: no HEAD; the lock date: one store call (was 14 statements, 2 store calls)
        assert costs.statements <= 6, costs.statements
        assert costs.store == ["extend_retention"]
    finally:
        h.close()


def test_a_new_object_under_an_active_hold_is_held_as_the_general_sync_would(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()
        scope = add_hold(h.app, reason="Doe v. District", actor="counsel", account=h.account.label)
        other = add_hold(h.app, reason="posts of 2099", actor="counsel", since=datetime(2099, 1, 1, tzinfo=UTC))
        with measured(h) as costs:
            h.poll()
        name = costs.names[0]
        when, wanted = _expected(h, name)
        assert wanted
        lock, held, store_held = _recorded(h, name)
        assert held and store_held and lock is not None and when is not None
        assert costs.store == ["extend_retention", "head", "set_legal_hold"]
        assert costs.statements <= 10, costs.statements
        release_hold(h.app, scope.id, reason="settled", actor="counsel")
        with measured(h) as costs:
            h.poll()  # only a hold on posts of 2099 is active: the new object is not held
        name = costs.names[0]
        assert _expected(h, name)[1] is False
        assert _recorded(h, name)[1:] == (False, False)
        assert costs.store == ["extend_retention"]
        release_hold(h.app, other.id, reason="done", actor="counsel")
        item = sorted(h.items())[0]
        add_hold(h.app, reason="PRR 7", actor="clerk", kind="request", request_id="R-7", item_ids=[item])
        with measured(h) as costs:
            h.poll()  # a request hold naming one item: the new object observes it, so it is held
        name = costs.names[0]
        assert _expected(h, name)[1] is True
        assert _recorded(h, name)[1:] == (True, True)
    finally:
        h.close()


def test_the_cached_schedule_follows_an_adoption(tmp_path: Path) -> None:
    from archiver.app import App
    from archiver.core.settings import Settings
    from archiver.services.archive_home import create_archive
    from archiver.services.protect import effective_schedule
    from archiver.services.schedules import adopt_schedule

    app = App(Settings(home=tmp_path / "home", state="KS"))
    try:
        create_archive(app)
        with app.catalog.session() as s:
            state_only = effective_schedule(s, "KS")
            assert state_only.district_sha256 is None and effective_schedule(s, "KS") is state_only
        adopted = adopt_schedule(app, Path(__file__).parent / "fixtures" / "KS_district.yaml", actor="officer")
        with app.catalog.session() as s:
            district = effective_schedule(s, "KS")
            assert district.district_sha256 == adopted.sha256 and district is not state_only
            assert district.get("USD999-SM-1") is not None and state_only.get("USD999-SM-1") is None
            assert effective_schedule(s, "KS") is district
    finally:
        app.close()
