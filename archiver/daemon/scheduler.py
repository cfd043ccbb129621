"""Run capture cycles until told to stop: one daemon worker of a fleet.

The main loop claims due accounts for the free capture slots (archiver.daemon.worker), starts
more whenever one finishes, and otherwise wakes every `tick_seconds`. Every
`heartbeat_seconds` it writes the worker's heartbeat and current work to the catalog, renews
the leases of captures still running, re-evaluates the alerts and sends what is new, and
starts any scheduled job that is due (on its own thread, so captures go on).

Several daemons on one or many machines share a PostgreSQL catalog and an object store, each
with its own spool; SQLite allows one writer, so a SQLite catalog takes one daemon, and a
second one says so and exits. On SIGTERM or SIGINT the worker claims nothing new, lets every
capture under way finish, seal and store its WARC, releases its leases and exits; anything a
harder stop (SIGKILL) leaves behind is finished by the sweep at the next start, and the
accounts it held go to the other workers when its leases run out.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, select

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.core.errors import ArchiverError, ConfigError
from archiver.daemon.jobs import Job, claim_job, default_jobs, run_job
from archiver.daemon.leases import due_filter, interrupt_orphaned_runs, renew, worker_id
from archiver.daemon.worker import Worker, WorkerConfig
from archiver.services import alerts
from archiver.services.poll import Poller, RunReport

log = logging.getLogger(__name__)


@dataclass
class DaemonState:
    stop: threading.Event = field(default_factory=threading.Event)
    worker: str = field(default_factory=worker_id)
    cycles: int = 0  # loop passes (ticks)
    signal_name: str = ""  # the signal that asked the daemon to stop, for the log
    reports: list[RunReport] = field(default_factory=list)
    jobs: list[Job] | None = None  # None: the default scheduled jobs
    on_report: Callable[[RunReport], None] | None = None


def due_accounts(app: App, now: datetime) -> list[t.Account]:
    """Accounts whose poll interval has passed, whose throttle wait (if any) is over, and that
    no live worker holds (the same conditions the worker claims by)."""
    interval = timedelta(minutes=app.settings.daemon.poll_interval_minutes)
    with app.catalog.session() as s:
        return list(s.scalars(select(t.Account).where(*due_filter(now, interval))
                              .order_by(t.Account.last_polled_at.is_not(None), t.Account.last_polled_at)))


class SecondSqliteDaemon(ConfigError):
    """A SQLite catalog has one writer: one daemon per SQLite catalog."""


def check_single_sqlite_worker(app: App, me: str) -> None:
    if app.catalog.engine.dialect.name != "sqlite":
        return
    stale = app.clock.now() - timedelta(seconds=4 * app.settings.daemon.heartbeat_seconds)
    with app.catalog.session() as s:
        other = s.scalar(select(dt.Worker.id).where(dt.Worker.id != me, dt.Worker.stopped_at.is_(None),
                                                    dt.Worker.heartbeat_at >= stale))
    if other:
        raise SecondSqliteDaemon(
            f"Another daemon ({other}) is already capturing with this SQLite catalog, which allows "
            "one daemon; to run several, move the catalog to PostgreSQL (docs/operations.md)")


def log_report(report: RunReport) -> None:
    log.log(logging.INFO if report.status == "complete" else logging.WARNING,
            "captured %s: %s (%d new, %d edited, %d deleted, %d WARCs)%s", report.account,
            report.status, report.new, report.edited, report.deleted, len(report.warcs),
            f": {report.message}" if report.message else "")


class Fleet:
    """This worker's presence in the catalog: heartbeat, alerts, scheduled jobs."""

    def __init__(self, app: App, worker: Worker, state: DaemonState) -> None:
        self.app = app
        self.worker = worker
        self.state = state
        self.jobs = state.jobs if state.jobs is not None else default_jobs(app)
        self._job_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")
        self._job: Future[tuple[str, str]] | None = None

    def register(self) -> None:
        now = self.app.clock.now()
        with self.app.catalog.session() as s:
            s.merge(dt.Worker(id=self.state.worker, host=socket.gethostname(), pid=os.getpid(), started_at=now,
                              heartbeat_at=now, concurrency=self.worker.config.concurrency, current=[],
                              captured=0))
            # Rows of workers that stopped (or died) more than a week ago are history.
            s.execute(delete(dt.Worker).where(dt.Worker.heartbeat_at < now - timedelta(days=7)))

    def beat(self) -> None:
        now = self.app.clock.now()
        with self.app.catalog.session() as s:
            row = s.get(dt.Worker, self.state.worker)
            if row is None:  # removed by `status --forget-worker` while alive: come back
                row = dt.Worker(id=self.state.worker, host=socket.gethostname(), pid=os.getpid(),
                                started_at=now, concurrency=self.worker.config.concurrency)
                s.add(row)
            row.heartbeat_at, row.current, row.captured = now, self.worker.current(), self.worker.captured
            renew(s, self.state.worker, self.worker.running_pks(), now + self.worker.config.lease)
        try:
            interrupt_orphaned_runs(self.app, self.state.worker)  # a dead worker's runs
            alerts.reconcile(self.app, now)
            alerts.deliver(self.app, now)
        except ArchiverError as exc:
            log.error("alert evaluation failed: %s", exc.message)
        self._jobs(now)

    def _jobs(self, now: datetime) -> None:
        if self._job is not None and not self._job.done():
            return
        for job in self.jobs:
            if claim_job(self.app, job, self.state.worker, now, self.worker.config.lease):
                self._job = self._job_pool.submit(run_job, self.app, job, self.state.worker, self.state.stop)
                return

    def stopped(self) -> None:
        self._job_pool.shutdown(wait=True)
        with self.app.catalog.session() as s:
            row = s.get(dt.Worker, self.state.worker)
            if row is not None:
                row.stopped_at = row.heartbeat_at = self.app.clock.now()
                row.current, row.captured = [], self.worker.captured


def _patient_sqlite(app: App) -> None:
    """Concurrent captures in one process take turns at SQLite's single write lock: let a
    writer wait up to a minute for it (a large index transaction) instead of the driver's
    5 s, after which it would fail with "database is locked"."""
    engine = app.catalog.engine
    if engine.dialect.name != "sqlite":
        return

    def busy_timeout(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    event.listen(engine, "connect", busy_timeout)
    engine.dispose()  # pooled connections reopen with the pragma


def run_daemon(app: App, state: DaemonState | None = None, *, install_signals: bool = True) -> DaemonState:
    state = state or DaemonState()
    poller = Poller(app)
    check_single_sqlite_worker(app, state.worker)
    _patient_sqlite(app)
    with poller.outbox.exclusive():  # held for the daemon's whole life
        return _run(app, poller, state, install_signals)


def _run(app: App, poller: Poller, state: DaemonState, install_signals: bool) -> DaemonState:
    swept = poller.recover(interrupt_runs=False)  # other live workers' runs are theirs
    interrupt_orphaned_runs(app, state.worker)
    if swept.salvaged or swept.indexed or swept.encrypted:
        log.info("startup sweep finished %d interrupted WARC(s)", len(swept.indexed))
    settings = app.settings.daemon

    def on_report(report: RunReport) -> None:
        state.reports.append(report)
        log_report(report)
        if state.on_report:
            state.on_report(report)

    worker = Worker(app, poller, WorkerConfig.of(settings), worker=state.worker, on_report=on_report)
    fleet = Fleet(app, worker, state)
    fleet.register()
    metrics = None
    if settings.metrics_port:
        from archiver.daemon.metrics import serve_metrics
        metrics = serve_metrics(app, worker, settings.metrics_port)
    if install_signals:
        def on_signal(signum: int, _frame: object) -> None:
            state.signal_name = signal.Signals(signum).name  # logged by the main loop, not here
            state.stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
    log.info("daemon started as worker %s: %d captures at once, polling every %s minutes, home %s",
             state.worker, worker.config.concurrency, settings.poll_interval_minutes, app.settings.home)
    next_beat = 0.0
    next_claim = 0.0
    try:
        while not state.stop.is_set():
            finished = worker.collect(release=False)  # released by the next dispatch
            now_mono = time.monotonic()
            if now_mono >= next_claim or (finished and worker.wants_refill()):
                worker.dispatch(app.clock.now())
                next_claim = now_mono + settings.tick_seconds
                state.cycles += 1
            if now_mono >= next_beat:
                fleet.beat()
                next_beat = now_mono + settings.heartbeat_seconds
            timeout = max(0.05, min(next_claim, next_beat) - time.monotonic())
            if worker.running:
                worker.wait(timeout)
            else:
                state.stop.wait(timeout)
        if state.signal_name:
            log.info("received %s: finishing the %d capture(s) under way, then stopping",
                     state.signal_name, len(worker.running))
    finally:
        worker.close()  # every capture under way finishes and is stored; leases released
        fleet.stopped()
        if metrics is not None:
            metrics.shutdown()
        log.info("daemon stopped after %d ticks, %d captures", state.cycles, worker.captured)
    return state
