"""The daemon polls due accounts on its schedule and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.daemon.scheduler import DaemonState, due_accounts, run_daemon
from tests.harness import Harness


def test_daemon_polls_on_its_schedule_and_stops_between_accounts(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook", settings={"daemon": {"poll_interval_minutes": 0.001, "tick_seconds": 0.2}})
    try:
        state = DaemonState()
        thread = threading.Thread(target=run_daemon, args=(h.app, state), kwargs={"install_signals": False})
        thread.start()
        deadline = time.monotonic() + 30
        while len(state.reports) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        h.sandbox.edit(sorted(h.sandbox.live_item_ids(h.seed.account_id))[0])
        seen = len(state.reports)
        while len(state.reports) < seen + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        state.stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert len(state.reports) >= 3 and all(r.status == "complete" for r in state.reports)
        assert sum(r.edited for r in state.reports) == 1
    finally:
        h.close()


def test_due_accounts_respects_interval_and_throttle_waits(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook", settings={"daemon": {"poll_interval_minutes": 15}})
    try:
        now = h.app.clock.now()
        assert [a.account_id for a in due_accounts(h.app, now)] == [h.seed.account_id]  # never polled
        h.poll()
        assert due_accounts(h.app, now + timedelta(minutes=1)) == []
        assert due_accounts(h.app, now + timedelta(minutes=16))
        with h.app.catalog.session() as s:
            row = s.scalar(select(t.Account))
            row.next_poll_after = now + timedelta(hours=2)  # a throttle asked for two hours
        assert due_accounts(h.app, now + timedelta(minutes=16)) == []
        assert due_accounts(h.app, now + timedelta(hours=3))
    finally:
        h.close()


def test_sigterm_stops_the_daemon_process_cleanly(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        env = {**os.environ, "ARCHIVER_HOME": str(h.home), "ARCHIVER_DAEMON__TICK_SECONDS": "0.2",
               "PYTHONPATH": str(Path(__file__).parents[1])}
        proc = subprocess.Popen([sys.executable, "-m", "archiver.cli.main", "daemon"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        done = False
        while not done and time.monotonic() < deadline:
            time.sleep(0.3)
            with h.app.catalog.session() as s:
                done = s.scalar(select(t.WarcFile.id)) is not None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out.decode()
        assert done, out.decode()
        assert b"daemon stopped" in out
        spool = h.home / "spool"
        assert not spool.exists() or not [p for p in spool.iterdir() if p.name != ".lock"]
    finally:
        h.close()
