"""A sandbox platform served over HTTP plus an archiver home wired to it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archiver.app import App
from archiver.capture.session import CaptureSession
from archiver.catalog import tables as t
from archiver.core.clock import Clock, SystemClock
from archiver.core.models import AccountRef, Item, Observed
from archiver.core.settings import CaptureSettings, Settings
from archiver.sandbox.contract import ContractSandbox, SeededAccount
from archiver.sandbox.kit import PlatformSandbox
from archiver.sandbox.server import Request, Response, SandboxServer
from archiver.services.accounts import register_account
from archiver.services.archive_home import create_archive
from archiver.services.poll import Poller, RunReport
from archiver.warc.rolling import RollingWarc
from connectors import load_sandbox
from connectors.base import AuthStyle, Connector


class Harness:
    def __init__(self, tmp_path: Path, platform: str, *, database_url: str | None = None,
                 settings: dict[str, Any] | None = None) -> None:
        self.platform = platform
        self.sandbox: ContractSandbox = load_sandbox(platform)
        self.server = SandboxServer(self.sandbox.app).start()
        self.sandbox.bind(self.server.url)
        self.seed: SeededAccount = self.sandbox.seed_account()
        self.home = tmp_path / "home"
        overrides: dict[str, Any] = {
            "home": self.home,
            "database_url": database_url,
            "district": "Test School District",
            "state": "WA",
            "connectors": {platform: {"api_base": self.server.url, "min_retry_seconds": 0.05,
                                      "page_limit": 25,
                                      # The sandboxes enforce no quota: budgets would only pace
                                      # the tests (tests/capture/test_budgets.py covers them).
                                      "budget": {"limit": None},
                                      **({"feed_page_limit": 25} if platform == "facebook" else {})}},
            "capture": {"backoff_base": 0.01, "max_inline_wait": 5.0},
        }
        overrides.update(settings or {})
        self.app = App(Settings(**overrides))
        create_archive(self.app)  # as 'archiver accounts add' does in a new home
        token_file = None
        if self.seed.token:
            path = tmp_path / "token.txt"
            path.write_text(self.seed.token)
            os.chmod(path, 0o600)
            token_file = str(path)
        self.account = register_account(self.app, platform, self.seed.raw_id, name=self.seed.name,
                                        token_file=token_file)
        self.poller = Poller(self.app)

    def poll(self) -> RunReport:
        reports = list(self.poller.poll(self.account.label))
        assert len(reports) == 1
        return reports[0]

    def items(self) -> dict[str, t.Item]:
        with self.app.catalog.session() as s:
            rows = s.query(t.Item).all()
            for row in rows:
                _ = row.versions, row.tombstone
            return {r.item_id: r for r in rows}

    def warc_files(self) -> list[Path]:
        """Plaintext copies of every stored (encrypted) WARC, decrypted through the vault."""
        from archiver.preservation.rebuild import stored_warc_keys

        out = self.home.parent / "plaintext-warcs"
        out.mkdir(exist_ok=True)
        paths = []
        for key in stored_warc_keys(self.app):
            name = key.rsplit("/", 1)[-1].removesuffix(".enc")
            path = out / name
            if not path.exists():
                with open(path, "wb") as fh:
                    for chunk in self.app.warc_reader().warc_bytes(name):
                        fh.write(chunk)
            paths.append(path)
        return paths

    def close(self) -> None:
        self.app.close()
        self.server.stop()


def scratch_session(folder: Path, platform: str, *, auth_style: AuthStyle = AuthStyle.NONE,
                    token: str | None = None, clock: Clock | None = None, account: str = "direct",
                    **capture: Any) -> CaptureSession:
    """A CaptureSession writing to a scratch WARC, for connector calls outside a poll.

    Close it with `session.close()`; `session.warc.seal_all()` seals what it wrote.
    """
    clock = clock or SystemClock()
    rolling = RollingWarc(folder / "spool", f"{platform}-scratch", {"archiver-platform": platform},
                          max_bytes=10**9, clock=clock)
    settings = CaptureSettings(**{"backoff_base": 0.0, "max_retries": 1, **capture})
    return CaptureSession(warc=rolling, clock=clock, settings=settings, auth_style=auth_style,
                          token=token, platform=platform, account=account)


class SwitchApp:
    """One sandbox server per test module (stopping a server costs time); each test plugs in
    its own fake by setting `target`."""

    def __init__(self) -> None:
        self.target: Callable[[Request], Response] | None = None

    def __call__(self, req: Request) -> Response:
        assert self.target is not None, "set SwitchApp.target before sending requests"
        return self.target(req)


@contextmanager
def switch_server() -> Iterator[tuple[SwitchApp, SandboxServer]]:
    switch = SwitchApp()
    server = SandboxServer(switch).start()
    try:
        yield switch, server
    finally:
        server.stop()


class Live:
    """One platform sandbox plugged into a module's shared server, and a connector calling it
    through a scratch CaptureSession (for connector tests below the poller)."""

    def __init__(self, tmp_path: Path, server: SandboxServer, sandbox: PlatformSandbox, connector: Connector, *,
                 token: str, auth_style: AuthStyle = AuthStyle.BEARER, account: str = "direct") -> None:
        self.sandbox, self.server, self.connector, self.account = sandbox, server, connector, account
        server.app, server.requests = sandbox, []
        sandbox.base_url = server.url
        self.spool = tmp_path / "spool"
        self.http = scratch_session(tmp_path, connector.platform, auth_style=auth_style, token=token, account=account)
        self.warc = self.http.warc

    def ref(self, account_id: str | None = None) -> AccountRef:
        return AccountRef(self.connector.platform, account_id or self.account, api_base=self.server.url)

    def harvest(self, account_id: str | None = None, cursor: dict[str, Any] | None = None) -> list[Any]:
        return list(self.connector.harvest(self.ref(account_id), cursor, self.http))

    def close(self) -> None:
        self.http.close()
        self.warc.seal_all()


def observed(events: list[Any]) -> dict[str, Item]:
    """The items a harvest observed, by id."""
    return {e.item.item_id: e.item for e in events if isinstance(e, Observed)}


@contextmanager
def captured_cli_home(root: Path) -> Iterator[tuple[Harness, dict[str, str]]]:
    """A Facebook capture with an export key, and the environment a fresh `archiver` process
    needs to read it (only these ARCHIVER_ variables set, the test suite's own PostgreSQL URL
    kept): for tests that run the CLI in another interpreter. The harness is open inside."""
    import pytest

    from archiver.services.keys import init_export_key

    config = root / "archiver.toml"
    config.write_text("")
    env = {"ARCHIVER_CONFIG": str(config), "ARCHIVER_DISTRICT": "Test School District",
           "ARCHIVER_STATE": "WA"}
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("ARCHIVER_") and k != "ARCHIVER_TEST_PG_URL"]:
            mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        h = Harness(root, "facebook")
        try:
            assert h.poll().status == "complete"
            init_export_key(h.app)
            yield h, {**env, "ARCHIVER_HOME": str(h.home)}
        finally:
            h.close()
