"""A cycle reports how many revisit records it wrote (issue 12): RunReport.revisits, shown by
`archiver poll --once` and in its --json output, equal to the revisit records in its WARCs."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from warcio.archiveiterator import ArchiveIterator

from archiver.cli.main import cli
from archiver.sandbox.server import SandboxServer
from archiver.services.poll import RunReport
from connectors.facebook.sandbox import FacebookContract


def _revisits_in(home: Path, names: list[str]) -> int:
    count = 0
    for name in names:
        out = CliRunner().invoke(cli, ["warc", "cat", name], env={"ARCHIVER_HOME": str(home)})
        assert out.exit_code == 0, out.output
        data = out.stdout_bytes
        assert gzip.decompress(data)  # a whole gzipped WARC
        count += sum(r.rec_type == "revisit" for r in ArchiveIterator(io.BytesIO(data)))
    return count


def test_poll_reports_the_revisit_records_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archiver.cli import poll as poll_module

    # a terminal wide enough for every column (the narrow case is the next test)
    monkeypatch.setattr(poll_module, "console", Console(width=160, emoji=False, highlight=False))
    contract = FacebookContract()
    server = SandboxServer(contract.app).start()
    contract.bind(server.url)
    seeded = contract.seed_bulk(60)  # posts without pictures: byte-stable feed pages
    home = tmp_path / "home"
    env = {"ARCHIVER_HOME": str(home), "FB_TOKEN": seeded.token or ""}

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    try:
        assert run("accounts", "add", "facebook", seeded.raw_id, "--api-base", server.url,
                   "--token-env", "FB_TOKEN").exit_code == 0
        first = run("poll", "--once", "--json")
        assert first.exit_code == 0, first.output
        (report,) = json.loads(first.stdout)
        assert report["revisits"] == 0  # nothing stored before the first capture
        again = run("poll", "--once", "--reconcile", "--json")  # every listing read again, unchanged
        assert again.exit_code == 0, again.output
        (report,) = json.loads(again.stdout)
        assert 0 < report["revisits"] <= report["exchanges"]
        assert report["revisits"] == _revisits_in(home, report["warcs"])
        table = run("poll", "--once", "--reconcile")
        assert table.exit_code == 0, table.output
        header = next(line for line in table.stdout.splitlines() if "account" in line and "status" in line)
        row = next(line for line in table.stdout.splitlines() if f"facebook:{seeded.raw_id}" in line)
        cells = dict(zip(header.split(), row.split(), strict=True))
        assert int(cells["revisits"]) == report["revisits"] > 0
    finally:
        server.stop()


def test_the_revisits_column_is_the_first_to_go_on_a_narrow_terminal() -> None:
    from archiver.cli import poll as poll_module

    report = RunReport("facebook:1000001", "run", "complete", exchanges=120, revisits=97, new=0)
    original = poll_module.console
    try:
        for width, shown in ((120, True), (40, False)):
            poll_module.console = Console(width=width, record=True)
            poll_module.console.print(poll_module.run_table([report], "Capture cycle"))
            text = poll_module.console.export_text()
            assert ("revisits" in text and "97" in text) is shown, text
            assert "status" in text
    finally:
        poll_module.console = original
    assert report.as_dict()["revisits"] == 97  # what --json prints
