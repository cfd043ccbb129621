"""Due dates checked by hand against a 2026-27 calendar, around Thanksgiving, Christmas and New Year.

Hand count (receipt day never counted in these five states):
- Thanksgiving Thu 2026-11-26; the day after, Fri 11-27, is a WA holiday (Native American
  Heritage Day, RCW 1.16.050) and a NE holiday (25-2221, missing from the package); in MI it is
  only in the package's state-employee list, not MCL 435.101.
- Christmas Fri 2026-12-25; Christmas Eve Thu 12-24 is in the package for MI and KS but not in
  MCL 435.101 or K.S.A. 35-107. New Year Fri 2027-01-01; New Year's Eve 12-31 only in the
  package for MI. MLK Day Mon 2027-01-18.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from archiver.core.errors import RequestError
from archiver.requests.deadlines import RULES, CalendarDay, compute, extension_limit, rule_for

D = date.fromisoformat
THANKSGIVING, CHRISTMAS, NEW_YEAR = D("2026-11-25"), D("2026-12-22"), D("2026-12-30")

# state, received, (due by the statute, earliest reading, latest reading)
HAND_CHECKED = [
    # WA 5: Mon 11-30 is day 1 (Thu, Fri holidays) .. Fri 12-4
    ("WA", THANKSGIVING, ("2026-12-04", "2026-12-04", "2026-12-04")),
    ("WA", CHRISTMAS, ("2026-12-30", "2026-12-30", "2026-12-30")),  # 23, 24, 28, 29, 30
    ("WA", NEW_YEAR, ("2027-01-07", "2027-01-07", "2027-01-07")),  # 31, 4, 5, 6, 7
    # MI 5: statute counts Fri 11-27; the package's list does not
    ("MI", THANKSGIVING, ("2026-12-03", "2026-12-03", "2026-12-04")),
    ("MI", CHRISTMAS, ("2026-12-30", "2026-12-30", "2027-01-04")),  # package: 23, 28, 29, 30, 4
    ("MI", NEW_YEAR, ("2027-01-07", "2027-01-07", "2027-01-08")),  # package skips 12-31
    # KS 3
    ("KS", THANKSGIVING, ("2026-12-01", "2026-12-01", "2026-12-01")),  # 27, 30, 1
    ("KS", CHRISTMAS, ("2026-12-28", "2026-12-28", "2026-12-29")),  # 23, 24, 28; package skips 24
    ("KS", NEW_YEAR, ("2027-01-05", "2027-01-05", "2027-01-05")),  # 31, 4, 5
    # NE 4: 25-2221 adds the day after Thanksgiving
    ("NE", THANKSGIVING, ("2026-12-03", "2026-12-02", "2026-12-03")),  # 30, 1, 2, 3
    ("NE", CHRISTMAS, ("2026-12-29", "2026-12-29", "2026-12-29")),  # 23, 24, 28, 29
    ("NE", NEW_YEAR, ("2027-01-06", "2027-01-06", "2027-01-06")),  # 31, 4, 5, 6
    # OR 5 to acknowledge + 10 to complete (no closures here)
    ("OR", THANKSGIVING, ("2026-12-17", "2026-12-17", "2026-12-17")),  # ack 12-03
    ("OR", CHRISTMAS, ("2027-01-14", "2027-01-14", "2027-01-14")),  # ack 12-30
    ("OR", NEW_YEAR, ("2027-01-22", "2027-01-22", "2027-01-22")),  # ack 1-07; 1-18 MLK
]


@pytest.mark.parametrize(("state", "received", "expected"), HAND_CHECKED,
                         ids=[f"{s}-{r}" for s, r, _ in HAND_CHECKED])
def test_due_dates_match_the_hand_count(state: str, received: date, expected: tuple[str, str, str]) -> None:
    d = compute(RULES[state], received)
    assert (d.due.isoformat(), d.earliest.isoformat(), d.latest.isoformat()) == expected


def test_oregon_acknowledgement_and_district_closures() -> None:
    closures = [CalendarDay(D("2026-11-27"), "closed", "Thanksgiving break")] + [
        CalendarDay(D("2026-12-21") + timedelta(days=n), "closed", "winter break") for n in range(12)]
    plain = compute(RULES["OR"], THANKSGIVING)
    assert plain.first_response == D("2026-12-03")
    closed = compute(RULES["OR"], THANKSGIVING, calendar=closures)
    assert (closed.first_response, closed.due) == (D("2026-12-04"), D("2026-12-18"))
    # received during winter break: nothing counts until Mon 2027-01-04; MLK Day 01-18 skipped
    winter = compute(RULES["OR"], CHRISTMAS, calendar=closures)
    assert (winter.first_response, winter.due) == (D("2027-01-08"), D("2027-01-25"))


def test_closures_count_in_michigan_and_widen_only_the_latest_reading_elsewhere() -> None:
    closures = [CalendarDay(D("2026-12-21") + timedelta(days=n), "closed", "winter break") for n in range(12)]
    mi = compute(RULES["MI"], CHRISTMAS, calendar=closures)  # AG Op. 7172: open or not
    assert mi.due == D("2026-12-30")
    wa = compute(RULES["WA"], CHRISTMAS, calendar=closures)
    assert (wa.due, wa.latest) == (D("2026-12-30"), D("2027-01-08"))


def test_a_proclaimed_holiday_counts_everywhere() -> None:
    proclaimed = [CalendarDay(D("2026-12-24"), "holiday", "Governor's proclamation")]
    assert compute(RULES["KS"], CHRISTMAS, calendar=proclaimed).due == D("2026-12-29")


def test_michigan_email_counts_from_the_next_business_day_and_one_extension_of_ten() -> None:
    d = compute(RULES["MI"], THANKSGIVING, via="email")
    assert d.legally_received == D("2026-11-27") and d.due == D("2026-12-04")
    # 10 business days after 12-03: 4, 7-11, 14-17
    assert extension_limit(RULES["MI"], D("2026-12-03")) == D("2026-12-17")
    assert extension_limit(RULES["WA"], D("2026-12-04")) is None


def test_every_rule_cites_its_statute_and_marks_its_facts() -> None:
    for rule in RULES.values():
        assert rule.statute and rule.holiday_statute and rule.extension_citation
        assert {rule.deadline_mark, rule.holiday_mark, rule.receipt_mark} <= {"verified", "partial", "unverified"}
    assert RULES["NE"].holiday_mark == "unverified" and RULES["MI"].holiday_mark == "partial"


def test_an_unknown_state_is_one_clear_line() -> None:
    with pytest.raises(RequestError, match="supported: KS, MI, NE, OR, WA"):
        rule_for("TX")
