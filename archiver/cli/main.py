"""`archiver`: register accounts, poll them, search what was captured, read the WARCs."""

from __future__ import annotations

import sys

import click
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from archiver.cli.common import console, err_console, error_line, get_app, handle_errors, print_json


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="district-social-archiver")
@click.option("-v", "--verbose", count=True, help="Log more (-v: progress, -vv: every request).")
def cli(verbose: int) -> None:
    """Records-retention archiver for a school district's official social media.

    All state lives under ARCHIVER_HOME (default ./archive); the catalog database is
    ARCHIVER_DATABASE_URL (default SQLite in the home).

    \b
    Example:
      archiver demo
      archiver items list --deleted
    """
    from archiver.core.log import setup_logging

    setup_logging(["WARNING", "INFO", "DEBUG"][min(verbose, 2)])


# --- config --------------------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Inspect the effective configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@handle_errors
def config_show(as_json: bool) -> None:
    """Print the effective settings (defaults < archiver.toml < ARCHIVER_*), secrets masked.

    \b
    Example:
      ARCHIVER_HOME=/srv/archive archiver config show
    """
    from archiver.core.settings import load_settings

    data = load_settings().masked()
    if as_json:
        print_json(data)
        return
    table = Table("setting", "value", title="Effective configuration")
    for key, value in _flatten(data):
        table.add_row(key, str(value))
    console.print(table)


def _flatten(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, value))
    return rows


# --- accounts ------------------------------------------------------------------------------


@cli.group()
def accounts() -> None:
    """Register and check the district's accounts."""


@accounts.command("add")
@click.argument("platform")
@click.argument("account_id")
@click.option("--name", default="", help="Display name, e.g. 'Lincoln High School'.")
@click.option("--role", default="", help="Account role for retention, e.g. school, district, athletics.")
@click.option("--api-base", default=None, help="API base URL (self-hosted Mastodon, sandbox).")
@click.option("--token-env", default=None, help="Environment variable that holds the token.")
@click.option("--token-file", default=None, type=click.Path(dir_okay=False), help="File (mode 600) that holds the token.")
@click.option("--replace", is_flag=True, help="Update an account that is already registered.")
@click.pass_context
@handle_errors
def accounts_add(ctx: click.Context, platform: str, account_id: str, name: str, role: str,
                 api_base: str | None, token_env: str | None, token_file: str | None, replace: bool) -> None:
    """Register PLATFORM's ACCOUNT_ID (numeric id, handle or profile URL).

    The token itself is never stored: only the name of the variable or file that holds it.

    \b
    Example:
      archiver accounts add facebook 1000001 --name "Lincoln High School" \\
          --role school --token-env FB_LINCOLN_TOKEN
    """
    from archiver.services.accounts import register_account

    app = get_app(ctx)
    row = register_account(app, platform, account_id, name=name, role=role, api_base=api_base,
                           token_env=token_env, token_file=token_file, replace=replace)
    console.print(f"registered [bold]{row.label}[/] ({row.name})")


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def accounts_list(ctx: click.Context, as_json: bool) -> None:
    """List registered accounts with their capture status.

    \b
    Example:
      archiver accounts list --json
    """
    from sqlalchemy import select

    from archiver.catalog import tables as t

    app = get_app(ctx)
    with app.catalog.session() as s:
        rows = list(s.scalars(select(t.Account).order_by(t.Account.id)))
    data = [
        {"id": r.id, "platform": r.platform, "account": r.account_id, "name": r.name, "role": r.role,
         "status": r.status, "message": r.status_message,
         "last_polled_at": r.last_polled_at.isoformat() if r.last_polled_at else None,
         "next_poll_after": r.next_poll_after.isoformat() if r.next_poll_after else None,
         "token": r.token_ref.split(":", 1)[0] if r.token_ref else "none"}
        for r in rows
    ]
    if as_json:
        print_json(data)
        return
    table = Table("id", "platform", "account", "name", "status", "last polled", "message", title="Accounts")
    for d in data:
        table.add_row(str(d["id"]), d["platform"], d["account"], d["name"], d["status"],
                      (d["last_polled_at"] or "never")[:19], d["message"])
    console.print(table)


@accounts.command("check")
@click.option("--account", "selector", default=None, help="Only this account (id, platform:id or name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def accounts_check(ctx: click.Context, selector: str | None, as_json: bool) -> None:
    """Make one cheap call per account to prove its token still works.

    \b
    Example:
      archiver accounts check --account facebook:1000001
    """
    from archiver.services.accounts import check_account
    from archiver.services.poll import Poller

    app = get_app(ctx)
    outcomes = [check_account(app, a) for a in Poller(app).accounts(selector)]
    if as_json:
        print_json([o.__dict__ for o in outcomes])
    else:
        table = Table("account", "ok", "name on platform", "message", title="Account check")
        for o in outcomes:
            table.add_row(o.account, "yes" if o.ok else "[red]no[/]", o.display_name, o.message)
        console.print(table)
    if not all(o.ok for o in outcomes):
        sys.exit(1)


# --- poll ----------------------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, required=True, help="Run one capture cycle and exit.")
@click.option("--account", "selector", default=None, help="Only this account (id, platform:id or name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def poll(ctx: click.Context, once: bool, selector: str | None, as_json: bool) -> None:
    """Capture every registered account once (the daemon runs the same code on a schedule).

    Exits non-zero if any account could not be captured completely.

    \b
    Example:
      archiver poll --once --account facebook:1000001
    """
    from archiver.services.poll import Poller

    app = get_app(ctx)
    poller = Poller(app)
    chosen = poller.accounts(selector)
    reports = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("capturing", total=len(chosen))
        with poller.outbox.exclusive():
            poller.recover()
            for account in chosen:
                bar.update(task, description=f"capturing {account.label}")
                reports.append(poller.poll_account(account))
                bar.advance(task)
    if as_json:
        print_json([{k: v for k, v in r.__dict__.items() if k != "error"} for r in reports])
    else:
        console.print(run_table(reports, "Capture cycle"))
    failed = [r for r in reports if r.status != "complete"]
    for r in failed:
        error_line(f"{r.account}: {r.message}")
    if failed:
        sys.exit(1)


def run_table(reports: list, title: str) -> Table:
    table = Table("account", "status", "requests", "new", "edited", "same", "deleted", "media",
                  "WARCs", title=title)
    for r in reports:
        status = r.status if r.status == "complete" else f"[yellow]{r.status}[/]"
        table.add_row(r.account, status, str(r.exchanges), str(r.new), str(r.edited), str(r.unchanged),
                      str(r.deleted), str(r.media), str(len(r.warcs)))
    return table


# --- items ---------------------------------------------------------------------------------


@cli.group()
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
    from archiver.catalog import queries

    app = get_app(ctx)
    with app.catalog.session() as s:
        rows = queries.list_items(s, account=account, kind=kind, deleted=deleted, edited=edited, limit=limit)
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
    from archiver.catalog import queries

    app = get_app(ctx)
    with app.catalog.session() as s:
        detail = queries.item_detail(s, item_id)
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


# --- warc ----------------------------------------------------------------------------------


@cli.group()
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
    from sqlalchemy import select

    from archiver.catalog import tables as t

    app = get_app(ctx)
    with app.catalog.session() as s:
        rows = list(s.scalars(select(t.WarcFile).order_by(t.WarcFile.first_date, t.WarcFile.name)))
    data = [{"name": r.name, "size": r.size, "records": r.records, "sha256": r.sha256,
             "first_date": r.first_date.isoformat(), "store_key": r.store_key} for r in rows]
    if as_json:
        print_json(data)
        return
    table = Table("name", "records", "bytes", "sha256", "stored as", title=f"{len(rows)} WARC files in {app.store.url}")
    for d in data:
        table.add_row(d["name"], str(d["records"]), str(d["size"]), d["sha256"][:16], d["store_key"])
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
    from archiver.preservation.reading import iter_warc_bytes

    app = get_app(ctx)
    out = sys.stdout.buffer
    for chunk in iter_warc_bytes(app, name):
        out.write(chunk)
    out.flush()


# --- catalog -------------------------------------------------------------------------------


@cli.group()
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
    from archiver.preservation.rebuild import rebuild, stored_warc_keys

    app = get_app(ctx)
    total = len(stored_warc_keys(app))
    with Progress(TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  transient=True, disable=as_json) as bar:
        task = bar.add_task("rebuild", total=total)
        report = rebuild(app, apply=apply, progress=lambda _name: bar.advance(task))
    if as_json:
        print_json({"warcs": report.warcs, "equal": report.equal, "applied": report.applied,
                    "tables": [d.__dict__ for d in report.diffs]})
    else:
        table = Table("table", "live rows", "rebuilt rows", "only live", "only rebuilt",
                      title=f"Catalog rebuilt from {report.warcs} WARC files")
        for d in report.diffs:
            table.add_row(d.table, str(d.live), str(d.rebuilt), str(len(d.only_live)), str(len(d.only_rebuilt)))
        console.print(table)
        console.print("the rebuilt catalog equals the live one" if report.equal
                      else ("differences found; the catalog was replaced" if report.applied
                            else "[yellow]differences found[/]; run with --apply to replace the catalog"))
    if not report.equal and not report.applied:
        sys.exit(1)


# --- demo ----------------------------------------------------------------------------------


@cli.command()
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
    from archiver.services.demo import CYCLES, run_demo

    app = get_app(ctx)
    # The sandbox asks for tiny waits; keep the demo quick without changing real defaults.
    for platform_settings in app.settings.connectors.values():
        platform_settings.min_retry_seconds = min(platform_settings.min_retry_seconds, 0.2)
    from archiver.core.settings import ConnectorSettings
    from connectors import CONNECTORS

    for name in CONNECTORS:
        app.settings.connectors.setdefault(name, ConnectorSettings(min_retry_seconds=0.2))
    console.print(f"[bold]Demo[/]: sandbox platforms on 127.0.0.1, archive in {app.settings.home}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("cycle 1", total=None)

        def on_account(report) -> None:  # type: ignore[no-untyped-def]
            bar.advance(task)

        def on_cycle(cycle: int, reports: list) -> None:
            bar.console.print(run_table(reports, f"Cycle {cycle} of {CYCLES}"))
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
    console.print(f"home: {app.settings.home}\ncatalog: {app.settings.catalog_url}\nstore: {app.store.url}")
    console.print("next: [bold]archiver items list --deleted[/], [bold]archiver items show ID[/], "
                  "[bold]archiver warc list[/], [bold]archiver catalog rebuild[/]")
    mismatched = [k for k in ("items", "edits", "deletions") if a[k] != e[k]]
    if mismatched:
        error_line(f"the archive does not match the sandbox timeline for: {', '.join(mismatched)}")
        sys.exit(1)


from archiver.cli.vault_commands import keys, verify  # noqa: E402 - commands defined elsewhere

cli.add_command(verify)
cli.add_command(keys)
cli.add_command(__import__("archiver.cli.schedules", fromlist=["schedules"]).schedules)
cli.add_command(__import__("archiver.cli.holds", fromlist=["holds"]).holds)
cli.add_command(__import__("archiver.cli.retention", fromlist=["retention"]).retention)

from archiver.cli.audit import audit  # noqa: E402

cli.add_command(audit)


@cli.command()
@click.pass_context
@handle_errors
def daemon(ctx: click.Context) -> None:
    """Capture every account on a schedule until stopped (SIGTERM or Ctrl-C).

    Each account is polled every daemon.poll_interval_minutes (default 15); throttled
    accounts wait as the platform asked. On stop, the account being captured is finished.

    \b
    Example:
      ARCHIVER_DAEMON__POLL_INTERVAL_MINUTES=10 archiver daemon
    """
    from archiver.core.log import setup_logging
    from archiver.daemon.scheduler import run_daemon

    app = get_app(ctx)
    setup_logging(app.settings.log_level)
    run_daemon(app)


def main() -> None:
    cli(prog_name="archiver")


if __name__ == "__main__":
    main()
