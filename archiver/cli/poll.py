"""`archiver poll --once`: one capture cycle over the registered accounts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from archiver.cli.common import console, err_console, error_line, get_app, handle_errors, print_json
from archiver.cli.tables import Column, fitted_table

if TYPE_CHECKING:
    from archiver.services.accounts import AccountInfo
    from archiver.services.poll import RunReport

INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C (128 + SIGINT)


@click.command()
@click.option("--once", is_flag=True, required=True, help="Run one capture cycle and exit.")
@click.option("--account", "selector", default=None, help="Only this account (id, platform:id or name).")
@click.option("--reconcile", is_flag=True,
              help="Read every listing whole now (confirm an edit or deletion at once) instead of "
                   "only what can have changed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def poll(ctx: click.Context, once: bool, selector: str | None, reconcile: bool, as_json: bool) -> None:
    """Capture every registered account once (the daemon runs the same code on a schedule).

    Exits non-zero if any account could not be captured completely. Ctrl-C stops after
    saying what was kept; the next run stores what was cut short and captures the rest.

    Each cycle fetches what can have changed (new items, items whose comment count or
    update time moved, and a slice of older items being reconciled); the first capture of an
    account, and --reconcile, read everything.

    \b
    Example:
      archiver poll --once --account facebook:1000001
      archiver poll --once --reconcile --account facebook:1000001
    """
    from archiver.services.poll import Poller

    poller = Poller(get_app(ctx, migrate=True))
    total = len(poller.accounts(selector))  # an unknown selector fails here, before the bar
    reports: list[RunReport] = []
    current: list[AccountInfo] = []

    def started(account: AccountInfo) -> None:
        current[:] = [account]
        bar.update(task, description=f"capturing {account.label}")

    def finished(report: RunReport) -> None:
        reports.append(report)
        current.clear()
        bar.advance(task)

    try:
        with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err_console, transient=True, disable=as_json) as bar:
            task = bar.add_task("capturing", total=total)
            poller.poll(selector, on_start=started, on_account=finished, reconcile=reconcile)
    except KeyboardInterrupt:
        _interrupted(reports, current[0] if current else None, total, as_json)
        sys.exit(INTERRUPTED)
    if as_json:
        print_json([r.as_dict() for r in reports])
    else:
        console.print(run_table(reports, "Capture cycle"))
    failed = [r for r in reports if r.status != "complete"]
    for r in failed:
        error_line(f"{r.account}: {r.message}")
    if failed:
        sys.exit(1)


def _interrupted(reports: list[RunReport], cut: AccountInfo | None, total: int, as_json: bool) -> None:
    """What Ctrl-C left: the finished accounts are stored and indexed; the one being captured
    stays in the spool, which the next run stores before capturing anything."""
    if as_json:
        print_json([r.as_dict() for r in reports])
    elif reports:
        console.print(run_table(reports, "Kept before the interruption"))
    kept = f"{len(reports)} of {total} accounts were captured and stored"
    if cut is not None:
        kept += (f"; what was fetched for {cut.label} before the interruption stays in the spool, "
                 "and the next run stores it")
    error_line(f"interrupted: {kept}; run 'archiver poll --once' again to finish the rest")


def run_table(reports: Sequence[RunReport], title: str) -> Table:
    """One row per account, whole account labels at any width (see archiver.cli.tables)."""
    columns = [Column("account", key=True), Column("status"), Column("requests", drop=5, justify="right"),
               Column("revisits", drop=6, justify="right"),
               Column("new", justify="right"), Column("edited", drop=1, justify="right"),
               Column("same", drop=3, justify="right"), Column("deleted", justify="right"),
               Column("media", drop=4, justify="right"), Column("WARCs", drop=2, justify="right")]
    rows = [[r.account, r.status if r.status == "complete" else Text(r.status, style="yellow"),
             str(r.exchanges), str(r.revisits), str(r.new), str(r.edited), str(r.unchanged), str(r.deleted), str(r.media),
             str(len(r.warcs))] for r in reports]
    return fitted_table(console, columns, rows, title=title)
