"""`archiver catalog rebuild`: prove (or restore) the catalog from the WARCs alone."""

from __future__ import annotations

import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from archiver.cli.common import console, err_console, error_line, get_app, handle_errors, print_json


@click.group()
def catalog() -> None:
    """Maintain the metadata catalog."""


@catalog.command("rebuild")
@click.option("--apply", is_flag=True, help="Replace the catalog's derived tables with the rebuilt ones.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def catalog_rebuild(ctx: click.Context, apply: bool, as_json: bool) -> None:
    """Recreate the catalog from the stored WARCs alone and report every difference.

    Exits 1 when the rebuilt catalog differs from the live one (and --apply was not given).

    \b
    Example:
      archiver catalog rebuild
    """
    from archiver.services.maintenance import rebuild_catalog, stored_warc_count

    app = get_app(ctx)
    with Progress(TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  transient=True, disable=as_json) as bar:
        task = bar.add_task("rebuild", total=stored_warc_count(app))
        report = rebuild_catalog(app, apply=apply, on_warc=lambda _name: bar.advance(task))
    if as_json:
        print_json({"warcs": report.warcs, "equal": report.equal, "applied": report.applied,
                    "tables": [d.__dict__ for d in report.diffs],
                    "unreadable": [u.__dict__ for u in report.unreadable]})
    else:
        table = Table("table", "live rows", "rebuilt rows", "only live", "only rebuilt",
                      title=f"Catalog rebuilt from {report.warcs} WARC files")
        for d in report.diffs:
            table.add_row(d.table, str(d.live), str(d.rebuilt), str(d.only_live_count), str(d.only_rebuilt_count))
        console.print(table)
        console.print("the rebuilt catalog equals the live one" if report.equal
                      else ("differences found; the catalog was replaced" if report.applied
                            else "[yellow]differences found[/]; run with --apply to replace the catalog"))
    for bad in report.unreadable:  # skipped so the good ones were recovered; named, and exit 1
        error_line(f"skipped unreadable object {bad.store_key}: {bad.message}")
    if report.unreadable:
        error_line(f"{len(report.unreadable)} stored objects could not be read and are not in the rebuilt "
                   "catalog; restore them from a replica and run 'archiver catalog rebuild' again")
        sys.exit(1)
    if not report.equal and not report.applied:
        sys.exit(1)
