"""Several daemon processes on one PostgreSQL catalog and one store (issue 14).

Every account is polled once per interval, a SIGKILLed worker's accounts continue on the
others once its leases run out, nothing is captured twice to completion, nothing is lost
(`catalog rebuild` agrees once the dead worker's spool is swept), and SIGTERM mid-cycle leaves
nothing behind. The default run uses 60 accounts; `-m slow` runs the issue's 300.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.core.settings import Settings
from archiver.preservation.rebuild import rebuild
from archiver.sandbox.fleet import Fleet, page_id
from archiver.sandbox.server import SandboxServer
from archiver.services.archive_home import create_archive
from tests.conftest import _pg_database

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_database()


def _home(tmp_path: Path, fleet_url: str, database_url: str | None, accounts: int) -> tuple[App, dict[str, str]]:
    """home0 with the catalog, keys, the shared store and the accounts; the env every worker shares."""
    store = tmp_path / "store"
    app = App(Settings(home=tmp_path / "home0", database_url=database_url,
                       storage={"url": f"file://{store}"},
                       connectors={"facebook": {"api_base": fleet_url, "page_limit": 100}}))
    create_archive(app)
    token = tmp_path / "token"
    token.write_text("EAAB-fleet-token-000000")
    os.chmod(token, 0o600)
    now = app.clock.now()
    with app.catalog.session() as s:
        s.add_all(t.Account(platform="facebook", account_id=page_id(n), name=f"Fleet School {n}",
                            token_ref=f"file:{token}", created_at=now) for n in range(accounts))
    env = {**os.environ, "ARCHIVER_STORAGE__URL": f"file://{store}",
           "ARCHIVER_VAULT__KEY_FILE": str(tmp_path / "home0" / "keys" / "kek.json"),
           "ARCHIVER_CONNECTORS__FACEBOOK__API_BASE": fleet_url,
           "ARCHIVER_CONNECTORS__FACEBOOK__PAGE_LIMIT": "100",
           "ARCHIVER_CAPTURE__BACKOFF_BASE": "0.01",
           "ARCHIVER_DAEMON__TICK_SECONDS": "0.5", "ARCHIVER_DAEMON__HEARTBEAT_SECONDS": "1",
           "ARCHIVER_DAEMON__POLL_INTERVAL_MINUTES": "60", "ARCHIVER_DAEMON__LEASE_MINUTES": "0.1",
           "ARCHIVER_DAEMON__CONCURRENCY": "4", "PYTHONPATH": str(REPO)}
    if database_url:
        env["ARCHIVER_DATABASE_URL"] = database_url
    return app, env


def _start(tmp_path: Path, env: dict[str, str], n: int) -> subprocess.Popen[bytes]:
    home = tmp_path / f"home{n}"
    home.mkdir(exist_ok=True)
    (home / ".archiver-home").touch()  # what `archiver init` leaves on each worker's machine
    log = open(tmp_path / f"worker{n}.log", "ab")  # noqa: SIM115 - the worker's stderr, for failures
    return subprocess.Popen([sys.executable, "-m", "archiver.cli.main", "daemon"],
                            env={**env, "ARCHIVER_HOME": str(home)}, stdout=log, stderr=log)


def _complete_runs(app: App) -> Counter[int]:
    with app.catalog.session() as s:
        return Counter(s.scalars(select(t.CaptureRun.account_pk).where(t.CaptureRun.status == "complete")))


def _wait(predicate: Any, timeout: float, what: str, tmp_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(tmp_path.glob("worker*.log")))
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _fleet_run(tmp_path: Path, pg_url: str, accounts: int) -> None:
    fleet = Fleet(accounts, latency=0.02)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    app, env = _home(tmp_path, server.url, pg_url, accounts)
    procs = [_start(tmp_path, env, n) for n in range(3)]
    try:
        # Let the fleet get going, then SIGKILL worker 1 in the middle of its captures.
        _wait(lambda: sum(_complete_runs(app).values()) >= accounts // 4, 240, "the first captures", tmp_path)
        with app.catalog.session() as s:
            victim = s.scalar(select(dt.Worker).where(dt.Worker.pid == procs[1].pid))
            assert victim is not None
            held = set(s.scalars(select(t.Account.id).where(t.Account.lease_owner == victim.id)))
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait(timeout=30)
        _wait(lambda: len(_complete_runs(app)) >= accounts, 600, "every account captured", tmp_path)
        with app.catalog.session() as s:
            by_worker = Counter(s.scalars(select(dt.Worker.id).where(dt.Worker.captured > 0)))
            dead = s.get(dt.Worker, victim.id)
            assert dead is not None and dead.stopped_at is None  # it never said goodbye
        assert len(by_worker) >= 2  # the work was shared
        runs = _complete_runs(app)
        assert set(runs) == set(range(1, accounts + 1))
        assert max(runs.values()) == 1, "an account was captured twice to completion"
        # At the platform: each account's feed read once in the interval, except the ones the
        # killed worker was reading (read again by the worker that took them over).
        twice = {pid for pid, n in fleet.feed_requests.items() if n > 1}
        assert max(fleet.feed_requests.values()) <= 2
        with app.catalog.session() as s:
            twice_pks = set(s.scalars(select(t.Account.id).where(t.Account.account_id.in_(twice))))
        assert twice_pks <= held, "only accounts the dead worker held may be read twice"
        assert len(fleet.feed_requests) == accounts
        for proc in (procs[0], procs[2]):
            proc.send_signal(signal.SIGTERM)
        for proc in (procs[0], procs[2]):
            assert proc.wait(timeout=120) == 0
        # The dead worker comes back: its sweep stores what it had captured before the kill.
        again = _start(tmp_path, env, 1)

        def swept() -> bool:
            with app.catalog.session() as s:
                up = s.scalar(select(dt.Worker.id).where(dt.Worker.pid == again.pid)) is not None
            return up and not [p for p in (tmp_path / "home1" / "spool").iterdir() if p.name != ".lock"]

        _wait(swept, 120, "the restarted worker's sweep", tmp_path)
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=120) == 0
        with app.catalog.session() as s:
            assert s.scalar(select(func.count()).select_from(t.CaptureRun).where(t.CaptureRun.status == "running")) == 0
        report = rebuild(app)
        assert report.equal and not report.unreadable, [d for d in report.diffs if not d.equal]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        app.close()
        server.stop()


@pytest.mark.postgres
def test_three_workers_share_the_accounts_and_survive_a_sigkill(tmp_path: Path, pg_url: str) -> None:
    _fleet_run(tmp_path, pg_url, 60)


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_with_300_accounts(tmp_path: Path, pg_url: str) -> None:
    _fleet_run(tmp_path, pg_url, 300)


def test_sigterm_mid_cycle_loses_nothing(tmp_path: Path) -> None:
    fleet = Fleet(24, latency=0.1)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    app, env = _home(tmp_path, server.url, None, 24)
    env["ARCHIVER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'home0' / 'catalog.sqlite'}"
    proc = _start(tmp_path, env, 1)
    try:
        _wait(lambda: fleet.max_in_flight >= 2 and sum(_complete_runs(app).values()) >= 2, 120,
              "captures under way", tmp_path)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
        with app.catalog.session() as s:
            statuses = Counter(s.scalars(select(t.CaptureRun.status)))
            warcs = s.scalar(select(func.count()).select_from(t.WarcFile))
            leased = s.scalar(select(func.count()).select_from(t.Account).where(t.Account.lease_owner.is_not(None)))
        assert set(statuses) == {"complete"}, statuses  # every capture begun was finished
        assert 2 <= statuses["complete"] < 24  # it really stopped mid-cycle
        assert warcs == statuses["complete"]
        assert leased == 0
        assert [p.name for p in (tmp_path / "home1" / "spool").iterdir()] == [".lock"]
        log = (tmp_path / "worker1.log").read_text()
        assert "received SIGTERM" in log and "daemon stopped" in log
    finally:
        if proc.poll() is None:
            proc.kill()
        app.close()
        server.stop()


def test_a_second_daemon_on_a_sqlite_catalog_says_why_and_exits(tmp_path: Path) -> None:
    fleet = Fleet(2)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    app, env = _home(tmp_path, server.url, None, 2)
    env["ARCHIVER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'home0' / 'catalog.sqlite'}"
    first = _start(tmp_path, env, 1)
    try:
        _wait(lambda: sum(_complete_runs(app).values()) >= 2, 120, "the first daemon", tmp_path)
        (tmp_path / "home2").mkdir()
        (tmp_path / "home2" / ".archiver-home").touch()
        second = subprocess.run([sys.executable, "-m", "archiver.cli.main", "daemon"], capture_output=True,
                                text=True, env={**env, "ARCHIVER_HOME": str(tmp_path / "home2")}, timeout=120)
        assert second.returncode != 0
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "allows one daemon" in lines[0] and "PostgreSQL" in lines[0], second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
        app.close()
        server.stop()
