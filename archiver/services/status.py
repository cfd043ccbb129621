"""What an operator asks first: is every account being captured, are the workers alive, what
needs attention. Read-only; `archiver status` prints it (and the web view can show it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.core.errors import ConfigError
from archiver.services.alerts import AlertView, open_alerts
from archiver.services.budgets import budget_report, credential_label, credential_of


@dataclass(frozen=True)
class BudgetStatus:
    """One credential's quota this period (archiver/services/budgets.py)."""

    platform: str
    credential: str  # its kind and a short digest, never the reference
    unit: str
    period: str
    limit: int
    usable: int  # the limit less the reserve left to the district's other tools
    spent: int
    remaining: int
    resets_at: datetime
    accounts: int
    fit: int  # how many of the accounts fit the usable budget at the poll interval
    warning: str  # set when they do not all fit: how many fit and what to do


@dataclass(frozen=True)
class AccountStatus:
    label: str
    name: str
    status: str
    last_success: datetime | None
    last_polled: datetime | None
    last_error: str
    next_run: datetime | None
    gap_minutes: float | None  # since the last complete capture (None: never)
    overdue: bool  # gap above two intervals
    budget: str = ""


@dataclass(frozen=True)
class WorkerStatus:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    state: str  # running, stopped, silent
    concurrency: int
    captured: int
    current: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Status:
    as_of: datetime
    accounts: list[AccountStatus]
    workers: list[WorkerStatus]
    alerts: list[AlertView]
    jobs: list[dict[str, Any]]
    budgets: list[BudgetStatus] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def iso(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        return {
            "as_of": self.as_of.isoformat(),
            "accounts": [{k: iso(v) for k, v in asdict(a).items()} for a in self.accounts],
            "workers": [{k: iso(v) for k, v in asdict(w).items()} for w in self.workers],
            "alerts": [a.as_dict() for a in self.alerts],
            "jobs": [{k: iso(v) for k, v in j.items()} for j in self.jobs],
            "budgets": [{k: iso(v) for k, v in asdict(b).items()} for b in self.budgets],
        }


def status(app: App) -> Status:
    now = app.clock.now()
    d = app.settings.daemon
    interval = timedelta(minutes=d.poll_interval_minutes)
    budgets = [BudgetStatus(b.platform, b.credential, b.unit, b.period, b.limit or 0, b.usable or 0, b.spent,
                            b.remaining or 0, b.resets_at, b.accounts, b.fit, b.warning())
               for b in budget_report(app) if b.usable is not None]
    by_credential = {(b.platform, b.credential): b for b in budgets}
    with app.catalog.session() as s:
        accounts = []
        for a in s.scalars(select(t.Account).order_by(t.Account.platform, t.Account.account_id)):
            gap = (now - a.last_success_at).total_seconds() / 60 if a.last_success_at else None
            due = a.last_polled_at + interval if a.last_polled_at else now
            if a.next_poll_after and a.next_poll_after > due:
                due = a.next_poll_after
            reference = a.last_success_at or a.created_at
            accounts.append(AccountStatus(
                label=a.label, name=a.name, status=a.status, last_success=a.last_success_at,
                last_polled=a.last_polled_at, last_error=a.status_message or "",
                next_run=None if a.status in ("gone", "disabled") else due, gap_minutes=gap,
                overdue=a.status not in ("gone", "disabled") and reference < now - 2 * interval,
                budget=_short(by_credential.get((a.platform, credential_label(credential_of(a.token_ref)))))))
        stale = now - timedelta(seconds=4 * d.heartbeat_seconds)
        workers = [WorkerStatus(
            id=w.id, host=w.host, pid=w.pid, started_at=w.started_at, heartbeat_at=w.heartbeat_at,
            stopped_at=w.stopped_at,
            state="stopped" if w.stopped_at else ("silent" if w.heartbeat_at < stale else "running"),
            concurrency=w.concurrency, captured=w.captured, current=list(w.current or []))
            for w in s.scalars(select(dt.Worker).order_by(dt.Worker.started_at))]
        jobs = [{"name": j.name, "last_run_at": j.last_run_at, "last_status": j.last_status,
                 "last_message": j.last_message, "running_on": j.lease_owner}
                for j in s.scalars(select(dt.DaemonJob).order_by(dt.DaemonJob.name))]
    return Status(now, accounts, workers, open_alerts(app), jobs, budgets)


def _short(budget: BudgetStatus | None) -> str:
    """An account's share of the table: what its credential has left this period."""
    if budget is None:
        return ""
    return f"{budget.remaining:,}/{budget.usable:,} left"


def forget_worker(app: App, worker_id: str) -> None:
    """Remove a dead worker's row (its alert clears at the next evaluation)."""
    with app.catalog.session() as s:
        if s.get(dt.Worker, worker_id) is None:
            raise ConfigError(f"No worker {worker_id!r}; see 'archiver status' for the workers")
        s.execute(delete(dt.Worker).where(dt.Worker.id == worker_id))
