"""Tables that keep identifiers whole at any terminal width.

An officer copies account and WARC names from these tables into other commands, so a name is
never cut ("facebo…"). When the terminal is too narrow, the least useful columns are dropped
first (each column says how dispensable it is); only if the names still do not fit alone are
they folded onto several lines, still whole. --json always has every field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from archiver.cli.safe_text import plain


@dataclass(frozen=True)
class Column:
    header: str
    key: bool = False  # an identifier: never cut
    drop: int = 0  # 0: always shown; otherwise dropped when narrow, highest number first
    justify: Literal["left", "right"] = "left"


Cell = str | Text


def fitted_table(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
                 *, title: str = "") -> Table:
    """The widest table that fits `console.width`, dropping dispensable columns as needed.

    Plain `str` cells are platform text or our own numbers: shown exactly (never as markup);
    pass a styled `Text` for our own emphasis."""
    shown = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop)
    while True:
        table = _build(columns, rows, shown, title, None)
        width = Measurement.get(console, console.options.update_width(10_000), table).maximum
        if width <= console.width:
            return table
        if not droppable:  # the names alone are too long: fold them, keep the other columns whole
            keys = [i for i in shown if columns[i].key]
            spare = console.width - width + sum(_longest(rows, columns, i) for i in keys)
            return _build(columns, rows, shown, title, max(spare // max(len(keys), 1), 8))
        shown.remove(droppable.pop(0))


def _longest(rows: Sequence[Sequence[Cell]], columns: Sequence[Column], i: int) -> int:
    return max([len(str(row[i])) for row in rows] + [len(columns[i].header)])


def _build(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], shown: list[int], title: str,
           key_width: int | None) -> Table:
    """`key_width` None: every column at its natural width; otherwise names fold at it."""
    table = Table(title=title or None, box=box.SIMPLE_HEAD)
    for i in shown:
        col = columns[i]
        if col.key:
            width = key_width or _longest(rows, columns, i)
            table.add_column(col.header, justify=col.justify, overflow="fold", min_width=width, max_width=width)
        else:
            table.add_column(col.header, justify=col.justify, no_wrap=True, overflow="ellipsis")
    for row in rows:
        cells: list[RenderableType] = [row[i] if isinstance(row[i], Text) else plain(row[i]) for i in shown]
        table.add_row(*cells)
    return table
