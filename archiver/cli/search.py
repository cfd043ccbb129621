"""`archiver search`: full text over every version of every item, ranked, with thread context."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from rich.text import Text

from archiver.cli.common import console, get_app, handle_errors, print_json
from archiver.cli.safe_text import visible


def plain(value: str) -> str:
    """Platform text for a terminal: control characters and bidi overrides made visible
    (cli/safe_text); print it inside a rich Text, never as markup."""
    return visible(value)


def _date(value: datetime | None) -> Any:
    return value.date() if value else None


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The search filters, shared by `search` and `requests add --query`."""
    dates = click.DateTime(formats=["%Y-%m-%d"])
    options = [
        click.option("--account", default=None, help="Account id, platform:id or name."),
        click.option("--platform", default=None, help="Only this platform, e.g. facebook."),
        click.option("--since", type=dates, default=None, help="Created on or after YYYY-MM-DD."),
        click.option("--until", type=dates, default=None, help="Created on or before YYYY-MM-DD."),
        click.option("--kind", type=click.Choice(["post", "comment", "reply", "media"]), default=None),
        click.option("--deleted", is_flag=True, help="Only items deleted on the platform."),
        click.option("--edited", is_flag=True, help="Only items with more than one version."),
        click.option("--author", default=None, help="Author name contains this (any version)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_filters(account: str | None, platform: str | None, since: datetime | None,
                 until: datetime | None, kind: str | None, deleted: bool, edited: bool,
                 author: str | None) -> Any:
    from archiver.catalog.search import SearchFilters

    return SearchFilters(account=account, platform=platform, since=_date(since), until=_date(until),
                         kind=kind, deleted=True if deleted else None, edited=True if edited else None,
                         author=author)


def hit_lines(hit: Any, number: int) -> list[Text]:
    head = Text(f"{number}. ", style="bold")
    head.append(f"{hit.platform} {hit.kind} {hit.id}", style="bold")
    head.append(f"  by {plain(hit.author)}  {(hit.created_at or '')[:10]}")
    if hit.versions > 1:
        head.append(f"  version {hit.version} of {hit.versions}", style="yellow")
        if hit.matched_only_in_old_version:
            head.append(" (wording since edited)", style="yellow")
    if hit.deleted:
        head.append("  deleted", style="red")
    lines = [head]
    for entry in hit.context:
        line = Text("   in ", style="dim")
        line.append(f"{entry.kind} {entry.id}: ", style="dim")
        line.append(plain(" ".join(entry.text.split())[:100]), style="dim")
        lines.append(line)
    body = Text("   ")
    pos = 0
    for start, end in hit.highlights:
        body.append(plain(hit.text[pos:start]))
        body.append(plain(hit.text[start:end]), style="bold reverse")
        pos = end
    body.append(plain(hit.text[pos:]))
    lines.append(body)
    return lines


@click.command("search")
@click.argument("query")
@filter_options
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="At most this many items.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def search(ctx: click.Context, query: str, account: str | None, platform: str | None,
           since: datetime | None, until: datetime | None, kind: str | None, deleted: bool,
           edited: bool, author: str | None, limit: int, as_json: bool) -> None:
    """Find items whose any version matches QUERY, best first.

    Words must all match; "quoted phrases", OR, prefix* and -excluded words work, with
    parentheses for grouping. An edit's old wording is found too. When more than 10,000
    items match, the newest are shown first, unranked: narrow the search to rank it.

    \b
    Example:
      archiver search '"bus contract" OR transport*' --since 2026-03-01 --kind comment
    """
    from archiver.services.search import search_items

    app = get_app(ctx)
    filters = make_filters(account, platform, since, until, kind, deleted, edited, author)
    result = search_items(app, query, filters, limit=limit)
    if as_json:
        print_json(result.as_dict())
        return
    shown = len(result.hits)
    if not result.ranked:
        console.print(Text(result.note, style="yellow"))
        console.print(f"the newest {shown} shown")
    else:
        console.print(f"{result.total} items match" + (f"; the best {shown} shown" if shown < result.total else ""))
    for number, hit in enumerate(result.hits, start=1):
        for line in hit_lines(hit, number):
            console.print(line)
