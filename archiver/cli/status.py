"""`archiver status`: accounts, workers, alerts and scheduled jobs at a glance."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click
from rich.text import Text

from archiver.cli.common import console, get_app, handle_errors, print_json
from archiver.cli.tables import Column, fitted_table

if TYPE_CHECKING:
    from archiver.services.status import BudgetStatus


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    if seconds < 0:
        return "in " + _span(-seconds)
    return _span(seconds) + " ago"


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def b_unit(budgets: list[BudgetStatus]) -> str:
    """The tables' caption: units and periods of the budgets shown."""
    return ", ".join(sorted({f"{b.unit} per {b.period}" for b in budgets}))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts and monitoring.")
@click.option("--forget-worker", default=None, metavar="ID",
              help="Remove a dead worker from the list (its alert then clears).")
@click.pass_context
@handle_errors
def status(ctx: click.Context, as_json: bool, forget_worker: str | None) -> None:
    """Is every account being captured? Workers, open alerts, scheduled jobs.

    Per account: last complete capture, last error, next run, the gap since the last
    complete capture (flagged when above two poll intervals) and what its credential's quota
    has left. Per worker: heartbeat and the accounts it is capturing now. Per credential with
    a quota: spent and left this period, when it resets, and how many of its accounts fit at
    the poll interval (with a warning when not all do).

    \b
    Example:
      archiver status
      archiver status --json
    """
    from archiver.services.status import forget_worker as forget
    from archiver.services.status import status as read_status

    app = get_app(ctx)
    if forget_worker:
        forget(app, forget_worker)
    st = read_status(app)
    if as_json:
        print_json(st.as_dict())
        return
    now = st.as_of
    columns = [Column("account", key=True), Column("status"), Column("last success", drop=1),
               Column("next run", drop=2), Column("gap", justify="right"), Column("budget", drop=4),
               Column("last error", drop=3)]
    rows = []
    for a in st.accounts:
        flag = a.status not in ("ok", "new")
        rows.append([a.label, Text(a.status, style="yellow") if flag else a.status, _ago(a.last_success, now),
                     _ago(a.next_run, now) if a.next_run else "-",
                     Text(_span(a.gap_minutes * 60) if a.gap_minutes is not None else "never",
                          style="red" if a.overdue else "") if a.overdue else
                     (_span(a.gap_minutes * 60) if a.gap_minutes is not None else "never"),
                     a.budget or "-", a.last_error[:60]])
    console.print(fitted_table(console, columns, rows, title=f"Accounts ({len(st.accounts)})"))
    wcols = [Column("worker", key=True), Column("state"), Column("heartbeat", drop=1),
             Column("captured", justify="right", drop=2), Column("capturing now", drop=3)]
    wrows = [[w.id, w.state if w.state != "silent" else Text("silent", style="red"), _ago(w.heartbeat_at, now),
              str(w.captured), ", ".join(w.current[:3]) + (f" +{len(w.current) - 3}" if len(w.current) > 3 else "")]
             for w in st.workers]
    console.print(fitted_table(console, wcols, wrows, title=f"Workers ({len(st.workers)})"))
    acols = [Column("kind"), Column("subject", key=True), Column("since", drop=1), Column("message", drop=2)]
    arows = [[a.kind, a.subject, _ago(a.raised_at, now), a.message[:80]] for a in st.alerts]
    console.print(fitted_table(console, acols, arows, title=f"Open alerts ({len(st.alerts)})"))
    if st.budgets:
        bcols = [Column("quota", key=True), Column("spent", justify="right"), Column("left", justify="right"),
                 Column("resets (UTC)", drop=1), Column("fit", justify="right", drop=2)]
        brows: list[list[str | Text]] = [[f"{b.platform} {b.credential}", f"{b.spent:,}",
                  Text(f"{b.remaining:,}/{b.usable:,}", style="red" if b.remaining < b.usable * 0.1 else ""),
                  f"{b.resets_at:%m-%d %H:%M}", Text(f"{b.fit}/{b.accounts}", style="" if not b.warning else "red")]
                 for b in st.budgets]
        console.print(fitted_table(console, bcols, brows, title=f"Quota budgets ({b_unit(st.budgets)})"))
        for b in st.budgets:
            if b.warning:
                console.print(Text(f"warning: {b.warning}", style="yellow"))
    if st.jobs:
        jcols = [Column("job", key=True), Column("last run"), Column("result", drop=1)]
        jrows = [[j["name"], _ago(j["last_run_at"], now), j["last_status"] or "-"] for j in st.jobs]
        console.print(fitted_table(console, jcols, jrows, title="Scheduled jobs"))
