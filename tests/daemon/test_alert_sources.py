"""Alert sources and their lifecycle without a daemon: gap, silent worker, fixity; one alert
per condition however many workers evaluate it; a failed delivery is retried, not lost."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.core.settings import Settings
from archiver.services import alerts
from archiver.services.archive_home import create_archive


def _app(tmp_path: Path, database_url: str, **settings: object) -> App:
    app = App(Settings(home=tmp_path / "home", database_url=database_url, **settings))  # type: ignore[arg-type]
    create_archive(app)
    return app


def test_gap_worker_and_fixity_alerts_open_and_clear(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url, daemon={"poll_interval_minutes": 15, "heartbeat_seconds": 15})
    try:
        now = app.clock.now()
        with app.catalog.session() as s:
            s.add(t.Account(platform="facebook", account_id="1", status="ok", created_at=now - timedelta(days=1),
                            last_success_at=now - timedelta(minutes=31)))
            s.add(t.Account(platform="facebook", account_id="2", status="ok", created_at=now - timedelta(days=1),
                            last_success_at=now - timedelta(minutes=29)))
            s.add(t.Account(platform="facebook", account_id="3", status="needs-attention",
                            status_message="token expired", created_at=now - timedelta(days=1)))
            s.add(dt.Worker(id="dead", host="h", pid=1, started_at=now - timedelta(hours=1),
                            heartbeat_at=now - timedelta(minutes=2), concurrency=1, current=[], captured=0))
            s.add(dt.Worker(id="alive", host="h", pid=2, started_at=now - timedelta(hours=1),
                            heartbeat_at=now - timedelta(seconds=10), concurrency=1, current=[], captured=0))
            s.add(t.FixityCheck(run_id="r", warc_name="a.warc.gz", store_key="k", checked_at=now,
                                verdict="tampered", detail="authentication failed"))
        raised, cleared = alerts.reconcile(app, now)
        opened = {(a.kind, a.subject) for a in alerts.open_alerts(app)}
        assert opened == {("gap", "facebook:1"), ("credential", "facebook:3"), ("worker", "dead"),
                          ("fixity", "a.warc.gz")}
        assert (raised, cleared) == (4, 0)
        assert alerts.reconcile(app, now) == (0, 0)  # nothing new: nothing raised again
        with app.catalog.session() as s:
            for row in s.query(t.Account):
                row.last_success_at, row.status = now, "ok"
            s.get(dt.Worker, "dead").heartbeat_at = now  # type: ignore[union-attr]
            s.add(t.FixityCheck(run_id="r2", warc_name="a.warc.gz", store_key="k", checked_at=now, verdict="ok"))
        assert alerts.reconcile(app, now) == (0, 4)
        assert alerts.open_alerts(app) == []
        assert len(alerts.recent_alerts(app, now - timedelta(hours=1))) == 4
    finally:
        app.close()


def test_workers_evaluating_at_once_raise_one_alert(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url)
    try:
        now = app.clock.now()
        with app.catalog.session() as s:
            s.add(t.Account(platform="facebook", account_id="9", status="gone", status_message="page gone",
                            created_at=now))
        start = threading.Barrier(4)
        results: list[tuple[int, int]] = []

        def evaluate() -> None:
            start.wait()
            results.append(alerts.reconcile(app, now, kinds=["gone"]))

        threads = [threading.Thread(target=evaluate) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sum(r[0] for r in results) == 1
        assert [(a.kind, a.subject) for a in alerts.open_alerts(app)] == [("gone", "facebook:9")]
    finally:
        app.close()


def test_a_failed_delivery_is_retried(tmp_path: Path) -> None:
    app = _app(tmp_path, f"sqlite:///{tmp_path / 'c.sqlite'}",
               alerts={"webhook_url": "http://127.0.0.1:9/nowhere", "timeout": 1})
    try:
        with app.catalog.session() as s:
            s.add(t.Account(platform="facebook", account_id="9", status="gone", created_at=app.clock.now()))
        alerts.reconcile(app, kinds=["gone"])
        assert alerts.deliver(app) == 0  # nothing listens on port 9
        with app.catalog.session() as s:
            row = s.query(dt.Alert).one()
            assert row.raise_sent_at is None  # un-claimed: the next evaluation tries again
    finally:
        app.close()
