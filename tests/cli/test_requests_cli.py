"""`archiver search` and `archiver requests` as an officer types them: JSON, tables, one-line errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.app import App
from archiver.cli.main import cli
from archiver.core.settings import Settings
from tests.catalog.search_corpus import seed


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    app = App(Settings(home=home))
    with app.catalog.session() as s:
        seed(s)
    app.close()
    env = {"ARCHIVER_HOME": str(home), "ARCHIVER_ACTOR": "officer", "COLUMNS": "100"}

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def _one_error_line(result, text: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.stderr


def test_search_prints_ranked_hits_with_context_and_marks(run) -> None:  # type: ignore[no-untyped-def]
    out = run("search", '"contract details"')
    assert out.exit_code == 0, out.output
    assert "1 items match" in out.output and "reply r1" in out.output
    assert "in post p1: Board meeting tonight" in out.output and "in comment c1" in out.output
    data = json.loads(run("search", "script", "--json").output)
    assert data["hits"][0]["text"] == "Spring concert 🎵 tickets on sale <script>alert(1)</script>"
    assert data["hits"][0]["marked"].endswith("<[script]>alert(1)</[script]>")
    text = run("search", "script").output
    assert "<script>alert(1)</script>" in text  # shown as text, not interpreted
    old = json.loads(run("search", "busses", "--edited", "--json").output)["hits"][0]
    assert old["id"] == "c2" and old["matched_versions"] == [1]


def test_search_errors_are_one_line(run) -> None:  # type: ignore[no-untyped-def]
    _one_error_line(run("search", '"bus contract'), "unclosed quote")
    _one_error_line(run("search", "bus OR"), "'OR' without a word")
    bad_date = run("search", "bus", "--since", "March")
    assert bad_date.exit_code != 0 and "March" in bad_date.output


def test_a_request_end_to_end_from_the_cli(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    opened = json.loads(run("requests", "open", "--requester", "Pat Doe", "--received", "2026-11-25",
                            "--description", "bus contract comments", "--state", "MI", "--json").output)
    rid = opened["id"]
    assert opened["due"] == "2026-12-03" and opened["due_latest"] == "2026-12-04"
    assert "MCL 15.235(2)" in opened["rule"]
    added = run("requests", "add", rid, "--query", '"bus contract" OR busses', "--kind", "comment")
    assert added.exit_code == 0 and "2 items added" in added.output
    items = json.loads(run("requests", "items", rid, "--json").output)
    assert sorted(i["id"] for i in items) == ["c1", "c2"]
    roster = tmp_path / "roster.csv"
    roster.write_text("name\nAcme Transit\n", encoding="utf-8")
    review = json.loads(run("requests", "review", rid, "--roster", str(roster), "--json").output)
    assert {(f["item_id"], f["kind"]) for f in review} >= {("c1", "student-name"), ("c2", "phone")}
    ok = run("requests", "redact", rid, "--item", "c2", "--text", "555-201-7788",
             "--exemption", "MCL 15.243(1)(a)")
    assert ok.exit_code == 0 and "1 redactions" in ok.output
    assert run("requests", "withhold", rid, "--item", "c1", "--exemption", "MCL 15.243(1)(a)").exit_code == 0
    assert run("requests", "release", rid, "--item", "c1").exit_code == 0
    assert run("requests", "extend", rid, "--until", "2026-12-17", "--reason", "volume").exit_code == 0
    listing = json.loads(run("requests", "list", "--json").output)
    assert [r["id"] for r in listing] == [rid] and listing[0]["due"] == "2026-12-17"
    assert run("requests", "close", rid, "--outcome", "partially-released").exit_code == 0
    shown = json.loads(run("requests", "show", rid, "--json").output)
    assert [a["action"] for a in shown["audit"]] == [
        "request.open", "request.search", "request.add", "request.review", "request.redact",
        "request.withhold", "request.release", "request.extend", "request.close"]
    assert shown["status"] == "closed" and shown["outcome"] == "partially-released"
    text = run("requests", "show", rid).output
    assert "request.close" in text and "MCL 15.235(2)" in text
    assert run("requests", "list").exit_code == 0 and rid in run("requests", "list", "--all").output


def test_request_bad_input_is_one_line_each(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    future = date.today().replace(year=date.today().year + 1).isoformat()
    _one_error_line(run("requests", "open", "--requester", "A", "--received", future,
                        "--description", "d"), "in the future")
    _one_error_line(run("requests", "show", "PRR-1999-0001"), "No request has the id")
    rid = json.loads(run("requests", "open", "--requester", "A", "--received", "2026-12-01",
                         "--description", "d", "--json").output)["id"]
    _one_error_line(run("requests", "add", rid, "--item", "nope"), "No captured item")
    _one_error_line(run("requests", "add", rid, "--query", "(bus"), "unclosed '('")
    roster = tmp_path / "bad.csv"
    roster.write_text("first_name,last_name\nPat\n", encoding="utf-8")
    run("requests", "add", rid, "--item", "c1")
    _one_error_line(run("requests", "review", rid, "--roster", str(roster)), "row 2")
    _one_error_line(run("requests", "redact", rid, "--item", "c1", "--text", "not there",
                        "--exemption", "RCW 42.56.230(1)"), "does not appear")
    assert json.loads(run("requests", "items", rid, "--json").output)[0]["id"] == "c1"


def test_platform_and_requester_text_prints_as_text(run) -> None:  # type: ignore[no-untyped-def]
    rid = json.loads(run("requests", "open", "--requester", "[red]Pat[/red]\x1b[2J", "--received",
                         "2026-12-01", "--description", "[link=file:///etc/passwd]x[/link]",
                         "--json").output)["id"]
    shown = run("requests", "show", rid).output
    assert "requester: [red]Pat[/red]␛[2J" in shown and "[link=file:///etc/passwd]x[/link]" in shown
