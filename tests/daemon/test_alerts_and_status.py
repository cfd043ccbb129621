"""An expired token raises one alert (one e-mail, one webhook call), the account is flagged,
the others go on, and the alert clears (once) when a new token works. `archiver status` shows
it all in 80 columns. A throttled platform does not delay the others by more than a tick."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.settings import Settings
from archiver.daemon.scheduler import DaemonState, run_daemon
from archiver.sandbox.fleet import Fleet, page_id, token_of
from archiver.sandbox.server import Request, Response, SandboxServer
from archiver.services import alerts
from archiver.services.accounts import register_account
from archiver.services.archive_home import create_archive
from connectors import load_sandbox


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_expired_token_raises_one_alert_and_clears_once(tmp_path: Path) -> None:
    fleet = Fleet(3, per_account_tokens=True)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    calls: list[dict[str, Any]] = []

    def receiver(req: Request) -> Response:
        calls.append(json.loads(req.body))
        return Response.json({"ok": True})

    hook = SandboxServer(receiver).start()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    app = App(Settings(
        home=tmp_path / "home", connectors={"facebook": {"api_base": server.url}},
        daemon={"poll_interval_minutes": 0.1, "tick_seconds": 0.2, "heartbeat_seconds": 0.3,
                "concurrency": 2, "fixity_every_hours": 1000, "token_sweep_hours": 1000,
                "retention_plan_hours": 1000, "summary_hours": 1000},
        alerts={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False,
                "mail_to": ["records@district.example"], "webhook_url": f"{hook.url}/alerts"}))
    create_archive(app)
    tokens = []
    for n in range(3):
        path = tmp_path / f"token{n}"
        path.write_text(token_of(n))
        os.chmod(path, 0o600)
        tokens.append(path)
        register_account(app, "facebook", page_id(n), token_file=str(path))
    state = DaemonState()
    thread = threading.Thread(target=run_daemon, args=(app, state), kwargs={"install_signals": False})
    thread.start()
    try:
        _until(lambda: len({r.account for r in state.reports if r.status == "complete"}) == 3, 60, "first captures")
        fleet.sandbox.expire_token(token_of(1))
        _until(lambda: len(calls) >= 1 and len(mailbox.messages) >= 1, 60, "the alert")
        time.sleep(2.0)  # several more cycles and alert evaluations: nothing is sent again
        assert len(mailbox.messages) == 1 and len(calls) == 1, (mailbox.messages, calls)
        # The capture that meets the expired token and the token sweep (due at start-up, so
        # timing decides which comes first) flag the account alike: one alert, once.
        kind = calls[0]["kind"]
        assert calls[0]["event"] == "raised" and kind == "credential"
        assert calls[0]["subject"] == f"facebook:{page_id(1)}"
        assert token_of(1) not in json.dumps(calls) and token_of(1) not in mailbox.messages[0]
        assert f"facebook:{page_id(1)}" in mailbox.messages[0] and "[archiver ALERT]" in mailbox.messages[0]
        with app.catalog.session() as s:
            statuses = {a.account_id: a.status for a in s.scalars(select(t.Account))}
        assert statuses == {page_id(0): "ok", page_id(1): "needs-attention", page_id(2): "ok"}
        assert [a.subject for a in alerts.open_alerts(app)] == [f"facebook:{page_id(1)}"]

        # `archiver status` while it is open: the flagged account and the alert, in 80 columns
        runner = CliRunner()
        env = {"ARCHIVER_HOME": str(app.settings.home), "COLUMNS": "80"}
        shown = runner.invoke(cli, ["status"], env=env, terminal_width=80)
        assert shown.exit_code == 0, shown.output
        assert max(len(line) for line in shown.output.splitlines()) <= 80
        assert f"facebook:{page_id(1)}" in shown.output and "needs-attention" in shown.output
        assert kind in shown.output and state.worker in shown.output
        as_json = json.loads(runner.invoke(cli, ["status", "--json"], env=env).output)
        assert [a["subject"] for a in as_json["alerts"]] == [f"facebook:{page_id(1)}"]
        assert {w["id"]: w["state"] for w in as_json["workers"]} == {state.worker: "running"}
        flagged = next(a for a in as_json["accounts"] if a["label"] == f"facebook:{page_id(1)}")
        assert flagged["status"] == "needs-attention" and "token" in flagged["last_error"]

        # A new token: the next capture works and the alert clears, once.
        fleet.sandbox.tokens.add("EAAB-fleet-token-renewed")
        tokens[1].write_text("EAAB-fleet-token-renewed")
        _until(lambda: len(calls) >= 2 and len(mailbox.messages) >= 2, 60, "the clearing")
        time.sleep(1.5)
        assert len(calls) == 2 and len(mailbox.messages) == 2
        assert calls[1]["event"] == "cleared" and calls[1]["cleared_at"]
        assert "[archiver RESOLVED]" in mailbox.messages[1]
        assert alerts.open_alerts(app) == []
    finally:
        state.stop.set()
        thread.join(timeout=60)
        smtp.stop()
        hook.stop()
        server.stop()
        app.close()
    assert not thread.is_alive()


def test_a_throttled_platform_does_not_hold_up_the_others(tmp_path: Path) -> None:
    """Facebook answers slowly (1 s a request, as when every call waits out a throttle); the
    Mastodon account still starts in the first tick, because Facebook may hold only half the
    capture slots and its surplus accounts are given back in the same tick."""
    fleet = Fleet(6, latency=1.0)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    masto = load_sandbox("mastodon")
    masto_server = SandboxServer(masto.app).start()
    masto.bind(masto_server.url)
    seed = masto.seed_account()
    app = App(Settings(home=tmp_path / "home",
                       connectors={"facebook": {"api_base": server.url},
                                   "mastodon": {"api_base": masto_server.url}},
                       daemon={"tick_seconds": 1.0, "concurrency": 4, "heartbeat_seconds": 5,
                               "per_credential_concurrency": 4}))
    create_archive(app)
    token = tmp_path / "fb-token"
    token.write_text(token_of(0))
    os.chmod(token, 0o600)
    for n in range(6):  # registered first: the longest-waiting, claimed first
        register_account(app, "facebook", page_id(n), token_file=str(token))
    mtoken = tmp_path / "masto-token"
    mtoken.write_text(seed.token or "")
    os.chmod(mtoken, 0o600)
    register_account(app, "mastodon", seed.raw_id, token_file=str(mtoken))
    state = DaemonState(jobs=[])
    started = time.monotonic()
    thread = threading.Thread(target=run_daemon, args=(app, state), kwargs={"install_signals": False})
    thread.start()
    try:
        _until(lambda: any(r.account.startswith("mastodon:") for r in state.reports), 60, "the Mastodon capture")
        mastodon_done = time.monotonic() - started
        facebook_done = [r for r in state.reports if r.account.startswith("facebook:")]
        report = next(r for r in state.reports if r.account.startswith("mastodon:"))
        assert report.status == "complete", report.message
        # It started within one tick of the first captures, not behind the Facebook queue (6
        # accounts of several 1-second requests each, two at a time).
        with app.catalog.session() as s:
            starts = {a.platform: [] for a in s.scalars(select(t.Account))}
            for run, account in s.execute(select(t.CaptureRun, t.Account).join(
                    t.Account, t.Account.id == t.CaptureRun.account_pk)):
                starts[account.platform].append(run.started_at)
        delay = (min(starts["mastodon"]) - min(starts["facebook"])).total_seconds()
        assert delay < 1.0, (delay, mastodon_done)
        assert len(facebook_done) <= 2
        assert fleet.max_in_flight <= 2  # Facebook never got more than its half of the slots
    finally:
        state.stop.set()
        thread.join(timeout=120)
        server.stop()
        masto_server.stop()
        app.close()
