"""`archiver schedules ...` end to end: list, show, check, adopt, verify (an audit entry)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from archiver.app import App
from archiver.catalog import audit
from archiver.cli.main import cli
from archiver.core.settings import Settings

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"ARCHIVER_HOME": str(tmp_path / "home"), "ARCHIVER_ACTOR": "records-officer"}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0  # commands need an archive
    return env


def test_verify_records_an_audit_entry_and_lets_the_series_dispose(env: dict[str, str]) -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["schedules", "show", "WA", "--json"], env=env)
    before = {s["key"]: s for s in yaml.safe_load(shown.output)["series"]}
    assert before["GS2010-001"]["blockers"]
    result = runner.invoke(cli, ["schedules", "verify", "WA", "GS2010-001", "--citation", "CORE v5.0 p.9",
                                 "--by", "J. Doe"], env=env)
    assert result.exit_code == 0, result.output
    after = {s["key"]: s for s in yaml.safe_load(runner.invoke(cli, ["schedules", "show", "WA", "--json"],
                                                               env=env).output)["series"]}
    assert after["GS2010-001"]["blockers"] == [] and after["GS2010-001"]["status"] == "partial"
    assert after["GS2010-001"]["verified_by"] == "J. Doe"
    app = App(Settings(home=Path(env["ARCHIVER_HOME"])))
    with app.catalog.session() as s:
        entry = audit.entries(s, action_prefix="schedule.verify")[-1]
    assert entry.actor == "records-officer" and entry.subject == "series:WA:GS2010-001"
    assert entry.details["citation"] == "CORE v5.0 p.9"
    app.close()
    bad = runner.invoke(cli, ["schedules", "verify", "WA", "GS9", "--citation", "x", "--by", "y"], env=env)
    assert bad.exit_code != 0 and "No series 'GS9'" in bad.output


def test_check_names_file_series_and_field(tmp_path: Path, env: dict[str, str]) -> None:
    data = yaml.safe_load((FIXTURES / "KS_district.yaml").read_text())
    data["series"][0]["retention"] = "two years"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(cli, ["schedules", "check", str(bad)], env=env)
    assert result.exit_code == 1
    assert "error: bad.yaml: series USD999-SM-1: retention: Value error, 'two years' is not an ISO 8601" in result.output
    ok = CliRunner().invoke(cli, ["schedules", "check"], env=env)
    assert ok.exit_code == 0 and "note: KS.yaml: series: no series" in ok.output


def test_a_kansas_district_adopts_its_own_schedule(env: dict[str, str]) -> None:
    env = {**env, "ARCHIVER_STATE": "KS"}
    runner = CliRunner()
    result = runner.invoke(cli, ["schedules", "adopt", str(FIXTURES / "KS_district.yaml")], env=env)
    assert result.exit_code == 0, result.output
    listed = yaml.safe_load(runner.invoke(cli, ["schedules", "list", "--json"], env=env).output)
    ks = next(r for r in listed if r["state"] == "KS")
    assert ks["in_force"] and ks["district"] == "USD 999 Example" and ks["disposable"] == 1
    wrong = runner.invoke(cli, ["schedules", "adopt", str(FIXTURES / "KS_district.yaml")],
                          env={**env, "ARCHIVER_STATE": "WA"})
    assert wrong.exit_code != 0 and "state: KS is not this archive's state WA" in wrong.output
