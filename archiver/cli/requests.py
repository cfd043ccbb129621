"""`archiver requests`: the public records request register, review, decisions and export."""

from __future__ import annotations

import gc
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from archiver.cli.common import console, err_console, get_app, handle_errors, print_json
from archiver.cli.search import filter_options, make_filters, plain

if TYPE_CHECKING:  # the CLI imports services lazily, command by command
    from archiver.requests.register import RequestView
    from archiver.requests.review import ReviewState

DATE = click.DateTime(formats=["%Y-%m-%d"])
OUTCOMES = ["released", "partially-released", "denied", "withdrawn", "no-records"]


def _d(value: datetime) -> date:
    return value.date()


@click.group("requests")
def requests() -> None:
    """Public records requests: deadlines, responsive items, review, redaction, export."""


def _print_view(v: RequestView, verb: str) -> None:
    console.print(Text.assemble((f"{verb} {v.id}", "bold"), f"  due {v.due}"))
    console.print(Text(f"rule: {v.rule}"))
    if v.first_response_due != v.due:
        console.print(f"acknowledge by {v.first_response_due}")
    if (v.due_earliest, v.due_latest) != (v.due, v.due):
        console.print(f"readings of the holiday rules range from {v.due_earliest} to {v.due_latest}; "
                      f"answering by {v.due_earliest} is safe under all of them")


@requests.command("open")
@click.option("--requester", required=True, help="Who asked (name as given).")
@click.option("--received", type=DATE, required=True, help="Date received, YYYY-MM-DD.")
@click.option("--description", required=True, help="What was asked for, in the requester's words.")
@click.option("--state", default=None, help="State whose statute applies (default: the district's).")
@click.option("--via", type=click.Choice(["email", "fax", "mail", "in-person", "web", "phone"]),
              default=None, help="How it arrived (MI: e-mail and fax count from the next business day).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def requests_open(ctx: click.Context, requester: str, received: datetime, description: str,
                  state: str | None, via: str | None, as_json: bool) -> None:
    """Register a request and compute its statutory due date in business days.

    Holidays come from the state's statute; days the district office was closed come from
    HOME/district-calendar.csv (date,kind,reason).

    \b
    Example:
      archiver requests open --requester "Pat Doe" --received 2026-11-25 \\
          --description "comments about the bus contract since March" --state WA
    """
    from archiver.services.requests import open_request

    view = open_request(get_app(ctx), requester=requester, received=_d(received),
                        description=description, state=state, via=via or "")
    if as_json:
        print_json(view.as_dict())
    else:
        _print_view(view, "opened")


@requests.command("list")
@click.option("--open", "only_open", is_flag=True, default=True, help="Open requests (default).")
@click.option("--all", "show_all", is_flag=True, help="Closed requests too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def requests_list(ctx: click.Context, only_open: bool, show_all: bool, as_json: bool) -> None:
    """List requests: overdue first, then due soonest.

    \b
    Example:
      archiver requests list --all --json
    """
    from archiver.services.requests import list_requests

    views = list_requests(get_app(ctx), include_closed=show_all)
    if as_json:
        print_json([v.as_dict() for v in views])
        return
    table = Table(title=f"{len(views)} requests", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, min_width=max([len(v.id) for v in views] + [2]))
    table.add_column("due", no_wrap=True, min_width=10)
    table.add_column("state", no_wrap=True, min_width=5)
    table.add_column("status", no_wrap=True, min_width=7)
    table.add_column("items", no_wrap=True, min_width=5, justify="right")
    table.add_column("requester", no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("description", no_wrap=True, overflow="ellipsis", ratio=2)
    for v in views:
        due = Text(v.due, style="bold red" if v.overdue else "")
        status = "overdue" if v.overdue else (v.outcome or v.status)
        table.add_row(Text(plain(v.id)), due, v.state, status, str(v.items), Text(plain(v.requester)),
                      Text(plain(v.description[:60])))
    console.print(table)


@requests.command("show")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def requests_show(ctx: click.Context, request_id: str, as_json: bool) -> None:
    """Show a request: deadlines, searches, decisions and its audit trail.

    \b
    Example:
      archiver requests show PRR-2026-0001
    """
    from archiver.services.requests import show_request

    detail = show_request(get_app(ctx), request_id)
    if as_json:
        print_json(detail.as_dict())
        return
    v = detail.request
    lines = [f"{v.id}  {v.status}" + (f" ({v.outcome})" if v.outcome else ""),
             f"requester: {plain(v.requester)}", f"description: {plain(v.description)}",
             f"received {v.received}" + (f" (counts from {v.legally_received})"
                                         if v.legally_received != v.received else "")
             + f"; due {v.due}" + (" OVERDUE" if v.overdue else f" (in {v.days_left} calendar days)"),
             f"rule: {v.rule}"]
    if v.first_response_due != v.statutory_due:
        lines.append(f"acknowledge by {v.first_response_due}")
    if (v.due_earliest, v.due_latest) != (v.statutory_due, v.statutory_due):
        lines.append(f"statutory due {v.statutory_due}; readings of the holiday rules range "
                     f"{v.due_earliest} .. {v.due_latest}")
    lines += [f"note: {note}" for note in detail.notes]
    lines += [f"extended to {e.until} by {plain(e.by)}: {plain(e.reason)}" for e in v.extensions]
    lines.append(f"responsive items: {v.items}")
    lines += [f"search #{x.id}: {plain(x.query)} {x.filters or ''} -> {x.results} items "
              f"({plain(x.by)}, {x.at[:19]})" for x in detail.searches]
    for line in lines:
        console.print(Text(line, style="bold red" if "OVERDUE" in line else ""))
    table = Table("when", "who", "what", "details", title="Audit trail", box=box.SIMPLE_HEAD)
    for a in detail.audit:
        details = ", ".join(f"{k}={str(val)[:40]}" for k, val in a.details.items()
                            if k not in ("rule", "summary"))
        table.add_row(a.at[:16].replace("T", " "), Text(plain(a.actor)), a.action, Text(plain(details[:160])))
    console.print(table)


@requests.command("extend")
@click.argument("request_id")
@click.option("--until", type=DATE, required=True, help="New due date, YYYY-MM-DD.")
@click.option("--reason", required=True, help="Why, as told to the requester.")
@click.pass_context
@handle_errors
def requests_extend(ctx: click.Context, request_id: str, until: datetime, reason: str) -> None:
    """Extend a request's due date within what the state's statute allows.

    \b
    Example:
      archiver requests extend PRR-2026-0001 --until 2026-12-17 --reason "records being assembled"
    """
    from archiver.services.requests import extend_request

    view = extend_request(get_app(ctx), request_id, until=_d(until), reason=reason)
    console.print(f"{view.id} now due {view.due}")


@requests.command("close")
@click.argument("request_id")
@click.option("--outcome", type=click.Choice(OUTCOMES), required=True)
@click.pass_context
@handle_errors
def requests_close(ctx: click.Context, request_id: str, outcome: str) -> None:
    """Close a request with its outcome; its hold on the responsive items is released.

    \b
    Example:
      archiver requests close PRR-2026-0001 --outcome partially-released
    """
    from archiver.services.requests import close_request

    view = close_request(get_app(ctx), request_id, outcome=outcome)
    console.print(f"{view.id} closed: {view.outcome}")


@requests.command("add")
@click.argument("request_id")
@click.option("--query", default=None, help="Search query whose items are responsive.")
@filter_options
@click.option("--item", "items", multiple=True, help="An item id (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def requests_add(ctx: click.Context, request_id: str, query: str | None, account: str | None,
                 platform: str | None, since: datetime | None, until: datetime | None,
                 kind: str | None, deleted: bool, edited: bool, author: str | None,
                 items: tuple[str, ...], as_json: bool) -> None:
    """Attach responsive items, by search (recorded, to show how it was done) or by id.

    \b
    Example:
      archiver requests add PRR-2026-0001 --query '"bus contract"' --since 2026-03-01
      archiver requests add PRR-2026-0001 --item 1000001_3000002 --item 1000001_3000007
    """
    from archiver.services.requests import add_items

    filters = make_filters(account, platform, since, until, kind, deleted, edited, author)
    result = add_items(get_app(ctx), request_id, query=query, filters=filters if query else None,
                       items=items)
    if as_json:
        print_json({"request": result.request_id, "added": list(result.added),
                    "already": list(result.already), "search_id": result.search_id,
                    "holds": list(result.holds)})
        return
    console.print(f"{len(result.added)} items added to {result.request_id}"
                  + (f" ({len(result.already)} were already there)" if result.already else "")
                  + (f"; search #{result.search_id} recorded" if result.search_id else ""))


@requests.command("items")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def requests_items(ctx: click.Context, request_id: str, as_json: bool) -> None:
    """List a request's responsive items with how each was found and what was decided.

    \b
    Example:
      archiver requests items PRR-2026-0001 --json
    """
    from archiver.services.requests import request_items

    rows = request_items(get_app(ctx), request_id)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    table = Table(title=f"{len(rows)} responsive items", box=box.SIMPLE_HEAD)
    table.add_column("id", overflow="fold", ratio=3)
    table.add_column("kind", no_wrap=True)
    table.add_column("ver", justify="right", no_wrap=True)
    table.add_column("found", no_wrap=True)
    table.add_column("decision", overflow="fold", ratio=1)
    table.add_column("text", no_wrap=True, overflow="ellipsis", max_width=20)
    for r in rows:
        decision = f"withheld ({r.withheld})" if r.withheld else (
            f"{r.redactions} redacted" if r.redactions else "")
        table.add_row(Text(plain(r.id)), r.kind + (" del" if r.deleted else ""), str(r.versions),
                      f"#{r.search_id}" if r.search_id else "by id", Text(plain(decision)),
                      Text(plain(" ".join(r.text.split())[:60])))
    console.print(table)
    console.print("found: the search (see 'archiver requests show') or 'by id' (--item)")


@requests.command("review")
@click.argument("request_id")
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Student roster CSV (name, or first_name,last_name); read, never stored.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def requests_review(ctx: click.Context, request_id: str, roster: Path | None, as_json: bool) -> None:
    """List candidate personal information in every version of every responsive item.

    \b
    Example:
      archiver requests review PRR-2026-0001 --roster ~/roster.csv
    """
    from dataclasses import asdict

    from archiver.services.requests import review

    findings = review(get_app(ctx), request_id, roster=roster)
    if as_json:
        print_json([asdict(f) for f in findings])
        return
    table = Table("item", "version", "kind", "text", title=f"{len(findings)} candidates", box=box.SIMPLE_HEAD)
    for f in findings:
        table.add_row(Text(plain(f.item_id)), str(f.version), f.kind, Text(plain(f.text)))
    console.print(table)
    if findings:
        console.print(f"next: archiver requests redact {request_id} --item ITEM --text \"...\" "
                      "--exemption \"RCW 42.56.230(1)\"")


def _decision_done(state: ReviewState, request_id: str) -> None:
    console.print(f"{request_id}: {len(state.redactions)} redactions and "
                  f"{len(state.withheld)} withheld items in force")


@requests.command("redact")
@click.argument("request_id")
@click.option("--item", required=True, help="The item id.")
@click.option("--text", required=True, help="The exact words to black out in reading copies.")
@click.option("--exemption", required=True, help="Statute cited, e.g. \"RCW 42.56.230(1)\".")
@click.pass_context
@handle_errors
def requests_redact(ctx: click.Context, request_id: str, item: str, text: str, exemption: str) -> None:
    """Redact exact words from an item's reading copies (archival WARCs are never altered).

    \b
    Example:
      archiver requests redact PRR-2026-0001 --item 1000001_3000002 --text "555-201-7788" \\
          --exemption "RCW 42.56.230(1)"
    """
    from archiver.services.requests import redact

    _decision_done(redact(get_app(ctx), request_id, item=item, text=text, exemption=exemption), request_id)


@requests.command("withhold")
@click.argument("request_id")
@click.option("--item", required=True, help="The item id.")
@click.option("--exemption", required=True, help="Statute cited.")
@click.pass_context
@handle_errors
def requests_withhold(ctx: click.Context, request_id: str, item: str, exemption: str) -> None:
    """Withhold a whole item; the package lists it with the exemption cited.

    \b
    Example:
      archiver requests withhold PRR-2026-0001 --item 1000001_3000002 --exemption "20 U.S.C. 1232g"
    """
    from archiver.services.requests import withhold

    _decision_done(withhold(get_app(ctx), request_id, item=item, exemption=exemption), request_id)


@requests.command("release")
@click.argument("request_id")
@click.option("--item", required=True, help="The item id.")
@click.option("--text", default=None, help="Lift only this redaction.")
@click.pass_context
@handle_errors
def requests_release(ctx: click.Context, request_id: str, item: str, text: str | None) -> None:
    """Release a withheld item (or, with --text, lift one redaction).

    \b
    Example:
      archiver requests release PRR-2026-0001 --item 1000001_3000002
    """
    from archiver.services.requests import release

    _decision_done(release(get_app(ctx), request_id, item=item, text=text), request_id)


@requests.command("export")
@click.argument("request_id")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="New or empty folder for the package.")
@click.pass_context
@handle_errors
def requests_export(ctx: click.Context, request_id: str, out_dir: Path) -> None:
    """Write the request's package: a signed BagIt bag with WARC, WACZ and reading copies.

    \b
    Example:
      archiver requests export PRR-2026-0001 --out ./PRR-2026-0001
      archiver export verify ./PRR-2026-0001
    """
    # This process exports once and exits. Its imports (SQLAlchemy, the models, fpdf2, fontTools)
    # leave some 150,000 objects that live until exit, and the collector's full passes over them
    # cost about 0.25 s of CPU in a 1.2 s export at 1M items. The `archiver` script imports with
    # the collector off and freezes what exists once the command has its catalog
    # (common.startup_done, through get_app), so fpdf2 and fontTools are imported before that.
    from archiver.services.requests import export_request

    try:
        from archiver.requests.package.build import preload
    except ImportError:  # a build without the package builder: export_request says so
        pass
    else:
        preload()
    app = get_app(ctx)
    with Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("export", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = export_request(app, request_id, out_dir, progress=progress)
    gc.freeze()  # the package is written and renamed into place: nothing left for exit to collect
    parts = [f"{getattr(summary, name)} {label}" for name, label in (
        ("items", "items"), ("withheld", "withheld"), ("redactions", "redactions"),
        ("records", "WARC records"), ("files", "files")) if hasattr(summary, name)]
    console.print(f"package written to {out_dir}: {', '.join(parts)}")
    if getattr(summary, "key_fingerprint", ""):
        console.print(f"signed with key {summary.key_id} (sha256 {summary.key_fingerprint})")
    console.print(f"check it with: archiver export verify {out_dir}")
