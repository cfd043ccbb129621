"""`archiver accounts`: register the district's accounts and prove their tokens work."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from rich.table import Table
from rich.text import Text

from archiver.cli.common import console, error_line, get_app, handle_errors, print_json
from archiver.cli.safe_text import plain


@click.group()
def accounts() -> None:
    """Register and check the district's accounts."""


@accounts.command("add")
@click.argument("platform")
@click.argument("account_id")
@click.option("--name", default="", help="Display name, e.g. 'Lincoln High School'.")
@click.option("--role", default="", help="Account role for retention, e.g. school, district, athletics.")
@click.option("--api-base", default=None, help="API base URL (self-hosted Mastodon, sandbox).")
@click.option("--token-env", default=None, help="Environment variable that holds the token.")
@click.option("--token-file", default=None, type=click.Path(dir_okay=False), help="File (mode 600) that holds the token.")
@click.option("--replace", is_flag=True, help="Update an account that is already registered.")
@click.pass_context
@handle_errors
def accounts_add(ctx: click.Context, platform: str, account_id: str, name: str, role: str,
                 api_base: str | None, token_env: str | None, token_file: str | None, replace: bool) -> None:
    """Register PLATFORM's ACCOUNT_ID (numeric id, handle or profile URL).

    The token itself is never stored: only the name of the variable or file that holds it.

    \b
    Example:
      archiver accounts add facebook 1000001 --name "Lincoln High School" \\
          --role school --token-env FB_LINCOLN_TOKEN
    """
    from archiver.core.actor import current_actor
    from archiver.services.accounts import register_account

    app = get_app(ctx, create=True)
    row = register_account(app, platform, account_id, name=name, role=role, api_base=api_base,
                           token_env=token_env, token_file=token_file, replace=replace,
                           actor=current_actor())
    console.print(Text.assemble("registered ", plain(row.label, "bold"), " (", plain(row.name), ")"))


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def accounts_list(ctx: click.Context, as_json: bool) -> None:
    """List registered accounts with their capture status.

    \b
    Example:
      archiver accounts list --json
    """
    from archiver.capture.sweep import WINDOWS
    from archiver.services.accounts import list_accounts, reconciled_at
    from archiver.services.budgets import budget_report, credential_label, credential_of

    app = get_app(ctx)
    infos = list_accounts(app)  # once: it is every account's row (1,000 at a regional agency)
    data = [a.as_dict() for a in infos]
    windows = reconciled_at(app)
    budgets = budget_report(app)
    by_credential = {(b.platform, b.credential): _budget_dict(b) for b in budgets}
    for d, info in zip(data, infos, strict=True):
        done = windows.get(d["id"], {})
        d["reconciled"] = {w: _iso(done.get(w)) for w in WINDOWS}
        d["budget"] = by_credential.get((info.platform, credential_label(credential_of(info.token_ref))))
    if as_json:
        print_json(data)
        return
    table = Table("id", "platform", title="Accounts")
    table.add_column("account", overflow="fold")
    for header in ("name", "status", "last polled", "message"):
        table.add_column(header, overflow="fold")
    for d in data:
        table.add_row(str(d["id"]), plain(d["platform"]), plain(d["account"]), plain(d["name"]),
                      plain(d["status"]), (d["last_polled_at"] or "never")[:19], plain(d["message"]))
    console.print(table)
    swept = Table("id", *(f"{w} items" for w in WINDOWS),
                  title="Last full reconciliation (edits and deletions found up to then)")
    for d in data:
        swept.add_row(str(d["id"]), *((d["reconciled"][w] or "never")[:16].replace("T", " ") for w in WINDOWS))
    console.print(swept)
    if budgets:
        quota = Table("platform", "credential", "spent", "usable", "resets (UTC)", title="Quota budgets")
        for b in budgets:
            usable = f"{b.usable:,} {b.unit}/{b.period}" if b.usable is not None else "headers"
            quota.add_row(plain(b.platform), plain(b.credential), f"{b.spent:,}", usable,
                          f"{b.resets_at:%Y-%m-%d %H:%M}")
        console.print(quota)
        for b in budgets:
            if b.warning():
                error_line(f"warning: {b.warning()}")


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _budget_dict(b: object) -> dict[str, object]:
    from dataclasses import asdict

    out = asdict(b)  # type: ignore[call-overload]  # a BudgetLine dataclass
    out["resets_at"] = out["resets_at"].isoformat()
    return out


@accounts.command("check")
@click.option("--account", "selector", default=None, help="Only this account (id, platform:id or name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def accounts_check(ctx: click.Context, selector: str | None, as_json: bool) -> None:
    """Make one cheap call per account to prove its token still works.

    \b
    Example:
      archiver accounts check --account facebook:1000001
    """
    from archiver.services.accounts import check_accounts

    outcomes = check_accounts(get_app(ctx), selector)
    if as_json:
        print_json([o.as_dict() for o in outcomes])
    else:
        table = Table(title="Account check")
        table.add_column("account", overflow="fold")
        table.add_column("ok")
        table.add_column("name on platform", overflow="fold")
        table.add_column("message", overflow="fold")
        for o in outcomes:
            table.add_row(plain(o.account), "yes" if o.ok else Text("no", style="red"),
                          plain(o.display_name), plain(o.message))
        console.print(table)
    if not all(o.ok for o in outcomes):
        sys.exit(1)


@accounts.command("disable")
@click.argument("account")
@click.option("--reason", required=True, help="Why capture stops (kept in the audit log).")
@click.pass_context
@handle_errors
def accounts_disable(ctx: click.Context, account: str, reason: str) -> None:
    """Stop capturing ACCOUNT (id, platform:id or name) without forgetting it: its records
    stay, the daemon and 'archiver poll' skip it, no capture-gap alert is raised for it.

    \b
    Example:
      archiver accounts disable facebook:1000001 --reason "school closed June 2026"
    """
    from archiver.core.actor import current_actor
    from archiver.services.accounts import disable_account

    row = disable_account(get_app(ctx), account, reason=reason, actor=current_actor())
    console.print(Text.assemble("disabled ", plain(row.label, "bold"), " (", plain(row.name), ")"))


@accounts.command("enable")
@click.argument("account")
@click.pass_context
@handle_errors
def accounts_enable(ctx: click.Context, account: str) -> None:
    """Resume capturing a disabled ACCOUNT at the next cycle.

    \b
    Example:
      archiver accounts enable facebook:1000001
    """
    from archiver.core.actor import current_actor
    from archiver.services.accounts import enable_account

    row = enable_account(get_app(ctx), account, actor=current_actor())
    console.print(Text.assemble("enabled ", plain(row.label, "bold"), " (", plain(row.name), ")"))
