"""`archiver schedules ...`: the retention schedules in force, their checks and approvals."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.table import Table

from archiver.cli.common import console, get_app, handle_errors, print_json, startup_done
from archiver.cli.safe_text import markup


def _actor() -> str:
    from archiver.core.actor import current_actor

    return current_actor()


@click.group()
def schedules() -> None:
    """State retention schedules, the district's adopted schedule, and verification.

    \b
    Example:
      archiver schedules list
      archiver schedules show WA
      archiver schedules verify WA GS2010-001 --citation "CORE v5.0 p.12" --by "J. Doe, Records Officer"
    """


@schedules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def schedules_list(ctx: click.Context, as_json: bool) -> None:
    """Every shipped state schedule; the one in force (ARCHIVER_STATE) is marked.

    \b
    Example:
      archiver schedules list --json
    """
    from archiver.services.schedules import list_schedules

    rows = list_schedules(get_app(ctx))
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table("", "state", "schedule", "series", "can dispose", "district file", title="Retention schedules")
    for r in rows:
        table.add_row("*" if r.in_force else "", r.state, markup(r.name), str(r.series), str(r.disposable),
                      markup(r.district or ""))
    console.print(table)


@schedules.command("show")
@click.argument("state")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def schedules_show(ctx: click.Context, state: str, as_json: bool) -> None:
    """The series of STATE's schedule in force: figures, status marks, sources, and why a
    series cannot dispose automatically.

    \b
    Example:
      archiver schedules show WA
    """
    from archiver.services.schedules import show_schedule

    view = show_schedule(get_app(ctx), state)
    if as_json:
        print_json(asdict(view))
        return
    title = f"{view.state} {view.state_name or ''}" + (f" + district schedule of {view.district}" if view.district else "")
    console.print(f"[bold]{markup(title)}[/bold]")
    for sch in view.schedules:
        console.print(f"schedule {markup(sch['id'])}: {markup(sch['name'])} version {markup(str(sch.get('version')))} "
                      f"\\[{sch['status']}]")
    for s in view.series:
        console.print(f"\n[bold]{markup(s.key)}[/bold]  {markup(s.title or '(title not retrieved)')}  "
                      f"\\[{s.status}] ({s.source} file, schedule {markup(s.schedule)})")
        console.print(f"  keep {s.retention or 'null'} ({s.retention_kind or 'kind null'}) after "
                      f"{markup(s.trigger or 'null trigger')}, then {s.disposition or 'null'}")
        console.print(f"  applies to {', '.join(s.applies_to)}; selected when {markup(s.selection)}")
        if s.blockers:
            console.print("  disposes automatically: no: " + markup("; ".join(s.blockers)))
        else:
            who = f" (verified by {s.verified_by}: {s.verified_citation})" if s.verified_by else ""
            console.print("  disposes automatically: yes" + markup(who))
        for src in s.sources:
            console.print(f"  source: {markup(src)}")


@schedules.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@handle_errors
def schedules_check(files: tuple[Path, ...], as_json: bool) -> None:
    """Validate every shipped schedule (and FILES, e.g. a district file before adopting it);
    list each series that cannot dispose automatically and why. Exit 1 on any error.

    \b
    Example:
      archiver schedules check usd999-schedule.yaml
    """
    from archiver.services.schedules import check_schedules

    startup_done()  # no catalog to wait for (see archiver.cli.main.main)
    problems = check_schedules(list(files))
    errors = [p for p in problems if p.error]
    if as_json:
        print_json([asdict(p) for p in problems])
    else:
        for p in problems:
            click.echo(("error: " if p.error else "note: ") + p.line())
        click.echo(f"{len(errors)} error(s); {len(problems) - len(errors)} series or file(s) that cannot "
                   "dispose automatically")
    if errors:
        sys.exit(1)


@schedules.command("adopt")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def schedules_adopt(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Adopt the district's own schedule FILE (kind: district) over the state's; it names its
    approval. Every item is re-classified.

    \b
    Example:
      ARCHIVER_STATE=KS archiver schedules adopt usd999-schedule.yaml
    """
    from archiver.services.schedules import adopt_schedule

    result = adopt_schedule(get_app(ctx), file, actor=_actor())
    if as_json:
        print_json(asdict(result))
        return
    click.echo(f"adopted {result.file_name} ({result.district}, {result.series} series) for {result.state}; "
               f"{result.reclassified} item(s) re-classified")


@schedules.command("verify")
@click.argument("state")
@click.argument("series")
@click.option("--citation", required=True, help="Where the official schedule says it (version, page, item).")
@click.option("--by", "by", required=True, help="The records officer who checked it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def schedules_verify(ctx: click.Context, state: str, series: str, citation: str, by: str, as_json: bool) -> None:
    """Record that a records officer confirmed SERIES against the official schedule; only then
    may a partial or unverified series dispose.

    \b
    Example:
      archiver schedules verify WA GS2010-001 --citation "CORE v5.0 (Oct 2024) p.12" --by "J. Doe"
    """
    from archiver.services.schedules import verify_series

    result = verify_series(get_app(ctx), state, series, citation=citation, by=by, actor=_actor())
    if as_json:
        print_json(asdict(result))
        return
    click.echo(f"recorded: {result.state} {result.series} verified by {result.verified_by} against "
               f"{result.citation!r}")
    if result.still_blocked:
        click.echo("still cannot dispose automatically: " + "; ".join(result.still_blocked))
