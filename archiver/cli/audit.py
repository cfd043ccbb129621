"""`archiver audit`: read the hash-chained log of what was done to the records, and verify it."""

from __future__ import annotations

import sys

import click
from rich import box
from rich.table import Table

from archiver.cli.common import console, error_line, get_app, handle_errors, print_json
from archiver.cli.safe_text import markup


@click.group("audit")
def audit() -> None:
    """The audit log: holds, verifications, dispositions, records requests (who, when, what).

    \b
    Example:
      archiver audit list --limit 20
      archiver audit verify
    """


@audit.command("list")
@click.option("--subject", default=None, help="Only entries about this subject, e.g. a request or hold id.")
@click.option("--action", "action_prefix", default=None, help="Only actions starting with this, e.g. 'hold.'.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def audit_list(ctx: click.Context, subject: str | None, action_prefix: str | None, limit: int,
               as_json: bool) -> None:
    """Show the newest audit entries first.

    \b
    Example:
      archiver audit list --action retention. --json
    """
    from archiver.services.audit import list_entries

    rows = list_entries(get_app(ctx), subject=subject, action_prefix=action_prefix, limit=limit)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    table = Table("#", "when (UTC)", "who", "action", "subject", box=box.SIMPLE_HEAD, title="Audit log")
    for r in rows:
        table.add_row(str(r.seq), r.at.strftime("%Y-%m-%d %H:%M:%S"), markup(r.actor), markup(r.action),
                      markup(r.subject))
    console.print(table)
    console.print(f"{len(rows)} entries shown (newest first); --limit N for more")


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def audit_verify(ctx: click.Context, as_json: bool) -> None:
    """Recompute the hash chain; an edited, deleted or reordered entry is found and named.

    Prints the head (newest entry and its hash): write it down, or compare it with the head
    quoted in a destruction certificate, to detect entries removed from the end. Exits 1 when
    the chain is broken.

    \b
    Example:
      archiver audit verify
    """
    from archiver.services.audit import verify

    verdict = verify(get_app(ctx))
    if as_json:
        print_json(verdict.as_dict())
    elif verdict.ok:
        console.print(f"audit log intact: {verdict.entries} entries; head #{verdict.head_seq} "
                      f"{verdict.head_hash}")
    if not verdict.ok:
        error_line(f"audit log broken: {verdict.problem}; entries 1-{verdict.head_seq} are intact; "
                   "restore the catalog from a backup and compare")
        sys.exit(1)
