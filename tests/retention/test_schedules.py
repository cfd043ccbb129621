"""Every shipped schedule validates; bad files are named by file, series and field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from archiver.retention.durations import parse_duration
from archiver.retention.schedules import (
    check_all,
    contradictions,
    load_state,
    shipped_states,
    validate_text,
)

FIXTURES = Path(__file__).with_name("fixtures")


def test_the_research_states_ship() -> None:
    assert {"WA", "MI", "KS", "NE", "OR", "FL", "TX"} <= set(shipped_states())


@pytest.mark.parametrize("state", shipped_states())
def test_every_shipped_schedule_validates(state: str) -> None:
    errors = [p for p in check_all([state]) if p.error]
    assert errors == []
    assert load_state(state).state == state


def test_marks_are_kept_as_research_left_them() -> None:
    wa = {s.key: s for s in load_state("WA").series}
    assert wa["GS50-01-12"].status == "verified" and wa["GS2010-001"].status == "partial"
    assert wa["GS50-02-01"].retention is None and wa["WA-TRANSITORY"].id is None
    assert all(s.retention is None for s in load_state("MI").series)
    assert load_state("KS").series == []


def test_no_shipped_series_can_dispose_without_a_records_officer() -> None:
    notes = [p for p in check_all() if not p.error and p.series]
    blocked = {(p.file, p.series) for p in notes}
    for state in shipped_states():
        for s in load_state(state).series:
            assert (f"{state}.yaml", s.key) in blocked


def _wa_with(**changes: object) -> str:
    data = yaml.safe_load((Path(__file__).parents[2] / "retention_schedules" / "WA.yaml").read_text())
    data["series"][1].update(changes)
    return yaml.safe_dump(data)


@pytest.mark.parametrize(("change", "field"), [
    ({"retention": "P2X"}, "retention"),
    ({"trigger": {"type": "later_of", "events": ["sunset"]}}, "trigger.events"),
    ({"sources": []}, "(series)"),
    ({"applies_to": ["tweetstorm"]}, "applies_to"),
])
def test_bad_series_are_named_by_file_series_and_field(change: dict, field: str) -> None:
    parsed, problems = validate_text(_wa_with(**change), "WA.yaml")
    assert parsed is None
    lines = [p.line() for p in problems if p.error]
    assert any(line.startswith(f"WA.yaml: series GS2010-001: {field}") for line in lines), lines


def test_a_district_file_that_contradicts_the_state_is_named() -> None:
    state = load_state("WA")
    district = yaml.safe_load((FIXTURES / "KS_district.yaml").read_text())
    district["state"] = "WA"
    district["series"][0].update(id="GS50-01-12", retention="P1Y")
    parsed, problems = validate_text(yaml.safe_dump(district), "district.yaml")
    assert parsed is not None and not [p for p in problems if p.error]
    found = [p.line() for p in contradictions(state, parsed, "district.yaml")]
    assert "district.yaml: series GS50-01-12: retention: P1Y is shorter" in found[0]
    assert any("disposition: destroy contradicts" in line for line in found)


def test_a_kansas_district_file_validates_against_the_state() -> None:
    problems = check_all(["KS"], [FIXTURES / "KS_district.yaml"])
    assert not [p for p in problems if p.error]


def test_durations_add_calendar_years() -> None:
    leap = datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert parse_duration("P2Y").add_to(leap) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert parse_duration("P90D").add_to(leap) == datetime(2024, 5, 29, 12, tzinfo=UTC)
    assert parse_duration("P1Y6M").add_to(datetime(2025, 8, 31, tzinfo=UTC)) == datetime(2027, 2, 28, tzinfo=UTC)
    for bad in ("P", "2Y", "P2X", "PT", "P-1Y"):
        with pytest.raises(ValueError):
            parse_duration(bad)
