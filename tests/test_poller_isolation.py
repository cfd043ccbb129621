"""One account's failure never stops the capture of the others."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

import connectors
from archiver.catalog import tables as t
from archiver.services.accounts import register_account
from connectors.base import AuthStyle, Registered
from connectors.facebook import FacebookConnector
from tests.harness import Harness


class BrokenConnector(FacebookConnector):
    """A connector with a bug: its harvest blows up with a programming error."""

    platform: ClassVar[str] = "broken"
    auth_style: ClassVar[AuthStyle] = AuthStyle.NONE

    def harvest(self, account, cursor, http, plan=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in a connector")
        yield  # pragma: no cover


def test_a_crashing_connector_does_not_stop_other_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connectors.CONNECTORS, "broken",
                        Registered(BrokenConnector, "connectors.facebook.sandbox:FacebookContract"))
    h = Harness(tmp_path, "facebook")
    try:
        register_account(h.app, "broken", "123", api_base=h.server.url)
        reports = {r.account: r for r in h.poller.poll()}
        assert reports["facebook:1000001"].status == "complete"
        assert reports["broken:123"].status != "complete"
        assert "Unexpected failure while capturing broken:123 (RuntimeError)" in reports["broken:123"].message
        # The run row was opened before the harvest blew up: the run is reported and recorded
        # as failed, not as one that never ran (nor left 'running' until the next sweep).
        failed = reports["broken:123"]
        assert failed.status == "failed" and failed.run_id
        with h.app.catalog.session() as s:
            broken = s.query(t.Account).filter_by(platform="broken").one()
            assert broken.status == "error"
            run = s.get(t.CaptureRun, failed.run_id)
            assert run is not None and run.status == "failed" and run.finished_at is not None
            assert "RuntimeError" in run.message
        assert set(h.items()) == h.sandbox.live_item_ids(h.seed.account_id)
    finally:
        h.close()


def test_two_processes_never_capture_into_one_spool(tmp_path: Path) -> None:
    """The sweep must not salvage a WARC another process is still writing."""
    from click.testing import CliRunner

    from archiver.cli.main import cli
    from archiver.preservation.outbox import SpoolBusy

    h = Harness(tmp_path, "facebook")
    try:
        with h.poller.outbox.exclusive():  # e.g. the daemon
            with pytest.raises(SpoolBusy):
                list(h.poller.poll())
            result = CliRunner().invoke(cli, ["poll", "--once"], env={"ARCHIVER_HOME": str(h.home)})
            assert result.exit_code == 1
            assert "Another archiver process" in result.output and "stop it first" in result.output
        assert h.poll().status == "complete"  # once released, capture proceeds
    finally:
        h.close()
