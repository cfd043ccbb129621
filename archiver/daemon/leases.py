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
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

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
