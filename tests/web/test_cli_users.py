"""`archiver users` reads the password from standard input; `archiver serve` refuses an auth
header without a trusted proxy (anyone could then name themselves)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from archiver.app import App
from archiver.cli.main import cli
from archiver.core.settings import Settings
from archiver.services import users
from archiver.services.archive_home import create_archive

PASSWORD = "correct horse battery staple"


def test_users_add_reads_the_password_from_stdin_and_lists_roles(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = App(Settings(home=home))
    create_archive(app)
    app.close()
    env = {"ARCHIVER_HOME": str(home)}
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "pat", "--role", "records-officer"], input=PASSWORD + "\n", env=env)
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output
    short = runner.invoke(cli, ["users", "add", "sam", "--role", "clerk"], input="short\n", env=env)
    assert short.exit_code != 0 and "too short" in short.output
    bad_role = runner.invoke(cli, ["users", "add", "sam", "--role", "admin"], input=PASSWORD, env=env)
    assert bad_role.exit_code != 0
    listed = runner.invoke(cli, ["users", "list", "--json"], env=env)
    assert '"role": "records-officer"' in listed.output and "password_hash" not in listed.output
    app = App(Settings(home=home))
    try:
        assert users.authenticate(app, "pat", PASSWORD).name == "pat"
    finally:
        app.close()
    assert runner.invoke(cli, ["users", "disable", "pat"], env=env).exit_code == 0
    app = App(Settings(home=home))
    try:
        assert users.get_user(app, "pat") is None
    finally:
        app.close()


def test_serve_refuses_an_auth_header_without_a_trusted_proxy(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = App(Settings(home=home))
    create_archive(app)
    app.close()
    result = CliRunner().invoke(cli, ["serve", "--auth-header", "X-Remote-User"], env={"ARCHIVER_HOME": str(home)})
    assert result.exit_code != 0 and "--trusted-proxy" in result.output
