"""What the capture daemons share through the catalog: workers' heartbeats, alerts, and the
scheduled jobs (fixity sample, token sweep, retention plan, daily summary) that one worker of
the fleet runs at a time.

None of this comes from the WARCs; `catalog rebuild --apply` keeps it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archiver.catalog.tables import Base


class Worker(Base):
    """One daemon process. A worker whose heartbeat is older than a few periods is dead (its
    leases run out and the others take its accounts); `stopped_at` marks a clean exit."""

    __tablename__ = "daemon_workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # host:pid:random
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None] = mapped_column(nullable=True)
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    # Labels of the accounts being captured at the last heartbeat, for `archiver status`.
    current: Mapped[list[Any]] = mapped_column(JSON, default=list)
    captured: Mapped[int] = mapped_column(Integer, default=0)  # captures finished since start


class Alert(Base):
    """A condition an operator must hear about: raised once, cleared once.

    `open_key` (kind:subject) is set while the alert is open and unique, so two workers that
    notice the same expired token raise one alert between them; it is NULL once cleared
    (NULLs never collide). `raise_sent_at`/`clear_sent_at` make delivery at-least-once per
    transition without repeating it every cycle."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None] = mapped_column(nullable=True)
    open_key: Mapped[str | None] = mapped_column(String(300), nullable=True, unique=True)
    raise_sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    clear_sent_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DaemonJob(Base):
    """A scheduled job of the fleet: due when `last_run_at` is older than its period; run by
    whichever worker takes its lease first."""

    __tablename__ = "daemon_jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_status: Mapped[str] = mapped_column(String(32), default="")
    last_message: Mapped[str] = mapped_column(Text, default="")
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
