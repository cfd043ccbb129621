"""Each command draws at the COLUMNS it is run with, not the first command's (a test-order bug:
`status` drew 125-column tables under COLUMNS=80 after a search test ran with 200 in the same
worker process, because rich reads COLUMNS once, when the console object is made)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from archiver.cli import common
from archiver.cli.main import cli


def test_a_command_takes_the_columns_it_is_run_with(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ARCHIVER_HOME": str(tmp_path / "home"), "ARCHIVER_DISTRICT": "Test School District",
           "ARCHIVER_STATE": "WA"}
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    common.console.width = 200  # as made at import under COLUMNS=200 by an earlier command
    shown = runner.invoke(cli, ["status"], env={**env, "COLUMNS": "80"}, terminal_width=80)
    assert shown.exit_code == 0, shown.output
    assert common.console.width == 80 and common.err_console.width == 80
    assert max(len(line) for line in shown.output.splitlines()) <= 80
    assert runner.invoke(cli, ["status"], env={**env, "COLUMNS": "120"}).exit_code == 0
    assert common.console.width == 120
