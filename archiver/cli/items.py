"""`archiver items`: find and show captured posts, comments and replies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from archiver.cli.common import (
    console,
    driver_read,
    err_console,
    get_app,
    handle_errors,
    print_json,
)
from archiver.cli.safe_text import one_line, plain
from archiver.cli.tables import Cell, Column, fitted_table

if TYPE_CHECKING:
    from archiver.catalog.views import ItemDetail, ItemPage, ItemSummary

# archiver.services.items.DEFAULT_LIMIT, repeated so that `items --help` does not import the
# services, SQLAlchemy and the settings (0.7 s of CPU); tests/preservation/test_read_path.py
# checks the two agree.
DEFAULT_LIMIT = 50


@click.group()
def items() -> None:
    """Search and show captured posts, comments and replies."""


@items.command("list")
@click.option("--account", default=None, help="Account id, platform:id or name.")
@click.option("--kind", type=click.Choice(["post", "comment", "reply", "media", "profile"]), default=None)
@click.option("--deleted/--not-deleted", default=None, help="Only deleted (or only live) items.")
@click.option("--edited/--not-edited", default=None, help="Only items with more than one version.")
@click.option("--limit", type=int, default=None, help=f"At most this many rows (default {DEFAULT_LIMIT}).")
@click.option("--after", default=None, metavar="CURSOR",
              help="Start after this cursor (printed at the end of the previous page).")
@click.option("--all", "all_", is_flag=True, help="Every matching item, however many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def items_list(ctx: click.Context, account: str | None, kind: str | None, deleted: bool | None,
               edited: bool | None, limit: int | None, after: str | None, all_: bool,
               as_json: bool) -> None:
    """List captured items, newest first, a page at a time (--limit N, or --all). A page that
    is not the last ends with the cursor of the next one: pass it to --after.

    \b
    Example:
      archiver items list --account facebook:1000001 --deleted --json
      archiver items list --limit 100 --after eyJ...
      archiver items list --all
    """
    from archiver.core.errors import ConfigError

    if all_ and limit is not None:
        raise ConfigError("Give either --all or --limit N, not both.")
    filters: dict[str, Any] = dict(account=account, kind=kind, deleted=deleted, edited=edited,
                                   limit=None if all_ else (DEFAULT_LIMIT if limit is None else limit), after=after)
    page: ItemPage | None = driver_read(ctx, lambda lite, catalog, _settings: lite.list_page(catalog, **filters))
    if page is None:
        from archiver.services.items import list_items

        page = list_items(get_app(ctx), **filters)
    rows: Sequence[ItemSummary] = page.items
    if as_json:
        print_json([r.as_dict() for r in rows])
    else:
        # Whole ids (folded, never cut) so one can be copied into 'items show'; text is a hint only.
        title = f"{len(rows)} items" + (" (more follow)" if page.more else "")
        table = Table(title=title, box=box.SIMPLE_HEAD)
        table.add_column("id", overflow="fold", ratio=3)
        table.add_column("account", overflow="fold", ratio=2)
        table.add_column("kind", no_wrap=True)
        table.add_column("created", no_wrap=True)
        table.add_column("ver", justify="right", no_wrap=True)
        table.add_column("del", no_wrap=True)
        table.add_column("text", no_wrap=True, overflow="ellipsis", max_width=16)
        for r in rows:
            table.add_row(plain(r.id), plain(r.account), plain(r.kind), (r.created_at or "")[:10],
                          str(r.versions), Text("yes", style="red") if r.deleted else "",
                          plain(one_line(r.text)[:60]))
        console.print(table)
    if page.next_cursor:  # on stderr, so --json output stays a clean document
        err_console.print(f"more items follow: --after {page.next_cursor} shows the next page, --all lists "
                          "them all; filters (--account, --kind, --deleted, --edited) narrow the list",
                          soft_wrap=True)


@items.command("show")
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def items_show(ctx: click.Context, item_id: str, as_json: bool) -> None:
    """Show ITEM_ID: author, permalink, full text, its thread, and every version with its
    time, deletion evidence and WARC pointers.

    \b
    Example:
      archiver items show 1000001_3000002
    """
    detail: ItemDetail | None = driver_read(ctx, lambda lite, catalog, _settings: lite.show_item(catalog, item_id))
    if detail is None:
        from archiver.services.items import show_item

        detail = show_item(get_app(ctx), item_id)
    if as_json:
        print_json(detail.as_dict())
        return
    summ = detail.summary
    latest = detail.versions[-1] if detail.versions else None
    console.print(Text.assemble(plain(f"{summ.platform} {summ.kind} ", "bold"), plain(summ.id, "bold"),
                                " in ", plain(summ.account)))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    facts.add_row("author", plain(latest.author if latest else ""))
    facts.add_row("permalink", plain(latest.url if latest else ""))
    facts.add_row("created", plain(summ.created_at or "unknown"))
    facts.add_row("first seen", plain(summ.first_seen_at))
    facts.add_row("seen", f"{detail.observations} times in {len(detail.versions)} versions")
    if detail.tombstone:
        tomb = detail.tombstone
        ev = tomb["evidence"]
        facts.add_row(Text("deleted", style="red"),
                      plain(f"detected {tomb['detected_at'][:19]} ({tomb['reason']}; {tomb['detail']}); "
                            f"evidence {ev['file']}@{ev['offset']} {ev['record_id']}"))
    console.print(facts)
    _thread(detail.parent, detail.replies)
    for v in detail.versions:
        console.print()
        console.print(Text.assemble((f"version {v.version}", "bold"), f", observed {v.observed_at[:19]}",
                                    " by ", plain(v.author), f"  sha256 {v.content_sha256[:12]}  ",
                                    plain(f"{v.warc['file']}@{v.warc['offset']}", "dim")))
        console.print(plain(v.text), soft_wrap=False)
    for m in detail.media:
        console.print(plain(f"media: {m['url']} ({m['size']} bytes) in {m['file']}@{m['offset']}"))
    for name, check in detail.failed_fixity.items():
        console.print(Text.assemble(("fixity failed", "red"), ": evidence in ", plain(name),
                                    f" failed its last check ({check['verdict']}, {check['checked_at'][:19]}); "
                                    "restore it from a replica, see 'archiver verify'"))
    if detail.retention:  # the schedule series; 'archiver retention show' adds status and citations
        r = detail.retention
        until = r["retain_until"][:10] if r["retain_until"] else f"no end date yet (waits for {r['waits_for']})"
        console.print(plain(f"retention: series {r['series'] or '(none)'} ({r['state']}), by rule: {r['rule']}"
                            f"{' [FLAGGED]' if r['flagged'] else ''}; retain until {until}"), soft_wrap=True)


def _thread(parent: ItemSummary | None, replies: Sequence[ItemSummary]) -> None:
    """What the item answers and what answers it: ids whole, text as a one-line hint."""
    if parent is None and not replies:
        return
    rows = ([("parent", parent)] if parent is not None else []) + [("reply", r) for r in replies]
    columns = [Column(""), Column("id", key=True), Column("kind"), Column("created", drop=2),
               Column("text", drop=1)]
    cells: list[list[Cell]] = [[role, row.id, row.kind, (row.created_at or "")[:16], _hint(row.text)]
                               for role, row in rows]
    console.print(fitted_table(console, columns, cells, title="Thread"))


def _hint(text: str, width: int = 28) -> str:
    line = one_line(text)
    return line if len(line) <= width else line[: width - 1] + "…"
