"""The CLI as a records officer uses it: help with examples, JSON, one-line errors, no secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from archiver.cli.main import cli
from archiver.sandbox.server import SandboxServer
from connectors.facebook.sandbox import FacebookContract

TOKEN = FacebookContract().token


@pytest.fixture
def sandbox() -> Iterator[tuple[str, FacebookContract]]:
    contract = FacebookContract()
    server = SandboxServer(contract.app).start()
    contract.bind(server.url)
    contract.seed_account()
    yield server.url, contract
    server.stop()


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"ARCHIVER_HOME": str(tmp_path / "home"), "ARCHIVER_CONNECTORS__FACEBOOK__MIN_RETRY_SECONDS": "0.05",
           "ARCHIVER_CAPTURE__BACKOFF_BASE": "0.01"}

    def invoke(*args: str, extra_env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), env={**env, **(extra_env or {})}, catch_exceptions=False)

    return invoke


def all_commands() -> list[list[str]]:
    """Through list_commands/get_command: the root group imports its subcommands lazily."""
    out = []
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        out.append([name])
        for sub in getattr(command, "commands", {}):
            out.append([name, sub])
    assert len(out) > 50, "the command list is (nearly) empty: the lazy group lost its commands"
    return out


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p))
def test_every_command_explains_itself_with_an_example(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    command = cli.get_command(click.Context(cli), path[0])
    assert "Example" in result.output or len(path) == 1 and hasattr(command, "commands")


def test_register_poll_list_show_and_cat(run, sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, contract = sandbox
    env = {"FB_TOKEN": TOKEN}
    added = run("accounts", "add", "facebook", "https://www.facebook.com/1000001", "--name", "Lincoln",
                "--api-base", url, "--token-env", "FB_TOKEN")
    assert added.exit_code == 0, added.output
    polled = run("poll", "--once", extra_env=env)
    assert polled.exit_code == 0, polled.output
    listed = run("items", "list", "--json")
    rows = json.loads(listed.stdout)
    assert rows and {"id", "platform", "account", "kind", "created_at", "deleted", "versions"} <= set(rows[0])
    assert all(isinstance(r["deleted"], bool) and isinstance(r["versions"], int) for r in rows)
    post = next(r for r in rows if r["kind"] == "post")
    shown = json.loads(run("items", "show", post["id"], "--json").stdout)
    assert shown["version_history"][0]["warc"]["record_id"].startswith("<urn:uuid:")
    warcs = json.loads(run("warc", "list", "--json").stdout)
    assert len(warcs) == 1
    cat = CliRunner().invoke(cli, ["warc", "cat", warcs[0]["name"]],
                             env={"ARCHIVER_HOME": str(tmp_path / "home")})
    assert cat.exit_code == 0 and cat.stdout_bytes[:2] == b"\x1f\x8b"
    accounts = json.loads(run("accounts", "list", "--json").stdout)
    assert accounts[0]["status"] == "ok" and accounts[0]["token"] == "env"
    checked = run("accounts", "check", extra_env=env)
    assert checked.exit_code == 0 and "yes" in checked.output
    rebuilt = run("catalog", "rebuild")
    assert rebuilt.exit_code == 0 and "equals" in rebuilt.output
    shown_config = run("config", "show", "--json")
    assert json.loads(shown_config.stdout)["home"] == str(tmp_path / "home")
    for result in (added, polled, listed, checked, rebuilt, shown_config):
        assert TOKEN not in result.output


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:")
    return lines[0]


def test_bad_input_gives_one_clear_line(run, sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _ = sandbox
    assert "Unknown platform 'myspace'" in one_line_error(run("accounts", "add", "myspace", "x"))
    assert "docs/platforms.md" in one_line_error(run("accounts", "add", "snapchat", "lincolnhs"))
    assert run("accounts", "add", "facebook", "1000001", "--api-base", url, "--token-env", "FB_TOKEN").exit_code == 0
    assert "already registered" in one_line_error(
        run("accounts", "add", "facebook", "1000001", "--token-env", "FB_TOKEN"))
    assert "not a Facebook Page id" in one_line_error(run("accounts", "add", "facebook", "no spaces allowed"))
    missing = run("poll", "--once")  # FB_TOKEN not set
    assert missing.exit_code == 1
    assert "FB_TOKEN" in missing.output and "not set" in missing.output
    assert "No captured item" in one_line_error(run("items", "show", "nope"))
    assert "No registered account" in one_line_error(run("poll", "--once", "--account", "nobody"))


def test_unreachable_api_and_unwritable_home(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("accounts", "add", "facebook", "1000001", "--api-base", "http://127.0.0.1:9",
               "--token-env", "FB_TOKEN").exit_code == 0
    result = run("poll", "--once", extra_env={"FB_TOKEN": TOKEN, "ARCHIVER_CAPTURE__MAX_RETRIES": "0"})
    assert result.exit_code == 1 and "Cannot reach facebook at http://127.0.0.1:9" in result.output
    # A home below a regular file cannot be created, even by root.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    line = one_line_error(run("accounts", "add", "facebook", "1000001", extra_env={"ARCHIVER_HOME": str(blocker / "home")}))
    assert "Cannot write to the archive home" in line and "ARCHIVER_HOME" in line


def test_malformed_json_is_quarantined_with_a_coded_warning(run, sandbox) -> None:  # type: ignore[no-untyped-def]
    url, contract = sandbox
    run("accounts", "add", "facebook", "1000001", "--api-base", url, "--token-env", "FB_TOKEN")
    contract.sandbox.malformed_next = 1
    result = run("poll", "--once", extra_env={"FB_TOKEN": TOKEN})
    assert result.exit_code == 1 and "not a JSON object" in result.output
    from archiver.catalog import tables as t
    from archiver.catalog.db import open_catalog

    home = Path(json.loads(run("config", "show", "--json").stdout)["home"])
    catalog = open_catalog(f"sqlite:///{home / 'catalog.sqlite'}")
    with catalog.session() as s:
        warnings = s.query(t.CaptureWarning).all()
        assert [w.code for w in warnings] == ["facebook.malformed_json"]
        assert warnings[0].warc_file  # the raw response is in a stored WARC
    catalog.dispose()


def test_invalid_settings_name_the_field(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(run("accounts", "list", extra_env={"ARCHIVER_CAPTURE__MAX_RETRIES": "lots"}))
    assert "capture.max_retries" in line
    bad = tmp_path / "bad.toml"
    bad.write_text("home = [\n")
    line = one_line_error(run("accounts", "list", extra_env={"ARCHIVER_CONFIG": str(bad)}))
    assert "check archiver.toml" in line
