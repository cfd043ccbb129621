"""An idle poll's catalog transactions (issue 14): the run's row, then one transaction that
indexes the new object, asks the store for its Object Lock date and records it, and closes
the run. It used to be four (index, retention controls and the run's close apart), about a
fifth of an idle account's CPU in the daemon."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.core.errors import StorageError
from tests.harness import Harness


def _poll_counting(h: Harness) -> tuple[int, list[str], Any]:
    """One account's capture, as a daemon worker runs it: its commits and statements."""
    commits = [0]
    statements: list[str] = []

    def count(*_: Any) -> None:
        commits[0] += 1

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(" ".join(sql.split()))

    account = h.poller.accounts(h.account.label)[0]
    engine = h.app.catalog.engine
    event.listen(engine, "commit", count)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        with h.poller.outbox.exclusive():
            report = h.poller.poll_account(account)
    finally:
        event.remove(engine, "commit", count)
        event.remove(engine, "before_cursor_execute", statement)
    return commits[0], statements, report


def test_an_idle_poll_commits_its_object_its_lock_and_the_runs_close_together(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()
        commits, statements, report = _poll_counting(h)  # nothing new upstream: one new WARC
        assert report.status == "complete" and len(report.warcs) == 1
        assert commits == 2, commits  # the run's row; the index with its lock and the close
        # The run was opened by this poll: the indexer asks neither whether it exists nor what
        # it observed in earlier WARCs (it has none), nor whether its new WARC is indexed
        # already, and it is handed the account the poll read (no lookup by platform and id).
        # 22 statements, then 20, now 18; one more (both before and after) when the items'
        # last_seen_at moves to a later second.
        assert not any(q.startswith("SELECT capture_runs.id FROM capture_runs") for q in statements)
        assert not any("JOIN observations" in q for q in statements), statements
        assert not any(q.startswith("SELECT warc_files.id FROM warc_files") for q in statements), statements
        assert not any(q.startswith("SELECT accounts.id, accounts.name, accounts.role") for q in statements)
        assert len(statements) <= 19, "\n".join(q[:90] for q in statements)
        name = report.warcs[0]
        with h.app.catalog.session() as s:
            run = s.get(t.CaptureRun, report.run_id)
            assert run is not None and run.status == "complete" and run.finished_at is not None
            assert run.exchanges == report.exchanges
            row = s.get(rt.ObjectRetention, name)
            assert row is not None and row.lock_until is not None
            account = s.scalar(select(t.Account).where(t.Account.id == h.account.id))
            assert account is not None and account.status == "ok"
            assert account.last_success_at is not None
            key = s.scalar(select(t.WarcFile.store_key).where(t.WarcFile.name == name))
        assert key is not None
        head = h.app.store.head(key)
        assert head is not None and head.retain_until is not None
    finally:
        h.close()


def test_a_store_that_refuses_the_lock_does_not_fail_the_capture(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The store call runs inside the index transaction: its failure is logged after the
    commit, and the object, its records and the run's close are kept."""
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()

        def refused(*_: Any) -> None:
            raise StorageError("the bucket refused PutObjectRetention; check the IAM policy")

        h.app.store.extend_retention = refused  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR):
            report = h.poll()
        del h.app.store.extend_retention
        assert report.status == "complete" and len(report.warcs) == 1
        name = report.warcs[0]
        assert "could not set retention controls on " + name in caplog.text
        assert "holds reconcile" in caplog.text
        with h.app.catalog.session() as s:
            assert s.scalar(select(t.WarcFile.id).where(t.WarcFile.name == name)) is not None
            assert s.get(rt.ObjectRetention, name) is None  # nothing was asked of the store
            run = s.get(t.CaptureRun, report.run_id)
            assert run is not None and run.status == "complete"
    finally:
        h.close()
