"""The capture daemon at scale (issue 14): per-account CPU, a full cycle, an idle daemon.

The fleet sandbox (archiver/sandbox/fleet.py) runs in its own process, so the CPU figures are
the archiver's alone; the sandbox's own CPU is reported next to them.

    python bench/daemon_bench.py idle --accounts 100             # CPU per unchanged account
    python bench/daemon_bench.py polls --accounts 50 --rounds 4 [--pg]  # one idle poll, no daemon
    python bench/daemon_bench.py cycle --accounts 300 --workers 1 --latency 0.05 --throttled 0.2
    python bench/daemon_bench.py cycle --accounts 300 --workers 3 --latency 0.05 --throttled 0.2
    python bench/daemon_bench.py cycle --accounts 10000 --workers 3 --pg --steady  # + a cycle with nothing new
    python bench/daemon_bench.py quiet --accounts 10000 --seconds 60  # idle daemon CPU and RSS

`cycle` needs PostgreSQL (a database archiver_daemon_bench, or $BENCH_DAEMON_DB, is created beside ARCHIVER_TEST_PG_URL's)
when --workers > 1; each worker is a real `archiver daemon` process with its own spool.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text, update  # noqa: E402

from archiver.app import App  # noqa: E402
from archiver.catalog import tables as t  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.sandbox.fleet import Fleet, page_id  # noqa: E402
from archiver.sandbox.server import SandboxServer  # noqa: E402
from archiver.services.archive_home import create_archive  # noqa: E402
from archiver.services.poll import Poller  # noqa: E402

PG_ADMIN = os.environ.get("ARCHIVER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DB = os.environ.get("BENCH_DAEMON_DB", "archiver_daemon_bench")  # a database of its own, recreated per run
PG = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB
ROOT = Path(__file__).resolve().parents[1]


def _serve(pages: int, latency: float, throttled: float, port_q: Any, stop: Any, stats_q: Any) -> None:
    every = round(1 / throttled) if throttled else 0
    fleet = Fleet(pages, latency=latency,
                  throttled={page_id(n) for n in range(pages) if every and n % every == every - 1})
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    port_q.put(server.url)
    stop.wait()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats_q.put({"cpu": usage.ru_utime + usage.ru_stime, "max_in_flight": fleet.max_in_flight,
                 "requests": fleet.requests, "feeds": dict(fleet.feed_requests)})
    server.stop()


class FleetProcess:
    def __init__(self, pages: int, latency: float = 0.0, throttled: float = 0.0) -> None:
        ctx = mp.get_context("fork")
        self.port_q, self.stats_q, self.stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(target=_serve, args=(pages, latency, throttled, self.port_q, self.stop, self.stats_q))
        self.proc.start()
        self.url: str = self.port_q.get(timeout=300)

    def cpu(self) -> float:
        """The sandbox process's CPU seconds so far."""
        assert self.proc.pid is not None
        return _cpu_s(self.proc.pid)

    def close(self) -> dict[str, Any]:
        self.stop.set()
        stats: dict[str, Any] = self.stats_q.get(timeout=60)
        self.proc.join(timeout=30)
        return stats


def _settings(home: Path, url: str, database_url: str | None, **extra: Any) -> Settings:
    return Settings(home=home, database_url=database_url, district="Bench School District", state="WA",
                    connectors={"facebook": {"api_base": url, "page_limit": 100, "min_retry_seconds": 600}},
                    **extra)


def register_fleet(app: App, count: int, token_file: Path) -> None:
    """Rows as `accounts add` writes them, in one transaction (10,000 one by one takes minutes)."""
    now = app.clock.now()
    with app.catalog.session() as s:
        s.add_all(t.Account(platform="facebook", account_id=page_id(n), name=f"Fleet School {n}",
                            token_ref=f"file:{token_file}", status="new", created_at=now)
                  for n in range(count))


def _reset_pg() -> None:
    from sqlalchemy import create_engine
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    engine.dispose()


def cmd_idle(args: argparse.Namespace) -> None:
    """CPU of the archiver per account whose platform has nothing new (0 ms latency)."""
    from archiver.daemon.worker import Worker, WorkerConfig

    fleet = FleetProcess(args.accounts)
    work = Path(tempfile.mkdtemp(prefix="daemon-bench-"))
    token = work / "token"
    token.write_text("EAAB-fleet-token-000000")
    os.chmod(token, 0o600)
    app = App(_settings(work / "home", fleet.url, None))
    create_archive(app)
    register_fleet(app, args.accounts, token)
    poller = Poller(app)
    with poller.outbox.exclusive():
        poller.recover()
        with app.catalog.session() as s:
            accounts = list(s.scalars(select(t.Account).order_by(t.Account.id)))
        for account in accounts:  # first capture: everything is new
            poller.poll_account(account)
        # before: one account at a time, as `tick` did (lease claim + release per account)
        from archiver.daemon.leases import claim, release
        started = time.process_time()
        for account in accounts:
            claim(app, "bench", account.id, app.clock.now(), timedelta(minutes=30))
            poller.poll_account(account)
            release(app, "bench", account.id)
        before = (time.process_time() - started) / len(accounts) * 1000
        # after: the worker's path (batched leases, shared client, one bookkeeping transaction)
        with app.catalog.session() as s:
            s.execute(t.Account.__table__.update().values(last_polled_at=None))
        worker = Worker(app, poller, WorkerConfig(concurrency=1))
        started = time.process_time()
        done = worker.run_until_idle()
        after = (time.process_time() - started) / max(done, 1) * 1000
        worker.close()
    stats = fleet.close()
    print(f"idle accounts: {len(accounts)}; archiver CPU per account: before {before:.1f} ms, "
          f"after {after:.1f} ms ({done} captured); sandbox CPU {stats['cpu']:.1f} s")


def cmd_polls(args: argparse.Namespace) -> None:
    """CPU (user and system) of one idle poll, without the daemon's leases and threads: every
    account captured once, then polled `rounds` times more with nothing new upstream, through
    one shared HTTP client as a worker does. The figure issue 14's 10 ms goal is about."""
    from archiver.daemon.worker import shared_client

    fleet = FleetProcess(args.accounts)
    work = Path(tempfile.mkdtemp(prefix="daemon-bench-"))
    token = work / "token"
    token.write_text("EAAB-fleet-token-000000")
    os.chmod(token, 0o600)
    if args.pg:
        _reset_pg()
    app = App(_settings(work / "home", fleet.url, PG if args.pg else None))
    create_archive(app)
    register_fleet(app, args.accounts, token)
    poller = Poller(app)
    client = shared_client(app.settings.capture, 4)
    with poller.outbox.exclusive():
        poller.recover()
        with app.catalog.session() as s:
            accounts = list(s.scalars(select(t.Account).order_by(t.Account.id)))
        for account in accounts + accounts[:5]:  # first captures, then a few idle ones to warm up
            poller.poll_account(account, client=client)
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(args.rounds):
            for account in accounts:
                report = poller.poll_account(account, client=client)
                if report.status != "complete":
                    raise SystemExit(f"{report.account}: {report.status} {report.message}")
        after = resource.getrusage(resource.RUSAGE_SELF)
    client.close()
    app.close()
    fleet.close()
    polls = args.rounds * len(accounts)
    user = (after.ru_utime - before.ru_utime) / polls * 1000
    system = (after.ru_stime - before.ru_stime) / polls * 1000
    print(f"idle polls ({'PostgreSQL' if args.pg else 'SQLite'}, {polls}): CPU per poll {user + system:.2f} ms "
          f"(user {user:.2f}, system {system:.2f})")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def _wait_polled(app: App, accounts: int, since: datetime | None, started: float, timeout: float) -> int:
    """Wait until every account has been polled (after `since`, if given); how many were."""
    polled = t.Account.last_polled_at.is_not(None) if since is None else t.Account.last_polled_at >= since
    done = 0
    while time.perf_counter() - started < timeout:
        time.sleep(0.5)
        with app.catalog.session() as s:
            done = s.scalar(select(func.count()).select_from(t.Account).where(polled)) or 0
        if done >= accounts:
            break
    return done


def cmd_cycle(args: argparse.Namespace) -> None:
    """Time for every account to be captured once, with W daemon processes."""
    fleet = FleetProcess(args.accounts, args.latency, args.throttled)
    work = Path(tempfile.mkdtemp(prefix="daemon-bench-"))
    token = work / "token"
    token.write_text("EAAB-fleet-token-000000")
    os.chmod(token, 0o600)
    database_url = PG if args.workers > 1 or args.pg else None
    if database_url:
        _reset_pg()
    app = App(_settings(work / "home0", fleet.url, database_url))
    create_archive(app)
    register_fleet(app, args.accounts, token)
    procs = []
    started = time.perf_counter()
    for w in range(args.workers):
        home = work / f"home{w}"
        home.mkdir(exist_ok=True)
        (home / ".archiver-home").touch()  # what `archiver init` leaves on each worker's machine
        env = {**os.environ, "ARCHIVER_HOME": str(home), "ARCHIVER_DISTRICT": "Bench School District",
               "ARCHIVER_STATE": "WA", "ARCHIVER_CONNECTORS__FACEBOOK__API_BASE": fleet.url,
               "ARCHIVER_CONNECTORS__FACEBOOK__PAGE_LIMIT": "100",
               "ARCHIVER_CONNECTORS__FACEBOOK__MIN_RETRY_SECONDS": "600",
               "ARCHIVER_DAEMON__TICK_SECONDS": "1", "ARCHIVER_DAEMON__POLL_INTERVAL_MINUTES": "60",
               "ARCHIVER_DAEMON__CONCURRENCY": str(args.concurrency),
               # The fleet shares one token; real Pages each have their own, so no token cap here.
               "ARCHIVER_DAEMON__PER_CREDENTIAL_CONCURRENCY": str(args.concurrency),
               "ARCHIVER_DAEMON__HEARTBEAT_SECONDS": "5",
               "ARCHIVER_STORAGE__URL": f"file://{work / 'home0' / 'store'}",
               "ARCHIVER_VAULT__KEY_FILE": str(work / "home0" / "keys" / "kek.json"),
               "PYTHONPATH": str(ROOT)}
        if database_url:
            env["ARCHIVER_DATABASE_URL"] = database_url
        procs.append(subprocess.Popen([sys.executable, "-m", "archiver.cli.main", "daemon"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=open(work / f"worker{w}.log", "wb")))  # noqa: SIM115 - lives as long as the worker
    done = _wait_polled(app, args.accounts, None, started, args.timeout)
    elapsed = time.perf_counter() - started
    cpu = [_cpu_s(proc.pid) for proc in procs]
    steady = ""
    if args.steady:
        # The cycle a running install repeats every interval: every account captured before and
        # nothing new upstream. Make every account due now (polled two intervals ago, throttles
        # over) and time until each has been polled again.
        marker = app.clock.now()
        with app.catalog.session() as s:
            s.execute(update(t.Account).values(last_polled_at=marker - timedelta(hours=2), next_poll_after=None))
        fleet_cpu_before = fleet.cpu()
        again = time.perf_counter()
        redone = _wait_polled(app, args.accounts, marker, again, args.timeout)
        took = time.perf_counter() - again
        cpu_after = [_cpu_s(proc.pid) for proc in procs]
        steady = (f"; steady cycle (nothing new): all polled again in {took:.1f} s ({redone} polled), worker CPU "
                  f"{', '.join(f'{b - a:.1f}' for a, b in zip(cpu, cpu_after, strict=True))} s, sandbox CPU "
                  f"{fleet.cpu() - fleet_cpu_before:.1f} s")
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=120)
    stats = fleet.close()
    with app.catalog.session() as s:
        runs = s.scalar(select(func.count()).select_from(t.CaptureRun)) or 0
        by_status = dict(s.execute(select(t.Account.status, func.count()).group_by(t.Account.status)).all())
    app.close()
    load = os.getloadavg()
    print(f"accounts {args.accounts} workers {args.workers} concurrency {args.concurrency} latency "
          f"{args.latency * 1000:.0f} ms throttled {args.throttled:.0%}: all polled once in {elapsed:.1f} s "
          f"({done} polled, {runs} runs, statuses {by_status}); worker CPU {', '.join(f'{c:.1f}' for c in cpu)} s; "
          f"sandbox CPU {stats['cpu']:.1f} s, {stats['requests']} requests, max in flight {stats['max_in_flight']}; "
          f"load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (1/5/15 min){steady}")


def cmd_quiet(args: argparse.Namespace) -> None:
    """An idle daemon: every account polled a moment ago, so nothing is due for the interval."""
    work = Path(tempfile.mkdtemp(prefix="daemon-bench-"))
    database_url = PG if args.pg else None
    if database_url:
        _reset_pg()
    app = App(_settings(work / "home", "http://127.0.0.1:9", database_url))
    create_archive(app)
    token = work / "token"
    token.write_text("unused")
    os.chmod(token, 0o600)
    register_fleet(app, args.accounts, token)
    with app.catalog.session() as s:
        s.execute(t.Account.__table__.update().values(last_polled_at=datetime.now(UTC),
                                                       last_success_at=datetime.now(UTC),
                                                       status="ok"))
    from archiver.catalog import daemon_tables as dt
    from archiver.daemon.jobs import default_jobs
    with app.catalog.session() as s:  # steady state: the scheduled jobs ran a moment ago
        s.add_all(dt.DaemonJob(name=j.name, last_run_at=app.clock.now(), last_status="ok")
                  for j in default_jobs(app))
    env = {**os.environ, "ARCHIVER_HOME": str(work / "home"), "ARCHIVER_DISTRICT": "Bench School District",
           "ARCHIVER_STATE": "WA", "PYTHONPATH": str(ROOT)}
    if database_url:
        env["ARCHIVER_DATABASE_URL"] = database_url
    proc = subprocess.Popen([sys.executable, "-m", "archiver.cli.main", "daemon"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(work / "daemon.log", "wb"))  # noqa: SIM115 - lives as long as the daemon
    time.sleep(args.warmup)
    tck = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        with open(f"/proc/{proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tck

    first = cpu_s()
    time.sleep(args.seconds)
    used = cpu_s() - first
    with open(f"/proc/{proc.pid}/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    app.close()
    print(f"idle daemon, {args.accounts} accounts ({'PostgreSQL' if database_url else 'SQLite'}): "
          f"CPU {used / args.seconds:.2%} over {args.seconds} s, RSS {rss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    idle = sub.add_parser("idle")
    idle.add_argument("--accounts", type=int, default=100)
    polls = sub.add_parser("polls")
    polls.add_argument("--accounts", type=int, default=50)
    polls.add_argument("--rounds", type=int, default=4)
    polls.add_argument("--pg", action="store_true")
    cycle = sub.add_parser("cycle")
    cycle.add_argument("--accounts", type=int, default=300)
    cycle.add_argument("--workers", type=int, default=1)
    cycle.add_argument("--concurrency", type=int, default=16)
    cycle.add_argument("--latency", type=float, default=0.05)
    cycle.add_argument("--throttled", type=float, default=0.2)
    cycle.add_argument("--timeout", type=float, default=1800)
    cycle.add_argument("--pg", action="store_true", help="PostgreSQL even with one worker")
    cycle.add_argument("--steady", action="store_true",
                       help="then time a second cycle in which nothing changed upstream")
    quiet = sub.add_parser("quiet")
    quiet.add_argument("--accounts", type=int, default=10_000)
    quiet.add_argument("--seconds", type=float, default=60)
    quiet.add_argument("--warmup", type=float, default=15)
    quiet.add_argument("--pg", action="store_true")
    args = parser.parse_args()
    {"idle": cmd_idle, "polls": cmd_polls, "cycle": cmd_cycle, "quiet": cmd_quiet}[args.cmd](args)


if __name__ == "__main__":
    main()
