"""`archiver retention ...`: the disposition plan, approved destruction, and its certificates."""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime

import click
from rich.table import Table

from archiver.cli.common import console, get_app, handle_errors, print_json
from archiver.cli.safe_text import markup, visible

DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])


def _actor() -> str:
    from archiver.core.actor import current_actor

    return current_actor()


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@click.group()
def retention() -> None:
    """What may be destroyed, what is held and why, and what was destroyed on whose approval.

    \b
    Example:
      archiver retention plan --as-of 2028-07-01
      archiver retention apply --approve "J. Doe, Records Officer"
      archiver retention certificates
    """


@retention.command("plan")
@click.option("--as-of", "as_of", type=DATE, default=None, help="Preview this date (UTC) instead of now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per item.")
@click.pass_context
@handle_errors
def retention_plan(ctx: click.Context, as_of: datetime | None, as_json: bool, as_csv: bool) -> None:
    """What is eligible on a date, by series and account; what is held and why (hold, open
    request, unverified series, shared object); over-retention caused by shared objects.

    \b
    Example:
      archiver retention plan --as-of 2028-07-01 --csv > plan.csv
    """
    from archiver.services.retention import plan

    result = plan(get_app(ctx), as_of=_utc(as_of), actor=_actor())
    if as_json:
        print_json({"as_of": result.as_of, "state": result.state, "summary": result.by_status(),
                    "items": [asdict(i) for i in result.items], "objects": [asdict(o) for o in result.objects],
                    "over_retention": [asdict(o) for o in result.over_retention]})
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["platform", "item_id", "account", "kind", "series", "retain_until", "status", "action",
                         "reasons", "objects"])
        for i in result.items:
            writer.writerow([i.platform, i.item_id, i.account, i.kind, i.series or "",
                             i.retain_until.isoformat() if i.retain_until else "", i.status, i.action or "",
                             "; ".join(i.reasons), " ".join(i.objects)])
        return
    groups: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for i in result.items:
        groups[(i.series or "(none)", i.account, i.status, "; ".join(i.reasons) or (i.action or ""))] += 1
    table = Table("series", "account", "status", "why / action", "items",
                  title=f"Disposition plan as of {result.as_of:%Y-%m-%d} ({result.state})")
    for (series, account, status, why), n in sorted(groups.items()):
        table.add_row(markup(series), markup(account), status, markup(why), str(n))
    console.print(table)
    eligible = result.eligible_objects()
    console.print(f"{len(eligible)} object(s) eligible for destruction; "
                  f"{len(result.eligible_objects('transfer'))} for transfer to the state archives")
    if result.over_retention:
        over = Table("series", "items", "kept longer by a shared object", "with no end date", "mean days",
                     "max days", title="Over-retention from shared objects")
        for o in result.over_retention:
            over.add_row(markup(o.series), str(o.items), str(o.kept_longer), str(o.open_ended), f"{o.mean_days}",
                         f"{o.max_days}")
        console.print(over)


@retention.command("apply")
@click.option("--approve", "approver", required=True, help="The records officer approving this disposition.")
@click.option("--as-of", "as_of", type=DATE, default=None, help="Eligibility date (never in the future).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def retention_apply(ctx: click.Context, approver: str, as_of: datetime | None, as_json: bool) -> None:
    """Destroy every eligible object and its wrapped data keys, remove the items' text from the
    catalog (a minimal disposition row stays) and write a signed destruction certificate.

    \b
    Example:
      archiver retention apply --approve "J. Doe, Records Officer"
    """
    from archiver.services.retention import apply

    result = apply(get_app(ctx), approver=approver, actor=_actor(), as_of=_utc(as_of))
    if as_json:
        print_json(asdict(result))
    else:
        if result.certificate_id:
            click.echo(f"destroyed {len(result.destroyed_objects)} object(s), {result.destroyed_items} item(s); "
                       f"certificate {result.certificate_id}: {result.html_path}")
        else:
            click.echo("nothing destroyed")
        for name in result.transfer_pending:
            click.echo(f"eligible for transfer to the state archives (not destroyed): {name}")
        for name, why in result.refused:
            click.echo(f"refused by the store, not destroyed: {name}: {why}", err=True)
    if result.refused:
        sys.exit(1)


@retention.command("certificates")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def retention_certificates(ctx: click.Context, as_json: bool) -> None:
    """Every destruction certificate: when, on whose approval, how much, where the files are.

    \b
    Example:
      archiver retention certificates --json
    """
    from archiver.services.retention import list_certificates

    rows = list_certificates(get_app(ctx))
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table("certificate", "issued", "approved by", "items", "objects", "signed", "file",
                  title="Destruction certificates")
    for r in rows:
        table.add_row(r.id, f"{r.issued_at:%Y-%m-%d %H:%M}", markup(r.approver), str(r.items), str(r.objects),
                      "yes" if r.signed else "no", markup(r.html_path))
    console.print(table)


@retention.command("show")
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def retention_show(ctx: click.Context, item_id: str, as_json: bool) -> None:
    """One item's series, the rule that chose it, its retain-until and what it waits for,
    with the law cited.

    \b
    Example:
      archiver retention show facebook:1000001_2001
    """
    from archiver.services.retention import item_retention

    view = item_retention(get_app(ctx), item_id)
    if as_json:
        print_json(asdict(view))
        return
    lines = [f"series:       {view.series or '(none)'} {view.series_title or ''}".rstrip(),
             f"rule:         {view.rule}{' (FLAGGED: no rule selected it)' if view.flagged else ''}",
             f"retain until: {view.retain_until:%Y-%m-%d}" if view.retain_until else
             f"retain until: no end date yet (waits for {view.waits_for})",
             f"status:       {view.status}" + (f": {'; '.join(view.reasons)}" if view.reasons else "")]
    lines += [f"law:          {c}" for c in view.citations]
    for line in lines:
        click.echo(visible(line))  # roles and hold reasons are typed by people: shown inert


@retention.command("classify")
@click.pass_context
@handle_errors
def retention_classify(ctx: click.Context) -> None:
    """Re-classify every item (after changing an account's role; plan and apply do it too).

    \b
    Example:
      archiver retention classify
    """
    from archiver.services.retention import reclassify

    click.echo(f"{reclassify(get_app(ctx))} item(s) changed series or retain-until")
