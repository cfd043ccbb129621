"""`archiver warc`: the stored WARC files, listed and read back."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from archiver.cli.common import console, get_app, handle_errors, print_json


@click.group()
def warc() -> None:
    """List stored WARC files and print their bytes."""


@warc.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def warc_list(ctx: click.Context, as_json: bool) -> None:
    """List stored WARC files with their digests.

    \b
    Example:
      archiver warc list --json
    """
    from archiver.services.warcs import list_warcs

    app = get_app(ctx)
    rows = list_warcs(app)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    table = Table("name", "records", "bytes", "sha256", "stored as", title=f"{len(rows)} WARC files in {app.store.url}")
    for r in rows:
        table.add_row(r.name, str(r.records), str(r.size), r.sha256[:16], r.store_key)
    console.print(table)


@warc.command("cat")
@click.argument("name")
@click.pass_context
@handle_errors
def warc_cat(ctx: click.Context, name: str) -> None:
    """Write the stored WARC NAME to standard output (e.g. to pipe into warcio).

    \b
    Example:
      archiver warc cat facebook-1000001-...warc.gz | warcio index -
    """
    from archiver.services.warcs import warc_bytes

    out = sys.stdout.buffer
    for chunk in warc_bytes(get_app(ctx), name):
        out.write(chunk)
    out.flush()
