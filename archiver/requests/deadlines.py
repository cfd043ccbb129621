"""Statutory response deadlines in business days, per state, each rule citing its statute.

Facts and their marks come from shared/research/retention_schedules.md (section 3) and
retention_addendum_2026-12.md (section 6): [V] verified, [P] partial, [U] unverified. The
`holidays` package is the base list; where a state's holiday statute differs from it (MI, KS,
NE), the statute wins. Where the research could not settle which list or which days apply, we
compute three readings instead of guessing one:

- `due`: the statute as we read it (package corrected by the state's holiday statute);
- `earliest`: only days every reading agrees are holidays or closures (the safest target);
- `latest`: any day some reading excludes (the most the law could allow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from archiver.core.errors import RequestError

Mark = Literal["verified", "partial", "unverified"]
ClosureRule = Literal["excluded", "counted", "unknown"]


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _columbus_day(year: int) -> date:
    return _nth_weekday(year, 10, 0, 2)


def _day_after_thanksgiving(year: int) -> date:
    return _nth_weekday(year, 11, 3, 4) + timedelta(days=1)


def _lincolns_birthday(year: int) -> date:
    return date(year, 2, 12)


@dataclass(frozen=True)
class HolidayFix:
    """A day the state's holiday statute lists and the package does not."""

    name: str
    on: Callable[[int], date]


@dataclass(frozen=True)
class StateRule:
    state: str
    name: str
    statute: str  # the response deadline's citation
    days: int
    deadline_mark: Mark
    receipt_day_counts: bool
    receipt_citation: str
    receipt_mark: Mark
    holiday_statute: str
    holiday_mark: Mark
    closures: ClosureRule
    closures_citation: str
    extension_citation: str
    extension_days: int | None = None  # cap in business days after the due date; None: no cap
    extension_times: int | None = None  # how many extensions; None: no limit
    completion_days: int | None = None  # OR: complete within N more business days
    completion_citation: str = ""
    electronic_receipt_delay: int = 0  # MI: e-mail/fax received 1 business day later
    package_extra: frozenset[str] = frozenset()  # package days the statute does not list
    statute_extra: tuple[HolidayFix, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        head = f"{self.state} {self.days} business days ({self.statute}) [{self.deadline_mark}]"
        if self.completion_days:
            head = (f"{self.state} acknowledge within {self.days} business days ({self.statute}), "
                    f"complete within {self.completion_days} more ({self.completion_citation})")
        return f"{head}; extension: {self.extension_citation}"


RULES: dict[str, StateRule] = {
    "WA": StateRule(
        state="WA",
        name="Washington Public Records Act",
        statute="RCW 42.56.520(1)",
        days=5,
        deadline_mark="verified",
        receipt_day_counts=False,
        receipt_citation="RCW 1.12.040 (first day excluded)",
        receipt_mark="partial",
        holiday_statute="RCW 1.16.050",
        holiday_mark="verified",
        closures="unknown",
        closures_citation="not addressed in the research",
        extension_citation="RCW 42.56.520(2) (reasonable estimate, no fixed cap)",
        notes=("RCW's rule for a holiday on a weekend was not retrieved [unverified]",),
    ),
    "MI": StateRule(
        state="MI",
        name="Michigan Freedom of Information Act",
        statute="MCL 15.235(2)",
        days=5,
        deadline_mark="verified",
        receipt_day_counts=False,
        receipt_citation="MCL 15.235(1)-(2) (within 5 business days after receipt)",
        receipt_mark="verified",
        holiday_statute="MCL 435.101",
        holiday_mark="partial",
        closures="counted",
        closures_citation="AG Op. 7172 (business days whether or not the office is open)",
        extension_citation="MCL 15.235(2) (one notice, up to 10 business days)",
        extension_days=10,
        extension_times=1,
        electronic_receipt_delay=1,
        package_extra=frozenset(
            {"Christmas Eve", "New Year's Eve", "Day After Thanksgiving", "Election Day"}
        ),
        statute_extra=(
            HolidayFix("Lincoln's Birthday", _lincolns_birthday),
            HolidayFix("Columbus Day", _columbus_day),
        ),
        notes=(
            "which holiday list AG Op. 7172 means by 'legal holidays' is unverified; "
            "the package's state-employee days are the 'latest' reading",
            "e-mail and fax requests count as received 1 business day after transmission "
            "(MCL 15.235(1)) [verified]",
        ),
    ),
    "KS": StateRule(
        state="KS",
        name="Kansas Open Records Act",
        statute="K.S.A. 45-218(d)",
        days=3,
        deadline_mark="verified",
        receipt_day_counts=False,
        receipt_citation="K.S.A. 45-218(d) (end of the third business day following receipt)",
        receipt_mark="verified",
        holiday_statute="K.S.A. 35-107 (and days the Governor designates, K.A.R. 1-9-2)",
        holiday_mark="partial",
        closures="unknown",
        closures_citation="not addressed in the research",
        extension_citation="K.S.A. 45-218(d) (detailed explanation and earliest date available)",
        package_extra=frozenset({"Juneteenth National Independence Day", "Christmas Eve"}),
        statute_extra=(HolidayFix("Columbus Day", _columbus_day),),
    ),
    "NE": StateRule(
        state="NE",
        name="Nebraska public records statutes",
        statute="Neb. Rev. Stat. 84-712(4)",
        days=4,
        deadline_mark="verified",
        receipt_day_counts=False,
        receipt_citation="Neb. Rev. Stat. 84-712(4) (four business days after actual receipt)",
        receipt_mark="verified",
        holiday_statute="Neb. Rev. Stat. 25-2221",
        holiday_mark="unverified",
        closures="unknown",
        closures_citation="not addressed in the research",
        extension_citation="Neb. Rev. Stat. 84-712(4) (written explanation, earliest practicable date) [partial]",
        statute_extra=(HolidayFix("Day after Thanksgiving", _day_after_thanksgiving),),
        notes=(
            "84-712 does not define business day; 25-2221 (court closures) is the likely "
            "holiday list, an inference [unverified]",
        ),
    ),
    "OR": StateRule(
        state="OR",
        name="Oregon Public Records Law",
        statute="ORS 192.324(2)",
        days=5,
        deadline_mark="verified",
        receipt_day_counts=False,
        receipt_citation="ORS 192.324(2) (within 5 business days after receiving)",
        receipt_mark="verified",
        holiday_statute="ORS 187.010 (and days the Governor appoints, ORS 187.020)",
        holiday_mark="partial",
        closures="excluded",
        closures_citation="ORS 192.311(1) (days the district's central offices are closed do not count)",
        extension_citation="ORS 192.329 (written estimated completion date)",
        completion_days=10,
        completion_citation="ORS 192.329",
    ),
}


def rule_for(state: str) -> StateRule:
    rule = RULES.get(state.upper())
    if rule is None:
        raise RequestError(
            f"No public-records deadline rule for state '{state}'; "
            f"supported: {', '.join(sorted(RULES))} (use --state)"
        )
    return rule


@dataclass(frozen=True)
class CalendarDay:
    """A day from the district's calendar file: the office was closed, or a proclaimed holiday."""

    day: date
    kind: Literal["closed", "holiday"]
    reason: str


Reading = Literal["statute", "earliest", "latest"]


@lru_cache(maxsize=64)
def _package_days(state: str, year: int) -> dict[date, tuple[str, ...]]:
    # imported here: only a due date needs it, and the export and search commands load this
    # module without computing one (the package costs about 50 ms to import)
    import holidays as holidays_lib

    cal = holidays_lib.country_holidays("US", subdiv=state, years=[year])
    return {d: tuple(cal.get_list(d)) for d in cal}


def _base(name: str) -> str:
    return name.replace(" (observed)", "").strip()


@lru_cache(maxsize=64)
def holiday_sets(state: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(package days, statute days) for one state and year."""
    rule = RULES[state]
    package = _package_days(state, year)
    statute = {
        d for d, names in package.items() if any(_base(n) not in rule.package_extra for n in names)
    }
    statute.update(fix.on(year) for fix in rule.statute_extra)
    return frozenset(package), frozenset(statute)


class BusinessCalendar:
    """Which days count, for one state, one reading and one district calendar."""

    def __init__(self, rule: StateRule, reading: Reading, calendar: Iterable[CalendarDay] = ()) -> None:
        self.rule = rule
        self.reading = reading
        days = list(calendar)
        self.proclaimed = {c.day for c in days if c.kind == "holiday"}
        closed = {c.day for c in days if c.kind == "closed"}
        if rule.closures == "excluded" or (rule.closures == "unknown" and reading == "latest"):
            self.closed = closed
        else:
            self.closed = set()

    def holidays(self, year: int) -> frozenset[date]:
        package, statute = holiday_sets(self.rule.state, year)
        if self.reading == "statute":
            return statute
        return package & statute if self.reading == "earliest" else package | statute

    def is_business_day(self, day: date) -> bool:
        return (
            day.weekday() < 5
            and day not in self.holidays(day.year)
            and day not in self.proclaimed
            and day not in self.closed
        )

    def add(self, start: date, n: int, *, count_start: bool = False) -> date:
        """The n-th business day after `start` (or counting `start` itself when it counts)."""
        day = start
        left = n
        if count_start and self.is_business_day(day):
            left -= 1
            if left == 0:
                return day
        while left > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                left -= 1
        return day


@dataclass(frozen=True)
class Deadlines:
    state: str
    received: date  # as given
    legally_received: date  # MI: e-mail/fax count from the next business day
    first_response: date  # OR: acknowledge by; elsewhere the same as due
    due: date
    earliest: date
    latest: date
    rule: str
    notes: tuple[str, ...]


def compute(rule: StateRule, received: date, *, via: str = "", calendar: Iterable[CalendarDay] = ()) -> Deadlines:
    days = list(calendar)

    def one(reading: Reading) -> tuple[date, date, date]:
        cal = BusinessCalendar(rule, reading, days)
        legal = received
        if rule.electronic_receipt_delay and via in ("email", "fax"):
            legal = cal.add(received, rule.electronic_receipt_delay)
        first = cal.add(legal, rule.days, count_start=rule.receipt_day_counts)
        due = cal.add(first, rule.completion_days) if rule.completion_days else first
        return legal, first, due

    legal, first, due = one("statute")
    earliest = one("earliest")[2]
    latest = one("latest")[2]
    return Deadlines(
        state=rule.state,
        received=received,
        legally_received=legal,
        first_response=first,
        due=due,
        earliest=min(earliest, due),
        latest=max(latest, due),
        rule=rule.describe(),
        notes=rule.notes,
    )


def extension_limit(rule: StateRule, due: date, calendar: Iterable[CalendarDay] = ()) -> date | None:
    """The latest date an extension may name, or None where the statute sets no cap."""
    if rule.extension_days is None:
        return None
    return BusinessCalendar(rule, "statute", calendar).add(due, rule.extension_days)
