"""`archiver warc`: the stored WARC files, listed and read back."""

from __future__ import annotations

import sys

import click

from archiver.cli.common import console, driver_read, get_app, handle_errors, print_json
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
    rows = driver_read(ctx, lambda lite, catalog, _settings: lite.list_warcs(catalog))
    if rows is None:
        from archiver.services.warcs import list_warcs

        rows = list_warcs(get_app(ctx))
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    store_url = _store_url(ctx)
    # Whole names (they are what 'warc cat' takes); narrow terminals lose the key and digest first.
    columns = [Column("name", key=True), Column("records", justify="right"), Column("bytes", drop=1, justify="right"),
               Column("sha256", drop=2), Column("stored as", drop=3)]
    console.print(fitted_table(console, columns, [[r.name, str(r.records), str(r.size), r.sha256[:16], r.store_key]
                                                  for r in rows], title=f"{len(rows)} WARC files in {store_url}"))


def _store_url(ctx: click.Context) -> str:
    """The store's URL as the store gives it, opened (and checked) as App.store opens it: with
    plain settings that is HOME/store with no options, without the full settings."""
    if "app" not in ctx.ensure_object(dict):
        from archiver.core.plain_settings import read_plain

        settings = read_plain()
        if settings is not None:
            from archiver.storage.factory import open_store

            store = open_store(settings.store_url)
            store.check_bucket()
            return store.url
    return get_app(ctx).store.url


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
