"""Scheduled work besides polling, run by one worker of the fleet at a time.

A job is due when its last run is older than its period; a worker takes it with a lease in
`daemon_jobs` (the same conditional UPDATE as account leases), runs it on its own thread so
captures go on, and records the outcome. A worker that dies mid-job leaves a lease that
expires, and another worker runs the job again.

- fixity: re-verify the objects checked longest ago (never-checked first), enough of them each
  run that every object is checked within `fixity_period_days` (APTrust and Merritt re-hash
  every 90 days); failures become alerts.
- tokens: the cheap authenticated call of every account (`accounts check`); a token a person
  must replace flags the account as a capture would (one 'credential' alert, whichever finds
  it first), cleared by the next capture or check that works.
- retention-plan: draws up the disposition plan (plan only: nothing is destroyed here) and
  records its counts in the audit log.
- summary: a daily line in the log (and the job record) of captures, failures and alerts.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.core.errors import ArchiverError
from archiver.services import alerts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    period: timedelta
    # (app, stop) -> (status, message); a long job checks `stop` (SIGTERM) between steps
    run: Callable[[App, threading.Event], tuple[str, str]]


class OldestFirst(random.Random):
    """`verify`'s sampler, asked for k objects, returns the k checked longest ago."""

    def __init__(self, order: dict[int, datetime | None]) -> None:
        super().__init__(0)
        self.order = order

    def sample(self, population: Sequence[Any] | MutableSequence[Any], k: int, *, counts: Any = None) -> list[Any]:
        floor = datetime.min.replace(tzinfo=None)

        def key(pk: int) -> tuple[bool, Any, int]:
            when = self.order.get(pk)
            return (when is not None, when.replace(tzinfo=None) if when else floor, pk)

        return sorted(population, key=key)[:k]


def fixity_share(app: App) -> float:
    """Percentage per run so that every object is checked within the period."""
    d = app.settings.daemon
    runs = max(1.0, d.fixity_period_days * 24 / d.fixity_every_hours)
    return min(100.0, 100.0 / runs)


def run_fixity(app: App, stop: threading.Event | None = None) -> tuple[str, str]:
    from archiver.preservation.fixity import verify

    with app.catalog.session() as s:
        last = dict(s.execute(select(t.FixityCheck.warc_name, func.max(t.FixityCheck.checked_at))
                              .group_by(t.FixityCheck.warc_name)).all())
        order = {pk: last.get(name) for pk, name in s.execute(select(t.WarcFile.id, t.WarcFile.name))}
    if not order:
        return "ok", "no stored objects yet"
    pct = fixity_share(app)
    k = max(1, math.ceil(len(order) * pct / 100))
    report = verify(app, sample_pct=min(100.0, 100.0 * k / len(order)), all_=False, rng=OldestFirst(order))
    status = "ok" if report.ok else "findings"
    return status, f"{report.checked} of {report.total_objects} objects checked, {len(report.findings)} findings"


def run_token_sweep(app: App, stop: threading.Event | None = None) -> tuple[str, str]:
    """Check every account's token. A token a person must replace flags the account exactly
    as a capture meeting it would (status needs-attention, so the one 'credential' alert is
    raised whichever finds it first); a passing check clears such a flag (the token works
    again), unless a capture flagged the account after the check began."""
    from archiver.services.accounts import check_account, list_accounts

    failed: dict[str, str] = {}
    checked = 0
    for account in list_accounts(app):
        if stop is not None and stop.is_set():
            return "stopped", json.dumps({"checked": checked, "failed": failed})
        if account.status in ("gone", "disabled"):
            continue
        began = app.clock.now()
        outcome = check_account(app, account)
        checked += 1
        if outcome.ok:
            _unflag(app, account.id, began)
        else:
            failed[account.label] = outcome.message
            if outcome.needs_attention:
                _flag(app, account.id, outcome.message)
    return ("ok" if not failed else "findings"), json.dumps({"checked": checked, "failed": failed})


def _flag(app: App, account_pk: int, message: str) -> None:
    with app.catalog.session() as s:
        s.execute(update(t.Account)
                  .where(t.Account.id == account_pk, t.Account.status.not_in(["needs-attention", "gone"]))
                  .values(status="needs-attention", status_message=message))


def _unflag(app: App, account_pk: int, began: datetime) -> None:
    with app.catalog.session() as s:
        s.execute(update(t.Account)
                  .where(t.Account.id == account_pk, t.Account.status == "needs-attention",
                         or_(t.Account.last_polled_at.is_(None), t.Account.last_polled_at < began))
                  .values(status="ok", status_message=""))


def run_retention_plan(app: App, stop: threading.Event | None = None) -> tuple[str, str]:
    from archiver.services.retention import plan

    result = plan(app, actor="daemon")
    counts = result.by_status()
    return "ok", (f"plan as of {result.as_of:%Y-%m-%d}: {len(result.eligible_objects())} objects eligible; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def run_summary(app: App, stop: threading.Event | None = None) -> tuple[str, str]:
    now = app.clock.now()
    since = now - timedelta(hours=app.settings.daemon.summary_hours)
    with app.catalog.session() as s:
        runs = dict(s.execute(select(t.CaptureRun.status, func.count()).where(t.CaptureRun.started_at >= since)
                              .group_by(t.CaptureRun.status)).all())
        accounts = s.scalar(select(func.count()).select_from(t.Account)) or 0
    open_now = alerts.open_alerts(app)
    text = (f"since {since:%Y-%m-%d %H:%M} UTC: {sum(runs.values())} captures "
            f"({', '.join(f'{k} {v}' for k, v in sorted(runs.items())) or 'none'}) over {accounts} accounts; "
            f"{len(open_now)} open alerts")
    log.info("daily summary: %s", text)
    return "ok", text


def _retired_token_check(s: Any, now: datetime, app: App) -> dict[str, str]:
    """The sweep once raised alerts of its own kind; none holds now, so any still open in a
    catalog written by that version clears at the next evaluation."""
    return {}


alerts.register_source("token-check", _retired_token_check)


def default_jobs(app: App) -> list[Job]:
    d = app.settings.daemon
    return [
        Job("fixity", timedelta(hours=d.fixity_every_hours), run_fixity),
        Job("tokens", timedelta(hours=d.token_sweep_hours), run_token_sweep),
        Job("retention-plan", timedelta(hours=d.retention_plan_hours), run_retention_plan),
        Job("summary", timedelta(hours=d.summary_hours), run_summary),
    ]


def claim_job(app: App, job: Job, worker: str, now: datetime, lease: timedelta) -> bool:
    try:
        with app.catalog.session() as s:
            if s.get(dt.DaemonJob, job.name) is None:
                s.add(dt.DaemonJob(name=job.name))
        with app.catalog.session() as s:
            won = s.execute(
                update(dt.DaemonJob)
                .where(dt.DaemonJob.name == job.name,
                       or_(dt.DaemonJob.last_run_at.is_(None), dt.DaemonJob.last_run_at <= now - job.period),
                       or_(dt.DaemonJob.lease_until.is_(None), dt.DaemonJob.lease_until < now))
                .values(lease_owner=worker, lease_until=now + lease)
            ).rowcount  # type: ignore[attr-defined]
    except ArchiverError:
        return False  # another worker created the row at the same moment: next time
    return bool(won)


def run_job(app: App, job: Job, worker: str, stop: threading.Event | None = None) -> tuple[str, str]:
    """Run it and record the outcome; a job cut short by `stop` is not recorded as run, so
    it is due again at once (on this worker's successor or another worker)."""
    try:
        status, message = job.run(app, stop or threading.Event())
    except ArchiverError as exc:
        status, message = "failed", exc.message
    except Exception as exc:  # noqa: BLE001 - a broken job must not stop the daemon
        log.exception("scheduled job %s failed", job.name)
        status, message = "failed", f"{type(exc).__name__}"
    with app.catalog.session() as s:
        row = s.get(dt.DaemonJob, job.name)
        if row is not None and row.lease_owner == worker:
            if status != "stopped":
                row.last_run_at, row.last_status, row.last_message = app.clock.now(), status, message
            row.lease_owner, row.lease_until = None, None
    log.info("scheduled job %s: %s: %s", job.name, status, message[:300])
    return status, message


def job_rows(app: App) -> list[dt.DaemonJob]:
    with app.catalog.session() as s:
        return list(s.scalars(select(dt.DaemonJob).order_by(dt.DaemonJob.name)))
