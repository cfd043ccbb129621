"""`archiver holds ...`: litigation and records-request holds, and their legal holds in the store."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import UTC, datetime

import click
from rich.table import Table

from archiver.cli.common import console, get_app, handle_errors, print_json
from archiver.cli.safe_text import markup


def _actor() -> str:
    from archiver.core.actor import current_actor

    return current_actor()


def _day(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _row(h: object) -> dict:
    data = asdict(h)  # type: ignore[call-overload]
    data["active"] = data["released_at"] is None
    return data


@click.group()
def holds() -> None:
    """Holds stop disposition and put the affected objects under legal hold.

    \b
    Example:
      archiver holds add --reason "Doe v. District, case 26-2-01234" --account facebook:1234 --since 2026-01-01
      archiver holds list
      archiver holds release 3 --reason "case dismissed with prejudice 2027-03-01"
    """


@holds.command("add")
@click.option("--reason", required=True, help="The matter: case number, claim, request.")
@click.option("--account", default=None, help="Only this account (platform:id or name).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Items posted on or after (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Items posted on or before (UTC).")
@click.option("--item", "items", multiple=True, help="An item (platform:id); repeatable.")
@click.option("--query", default=None, help="Items this full-text search finds now (syntax of 'archiver search'); with --account/--since/--until as its filters.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def holds_add(ctx: click.Context, reason: str, account: str | None, since: datetime | None, until: datetime | None,
              items: tuple[str, ...], query: str | None, as_json: bool) -> None:
    """Place a litigation hold. With no --account, dates or items it holds everything.

    \b
    Example:
      archiver holds add --reason "Doe v. District 26-2-01234" --account facebook:1234 --since 2026-01-01
    """
    from archiver.services.holds import add_hold

    summary = add_hold(get_app(ctx), reason=reason, actor=_actor(), account=account, since=_day(since),
                       until=_day(until), item_ids=list(items) or None, query=query)
    if as_json:
        print_json(_row(summary))
        return
    click.echo(f"hold #{summary.id} placed: {summary.items} item(s), {summary.objects} object(s) under legal hold")


@holds.command("list")
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def holds_list(ctx: click.Context, include_released: bool, as_json: bool) -> None:
    """Holds in force (and, with --all, released ones): what they cover and why.

    \b
    Example:
      archiver holds list --all
    """
    from archiver.services.holds import list_holds

    rows = list_holds(get_app(ctx), include_released=include_released)
    if as_json:
        print_json([_row(r) for r in rows])
        return
    table = Table("id", "kind", "reason", "scope", "items", "objects", "placed", "released", title="Holds")
    for r in rows:
        scope = ", ".join(filter(None, [r.account or "", f"from {r.since:%Y-%m-%d}" if r.since else "",
                                        f"to {r.until:%Y-%m-%d}" if r.until else "",
                                        f"request {r.request_id}" if r.request_id else ""])) or "everything"
        released = f"{r.released_at:%Y-%m-%d} by {r.released_by}: {r.release_reason}" if r.released_at else ""
        table.add_row(str(r.id), r.kind, markup(r.reason), markup(scope), str(r.items), str(r.objects),
                      f"{r.created_at:%Y-%m-%d} by {markup(r.created_by)}", markup(released))
    console.print(table)


@holds.command("release")
@click.argument("hold_id", type=int)
@click.option("--reason", required=True, help="Why the hold is no longer needed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def holds_release(ctx: click.Context, hold_id: int, reason: str, as_json: bool) -> None:
    """Release hold HOLD_ID; objects no other hold needs leave legal hold.

    \b
    Example:
      archiver holds release 3 --reason "case dismissed 2027-03-01"
    """
    from archiver.services.holds import release_hold

    summary = release_hold(get_app(ctx), hold_id, reason=reason, actor=_actor())
    if as_json:
        print_json(_row(summary))
        return
    click.echo(f"hold #{summary.id} released")


@holds.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Only report drift; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def holds_reconcile(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Find drift between the catalog's holds and the store's legal holds, and repair it
    (also extends Object Lock dates the catalog asks for). Exit 1 if drift remains.

    \b
    Example:
      archiver holds reconcile --dry-run
    """
    from archiver.services.holds import reconcile

    report = reconcile(get_app(ctx), repair=not dry_run, actor=_actor())
    if as_json:
        print_json({**asdict(report), "drift": report.drift})
    else:
        click.echo(f"{report.objects} object(s) checked; legal hold missing on {len(report.placed)}, "
                   f"left on {len(report.released)}, {len(report.missing)} missing from the store"
                   + ("" if dry_run or not report.drift else " (repaired)"))
        for name in report.missing:
            click.echo(f"missing: {name}")
    if report.missing or (dry_run and report.drift):
        sys.exit(1)
