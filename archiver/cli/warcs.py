"""`archiver warc`: the stored WARC files, listed and read back."""

from __future__ import annotations

import sys

import click

from archiver.cli.common import console, get_app, handle_errors, print_json
from archiver.cli.tables import Column, fitted_table


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
    # Whole names (they are what 'warc cat' takes); narrow terminals lose the key and digest first.
    columns = [Column("name", key=True), Column("records", justify="right"), Column("bytes", drop=1, justify="right"),
               Column("sha256", drop=2), Column("stored as", drop=3)]
    console.print(fitted_table(console, columns, [[r.name, str(r.records), str(r.size), r.sha256[:16], r.store_key]
                                                  for r in rows], title=f"{len(rows)} WARC files in {app.store.url}"))


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
