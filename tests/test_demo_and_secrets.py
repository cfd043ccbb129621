"""The demo matches its sandbox timeline, and no token appears anywhere the archive writes."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.app import App
from archiver.cli.main import cli
from archiver.core.settings import Settings
from archiver.services.demo import run_demo
from connectors import CONNECTORS, load_sandbox


def _tokens() -> set[str]:
    tokens = set()
    for platform in CONNECTORS:
        sandbox = load_sandbox(platform)
        token = getattr(sandbox, "token", "") or ""
        if token:
            tokens.add(token)
    return tokens


def test_demo_numbers_match_the_sandbox_timeline(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home",
                        connectors={p: {"min_retry_seconds": 0.05} for p in CONNECTORS},
                        capture={"backoff_base": 0.01})
    app = App(settings)
    result = run_demo(app)
    app.close()
    assert result.expected["items"] > 0 and result.expected["deletions"] > 0 and result.expected["edits"] > 0
    for key in ("items", "edits", "deletions"):
        assert result.actual[key] == result.expected[key], key
    assert all(r.status == "complete" for cycle in result.cycles for r in cycle)
    if "facebook" in CONNECTORS:  # the two Pages and the scripted Graph timeline
        assert result.actual["posts"] >= 61 and result.actual["replies"] >= 4


def test_no_secret_in_warcs_catalog_logs_or_cli_output(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    env = {"ARCHIVER_HOME": str(home), "ARCHIVER_CAPTURE__BACKOFF_BASE": "0.01"}
    runner = CliRunner()
    # -vv: log every request (httpx at DEBUG), so the scan covers the chattiest logging.
    outputs = [runner.invoke(cli, ["-vv", "demo"], env=env, catch_exceptions=False)]
    assert outputs[0].exit_code == 0, outputs[0].output
    for args in (["items", "list", "--json"], ["accounts", "list", "--json"], ["config", "show"],
                 ["warc", "list"], ["catalog", "rebuild"]):
        outputs.append(runner.invoke(cli, args, env=env, catch_exceptions=False))
    tokens = _tokens()
    assert tokens
    texts = [o.output for o in outputs] + [r.getMessage() for r in caplog.records]
    blobs: list[bytes] = []
    for path in home.rglob("*"):
        if not path.is_file() or "demo-tokens" in path.parts:
            continue  # demo-tokens/ is where the demo keeps its token files, as a district would
        blobs.append(path.read_bytes())
    # The stored objects are encrypted: scan their plaintext too, as 'warc cat' gives it.
    import json

    for warc in json.loads(runner.invoke(cli, ["warc", "list", "--json"], env=env).stdout):
        cat = runner.invoke(cli, ["warc", "cat", warc["name"]], env=env)
        blobs.append(gzip.decompress(cat.stdout_bytes))
    assert any(b.startswith(b"WARC/1.1") for b in blobs)
    for token in tokens:
        assert not any(token in text for text in texts), "token in CLI output or logs"
        assert not any(token.encode() in blob for blob in blobs), "token in a stored file"
