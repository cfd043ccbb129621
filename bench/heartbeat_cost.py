"""CPU of what a daemon worker does at every heartbeat besides the heartbeat row: marking
dead workers' runs interrupted and evaluating every alert source (the budget alert included),
with N registered accounts.

    python bench/heartbeat_cost.py --home /tmp/NAME/hb --accounts 10000 [--database-url URL]

Prints CPU milliseconds (user+sys of this process; the database server's own CPU is not
counted, so on PostgreSQL also watch the server) per call of each step, median of --repeat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

from archiver.app import App
from archiver.catalog import tables as t
from archiver.core.settings import Settings
from archiver.daemon.leases import interrupt_orphaned_runs
from archiver.services import alerts
from archiver.services.archive_home import create_archive


def _cpu() -> float:
    return time.process_time()  # user+sys of every thread of this process


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--credentials", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    app = App(Settings(home=args.home, database_url=args.database_url))
    create_archive(app)
    now = app.clock.now()
    with app.catalog.session() as s:
        if not s.query(t.Account).count():
            s.add_all(t.Account(id=n + 1, platform="youtube", account_id=f"@school{n}", name=f"School {n}",
                                token_ref=f"env:YT_{n % args.credentials}", created_at=now - timedelta(days=1),
                                last_polled_at=now, last_success_at=now, status="ok")
                      for n in range(args.accounts))
            s.flush()
            s.add_all(t.CaptureRun(id=f"run-{n}", account_pk=n + 1, started_at=now, finished_at=now,
                                   status="complete", quota_spent=7) for n in range(args.accounts))
            s.add_all(t.CaptureRun(id=f"live-{n}", account_pk=n + 1, started_at=now) for n in range(3))
            s.add_all(t.QuotaSpend(platform="youtube", credential=f"env:YT_{c}", period_start=now - timedelta(hours=1),
                                   period_end=now + timedelta(hours=1), spent=100) for c in range(args.credentials))
    steps = {
        "interrupt_orphaned_runs": lambda: interrupt_orphaned_runs(app, "bench"),
        "budget alert source": lambda: alerts.reconcile(app, now, kinds=["budget"]),
        "all alert sources": lambda: alerts.reconcile(app, now),
    }
    for name, step in steps.items():
        step()  # warm
        samples = []
        for _ in range(args.repeat):
            started = _cpu()
            step()
            samples.append((_cpu() - started) * 1000)
        print(f"{name:28s} {statistics.median(samples):8.1f} ms CPU per call (median of {args.repeat})")
    print(f"load average {os.getloadavg()[0]:.1f}; {args.accounts} accounts, {args.credentials} credentials; "
          f"wall {time.strftime('%H:%M:%S')}")
    app.close()


if __name__ == "__main__":
    main()
