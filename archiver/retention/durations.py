"""ISO 8601 durations (PnYnMnWnDTnHnMnS) added with calendar arithmetic.

Schedules speak in years and months ("2 years after removal"); a year is a calendar year, so
adding P2Y to 2024-02-29 gives 2026-02-28 (the last day of that month), never an earlier day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class Duration:
    text: str
    years: int = 0
    months: int = 0
    days: int = 0
    seconds: int = 0

    def add_to(self, when: datetime) -> datetime:
        months = when.month - 1 + self.months + 12 * self.years
        year, month = when.year + months // 12, months % 12 + 1
        day = min(when.day, calendar.monthrange(year, month)[1])
        moved = when.replace(year=year, month=month, day=day)
        return moved + timedelta(days=self.days, seconds=self.seconds)

    @property
    def approx_days(self) -> float:
        """For ranking series by length only (never for dates)."""
        return self.years * 365.25 + self.months * 30.44 + self.days + self.seconds / 86400


def parse_duration(text: str) -> Duration:
    """Parse an ISO 8601 duration; ValueError says what is wrong."""
    match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P2Y, P90D or P3Y6M")
    g = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    return Duration(
        text=text.strip(), years=g["y"], months=g["mo"], days=g["d"] + 7 * g["w"],
        seconds=g["h"] * 3600 + g["mi"] * 60 + g["s"],
    )
