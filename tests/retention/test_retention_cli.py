"""`archiver retention plan|show|apply|certificates` on the local store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from archiver.cli.main import cli
from tests.harness import Harness


def test_plan_show_and_apply_refusals_from_the_cli(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()
        victim = next(i for i, row in h.items().items() if row.kind == "post")
        h.sandbox.delete(victim)
        h.poll()
    finally:
        h.close()
    env = {"ARCHIVER_HOME": str(h.home), "ARCHIVER_ACTOR": "officer"}
    runner = CliRunner()
    plan = json.loads(runner.invoke(cli, ["retention", "plan", "--json"], env=env).output)
    assert plan["summary"]["held"] > 0 and not [o for o in plan["objects"] if o["eligible"]]
    rows = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["retention", "plan", "--csv"], env=env).output)))
    mine = next(r for r in rows if r["item_id"] == victim)
    assert mine["series"] == "GS2010-001" and "held for verification" in mine["reasons"]
    shown = runner.invoke(cli, ["retention", "show", victim], env=env)
    assert shown.exit_code == 0, shown.output
    assert "GS2010-001: default series for post" in shown.output
    assert "law:          WA Digital Archives retention API record" in shown.output
    detail = json.loads(runner.invoke(cli, ["items", "show", victim, "--json"], env=env).output)
    assert detail["retention"]["series"] == "GS2010-001" and detail["retention"]["retain_until"]
    text = runner.invoke(cli, ["items", "show", victim], env=env).output
    assert "retention: series GS2010-001 (WA), by rule: GS2010-001: default series for post" in text
    table = runner.invoke(cli, ["retention", "plan", "--as-of", "2031-01-01"], env=env)
    assert table.exit_code == 0 and "Over-retention from shared objects" in table.output
    future = runner.invoke(cli, ["retention", "apply", "--approve", "J. Doe", "--as-of", "2031-01-01"], env=env)
    assert future.exit_code != 0 and "future date" in future.output
    unsigned = runner.invoke(cli, ["retention", "apply", "--approve", "J. Doe"], env=env)
    assert unsigned.exit_code != 0 and "keys init-export" in unsigned.output
    missing = runner.invoke(cli, ["retention", "apply"], env=env)
    assert missing.exit_code != 0 and "--approve" in missing.output
    listed = runner.invoke(cli, ["retention", "certificates", "--json"], env=env)
    assert json.loads(listed.output) == []
