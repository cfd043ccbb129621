"""A busy worker claims and releases leases in batches, not once per finished capture (issue 14).

Each claim and each release is a catalog transaction; refilling the pool every time one capture
finished paid both for every account, about a tenth of an idle daemon's CPU. The pool is now
refilled when a quarter of it is free (or at the tick), and finished leases are released with
that claim. Every account is still captured exactly once."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import archiver.daemon.worker as worker_module
from archiver.app import App
from archiver.core.settings import Settings
from archiver.daemon.scheduler import DaemonState, run_daemon
from archiver.sandbox.fleet import Fleet, page_id, token_of
from archiver.sandbox.server import SandboxServer
from archiver.services.accounts import register_account
from archiver.services.archive_home import create_archive
from archiver.services.poll import Poller

ACCOUNTS = 32


def test_claims_and_releases_come_in_batches(tmp_path: Path, monkeypatch: Any) -> None:
    """One platform at its cap (half the pool, the default): the idle half of the pool made
    every finished capture claim a batch, give all but one back, and claim again (146 accounts
    claimed for 32, 29 claims); then, refilling on a quarter of the pool free, every refill
    still claimed a batch to give back (125 claimed, 26 claims)."""
    concurrency, per_platform = 24, 12
    calls: Counter[str] = Counter()
    real_claim, real_release = worker_module.claim_due, worker_module.release_many

    def claim(*args: Any, **kwargs: Any) -> Any:
        claimed = real_claim(*args, **kwargs)
        calls["claim"] += 1
        calls["claimed"] += len(claimed)
        return claimed

    def release(app: Any, worker: str, pks: Any) -> None:
        pks = list(pks)
        if pks:
            calls["release"] += 1
        real_release(app, worker, pks)

    monkeypatch.setattr(worker_module, "claim_due", claim)
    monkeypatch.setattr(worker_module, "release_many", release)
    real_poll = Poller.poll_account

    def staggered(self: Poller, account: Any, **kwargs: Any) -> Any:
        time.sleep((account.id * 7 % 23) * 0.01)  # captures end one by one, as real ones do
        return real_poll(self, account, **kwargs)

    monkeypatch.setattr(Poller, "poll_account", staggered)
    fleet = Fleet(ACCOUNTS, latency=0.03)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    app = App(Settings(home=tmp_path / "home", connectors={"facebook": {"api_base": server.url}},
                       # a tick far away: only finished captures can trigger a claim
                       daemon={"tick_seconds": 600.0, "concurrency": concurrency, "heartbeat_seconds": 600,
                               "per_platform_concurrency": per_platform,
                               "per_credential_concurrency": concurrency}))
    create_archive(app)
    token = tmp_path / "token"
    token.write_text(token_of(0))
    os.chmod(token, 0o600)
    for n in range(ACCOUNTS):
        register_account(app, "facebook", page_id(n), token_file=str(token))
    state = DaemonState(jobs=[])
    thread = threading.Thread(target=run_daemon, args=(app, state), kwargs={"install_signals": False})
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while len(state.reports) < ACCOUNTS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        state.stop.set()
        thread.join(timeout=120)
        server.stop()
        app.close()
    captured = Counter(r.account for r in state.reports)
    assert len(captured) == ACCOUNTS and set(captured.values()) == {1}, captured
    # only the first claim, knowing nothing of the caps yet, gives back what is over them
    assert calls["claimed"] <= ACCOUNTS + (concurrency - per_platform), calls
    # Refilled a few slots at a time: about one claim per two finished captures or fewer, and
    # as many releases.
    assert calls["claim"] <= ACCOUNTS * 2 // 3, calls
    assert calls["release"] <= ACCOUNTS * 2 // 3, calls
