"""Quota budgets in `archiver status` and the 'budget' alert (issues 12 part 4, 14 part 4),
through the YouTube sandbox, whose units are the clearest case: spent (as the sandbox counts
it), left and the reset time per credential, the warning when the accounts cannot all fit at
the poll interval (and how many fit), one alert when less than 10% is left, cleared (once)
after the reset."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from archiver.cli.main import cli
from archiver.core.clock import ManualClock
from archiver.services import alerts
from archiver.services.status import status
from tests.harness import Harness

PACIFIC = ZoneInfo("America/Los_Angeles")


def _units(path: str) -> int:
    """YouTube's documented prices, independent of the archiver's table: list 1, search 100."""
    if not path.startswith("/youtube/v3/"):
        return 0
    return 100 if path.rstrip("/").endswith("/search") else 1


def _budget_alerts(h: Harness) -> list[str]:
    return [a.subject for a in alerts.open_alerts(h.app) if a.kind == "budget"]


def test_status_shows_each_credentials_budget_and_a_budget_alert_is_raised_once_and_cleared(tmp_path: Path) -> None:
    h = Harness(tmp_path, "youtube", settings={"connectors": {"youtube": {
        "api_base": "", "min_retry_seconds": 0.05, "page_limit": 25, "budget": {"limit": 10_000}}}})
    try:
        h.app.settings.connectors["youtube"].api_base = h.server.url
        report = h.poll()
        assert report.status == "complete", report.message
        units = sum(_units(r.path) for r in h.server.requests)
        assert units > 0
        st = status(h.app)
        [budget] = st.budgets
        assert (budget.platform, budget.unit, budget.period) == ("youtube", "units", "day")
        assert budget.spent == units and budget.usable == 9_500 and budget.remaining == 9_500 - units
        reset = budget.resets_at.astimezone(PACIFIC)
        assert (reset.hour, reset.minute) == (0, 0) and timedelta(0) < budget.resets_at - h.app.clock.now() <= timedelta(days=1)
        assert st.accounts[0].budget == f"{9_500 - units:,}/9,500 left"
        assert alerts.reconcile(h.app, kinds=["budget"]) == (0, 0)

        # A budget that leaves under 10% after this spending: one alert, not one per evaluation.
        limit = math.ceil(units * 1.05 / 0.95)
        h.app.settings.connectors["youtube"].budget = {"limit": limit}
        st = status(h.app)
        [budget] = st.budgets
        assert budget.remaining < budget.usable * 0.1
        # 96 captures a day at the 15-minute interval need 96 times this one's units: none fit.
        assert budget.fit == 0 and budget.accounts == 1
        assert "0 of 1 fit" in budget.warning and f"{units * 96:,}" in budget.warning
        assert alerts.reconcile(h.app, kinds=["budget"]) == (1, 0)
        assert alerts.reconcile(h.app, kinds=["budget"]) == (0, 0)
        assert _budget_alerts(h) == [f"youtube:{budget.credential}"]
        assert "nearly spent" in alerts.open_alerts(h.app)[0].message

        # `archiver status` shows it, in 80 columns and as JSON.
        env = {"ARCHIVER_HOME": str(h.home), "COLUMNS": "80",
               "ARCHIVER_CONNECTORS__YOUTUBE__BUDGET": json.dumps({"limit": limit})}
        runner = CliRunner()
        shown = runner.invoke(cli, ["status"], env=env, terminal_width=80)
        assert shown.exit_code == 0, shown.output
        assert max(len(line) for line in shown.output.splitlines()) <= 80
        assert "Quota budgets" in shown.output and f"youtube {budget.credential}" in shown.output
        assert f"{budget.remaining:,}/{budget.usable:,}" in shown.output and "0 of 1 fit" in shown.output
        as_json = json.loads(runner.invoke(cli, ["status", "--json"], env=env).output)
        [line] = as_json["budgets"]
        assert (line["spent"], line["remaining"], line["fit"], line["accounts"]) == (units, budget.remaining, 0, 1)
        assert line["resets_at"] == budget.resets_at.isoformat()
        assert [a["kind"] for a in as_json["alerts"]] == ["budget"]

        # After the reset the credential has its whole budget again: the alert clears, once.
        h.app.clock = ManualClock(budget.resets_at + timedelta(minutes=1))
        assert status(h.app).budgets[0].spent == 0
        assert alerts.reconcile(h.app, kinds=["budget"]) == (0, 1)
        assert alerts.reconcile(h.app, kinds=["budget"]) == (0, 0)
        assert _budget_alerts(h) == []
    finally:
        h.close()


def test_the_budget_alert_threshold_is_a_setting(tmp_path: Path) -> None:
    h = Harness(tmp_path, "youtube", settings={
        "alerts": {"budget_alert_pct": 0},
        "connectors": {"youtube": {"api_base": "", "min_retry_seconds": 0.05, "page_limit": 25,
                                   "budget": {"limit": 10_000}}}})
    try:
        h.app.settings.connectors["youtube"].api_base = h.server.url
        h.poll()
        spent = status(h.app).budgets[0].spent
        h.app.settings.connectors["youtube"].budget = {"limit": math.ceil(spent * 1.05 / 0.95)}
        assert alerts.reconcile(h.app, kinds=["budget"]) == (0, 0)  # 0: off
        h.app.settings.alerts.budget_alert_pct = 10
        assert alerts.reconcile(h.app, kinds=["budget"]) == (1, 0)
    finally:
        h.close()
