"""The demo: bundled sandbox platforms on 127.0.0.1, three capture cycles, a real archive.

Each registered platform's sandbox is served over HTTP; its accounts are registered in the
archive home like any real account; between cycles the sandbox publishes, edits and deletes.
The expected totals are computed from the sandboxes' own ground truth, so the demo (and the
test that runs it) can tell whether the archive saw exactly what happened.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from archiver.app import App
from archiver.catalog import queries
from archiver.core.errors import ConfigError
from archiver.core.settings import ConnectorSettings, Settings
from archiver.sandbox.contract import ContractSandbox, SeededAccount
from archiver.sandbox.server import SandboxServer
from archiver.services.accounts import register_account
from archiver.services.archive_home import create_archive
from archiver.services.poll import Poller, RunReport
from connectors import CONNECTORS, load_sandbox

CYCLES = 3
_DEMO_RETRY_FLOOR = 0.2
MARKER = ".demo-home"


@dataclass
class DemoPlatform:
    platform: str
    sandbox: ContractSandbox
    server: SandboxServer
    accounts: list[SeededAccount]
    edits: int = 0


@dataclass
class DemoResult:
    cycles: list[list[RunReport]] = field(default_factory=list)
    expected: dict[str, int] = field(default_factory=dict)
    actual: dict[str, int] = field(default_factory=dict)


def demo_settings(settings: Settings) -> Settings:
    """The demo's own settings: the sandboxes ask for tiny waits, so every platform's retry
    floor is at most 0.2 s. The caller's settings (and the real defaults) stay untouched."""
    connectors = {
        name: ((settings.connectors[name].model_copy(update={
            "min_retry_seconds": min(settings.connectors[name].min_retry_seconds, _DEMO_RETRY_FLOOR)}))
            if name in settings.connectors else ConnectorSettings(min_retry_seconds=_DEMO_RETRY_FLOOR))
        for name in {*CONNECTORS, *settings.connectors}
    }
    # The demo's archive is not a district's: it may name a made-up one.
    return settings.model_copy(update={"connectors": connectors,
                                       "district": settings.district or "Demo School District",
                                       "state": settings.state or "WA"})


def _check_home(app: App) -> None:
    home = app.settings.home
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists():
        raise ConfigError(
            f"The archive home {home} already holds data that the demo did not create; "
            "set ARCHIVER_HOME to an empty folder for the demo"
        )
    if (home / MARKER).exists():
        raise ConfigError(
            f"The archive home {home} already holds a demo archive; explore it with "
            "'archiver items list', or set ARCHIVER_HOME to a new folder to run the demo again"
        )


def _start(platform: str, app: App) -> DemoPlatform:
    sandbox = load_sandbox(platform)
    server = SandboxServer(sandbox.app).start()
    sandbox.bind(server.url)
    accounts = sandbox.demo_accounts()
    tokens = app.settings.home / "demo-tokens"
    tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
    for account in accounts:
        token_file = None
        if account.token:
            path = tokens / f"{platform}-{account.account_id.replace('/', '_').replace(':', '_')}.token"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(account.token)
            token_file = str(path)
        register_account(
            app, platform, account.raw_id, name=account.name, role="demo",
            api_base=server.url, token_file=token_file,
        )
    return DemoPlatform(platform, sandbox, server, accounts)


def _mutate(p: DemoPlatform, cycle: int) -> None:
    """Between cycles: the sandbox's scripted changes (publish, edit, throttle, delete)."""
    p.edits += p.sandbox.before_cycle(cycle)


def run_demo(
    app: App,
    *,
    platforms: list[str] | None = None,
    on_cycle: Callable[[int, list[RunReport]], None] | None = None,
    on_account: Callable[[RunReport], None] | None = None,
) -> DemoResult:
    _check_home(app)
    # The demo's archive is not a district's: it may name a made-up one.
    app.settings.district = app.settings.district or "Demo School District"
    app.settings.state = app.settings.state or "WA"
    create_archive(app)  # the home, its catalog and, for a key-file archive, its key file
    (app.settings.home / MARKER).write_text("created by 'archiver demo'\n")
    chosen = platforms or sorted(CONNECTORS)
    started: list[DemoPlatform] = []
    result = DemoResult()
    ever_live: set[tuple[str, str]] = set()
    last_live: set[tuple[str, str]] = set()
    try:
        for platform in chosen:
            started.append(_start(platform, app))
        poller = Poller(app)
        for cycle in range(1, CYCLES + 1):
            if cycle > 1:
                for p in started:
                    _mutate(p, cycle)
            last_live = {
                (p.platform, item)
                for p in started
                for acc in p.accounts
                for item in p.sandbox.live_item_ids(acc.account_id)
            }
            ever_live |= last_live
            # Cycle 2 is incremental, as the daemon runs; the last is a full reconciliation
            # (`poll --once --reconcile`), which is what finds the edit of a comment on a
            # two-month-old post that no platform signals before its sweep comes round.
            reports = poller.poll(on_account=on_account, reconcile=cycle == CYCLES)
            result.cycles.append(reports)
            if on_cycle:
                on_cycle(cycle, reports)
    finally:
        for p in started:
            p.server.stop()
    result.expected = {
        "items": len(ever_live),
        "deletions": len(ever_live - last_live),
        "edits": sum(p.edits for p in started),
    }
    with app.catalog.session() as s:
        counts = queries.counts(s)
    result.actual = {
        "items": counts["posts"] + counts["comments"] + counts["replies"] + counts["other_items"],
        "deletions": counts["deletions"],
        "edits": counts["edits"],
        **{k: v for k, v in counts.items()},
    }
    return result
