"""`archiver items`: find and show captured posts, comments and replies."""

from __future__ import annotations

import click
from rich import box
from rich.table import Table

from archiver.cli.common import console, get_app, handle_errors, print_json


@click.group()
def items() -> None:
    """Search and show captured posts, comments and replies."""


@items.command("list")
@click.option("--account", default=None, help="Account id, platform:id or name.")
@click.option("--kind", type=click.Choice(["post", "comment", "reply", "media", "profile"]), default=None)
@click.option("--deleted/--not-deleted", default=None, help="Only deleted (or only live) items.")
@click.option("--edited/--not-edited", default=None, help="Only items with more than one version.")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def items_list(ctx: click.Context, account: str | None, kind: str | None, deleted: bool | None,
               edited: bool | None, limit: int | None, as_json: bool) -> None:
    """List captured items, newest first.

    \b
    Example:
      archiver items list --account facebook:1000001 --deleted --json
    """
    from archiver.services.items import list_items

    rows = list_items(get_app(ctx), account=account, kind=kind, deleted=deleted, edited=edited, limit=limit)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    # Whole ids (folded, never cut) so one can be copied into 'items show'; text is a hint only.
    table = Table(title=f"{len(rows)} items", box=box.SIMPLE_HEAD)
    table.add_column("id", overflow="fold", ratio=3)
    table.add_column("account", overflow="fold", ratio=2)
    table.add_column("kind", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("ver", justify="right", no_wrap=True)
    table.add_column("del", no_wrap=True)
    table.add_column("text", no_wrap=True, overflow="ellipsis", max_width=16)
    for r in rows:
        table.add_row(r.id, r.account, r.kind, (r.created_at or "")[:10], str(r.versions),
                      "[red]yes[/]" if r.deleted else "", " ".join((r.text or "").split())[:60])
    console.print(table)


@items.command("show")
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def items_show(ctx: click.Context, item_id: str, as_json: bool) -> None:
    """Show every version of ITEM_ID, its deletion evidence and WARC pointers.

    \b
    Example:
      archiver items show 1000001_3000002
    """
    from archiver.services.items import show_item

    detail = show_item(get_app(ctx), item_id)
    if as_json:
        print_json(detail.as_dict())
        return
    summ = detail.summary
    console.print(f"[bold]{summ.platform} {summ.kind} {summ.id}[/] in {summ.account}; "
                  f"created {summ.created_at}; seen {detail.observations} times")
    table = Table("version", "observed", "sha256", "text", "WARC record", title="Versions")
    for v in detail.versions:
        table.add_row(str(v.version), v.observed_at[:19], v.content_sha256[:12], v.text[:70],
                      f"{v.warc['file']}@{v.warc['offset']}")
    console.print(table)
    if detail.tombstone:
        tomb = detail.tombstone
        console.print(f"[red]deleted[/]: detected {tomb['detected_at'][:19]} ({tomb['reason']}; {tomb['detail']}); "
                      f"evidence {tomb['evidence']['file']}@{tomb['evidence']['offset']} "
                      f"{tomb['evidence']['record_id']}")
    for m in detail.media:
        console.print(f"media: {m['url']} ({m['size']} bytes) in {m['file']}@{m['offset']}")
