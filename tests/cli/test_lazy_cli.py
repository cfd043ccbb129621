"""Fast start (issue 13 part 5): `archiver --help` imports no command group, a read command
imports only what it uses and only checks the catalog's schema; `archiver migrate` upgrades."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from archiver.catalog.db import alembic_config, head_revisions, known_revisions, make_engine
from archiver.cli.main import COMMANDS, cli

REPO = Path(__file__).resolve().parents[2]
# Never needed to list items: upgrading, S3/KMS, WARC parsing, PDF, platform clients, crypto.
HEAVY = ("alembic", "boto3", "botocore", "warcio", "weasyprint", "fpdf", "httpx", "connectors", "cryptography")


def test_listed_summaries_are_the_commands_own_first_paragraphs() -> None:
    ctx = click.Context(cli)
    for name, (_module, _attr, summary) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert (command.help or "").split("\n\n")[0].strip() == summary, (
            f"COMMANDS['{name}'] summary differs from the command's help; copy its first paragraph")


def test_root_help_is_what_click_would_print_with_every_group_imported() -> None:
    ctx = click.Context(cli)
    eager = click.Group(cli.name, help=cli.help, params=cli.params, context_settings=cli.context_settings,
                        commands=[cli.get_command(ctx, name) for name in COMMANDS])  # type: ignore[misc]
    lazy_help = CliRunner().invoke(cli, ["--help"], terminal_width=100, prog_name="archiver").output
    eager_help = CliRunner().invoke(eager, ["--help"], terminal_width=100, prog_name="archiver").output
    assert lazy_help == eager_help


def _modules_after(args: list[str], env: dict[str, str]) -> tuple[int, list[str], str]:
    """Run the CLI in a fresh interpreter; the top-level packages it imported."""
    code = (
        "import sys, json\n"
        "from archiver.cli.main import cli\n"
        "try:\n"
        f"    cli({args!r}, prog_name='archiver', standalone_mode=False)\n"
        "    code = 0\n"
        "except SystemExit as exc:\n"
        "    code = exc.code or 0\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=REPO,
                          capture_output=True, text=True, check=True)
    status, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return status, modules, done.stderr


def _loaded(modules: list[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_help_imports_no_command_group_nor_sqlalchemy(tmp_path: Path) -> None:
    status, modules, _ = _modules_after(["--help"], {"ARCHIVER_HOME": str(tmp_path)})
    assert status == 0
    loaded = [p for p in ("sqlalchemy", "pydantic", "rich", "archiver.services", *HEAVY) if _loaded(modules, p)]
    assert loaded == []
    assert not [m for m in modules if m.startswith("archiver.cli.") and m != "archiver.cli.main"]


def test_read_command_imports_only_what_it_uses(tmp_path: Path) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    status, modules, stderr = _modules_after(["items", "list"], env)
    assert status == 0, stderr
    assert [p for p in HEAVY if _loaded(modules, p)] == []


def _old_catalog(url: str) -> str:
    """A catalog at the revision before head, made by Alembic itself."""
    from alembic import command
    from alembic.script import ScriptDirectory

    engine = make_engine(url)
    try:
        cfg = alembic_config(engine)
        (head,) = ScriptDirectory.from_config(cfg).get_heads()
        previous = ScriptDirectory.from_config(cfg).get_revision(head).down_revision
        assert isinstance(previous, str)
        command.upgrade(cfg, previous)
    finally:
        engine.dispose()
    return previous


def test_head_revisions_read_from_the_files_match_alembic() -> None:
    from alembic.script import ScriptDirectory

    from archiver.catalog.db import MIGRATIONS

    script = ScriptDirectory(str(MIGRATIONS))
    assert head_revisions() == frozenset(script.get_heads())
    assert known_revisions() == frozenset(r.revision for r in script.walk_revisions())


def test_read_command_refuses_an_older_catalog_until_migrate(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    env = {"ARCHIVER_HOME": str(home)}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0  # home, key file (own catalog)
    env["ARCHIVER_DATABASE_URL"] = database_url
    previous = _old_catalog(database_url)

    refused = CliRunner().invoke(cli, ["items", "list"], env=env)
    assert refused.exit_code != 0
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and "archiver migrate" in lines[0] and previous in lines[0], refused.output

    migrated = CliRunner().invoke(cli, ["migrate", "--json"], env=env, catch_exceptions=False)
    assert migrated.exit_code == 0, migrated.output
    report = json.loads(migrated.output)
    assert report["before"] == [previous] and report["after"] == sorted(head_revisions()) and report["changed"]

    listed = CliRunner().invoke(cli, ["items", "list", "--json"], env=env, catch_exceptions=False)
    assert listed.exit_code == 0 and json.loads(listed.output) == []
    again = CliRunner().invoke(cli, ["migrate"], env=env, catch_exceptions=False)
    assert again.exit_code == 0 and "nothing changed" in again.output


def test_capture_upgrades_an_older_catalog(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    _old_catalog(url)
    env["ARCHIVER_DATABASE_URL"] = url
    polled = CliRunner().invoke(cli, ["poll", "--once", "--json"], env=env, catch_exceptions=False)
    assert polled.exit_code == 0, polled.output  # no accounts: nothing to capture, schema upgraded
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert set(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()) == head_revisions()
    finally:
        engine.dispose()


@pytest.mark.parametrize("newer", ["9999_from_the_future"])
def test_read_command_refuses_a_newer_catalog(tmp_path: Path, newer: str) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'home' / 'catalog.sqlite'}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{newer}'")
    finally:
        engine.dispose()
    refused = CliRunner().invoke(cli, ["items", "list"], env=env)
    assert refused.exit_code != 0 and "newer than this archiver knows" in refused.output
