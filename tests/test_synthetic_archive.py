"""bench/synthetic.py makes an archive the real CLI reads, whose records agree with its rows."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text
from warcio.archiveiterator import ArchiveIterator

from archiver.app import App
from archiver.cli.main import cli
from archiver.core.settings import Settings
from archiver.preservation.rebuild import rebuild
from bench.synthetic import generate


def test_synthetic_archive_reads_back_through_the_cli(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "synthetic"
    app = App(Settings(home=home, database_url=database_url))
    summary = generate(app, items=500, accounts=2, seed=3)
    assert (summary.items, summary.accounts, summary.warc_files) == (500, 2, 4)
    assert summary.versions > summary.items and summary.tombstones >= 2  # 5% edited, 1% deleted
    if app.catalog.engine.dialect.name == "postgresql":  # analyzed, as autovacuum would have
        with app.catalog.engine.connect() as conn:
            assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'items'")).scalar() == 500

    env = {"ARCHIVER_HOME": str(home), "ARCHIVER_DATABASE_URL": database_url}

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    listed = json.loads(run("items", "list", "--limit", "600", "--json"))
    assert len(listed) == 500
    assert {r["account"] for r in listed} == set(summary.account_labels)
    assert sum(r["deleted"] for r in listed) == summary.tombstones
    other = summary.account_labels[1]
    assert {r["account"] for r in json.loads(run("items", "list", "--account", other, "--json"))} == {other}

    edited = json.loads(run("items", "show", summary.sample_items["edited"], "--json"))
    assert edited["versions"] == 2 and edited["observations"] == 2
    deleted = json.loads(run("items", "show", summary.sample_items["deleted"], "--json"))
    assert deleted["deleted"] and deleted["tombstone"]["evidence"]["record_id"].startswith("<urn:uuid:")

    # The version's pointer leads to a response record that holds the copy's own id, and every
    # record of the WARC passes warcio's own digest check.
    pointer = edited["version_history"][1]["warc"]
    data = CliRunner().invoke(cli, ["warc", "cat", pointer["file"]], env=env).stdout_bytes
    record = next(iter(ArchiveIterator(io.BytesIO(data[pointer["offset"]:pointer["offset"] + pointer["length"]]))))
    assert record.rec_headers.get_header("WARC-Record-ID") == pointer["record_id"]
    assert summary.sample_items["edited"].encode() in record.content_stream().read()
    it = ArchiveIterator(io.BytesIO(data), check_digests="raise")
    assert sum(1 for r in it if r.raw_stream.read() is not None) > 100

    report = json.loads(run("verify", "--all", "--json"))
    assert report["ok"] and report["counts"] == {"ok": 4}

    # The rows are what indexing the rewritten WARCs gives: a rebuild finds no difference.
    assert rebuild(app).equal
    app.close()
