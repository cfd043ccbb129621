"""A starting worker marks interrupted only the capture runs no live worker is running (issue
14): on PostgreSQL several workers share the catalog, and a worker starting next to another
that is capturing must leave that worker's runs alone. The runs of a dead worker (heartbeat
expired, or this machine's process gone: a previous incarnation) and runs without a live
lease are interrupted, at start-up and at any later heartbeat."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.core.settings import Settings
from archiver.daemon.leases import interrupt_orphaned_runs
from archiver.daemon.scheduler import DaemonState, run_daemon
from archiver.sandbox.fleet import Fleet, page_id
from archiver.sandbox.server import SandboxServer
from archiver.services.archive_home import create_archive
from archiver.services.poll import Poller
from tests.conftest import _pg_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_database()


def _gone_pid() -> int:
    """The id of a process that has exited (reaped), so nothing runs under it now."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _statuses(app: App) -> dict[str, str]:
    with app.catalog.session() as s:
        return {r.id: r.status for r in s.scalars(select(t.CaptureRun))}


def _setup(app: App) -> None:
    """Four accounts, each with a run left 'running':
    live  - leased by another worker on another machine that heartbeats: still capturing;
    stale - leased (lease not yet expired) by a worker whose heartbeat stopped long ago;
    prev  - leased by a worker on this machine whose process is gone (a previous incarnation);
    free  - no lease at all (an `archiver poll` that was killed)."""
    now = app.clock.now()
    lease = now + timedelta(minutes=30)
    with app.catalog.session() as s:
        s.add_all([
            dt.Worker(id="other:1:live", host="other-machine", pid=1, started_at=now, heartbeat_at=now,
                      concurrency=1, current=[], captured=0),
            dt.Worker(id="other:2:stale", host="other-machine", pid=2, started_at=now - timedelta(hours=1),
                      heartbeat_at=now - timedelta(hours=1), concurrency=1, current=[], captured=0),
            dt.Worker(id="me:prev", host=socket.gethostname(), pid=_gone_pid(), started_at=now,
                      heartbeat_at=now, concurrency=1, current=[], captured=0),
        ])
        for n, (name, owner) in enumerate([("live", "other:1:live"), ("stale", "other:2:stale"),
                                           ("prev", "me:prev"), ("free", None)]):
            s.add(t.Account(id=n + 1, platform="facebook", account_id=page_id(n), name=name, created_at=now,
                            token_ref="", lease_owner=owner, lease_until=lease if owner else None,
                            last_polled_at=now, status="ok"))
            s.flush()
            s.add(t.CaptureRun(id=name, account_pk=n + 1, started_at=now))


@pytest.mark.postgres
def test_a_starting_worker_leaves_a_live_workers_runs_alone_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    fleet = Fleet(4)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    app = App(Settings(home=tmp_path / "home", database_url=pg_url, storage={"url": f"file://{tmp_path / 'store'}"},
                       connectors={"facebook": {"api_base": server.url}},
                       daemon={"poll_interval_minutes": 60, "tick_seconds": 0.2, "heartbeat_seconds": 0.5}))
    create_archive(app)
    _setup(app)
    state = DaemonState(jobs=[])
    thread = threading.Thread(target=run_daemon, args=(app, state), kwargs={"install_signals": False})
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with app.catalog.session() as s:
                if s.get(dt.Worker, state.worker) is not None:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("the second worker never registered")
        assert _statuses(app) == {"live": "running", "stale": "interrupted", "prev": "interrupted",
                                  "free": "interrupted"}
        # The live worker dies (its heartbeat stops): the next heartbeat of the running one
        # finds its run orphaned.
        with app.catalog.session() as s:
            live = s.get(dt.Worker, "other:1:live")
            assert live is not None
            live.heartbeat_at = app.clock.now() - timedelta(minutes=5)
        deadline = time.monotonic() + 30
        while _statuses(app)["live"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _statuses(app)["live"] == "interrupted"
    finally:
        state.stop.set()
        thread.join(timeout=60)
        app.close()
        server.stop()
    assert not thread.is_alive()


def test_poll_recovery_leaves_leased_runs_alone(tmp_path: Path) -> None:
    """`archiver poll` (no worker of its own) spares the runs of accounts under a live lease."""
    app = App(Settings(home=tmp_path / "home"))
    create_archive(app)
    _setup(app)
    poller = Poller(app)
    with poller.outbox.exclusive():
        poller.recover()
    assert _statuses(app) == {"live": "running", "stale": "running", "prev": "running", "free": "interrupted"}
    # the daemon's finer judgement: the stale and the previous incarnation are dead
    assert interrupt_orphaned_runs(app, "me:now") == 2
    assert _statuses(app) == {"live": "running", "stale": "interrupted", "prev": "interrupted",
                              "free": "interrupted"}
    assert interrupt_orphaned_runs(app, "other:1:live") == 0  # its own runs are live to itself


@pytest.mark.postgres
def test_two_real_workers_on_postgresql_the_second_leaves_the_firsts_captures_running(
        tmp_path: Path, pg_url: str) -> None:
    """Worker 1 is capturing (slow platform) when worker 2 starts on the same catalog and
    store: none of worker 1's runs is marked interrupted, then or later."""
    fleet = Fleet(4, latency=1.0)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    store = f"file://{tmp_path / 'store'}"

    def app_for(n: int) -> App:
        return App(Settings(home=tmp_path / f"home{n}", database_url=pg_url, storage={"url": store},
                            vault={"key_file": tmp_path / "home1" / "keys" / "kek.json"},
                            connectors={"facebook": {"api_base": server.url}},
                            daemon={"poll_interval_minutes": 60, "tick_seconds": 0.2, "heartbeat_seconds": 0.5,
                                    "concurrency": 2, "per_credential_concurrency": 2}))

    first = app_for(1)
    create_archive(first)
    token = tmp_path / "token"
    token.write_text("EAAB-fleet-token-000000")
    token.chmod(0o600)
    now = first.clock.now()
    with first.catalog.session() as s:
        s.add_all(t.Account(platform="facebook", account_id=page_id(n), name=f"Fleet School {n}",
                            token_ref=f"file:{token}", created_at=now) for n in range(4))
    second = app_for(2)
    states = [DaemonState(jobs=[]), DaemonState(jobs=[])]
    threads = [threading.Thread(target=run_daemon, args=(app, state), kwargs={"install_signals": False})
               for app, state in zip((first, second), states, strict=True)]
    seen: dict[str, set[str]] = {}

    def watch() -> dict[str, str]:
        statuses = _statuses(first)
        for run, status in statuses.items():
            seen.setdefault(run, set()).add(status)
        return statuses

    try:
        threads[0].start()
        deadline = time.monotonic() + 60
        while "running" not in watch().values():
            assert time.monotonic() < deadline, "worker 1 never started capturing"
            time.sleep(0.05)
        under_way = {run for run, status in watch().items() if status == "running"}
        threads[1].start()
        while True:
            watch()
            with second.catalog.session() as s:
                if s.get(dt.Worker, states[1].worker) is not None:
                    break  # worker 2 has finished its start-up recovery
            assert time.monotonic() < deadline + 60, "worker 2 never registered"
            time.sleep(0.05)
        statuses = watch()
        assert all(statuses[run] in ("running", "complete") for run in under_way), statuses
        while sum(s == "complete" for s in watch().values()) < 4:
            assert time.monotonic() < deadline + 120, watch()
            time.sleep(0.1)
        assert not [run for run, kinds in seen.items() if "interrupted" in kinds], seen
    finally:
        for state in states:
            state.stop.set()
        for thread in threads:
            if thread.is_alive() or thread.ident is not None:
                thread.join(timeout=120)
        first.close()
        second.close()
        server.stop()
