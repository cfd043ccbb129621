"""The district's own calendar: days its office was closed, and holidays a governor proclaimed.

Oregon does not count days the district's central office is closed (ORS 192.311(1)); other
states' statutes are silent or count them (see deadlines.py). The district keeps the file:

    date,kind,reason
    2026-11-27,closed,Thanksgiving break
    2026-12-24,holiday,Governor's proclamation

`kind` is `closed` (office closed) or `holiday` (a legal holiday proclaimed for the year).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from archiver.core.errors import RequestError
from archiver.requests.deadlines import CalendarDay

FILE_NAME = "district-calendar.csv"


def load_calendar(path: Path) -> list[CalendarDay]:
    """The file's days, or none when there is no file; a bad row is one clear error."""
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RequestError(f"Cannot read the district calendar {path} ({exc}); fix or remove it") from exc
    if not rows or [c.strip().lower() for c in rows[0][:3]] != ["date", "kind", "reason"]:
        raise RequestError(f"{path}: the first row must be 'date,kind,reason'; fix the header")
    days = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise RequestError(f"{path} row {number}: expected date,kind,reason; fix the row")
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise RequestError(f"{path} row {number}: '{row[0].strip()}' is not a date (YYYY-MM-DD); fix the row") from None
        kind = row[1].strip().lower()
        if kind not in ("closed", "holiday"):
            raise RequestError(f"{path} row {number}: kind must be 'closed' or 'holiday', not '{kind}'; fix the row")
        days.append(CalendarDay(day, kind, row[2].strip() if len(row) > 2 else ""))  # type: ignore[arg-type]
    return days
