"""CPU, statements and a profile of `protect_new_objects` (Object Lock date and legal holds after
an upload) for idle accounts: N fleet accounts captured once, then each polled again with
nothing new (one new WARC each); only the second polls' protect calls are measured.

    python bench/protect_cost.py [N]            # N = 20; with a cProfile of those calls
    NOPROF=1 python bench/protect_cost.py 60    # CPU without the profiler's overhead
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daemon_bench as db  # noqa: E402  (puts the repository first on sys.path)
from sqlalchemy import event, select  # noqa: E402

import archiver.services.poll as poll_module  # noqa: E402
from archiver.catalog import tables as t  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    profile = not os.environ.get("NOPROF")
    prof = cProfile.Profile(time.process_time)
    on = [False]
    cpu, calls, statements = [0.0], [0], [0]
    original = poll_module.protect_new_objects

    def measured(app: Any, names: Any) -> None:
        started = time.process_time()
        on[0] = True
        if profile:
            prof.enable()
        try:
            original(app, names)
        finally:
            prof.disable()
            on[0] = False
        cpu[0] += time.process_time() - started
        calls[0] += 1

    fleet = db.FleetProcess(count)
    work = Path(tempfile.mkdtemp(prefix="protect-cost-"))
    token = work / "token"
    token.write_text("EAAB-fleet-token-000000")
    os.chmod(token, 0o600)
    app = db.App(db._settings(work / "home", fleet.url, None))
    db.create_archive(app)
    db.register_fleet(app, count, token)
    poller = db.Poller(app)

    def counted(*_: Any) -> None:
        if on[0]:
            statements[0] += 1

    event.listen(app.catalog.engine, "before_cursor_execute", counted)
    with poller.outbox.exclusive():
        poller.recover()
        with app.catalog.session() as s:
            accounts = list(s.scalars(select(t.Account).order_by(t.Account.id)))
        for account in accounts:  # first capture: not measured
            poller.poll_account(account)
        poll_module.protect_new_objects = measured
        for account in accounts:
            poller.poll_account(account)
        poll_module.protect_new_objects = original
    fleet.close()
    print(f"protect_new_objects: {calls[0]} calls, {cpu[0] / calls[0] * 1000:.2f} ms CPU each, "
          f"{statements[0] / calls[0]:.1f} statements each ({'with' if profile else 'no'} profiler; "
          f"load {os.getloadavg()[0]:.2f})")
    if profile:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
