"""Registrations keep what was not changed and refuse bad ids at once (issue 9 item 12); the
catalog and spool are private to the archiver's user (item 17); the daemon's log is
timestamped, one line per event (item 18)."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.errors import ConfigError
from archiver.core.log import JsonFormatter, TextFormatter, setup_logging
from archiver.core.settings import Settings
from archiver.services.accounts import register_account
from tests.harness import Harness


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = App(Settings(home=tmp_path / "home"))
    yield app
    app.close()


def api_base(app: App, label: str) -> str:
    with app.catalog.session() as s:
        row = s.scalar(select(t.Account).where((t.Account.platform + ":" + t.Account.account_id) == label))
        assert row is not None
        return row.api_base


def test_replace_keeps_every_field_not_given(app: App, tmp_path: Path) -> None:
    register_account(app, "mastodon", "@lincoln@mastodon.example.org", name="Lincoln HS", role="school",
                     api_base="http://127.0.0.1:8123/", token_env="MASTO_TOKEN")
    row = register_account(app, "mastodon", "@lincoln@mastodon.example.org", name="Lincoln High", replace=True)
    assert (row.name, row.role, row.api_base, row.token_ref) == (
        "Lincoln High", "school", "http://127.0.0.1:8123", "env:MASTO_TOKEN")
    row = register_account(app, "mastodon", "@lincoln@mastodon.example.org", api_base="http://127.0.0.1:9/",
                           replace=True)
    assert row.api_base == "http://127.0.0.1:9" and row.name == "Lincoln High"


def test_replace_on_the_command_line_keeps_the_api_base(tmp_path: Path) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}
    run = CliRunner()
    added = run.invoke(cli, ["accounts", "add", "facebook", "1000001", "--api-base", "http://127.0.0.1:8555",
                             "--token-env", "FB_TOKEN"], env=env)
    assert added.exit_code == 0, added.output
    replaced = run.invoke(cli, ["accounts", "add", "facebook", "1000001", "--name", "Lincoln", "--replace"],
                          env=env)
    assert replaced.exit_code == 0, replaced.output
    listed = json.loads(run.invoke(cli, ["accounts", "list", "--json"], env=env).stdout)
    assert listed[0]["name"] == "Lincoln"
    app = App(Settings(home=tmp_path / "home"))
    try:
        assert api_base(app, "facebook:1000001") == "http://127.0.0.1:8555"
    finally:
        app.close()


@pytest.mark.parametrize(("platform", "raw", "says"), [
    ("facebook", "..", "'..'"),
    ("tiktok", "..", "'..'"),
    ("feeds", "https://example.org/../../feed.xml", "'..'"),
    ("feeds", "https://example.org/" + "a" * 400, "longer than"),
])
def test_bad_ids_are_refused_at_add(app: App, platform: str, raw: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        register_account(app, platform, raw)
    assert says in caught.value.message
    with app.catalog.session() as s:
        assert s.scalar(select(t.Account.id)) is None


@pytest.mark.parametrize("base", ["127.0.0.1:8080", "ftp://example.org", "http://" + "a" * 600])
def test_bad_api_bases_are_refused_at_add(app: App, base: str) -> None:
    with pytest.raises(ConfigError, match="--api-base"):
        register_account(app, "mastodon", "@a@mastodon.example.org", api_base=base)


# --- item 17: private files ------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_catalog_spool_and_home_are_private_under_a_default_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        h = Harness(tmp_path, "facebook")
        try:
            assert mode(h.home / "catalog.sqlite") == 0o600
            assert mode(h.home) == 0o700 and mode(h.home / "spool") == 0o700
            from archiver.warc.rolling import RollingWarc

            rolling = RollingWarc(h.app.settings.spool_dir, "facebook-x", {}, max_bytes=10**9, clock=h.app.clock)
            assert rolling.current.path.exists()
            open_files = list(h.app.settings.spool_dir.glob("*.open"))
            assert open_files and all(mode(p) == 0o600 for p in open_files)
            sealed = rolling.seal_all()
            assert sealed and all(mode(s.path) == 0o600 for s in sealed)
            assert h.poll().status == "complete"
            for extra in ("catalog.sqlite-wal", "catalog.sqlite-shm"):
                if (h.home / extra).exists():
                    assert mode(h.home / extra) == 0o600
        finally:
            h.close()
    finally:
        os.umask(old)


# --- item 18: daemon logs --------------------------------------------------------------------


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("archiver.daemon.scheduler", logging.INFO, __file__, 1, message, args, None)


def test_log_lines_are_timestamped_text_or_json() -> None:
    line = TextFormatter().format(record("captured %s", "facebook:1"))
    stamp, rest = line.split(" ", 1)
    assert stamp.endswith("Z") and stamp[4] == "-" and "T" in stamp
    assert rest == "INFO archiver.daemon.scheduler: captured facebook:1"
    data = json.loads(JsonFormatter().format(record("captured %s", "facebook:1")))
    assert data["time"].endswith("Z") and data["message"] == "captured facebook:1"


def test_apscheduler_ticks_are_not_logged_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    try:
        logging.getLogger("apscheduler.executors.default").info('Running job "tick" (trigger: interval)')
        logging.getLogger("archiver.daemon.scheduler").info("captured x")
    finally:
        root = logging.getLogger()
        root.handlers[:] = [h for h in root.handlers if type(h).__name__ != "_ArchiverHandler"]
    err = capsys.readouterr().err
    assert "Running job" not in err and "captured x" in err


def test_daemon_logs_start_each_capture_signal_and_stop_as_json(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        env = {**os.environ, "ARCHIVER_HOME": str(h.home), "ARCHIVER_DAEMON__TICK_SECONDS": "0.2",
               "ARCHIVER_DAEMON__POLL_INTERVAL_MINUTES": "0.002",
               "ARCHIVER_CONNECTORS__FACEBOOK__API_BASE": h.server.url,
               "PYTHONPATH": str(Path(__file__).parents[1])}
        proc = subprocess.Popen([sys.executable, "-m", "archiver.cli.main", "daemon", "--log-format", "json"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        captured = 0
        while captured < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
            with h.app.catalog.session() as s:
                captured = len(list(s.scalars(select(t.CaptureRun.id).where(t.CaptureRun.status == "complete"))))
        time.sleep(1.0)  # several ticks with nothing due
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
        assert all(line["time"].endswith("Z") for line in lines)
        assert not [line for line in lines if line["logger"].startswith(("alembic", "apscheduler"))]
        messages = [line["message"] for line in lines if line["logger"] == "archiver.daemon.scheduler"]
        assert messages[0].startswith("daemon started")
        assert sum(m.startswith("captured facebook:") for m in messages) >= 2
        assert any(m.startswith("received SIGTERM") for m in messages)
        assert messages[-1].startswith("daemon stopped")
        assert not any("Running job" in m or "executed successfully" in m for m in messages)
    finally:
        h.close()
