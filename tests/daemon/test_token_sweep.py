"""The token sweep and the captures raise one alert between them for an expired token (issue
14): the sweep flags the account as a capture would, so whichever meets the token first, the
one 'credential' alert is raised, the others are untouched, and it clears (once) when a new
token works, at the next capture or check."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.core.settings import Settings
from archiver.daemon.jobs import run_token_sweep
from archiver.sandbox.fleet import Fleet, page_id, token_of
from archiver.sandbox.server import SandboxServer
from archiver.services import alerts
from archiver.services.accounts import register_account
from archiver.services.archive_home import create_archive
from archiver.services.poll import Poller


@pytest.fixture
def fleet_app(tmp_path: Path) -> Iterator[tuple[App, Fleet, list[Path]]]:
    fleet = Fleet(3, per_account_tokens=True)
    server = SandboxServer(fleet).start()
    fleet.bind(server.url)
    app = App(Settings(home=tmp_path / "home", connectors={"facebook": {"api_base": server.url}}))
    create_archive(app)
    tokens = []
    for n in range(3):
        path = tmp_path / f"token{n}"
        path.write_text(token_of(n))
        os.chmod(path, 0o600)
        tokens.append(path)
        register_account(app, "facebook", page_id(n), token_file=str(path))
    try:
        yield app, fleet, tokens
    finally:
        app.close()
        server.stop()


def _statuses(app: App) -> dict[str, str]:
    with app.catalog.session() as s:
        return {a.account_id: a.status for a in s.scalars(select(t.Account))}


def _all_alerts(app: App) -> list[tuple[str, str, bool]]:
    with app.catalog.session() as s:
        return [(a.kind, a.subject, a.cleared_at is not None) for a in s.scalars(select(dt.Alert).order_by(dt.Alert.id))]


def test_the_sweep_flags_an_expired_token_as_a_capture_would_and_a_working_check_clears_it(
        fleet_app: tuple[App, Fleet, list[Path]]) -> None:
    app, fleet, tokens = fleet_app
    label = f"facebook:{page_id(1)}"
    assert run_token_sweep(app)[0] == "ok"
    fleet.sandbox.expire_token(token_of(1))
    status, message = run_token_sweep(app)
    assert status == "findings" and label in message
    assert _statuses(app) == {page_id(0): "new", page_id(1): "needs-attention", page_id(2): "new"}
    assert alerts.reconcile(app) == (1, 0)
    assert _all_alerts(app) == [("credential", label, False)]
    # The capture meets the same token: the same alert, nothing new raised.
    poller = Poller(app)
    with poller.outbox.exclusive():
        poller.recover()
        report = poller.poll_account(next(a for a in poller.accounts() if a.label == label))
    assert report.status != "complete" and "token" in report.message.lower()
    assert _statuses(app)[page_id(1)] == "needs-attention"
    run_token_sweep(app)
    assert alerts.reconcile(app) == (0, 0)
    assert _all_alerts(app) == [("credential", label, False)]
    # A new token: the next check works and the alert clears, once.
    fleet.sandbox.tokens.add("EAAB-fleet-token-renewed")
    tokens[1].write_text("EAAB-fleet-token-renewed")
    assert run_token_sweep(app)[0] == "ok"
    assert _statuses(app)[page_id(1)] == "ok"
    assert alerts.reconcile(app) == (0, 1)
    assert alerts.reconcile(app) == (0, 0)
    assert _all_alerts(app) == [("credential", label, True)]


def test_a_capture_with_the_new_token_clears_what_the_sweep_raised(fleet_app: tuple[App, Fleet, list[Path]]) -> None:
    app, fleet, tokens = fleet_app
    label = f"facebook:{page_id(2)}"
    fleet.sandbox.expire_token(token_of(2))
    run_token_sweep(app)
    alerts.reconcile(app)
    assert _all_alerts(app) == [("credential", label, False)]
    fleet.sandbox.tokens.add("EAAB-fleet-token-renewed")
    tokens[2].write_text("EAAB-fleet-token-renewed")
    poller = Poller(app)
    with poller.outbox.exclusive():
        poller.recover()
        report = poller.poll_account(next(a for a in poller.accounts() if a.label == label))
    assert report.status == "complete", report.message
    assert alerts.reconcile(app) == (0, 1)
    assert _all_alerts(app) == [("credential", label, True)]
