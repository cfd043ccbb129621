"""`archiver poll --once`: one capture cycle over the registered accounts."""

from __future__ import annotations

import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from archiver.cli.common import console, err_console, error_line, get_app, handle_errors, print_json


@click.command()
@click.option("--once", is_flag=True, required=True, help="Run one capture cycle and exit.")
@click.option("--account", "selector", default=None, help="Only this account (id, platform:id or name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def poll(ctx: click.Context, once: bool, selector: str | None, as_json: bool) -> None:
    """Capture every registered account once (the daemon runs the same code on a schedule).

    Exits non-zero if any account could not be captured completely.

    \b
    Example:
      archiver poll --once --account facebook:1000001
    """
    from archiver.services.poll import Poller

    poller = Poller(get_app(ctx))
    total = len(poller.accounts(selector))  # an unknown selector fails here, before the bar
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("capturing", total=total)
        reports = poller.poll(
            selector,
            on_start=lambda account: bar.update(task, description=f"capturing {account.label}"),
            on_account=lambda _report: bar.advance(task),
        )
    if as_json:
        print_json([r.as_dict() for r in reports])
    else:
        console.print(run_table(reports, "Capture cycle"))
    failed = [r for r in reports if r.status != "complete"]
    for r in failed:
        error_line(f"{r.account}: {r.message}")
    if failed:
        sys.exit(1)


def run_table(reports: list, title: str) -> Table:
    table = Table("account", "status", "requests", "new", "edited", "same", "deleted", "media",
                  "WARCs", title=title)
    for r in reports:
        status = r.status if r.status == "complete" else f"[yellow]{r.status}[/]"
        table.add_row(r.account, status, str(r.exchanges), str(r.new), str(r.edited), str(r.unchanged),
                      str(r.deleted), str(r.media), str(len(r.warcs)))
    return table
