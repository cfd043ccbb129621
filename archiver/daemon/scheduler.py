"""Run capture cycles on a schedule until told to stop.

Scheduling is wiring, not logic: one APScheduler job ticks every `tick_seconds` and polls the
accounts that are due (their interval has passed and no throttle asked to wait longer). The
job never overlaps itself (`max_instances=1`, `coalesce=True`). On SIGTERM or SIGINT the
daemon finishes the account it is capturing, seals and stores its WARC, and exits; anything
a harder stop leaves behind is finished by the sweep at the next start.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.daemon.leases import claim, release, worker_id
from archiver.services.poll import Poller, RunReport

log = logging.getLogger(__name__)


@dataclass
class DaemonState:
    stop: threading.Event = field(default_factory=threading.Event)
    worker: str = field(default_factory=worker_id)
    cycles: int = 0
    signal_name: str = ""  # the signal that asked the daemon to stop, for the log
    reports: list[RunReport] = field(default_factory=list)


def due_accounts(app: App, now: datetime) -> list[t.Account]:
    """Accounts whose poll interval has passed and whose throttle wait (if any) is over."""
    interval = timedelta(minutes=app.settings.daemon.poll_interval_minutes)
    with app.catalog.session() as s:
        rows = list(s.scalars(select(t.Account).order_by(t.Account.last_polled_at.is_not(None), t.Account.last_polled_at)))
    due = []
    for row in rows:
        if row.status == "gone":
            continue  # gone from the platform; re-registering (accounts add --replace) resumes it
        if row.next_poll_after and row.next_poll_after > now:
            continue  # the platform asked us to wait
        if row.last_polled_at and row.last_polled_at + interval > now:
            continue
        due.append(row)
    return due


def tick(app: App, poller: Poller, state: DaemonState) -> None:
    """One scheduler tick: poll every due account, stopping between accounts when asked."""
    if state.stop.is_set():
        return
    lease = timedelta(minutes=app.settings.daemon.lease_minutes)
    for account in due_accounts(app, app.clock.now()):
        if state.stop.is_set():
            break
        if not claim(app, state.worker, account.id, app.clock.now(), lease):
            continue  # another worker is capturing it
        try:
            report = poller.poll_account(account)
        finally:
            release(app, state.worker, account.id)
        state.reports.append(report)
        log.log(logging.INFO if report.status == "complete" else logging.WARNING,
                "captured %s: %s (%d new, %d edited, %d deleted, %d WARCs)%s", report.account,
                report.status, report.new, report.edited, report.deleted, len(report.warcs),
                f": {report.message}" if report.message else "")
    state.cycles += 1


def run_daemon(app: App, state: DaemonState | None = None, *, install_signals: bool = True) -> DaemonState:
    state = state or DaemonState()
    poller = Poller(app)
    with poller.outbox.exclusive():  # held for the daemon's whole life
        return _run(app, poller, state, install_signals)


def _run(app: App, poller: Poller, state: DaemonState, install_signals: bool) -> DaemonState:
    swept = poller.recover()
    if swept.salvaged or swept.indexed or swept.encrypted:
        log.info("startup sweep finished %d interrupted WARC(s)", len(swept.indexed))
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        tick, "interval", args=(app, poller, state), seconds=app.settings.daemon.tick_seconds,
        next_run_time=datetime.now(UTC), max_instances=1, coalesce=True, id="capture",
    )
    if install_signals:
        def on_signal(signum: int, _frame: object) -> None:
            state.signal_name = signal.Signals(signum).name  # logged by the main loop, not here
            state.stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
    scheduler.start()
    log.info("daemon started as worker %s: polling every %s minutes, home %s", state.worker,
             app.settings.daemon.poll_interval_minutes, app.settings.home)
    try:
        state.stop.wait()
        if state.signal_name:
            log.info("received %s: finishing the account being captured, then stopping", state.signal_name)
    finally:
        scheduler.shutdown(wait=True)  # lets a running tick finish its current account
        log.info("daemon stopped after %d ticks", state.cycles)
    return state
