"""`archiver demo`: bundled sandbox platforms captured three times into a real archive."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from archiver.cli.common import console, err_console, error_line, handle_errors, startup_done
from archiver.cli.poll import run_table
from archiver.cli.safe_text import markup, plain

if TYPE_CHECKING:
    from archiver.services.poll import RunReport


@click.command()
@click.option("--platform", "platforms", multiple=True, help="Only these platforms (repeatable).")
@click.pass_context
@handle_errors
def demo(ctx: click.Context, platforms: tuple[str, ...]) -> None:
    """Run the bundled sandbox platforms on 127.0.0.1 and capture them three times.

    Needs no network, cloud or credentials. Leaves its archive in ARCHIVER_HOME to explore.

    \b
    Example:
      ARCHIVER_HOME=./demo-archive archiver demo
    """
    from archiver.app import App
    from archiver.core.settings import load_settings
    from archiver.services.demo import CYCLES, demo_settings, run_demo

    app = App(demo_settings(load_settings()))  # the demo's own settings, never the caller's
    ctx.call_on_close(app.close)
    startup_done()  # it runs long: the collector back on (see archiver.cli.main.main)
    console.print(f"[bold]Demo[/]: sandbox platforms on 127.0.0.1, archive in {markup(app.settings.home)}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("cycle 1", total=None)

        def on_account(report: RunReport) -> None:
            bar.advance(task)

        def on_cycle(cycle: int, reports: list[RunReport]) -> None:
            how = ("first capture" if cycle == 1 else
                   "--reconcile: every listing read whole" if cycle == CYCLES else "incremental")
            bar.console.print(run_table(reports, f"Cycle {cycle} of {CYCLES} ({how})"))
            bar.update(task, description=f"cycle {cycle + 1}")

        result = run_demo(app, platforms=list(platforms) or None, on_cycle=on_cycle, on_account=on_account)
    summary = Table("what", "captured", "sandbox timeline", title="Demo archive")
    a, e = result.actual, result.expected
    summary.add_row("items (posts, comments, replies)", str(a["items"]), str(e["items"]))
    summary.add_row("  posts / comments / replies", f"{a['posts']} / {a['comments']} / {a['replies']}", "")
    summary.add_row("edits (new versions)", str(a["edits"]), str(e["edits"]))
    summary.add_row("deletions (tombstones with evidence)", str(a["deletions"]), str(e["deletions"]))
    summary.add_row("media files", str(a["media"]), "")
    summary.add_row("WARC files", str(a["warc_files"]), "")
    console.print(summary)
    console.print(plain(f"home: {app.settings.home}\ncatalog: {app.settings.catalog_url}\nstore: {app.store.url}"))
    console.print("next: [bold]archiver items list --deleted[/], [bold]archiver items show ID[/], "
                  "[bold]archiver warc list[/], [bold]archiver catalog rebuild[/]")
    mismatched = [k for k in ("items", "edits", "deletions") if a[k] != e[k]]
    if mismatched:
        error_line(f"the archive does not match the sandbox timeline for: {', '.join(mismatched)}")
        sys.exit(1)
