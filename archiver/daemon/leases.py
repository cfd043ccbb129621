"""Account leases, so several daemon workers on several machines share one catalog.

Claiming is one conditional UPDATE per account (`... WHERE lease expired`), atomic on SQLite
and PostgreSQL alike; on PostgreSQL the candidate SELECT also uses FOR UPDATE SKIP LOCKED so
workers pass each other's rows instead of waiting on them. No home-made coordination beyond
that: a worker that dies holds its accounts until the lease runs out.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.catalog import tables as t


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim(app: App, worker: str, account_pk: int, now: datetime, lease: timedelta) -> bool:
    """Take the lease on one account; False when another live worker holds it."""
    with app.catalog.session() as s:
        candidate = s.scalar(
            select(t.Account.id)
            .where(t.Account.id == account_pk)
            .where(or_(t.Account.lease_until.is_(None), t.Account.lease_until < now,
                       t.Account.lease_owner == worker))
            .with_for_update(skip_locked=True)
        )
        if candidate is None:
            return False
        result = s.execute(
            update(t.Account)
            .where(t.Account.id == account_pk)
            .where(or_(t.Account.lease_until.is_(None), t.Account.lease_until < now,
                       t.Account.lease_owner == worker))
            .values(lease_owner=worker, lease_until=now + lease)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE result has rowcount; Result[Any] does not say so


def release(app: App, worker: str, account_pk: int) -> None:
    with app.catalog.session() as s:
        s.execute(
            update(t.Account)
            .where(t.Account.id == account_pk, t.Account.lease_owner == worker)
            .values(lease_owner=None, lease_until=None)
        )


def due_filter(now: datetime, interval: timedelta) -> list[Any]:
    """An account is due when its interval has passed, no throttle asked to wait longer, it is
    not gone from the platform, and no live worker holds its lease."""
    return [
        t.Account.status.not_in(["gone", "disabled"]),  # accounts add --replace / enable resume it
        or_(t.Account.next_poll_after.is_(None), t.Account.next_poll_after <= now),
        or_(t.Account.last_polled_at.is_(None), t.Account.last_polled_at <= now - interval),
        or_(t.Account.lease_until.is_(None), t.Account.lease_until < now),
    ]


def claim_due(app: App, worker: str, now: datetime, lease: timedelta, interval: timedelta, limit: int,
              *, skip_platforms: Sequence[str] = (), skip_credentials: Sequence[str] = ()) -> list[t.Account]:
    """Take the leases of up to `limit` due accounts in one statement and one transaction.

    PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`, so
    workers claiming at the same moment pass each other's rows instead of waiting or both
    winning; the due conditions are checked again on the locked rows. SQLite: the same
    statement, atomic under SQLite's single writer. Longest-waiting accounts first."""
    if limit <= 0:
        return []
    conditions = due_filter(now, interval)
    if skip_platforms:
        conditions.append(t.Account.platform.not_in(list(skip_platforms)))
    if skip_credentials:
        conditions.append(t.Account.token_ref.not_in(list(skip_credentials)))
    candidates = (
        select(t.Account.id)
        .where(*conditions)
        .order_by(t.Account.last_polled_at.is_not(None), t.Account.last_polled_at, t.Account.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    with app.catalog.session() as s:
        ids = list(s.scalars(
            update(t.Account)
            .where(t.Account.id.in_(candidates), *conditions)
            .values(lease_owner=worker, lease_until=now + lease)
            .returning(t.Account.id)
            .execution_options(synchronize_session=False)  # nothing loaded yet to sync
        ))
        if not ids:
            return []
        rows = list(s.scalars(select(t.Account).where(t.Account.id.in_(ids))))
    return sorted(rows, key=lambda r: (r.last_polled_at is not None, r.last_polled_at or now, r.id))


def release_many(app: App, worker: str, account_pks: Iterable[int]) -> None:
    """Give back the leases of finished (or never started) captures, in one transaction."""
    pks = sorted(set(account_pks))
    if not pks:
        return
    with app.catalog.session() as s:
        s.execute(
            update(t.Account)
            .where(t.Account.id.in_(pks), t.Account.lease_owner == worker)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )


def renew(s: Session, worker: str, account_pks: Iterable[int], until: datetime) -> None:
    """Keep the leases of captures still running (a long capture outlives one lease)."""
    pks = sorted(set(account_pks))
    if pks:
        s.execute(update(t.Account).where(t.Account.id.in_(pks), t.Account.lease_owner == worker)
                  .values(lease_until=until))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # unknown: let the heartbeat decide
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (another user's process)
    return True


def dead_workers(s: Session, now: datetime, heartbeat_seconds: float, me: str) -> set[str]:
    """Workers that said they stopped, whose heartbeat is older than four periods, or that
    ran on this machine under a process id that no longer exists (this worker's previous
    incarnation after a SIGKILL, found at once instead of after its leases run out)."""
    from archiver.catalog import daemon_tables as dt

    stale = now - timedelta(seconds=4 * heartbeat_seconds)
    host = socket.gethostname()
    dead = set()
    for wid, whost, pid, beat, stopped in s.execute(
            select(dt.Worker.id, dt.Worker.host, dt.Worker.pid, dt.Worker.heartbeat_at, dt.Worker.stopped_at)):
        if wid == me:
            continue
        if stopped is not None or beat < stale or (whost == host and not _pid_alive(pid)):
            dead.add(wid)
    return dead


def interrupt_orphaned_runs(app: App, me: str) -> int:
    """Mark interrupted the capture runs no live worker is running; returns how many.

    A run is live while its account's lease is unexpired and held by a worker that is not
    dead (this one included). Runs of other live workers are never touched, whatever the
    catalog (a worker starting on PostgreSQL next to others that are capturing); a dead
    worker's runs are marked as soon as it is known dead, and the daemon repeats this at
    every heartbeat so none stays 'running' for ever."""
    now = app.clock.now()
    marked = 0
    with app.catalog.session() as s:
        rows = s.execute(
            select(t.CaptureRun, t.Account.lease_owner, t.Account.lease_until)
            .join(t.Account, t.Account.id == t.CaptureRun.account_pk)
            .where(t.CaptureRun.status == "running")
        ).all()
        if not rows:
            return 0
        dead = dead_workers(s, now, app.settings.daemon.heartbeat_seconds, me)
        for run, owner, until in rows:
            if owner is not None and until is not None and until >= now and owner not in dead:
                continue
            run.status = "interrupted"
            run.finished_at = run.finished_at or now
            marked += 1
    return marked
