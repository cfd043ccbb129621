"""Settings never guess: a misspelt key, a missing config file, a database URL SQLAlchemy cannot
use, or an unset district/state is one error line naming what to fix (issue 9 items 10, 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli.main import cli
from archiver.core.errors import ConfigError
from archiver.core.settings import load_settings
from tests.harness import Harness


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:")
    return lines[0]


def cli_error(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    env = {"ARCHIVER_HOME": str(tmp_path / "home"), **env}
    return one_line_error(CliRunner().invoke(cli, list(args or ("config", "show")), env=env))


@pytest.mark.parametrize(("toml", "named"), [
    ("[deamon]\npoll_interval_minutes = 5\n", "deamon"),
    ("timeout_seconds = 5\n", "timeout_seconds"),
    ("[capture]\ntimeout_seconds = 5\n", "capture.timeout_seconds"),
])
# (unknown keys under [connectors.PLATFORM] are refused by each connector's own settings model)
def test_unknown_keys_in_archiver_toml_are_named(tmp_path: Path, toml: str, named: str) -> None:
    config = tmp_path / "archiver.toml"
    config.write_text(toml)
    line = cli_error(tmp_path, {"ARCHIVER_CONFIG": str(config)})
    assert f"Unknown setting {named};" in line


@pytest.mark.parametrize(("name", "named"), [
    ("ARCHIVER_DEAMON__POLL_INTERVAL_MINUTES", "ARCHIVER_DEAMON__POLL_INTERVAL_MINUTES"),
    ("ARCHIVER_HOMEE", "ARCHIVER_HOMEE"),
    ("ARCHIVER_CAPTURE__TIMEOUT_SECONDS", "capture.timeout_seconds"),
])
def test_unknown_archiver_variables_are_named(tmp_path: Path, name: str, named: str) -> None:
    assert named in cli_error(tmp_path, {name: "5"})


def test_a_missing_or_directory_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "archiver.toml"
    line = cli_error(tmp_path, {"ARCHIVER_CONFIG": str(missing)})
    assert str(missing) in line and "does not exist" in line
    line = cli_error(tmp_path, {"ARCHIVER_CONFIG": str(tmp_path)})
    assert str(tmp_path) in line and "is a directory" in line


@pytest.mark.parametrize("url", ["postgres://u@127.0.0.1/db", "mysql://u:secret@127.0.0.1/db", "not a url",
                                 "postgresql://u@127.0.0.1/db"])
def test_database_urls_sqlalchemy_cannot_use_are_one_line(tmp_path: Path, url: str) -> None:
    line = cli_error(tmp_path, {"ARCHIVER_DATABASE_URL": url}, "accounts", "list")
    assert "sqlite:///PATH or postgresql+psycopg://" in line and "database_url" in line
    assert "secret" not in line


def test_supported_database_urls_pass(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path}/c.sqlite", "postgresql+psycopg://u:p@127.0.0.1:5432/db"):
        assert load_settings(database_url=url).database_url == url


def test_capture_refuses_without_an_explicit_district_and_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(tmp_path, "facebook", settings={"district": None, "state": None})
    try:
        with pytest.raises(ConfigError) as caught:
            h.poller.recover()
        assert 'district = "' in caught.value.message and 'state = "WA"' in caught.value.message
        report = h.poller.poll_account(h.account)  # the account path refuses too
        assert report.status == "not-run" and "district" in report.message
        assert not list(h.app.store.keys("warc/"))  # nothing captured
        monkeypatch.delenv("ARCHIVER_DISTRICT")
        monkeypatch.delenv("ARCHIVER_STATE")
        assert load_settings().district is None  # no made-up production default
        line = one_line_error(CliRunner().invoke(cli, ["poll", "--once"], env={"ARCHIVER_HOME": str(h.home)}))
        assert "district" in line and "ARCHIVER_DISTRICT" in line
        h.app.settings.district, h.app.settings.state = "Lincoln County SD", "WA"
        assert h.poll().status == "complete"
    finally:
        h.close()
