"""Migration 0010 on a catalog with data; the fixity job reaches every object within its
period; a job runs on one worker at a time; the metrics endpoint; JSON log lines."""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import select, text

from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.catalog.db import alembic_config, make_engine, open_catalog
from archiver.daemon.jobs import Job, claim_job, default_jobs, fixity_share, run_fixity, run_job
from archiver.daemon.metrics import serve_metrics
from archiver.daemon.worker import Worker, WorkerConfig
from archiver.services import alerts
from archiver.services.poll import Poller
from tests.harness import Harness

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_migration_0010_upgrades_a_catalog_with_data(tmp_path: Path, database_url: str) -> None:
    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), "0006_requests")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (id, platform, account_id, name, role, api_base, token_ref, "
                          "status, status_message, created_at) VALUES (1, 'facebook', '1', '', '', '', '', 'ok', '', "
                          ":t), (2, 'facebook', '2', '', '', '', '', 'new', '', :t)"), {"t": T0})
        conn.execute(text("INSERT INTO capture_runs (id, account_pk, started_at, finished_at, status, message, "
                          "exchanges, new_items, edited_items, unchanged_items, deleted_items) VALUES "
                          "('r1', 1, :a, :b, 'complete', '', 1, 0, 0, 0, 0), "
                          "('r2', 1, :c, :d, 'failed', 'x', 1, 0, 0, 0, 0)"),
                     {"a": T0, "b": T0 + timedelta(minutes=1), "c": T0 + timedelta(hours=1),
                      "d": T0 + timedelta(hours=1, minutes=1)})
    engine.dispose()
    catalog = open_catalog(database_url)  # upgrades to head
    with catalog.session() as s:
        rows = {a.account_id: a.last_success_at for a in s.scalars(select(t.Account))}
        assert rows == {"1": T0 + timedelta(minutes=1), "2": None}  # the last *complete* run
        s.add(dt.Alert(kind="gap", subject="facebook:2", raised_at=T0, open_key="gap:facebook:2"))
        s.add(dt.Worker(id="w", host="h", pid=1, started_at=T0, heartbeat_at=T0, concurrency=1, current=[],
                        captured=0))
    catalog.dispose()


def test_fixity_job_checks_every_object_within_the_period(tmp_path: Path) -> None:
    # 10 objects, a 5-day period, a run every 24 h: each run checks a fifth, oldest first.
    h = Harness(tmp_path, "facebook", settings={"daemon": {"fixity_period_days": 5, "fixity_every_hours": 24}})
    try:
        with h.app.catalog.session() as s:
            s.add_all(t.Account(platform="facebook", account_id=str(5000 + n), created_at=h.app.clock.now())
                      for n in range(9))
        poller = Poller(h.app)
        with poller.outbox.exclusive():
            poller.recover()
            worker = Worker(h.app, poller, WorkerConfig(concurrency=2))
            worker.run_until_idle()  # 10 accounts (the 9 above fail, unknown to the sandbox)
            worker.close()
        with h.app.catalog.session() as s:
            objects = set(s.scalars(select(t.WarcFile.name)))
        assert len(objects) >= 2
        assert fixity_share(h.app) == 20.0
        seen: list[set[str]] = []
        for _run in range(5):
            before = {r.id for r in _checks(h)}
            status, message = run_fixity(h.app)
            assert status == "ok", message
            seen.append({r.warc_name for r in _checks(h) if r.id not in before})
        assert set().union(*seen) == objects  # every object within the period
        assert all(len(batch) <= max(1, -(-len(objects) // 5)) for batch in seen)
    finally:
        h.close()


def _checks(h: Harness) -> list[t.FixityCheck]:
    with h.app.catalog.session() as s:
        return list(s.scalars(select(t.FixityCheck)))


def test_a_job_runs_on_one_worker_per_period_and_a_failure_is_an_alert(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        ran: list[str] = []
        job = Job("probe", timedelta(hours=1), lambda app, stop: (ran.append("x"), ("ok", "fine"))[1])
        now = h.app.clock.now()
        assert claim_job(h.app, job, "w1", now, timedelta(minutes=5))
        assert not claim_job(h.app, job, "w2", now, timedelta(minutes=5))  # leased by w1
        run_job(h.app, job, "w1")
        assert not claim_job(h.app, job, "w2", now + timedelta(minutes=30), timedelta(minutes=5))  # not due
        assert claim_job(h.app, job, "w2", now + timedelta(hours=2), timedelta(minutes=5))
        assert ran == ["x"]
        assert [j.name for j in default_jobs(h.app)] == ["fixity", "tokens", "retention-plan", "summary"]
        # the token sweep flags an expired token as a capture would: one credential alert
        h.sandbox.expire_token(h.seed.token or "")
        tokens = next(j for j in default_jobs(h.app) if j.name == "tokens")
        assert claim_job(h.app, tokens, "w1", now, timedelta(minutes=5))
        assert run_job(h.app, tokens, "w1")[0] == "findings"
        alerts.reconcile(h.app)
        assert [(a.kind, a.subject) for a in alerts.open_alerts(h.app)] == [("credential", h.account.label)]
        # the retention plan and the summary run (plan only)
        for name in ("retention-plan", "summary"):
            job = next(j for j in default_jobs(h.app) if j.name == name)
            assert claim_job(h.app, job, "w1", now, timedelta(minutes=5))
            assert run_job(h.app, job, "w1")[0] == "ok"
    finally:
        h.close()


def test_metrics_endpoint_counts_captures(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        poller = Poller(h.app)
        with poller.outbox.exclusive():
            poller.recover()
            worker = Worker(h.app, poller, WorkerConfig(concurrency=1))
            server = serve_metrics(h.app, worker, 0)
            try:
                worker.run_until_idle()
                body = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10).read().decode()
            finally:
                server.shutdown()
                worker.close()
        assert 'archiver_captures_total{platform="facebook",status="complete"} 1.0' in body
        assert "archiver_queue_depth 0.0" in body
        assert "archiver_last_cycle_seconds " in body  # the cycle ended: nothing left due
        assert "archiver_requests_total" in body
    finally:
        h.close()


def test_json_log_lines_have_timestamps(capsys: object) -> None:
    from archiver.core.log import setup_logging

    setup_logging("INFO", json_lines=True)
    logging.getLogger("archiver.daemon.scheduler").info("captured %s", "facebook:1")
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    line = json.loads(err.strip().splitlines()[-1])
    assert line["message"] == "captured facebook:1" and line["time"].endswith("Z")
    setup_logging("WARNING")
