"""One daemon worker: bounded concurrent captures over leased accounts.

Threads, not asyncio: the whole capture stack (httpx's sync client, the WARC writer, the
vault, the object store, SQLAlchemy) is synchronous and spends its time waiting on the network
or on fsync, both of which release the GIL. A pool of `concurrency` threads overlaps those
waits without rewriting any of it (bench/daemon_bench.py measures the effect).

The rules the dispatcher keeps:
- an account is captured by one thread at a time, and by one worker of the fleet at a time
  (its lease in the catalog, claimed in batches and renewed while the capture runs);
- at most `per_platform` captures of one platform and `per_credential` captures sharing one
  token run at once, and accounts of a saturated platform are not even claimed, so a slow or
  throttled platform holds a bounded share of the pool and never starves the others;
- every platform shares one HTTP client (connection pool, TLS context) that keeps no cookies,
  so nothing of one account's session reaches another.

Each capture still writes its own WARC and commits through the Outbox, exactly as `poll`.
"""

from __future__ import annotations

import http.cookiejar
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

import archiver.storage.factory  # noqa: F401 - before any thread: see below
from archiver.app import App
from archiver.capture.session import _tls_context
from archiver.catalog import tables as t
from archiver.core.settings import CaptureSettings, DaemonSettings
from archiver.daemon.leases import claim_due, release_many, worker_id
from archiver.services.poll import Poller, RunReport

log = logging.getLogger(__name__)

# `App.store` imports the storage package lazily, and that package imports itself in a cycle
# (storage/__init__ -> factory -> local -> storage): a capture thread and a scheduled job
# thread opening it at once made one of them fail with "partially initialized module". It is
# imported here, at start-up, before the worker starts any thread.


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 4
    per_platform: int = 0  # 0: half the pool (at least 1)
    per_credential: int = 2
    lease: timedelta = timedelta(minutes=30)
    interval: timedelta = timedelta(minutes=15)

    @classmethod
    def of(cls, settings: DaemonSettings) -> WorkerConfig:
        return cls(concurrency=settings.concurrency, per_platform=settings.per_platform_concurrency,
                   per_credential=settings.per_credential_concurrency,
                   lease=timedelta(minutes=settings.lease_minutes),
                   interval=timedelta(minutes=settings.poll_interval_minutes))

    @property
    def platform_cap(self) -> int:
        return self.per_platform or max(1, self.concurrency // 2)


@dataclass
class Running:
    account_pk: int
    label: str
    platform: str
    credential: str
    started: float


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """A shared client must never carry one account's cookies into another's requests."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False


def shared_client(settings: CaptureSettings, max_connections: int) -> httpx.Client:
    """What CaptureSession builds for itself, once per platform, without a cookie jar."""
    return httpx.Client(
        timeout=settings.timeout,
        follow_redirects=False,
        headers={"User-Agent": settings.user_agent},
        verify=_tls_context(),
        cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )


@dataclass
class Worker:
    app: App
    poller: Poller
    config: WorkerConfig
    worker: str = field(default_factory=worker_id)
    on_report: Callable[[RunReport], None] | None = None
    running: dict[Future[RunReport], Running] = field(default_factory=dict, init=False)
    captured: int = field(default=0, init=False)
    # A cycle: from the first capture started while idle until nothing is due or running.
    cycle_started: float | None = field(default=None, init=False)
    last_cycle_seconds: float | None = field(default=None, init=False)
    _finished: list[int] = field(default_factory=list, init=False)
    # After a dispatch that gave accounts back over a cap and found nothing else due: those
    # platforms and tokens (what `wants_refill` waits for); None when the pool was not capped.
    _capped: tuple[set[str], set[str]] | None = field(default=None, init=False)
    _clients: dict[str, httpx.Client] = field(default_factory=dict, init=False)
    _pool: ThreadPoolExecutor = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="capture")

    # --- what is running -------------------------------------------------------------------

    def current(self) -> list[str]:
        with self._lock:
            return sorted(r.label for r in self.running.values())

    def running_pks(self) -> list[int]:
        with self._lock:
            return [r.account_pk for r in self.running.values()]

    def _load(self) -> tuple[Counter[str], Counter[str]]:
        platforms: Counter[str] = Counter()
        credentials: Counter[str] = Counter()
        for r in self.running.values():
            platforms[r.platform] += 1
            if r.credential:
                credentials[r.credential] += 1
        return platforms, credentials

    # --- one step --------------------------------------------------------------------------

    def collect(self, *, release: bool = True) -> list[RunReport]:
        """Reports of finished captures; their leases are released in one transaction (now, or
        with `release=False` by the next `dispatch`, so that a busy pool pays one release and
        one claim per refill, not per capture)."""
        reports = []
        with self._lock:
            done = [f for f in self.running if f.done()]
            for future in done:
                self._finished.append(self.running.pop(future).account_pk)
        for future in done:
            report = future.result()  # poll_account never raises for an account's failure
            reports.append(report)
            self.captured += 1
            if self.on_report:
                self.on_report(report)
        if release:
            self._release_finished()
        return reports

    def _release_finished(self) -> None:
        if self._finished:
            release_many(self.app, self.worker, self._finished)
            self._finished.clear()

    def wants_refill(self) -> bool:
        """Enough usable slots are free to be worth a claim: a quarter of the pool (at least one).

        Every claim and every release is a catalog transaction (about 2 ms of CPU on
        PostgreSQL); refilling on every finished capture paid both per account. When the last
        claim found work only for platforms (or tokens) at their cap, the slots that count are
        the ones those caps have freed since: the rest of the pool has nothing due (until the
        next tick says otherwise), and claiming for it gave every account back at once."""
        with self._lock:
            free = self.config.concurrency - len(self.running)
            platforms, credentials = self._load()
        want = max(1, self.config.concurrency // 4)
        if self._capped is not None:
            free = min(free, self._room(platforms, credentials))
            want = max(1, min(want, self.config.platform_cap // 4))
        return free >= want

    def _room(self, platforms: Counter[str], credentials: Counter[str]) -> int:
        """Slots the capped platforms and tokens of the last dispatch have free now."""
        assert self._capped is not None
        capped_p, capped_c = self._capped
        room = sum(max(0, self.config.platform_cap - platforms[p]) for p in capped_p)
        if capped_c:
            by_token = sum(max(0, self.config.per_credential - credentials[c]) for c in capped_c)
            room = by_token if not capped_p else min(room, by_token)
        return room

    def dispatch(self, now: datetime) -> int:
        """Claim due accounts for the free slots and start them; returns how many started.

        A batch may bring more accounts of one platform (or token) than its cap allows: those
        are given back at once and the claim is repeated without that platform, so the free
        slots go to the other platforms in the same tick. While only capped platforms have work
        (`_capped`), the first claim asks for no more than their caps have room for."""
        started = 0
        self._release_finished()
        cap_p, cap_c = self.config.platform_cap, self.config.per_credential
        capped_p: set[str] = set()
        capped_c: set[str] = set()
        full = limited = False
        claimed: list[t.Account] = []
        limit = 0
        for attempt in range(4):
            with self._lock:
                free = self.config.concurrency - len(self.running)
                platforms, credentials = self._load()
            if free <= 0:
                full = True
                break
            limit = free
            if attempt == 0 and self._capped is not None:  # claim what the caps have room for
                limit = min(free, max(1, self._room(platforms, credentials)))
            limited = limit < free
            claimed = claim_due(
                self.app, self.worker, now, self.config.lease, self.config.interval, limit,
                skip_platforms=[p for p, n in platforms.items() if n >= cap_p],
                skip_credentials=[c for c, n in credentials.items() if n >= cap_c],
            )
            unstarted = []
            for account in claimed:
                cred = account.token_ref or ""
                if platforms[account.platform] >= cap_p or (cred and credentials[cred] >= cap_c):
                    unstarted.append(account.id)  # over a cap: another worker, or a later tick
                    if platforms[account.platform] >= cap_p:
                        capped_p.add(account.platform)
                    else:
                        capped_c.add(cred)
                    continue
                platforms[account.platform] += 1
                if cred:
                    credentials[cred] += 1
                self._start(account)
                started += 1
            release_many(self.app, self.worker, unstarted)
            if not unstarted:
                break  # everything due that fits has started
        # Capped: only capped platforms had work due and the pool still has idle slots. A claim
        # sized to the caps' room that came back full says nothing new: the pool stays capped.
        if full:
            self._capped = None
        elif capped_p or capped_c:
            self._capped = (capped_p, capped_c)
        elif not (limited and len(claimed) == limit):
            self._capped = None
        if started and self.cycle_started is None:
            self.cycle_started = time.monotonic()
        elif not started and not self.running and self.cycle_started is not None:
            self.last_cycle_seconds = time.monotonic() - self.cycle_started
            self.cycle_started = None
        return started

    def _start(self, account: t.Account) -> None:
        client = self._client(account.platform)
        future = self._pool.submit(self.poller.poll_account, account, client=client)
        with self._lock:
            self.running[future] = Running(account.id, account.label, account.platform,
                                           account.token_ref or "", time.monotonic())

    def _client(self, platform: str) -> httpx.Client:
        client = self._clients.get(platform)
        if client is None:
            client = self._clients[platform] = shared_client(self.app.settings.capture, self.config.platform_cap)
        return client

    def wait(self, timeout: float) -> None:
        """Until a capture finishes or `timeout` passes."""
        with self._lock:
            futures = list(self.running)
        if futures:
            wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)

    def run_until_idle(self, clock: Callable[[], datetime] | None = None) -> int:
        """Capture everything due now, then return how many captures ran (bench and tests)."""
        now = clock or self.app.clock.now
        total = 0
        while True:
            total += len(self.collect())
            started = self.dispatch(now())
            if not started and not self.running:
                return total
            self.wait(5.0)

    def drain(self) -> list[RunReport]:
        """Let every running capture finish (SIGTERM: nothing cut off), then release."""
        with self._lock:
            futures = list(self.running)
        wait(futures)
        return self.collect()

    def close(self) -> None:
        self.drain()
        self._pool.shutdown(wait=True)
        for client in self._clients.values():
            client.close()
        self._clients.clear()
