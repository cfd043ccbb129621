"""`archiver migrate`: bring the catalog's schema to this archiver's newest revision."""

from __future__ import annotations

import click

from archiver.cli.common import get_app, handle_errors, print_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def migrate(ctx: click.Context, as_json: bool) -> None:
    """Upgrade the catalog's schema to the newest revision (a no-op when it is current).

    Other commands only check the schema and ask for this when it is older; capture
    (`poll`) and the daemon upgrade on their own. Back up a PostgreSQL catalog first.

    \b
    Example:
      archiver migrate
    """
    from archiver.catalog.db import Catalog, head_revisions

    app = get_app(ctx)  # refuses a home without an archive, before touching any database
    catalog = Catalog(app.settings.catalog_url)
    try:
        before = sorted(catalog.revisions())
        catalog.upgrade()
        after = sorted(catalog.revisions())
    finally:
        catalog.dispose()
    if as_json:
        print_json({"before": before, "after": after, "head": sorted(head_revisions()),
                    "changed": before != after})
    elif before == after:
        click.echo(f"the catalog is already at revision {', '.join(after)}; nothing changed")
    else:
        click.echo(f"upgraded the catalog from revision {', '.join(before) or '(none)'} to {', '.join(after)}")
