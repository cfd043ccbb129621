"""Each command draws at the COLUMNS it is run with, not the first command's (a test-order bug:
`status` drew 125-column tables under COLUMNS=80 after a search test ran with 200 in the same
worker process, because rich reads COLUMNS once, when the console object is made)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from click.testing import CliRunner
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from archiver.cli import common
from archiver.cli.main import cli
from archiver.cli.safe_text import plain
from archiver.cli.tables import Cell, Column, fitted_table


def test_a_command_takes_the_columns_it_is_run_with(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ARCHIVER_HOME": str(tmp_path / "home"), "ARCHIVER_DISTRICT": "Test School District",
           "ARCHIVER_STATE": "WA"}
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    common.console.width = 200  # as made at import under COLUMNS=200 by an earlier command
    shown = runner.invoke(cli, ["status"], env={**env, "COLUMNS": "80"}, terminal_width=80)
    assert shown.exit_code == 0, shown.output
    assert common.console.width == 80 and common.err_console.width == 80
    assert max(len(line) for line in shown.output.splitlines()) <= 80
    assert runner.invoke(cli, ["status"], env={**env, "COLUMNS": "120"}).exit_code == 0
    assert common.console.width == 120


# The way fitted_table chose its columns before it measured each column once (issue 13, part 5):
# a whole candidate table measured by rich per dropped column. The new way must choose alike.
def _reference_fitted_table(console: Console, columns: list[Column], rows: list[list[Cell]], title: str) -> Table:
    def build(shown: list[int], key_width: int | None) -> Table:
        table = Table(title=title or None, box=box.SIMPLE_HEAD)
        for i in shown:
            col = columns[i]
            if col.key:
                width = key_width or longest(i)
                table.add_column(col.header, justify=col.justify, overflow="fold", min_width=width, max_width=width)
            else:
                table.add_column(col.header, justify=col.justify, no_wrap=True, overflow="ellipsis")
        for row in rows:
            table.add_row(*(row[i] if isinstance(row[i], Text) else plain(row[i]) for i in shown))
        return table

    def longest(i: int) -> int:
        return max([len(str(row[i])) for row in rows] + [len(columns[i].header)])

    shown = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop)
    while True:
        table = build(shown, None)
        width = Measurement.get(console, console.options.update_width(10_000), table).maximum
        if width <= console.width:
            return table
        if not droppable:
            keys = [i for i in shown if columns[i].key]
            spare = console.width - width + sum(longest(i) for i in keys)
            return build(shown, max(spare // max(len(keys), 1), 8))
        shown.remove(droppable.pop(0))


def _render(console_width: int, table: Table) -> str:
    out = Console(width=console_width, file=io.StringIO(), emoji=False, highlight=False, color_system=None)
    out.print(table)
    return out.file.getvalue()  # type: ignore[attr-defined]  # the StringIO given above


def test_fitted_tables_choose_their_columns_as_whole_table_measurement_did() -> None:
    rng = random.Random(13)
    words = ["facebook-1001000099-20261203225407244-000001390e6-vm.warc.gz", "677", "ok", "学校の掲示板",
             "🚌 bus route", "", "a\u202eb", "x" * 70, "line\nbreak", "3f0c9a1b2c3d4e5f"]
    columns = [Column("name", key=True), Column("records", justify="right"), Column("bytes", drop=1, justify="right"),
               Column("sha256", drop=2), Column("stored as", drop=3), Column("message", drop=4)]
    for case in range(60):
        rows: list[list[Cell]] = [[rng.choice(words) if c != 1 else Text(rng.choice(words), style="red")
                                   for c in range(len(columns))] for _ in range(rng.randint(0, 6))]
        for width in (20, 40, 60, 80, 100, 120, 160, 250):
            console = Console(width=width, file=io.StringIO(), emoji=False, highlight=False)
            new = fitted_table(console, columns, rows, title="t" if case % 2 else "")
            old = _reference_fitted_table(console, columns, rows, "t" if case % 2 else "")
            assert [c.header for c in new.columns] == [c.header for c in old.columns], (case, width)
            assert _render(width, new) == _render(width, old), (case, width)
