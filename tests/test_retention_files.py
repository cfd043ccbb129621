"""The shipped state schedules parse, and every figure keeps its status mark and source."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

STATUSES = {"verified", "partial", "unverified"}
FILES = sorted(p.name for p in resources.files("retention_schedules").iterdir() if p.name.endswith(".yaml"))


def test_schedules_are_shipped_with_the_package() -> None:
    assert {"WA.yaml", "MI.yaml"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_schedule_and_series_is_marked_and_sourced(name: str) -> None:
    data = yaml.safe_load(resources.files("retention_schedules").joinpath(name).read_text())
    assert data["schema_version"] == 1 and data["state"] == name.removesuffix(".yaml")
    for schedule in data.get("schedules", []):
        assert schedule["status"] in STATUSES, schedule["id"]
    for series in data.get("series", []):
        assert series["status"] in STATUSES, series["id"]
        if series["status"] == "verified":
            assert series.get("sources"), f"{series['id']} claims verified without a source"
