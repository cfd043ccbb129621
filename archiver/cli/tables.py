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
from rich.console import Console
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
    pass a styled `Text` for our own emphasis.

    Each column's natural width is measured once, cell by cell as rich measures them: a table's
    natural width is its columns' widths plus its borders, whichever columns it shows (the
    padding is the same for every column). Measuring whole candidate tables instead, one per
    dropped column, read every cell twice per candidate: 1.9 of `warc list`'s 2.9 s (profiled)
    with 2,000 WARCs. tests/cli/test_console_width.py compares both ways at many widths."""
    cells = [[_text(row[i]) for i in range(len(columns))] for row in rows]
    natural = _natural_widths(console, columns, rows, cells)
    shown = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop)
    while True:
        width = sum(natural[i] for i in shown) + _BORDERS + len(shown) - 1
        if width <= console.width:
            return _build(columns, rows, cells, shown, title, None)
        if not droppable:  # the names alone are too long: fold them, keep the other columns whole
            keys = [i for i in shown if columns[i].key]
            spare = console.width - width + sum(_longest(rows, columns, i) for i in keys)
            return _build(columns, rows, cells, shown, title, max(spare // max(len(keys), 1), 8))
        shown.remove(droppable.pop(0))


# A SIMPLE_HEAD table's left and right edges, and each cell's padding (one space each side):
# rich's Table._extra_width and the default padding (0, 1).
_BORDERS = 2
_PADDING = 2


def _natural_widths(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
                    cells: Sequence[Sequence[Text]]) -> list[int]:
    """Each column's width in a table as wide as it likes, as rich's Table measures it (its
    widest cell or header, plus padding; a key column exactly its longest name)."""
    options = console.options.update_width(10_000)
    widths = []
    for i, col in enumerate(columns):
        if col.key:
            widths.append(_longest(rows, columns, i) + _PADDING)
            continue
        widest = Measurement.get(console, options, col.header).maximum
        for row in cells:
            widest = max(widest, Measurement.get(console, options, row[i]).maximum)
        widths.append(widest + _PADDING)
    return widths


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else plain(cell)


def _longest(rows: Sequence[Sequence[Cell]], columns: Sequence[Column], i: int) -> int:
    return max([len(str(row[i])) for row in rows] + [len(columns[i].header)])


def _build(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], cells: Sequence[Sequence[Text]],
           shown: list[int], title: str, key_width: int | None) -> Table:
    """`key_width` None: every column at its natural width; otherwise names fold at it."""
    table = Table(title=title or None, box=box.SIMPLE_HEAD)
    for i in shown:
        col = columns[i]
        if col.key:
            width = key_width or _longest(rows, columns, i)
            table.add_column(col.header, justify=col.justify, overflow="fold", min_width=width, max_width=width)
        else:
            table.add_column(col.header, justify=col.justify, no_wrap=True, overflow="ellipsis")
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    return table
