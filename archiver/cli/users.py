"""`archiver users ...`: who may sign in to the web console, and with which role."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from archiver.cli.common import console, get_app, handle_errors, print_json
from archiver.cli.safe_text import plain


def _actor() -> str:
    from archiver.core.actor import current_actor

    return current_actor()


def _password() -> str:
    """The first line of standard input: never an argument (it would show in `ps` and history)."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


@click.group()
def users() -> None:
    """Console users and roles: records-officer, clerk, auditor, operator.

    \b
    Example:
      archiver users add pat --role records-officer < password.txt
      archiver users list
    """


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["records-officer", "clerk", "auditor", "operator"]))
@click.option("--proxy-only", is_flag=True, help="No password: the user signs in through the trusted proxy only.")
@click.pass_context
@handle_errors
def users_add(ctx: click.Context, name: str, role: str, proxy_only: bool) -> None:
    """Add a user; the password is read from standard input (the first line).

    \b
    Example:
      archiver users add pat --role records-officer < pat-password.txt
      archiver users add sso.clerk --role clerk --proxy-only
    """
    from archiver.services.users import add_user

    app = get_app(ctx)
    user = add_user(app, name, role=role, password=None if proxy_only else _password(), actor=_actor())
    console.print(f"added {plain(user.name)} ({user.role})")


@users.command("password")
@click.argument("name")
@click.pass_context
@handle_errors
def users_password(ctx: click.Context, name: str) -> None:
    """Set a new password (from standard input); also lifts a lockout.

    \b
    Example:
      archiver users password pat < new-password.txt
    """
    from archiver.services.users import set_password

    set_password(get_app(ctx), name, _password(), actor=_actor())
    console.print("password set")


@users.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the user again.")
@click.pass_context
@handle_errors
def users_disable(ctx: click.Context, name: str, enable: bool) -> None:
    """Disable a user (signed out at the next page), or --enable again.

    \b
    Example:
      archiver users disable chris
      archiver users disable chris --enable
    """
    from archiver.services.users import set_disabled

    set_disabled(get_app(ctx), name, not enable, actor=_actor())
    console.print("enabled" if enable else "disabled")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def users_list(ctx: click.Context, as_json: bool) -> None:
    """Every console user, role and state.

    \b
    Example:
      archiver users list --json
    """
    from dataclasses import asdict

    from archiver.services.users import list_users

    rows = list_users(get_app(ctx))
    if as_json:
        print_json([asdict(u) for u in rows])
        return
    table = Table("user", "role", "state", "last sign-in")
    for u in rows:
        state = "disabled" if u.disabled else (f"locked until {u.locked_until:%H:%M}" if u.locked_until else "ok")
        table.add_row(plain(u.name), u.role, state,
                      u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never")
    console.print(table)
