"""A mistyped ARCHIVER_HOME is refused, not mistaken for an empty archive (issue 9 item 9); a
deleted key file is never silently replaced, and nothing is captured without it (item 6)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.vault import KeyFileProvider
from tests.harness import Harness


def invoke(home: Path, *args: str, **env: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env={"ARCHIVER_HOME": str(home), **env})


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:")
    return lines[0]


READ_COMMANDS = [("items", "list"), ("items", "show", "x"), ("warc", "list"), ("warc", "cat", "x.warc.gz"),
                 ("accounts", "list"), ("accounts", "check"), ("poll", "--once"), ("verify", "--all"),
                 ("catalog", "rebuild"), ("keys", "rotate"), ("keys", "init"), ("daemon",)]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_commands_refuse_a_home_without_an_archive(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "archvie"
    line = one_line_error(invoke(typo, *args))
    assert "holds no archive" in line and str(typo) in line and "archiver init" in line
    assert not typo.exists()  # nothing was created
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no archive" in one_line_error(invoke(empty, *args))
    assert list(empty.iterdir()) == []


def test_init_and_accounts_add_create_an_archive(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = invoke(home, "init")
    assert made.exit_code == 0 and "created an archive" in made.output
    assert (home / "keys" / "kek.json").exists()
    listed = invoke(home, "items", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    again = invoke(home, "init")
    assert again.exit_code == 0 and "already holds an archive" in again.output
    other = tmp_path / "other"
    added = invoke(other, "accounts", "add", "facebook", "1000001", "--token-env", "FB_TOKEN")
    assert added.exit_code == 0, added.output
    assert (other / "keys" / "kek.json").exists()
    assert invoke(other, "accounts", "list").exit_code == 0


@pytest.fixture
def h(tmp_path: Path):  # type: ignore[no-untyped-def]
    h = Harness(tmp_path, "facebook")
    assert h.poll().status == "complete"
    yield h
    h.close()


def counts(h: Harness) -> tuple[int, int, int]:
    with h.app.catalog.session() as s:
        runs = s.scalar(select(func.count()).select_from(t.CaptureRun)) or 0
        warcs = s.scalar(select(func.count()).select_from(t.WarcFile)) or 0
    return int(runs), int(warcs), len(list(h.app.store.keys("warc/")))


def test_a_deleted_key_file_is_never_replaced_and_nothing_is_captured(h: Harness, tmp_path: Path) -> None:
    key_file = h.home / "keys" / "kek.json"
    backup = tmp_path / "kek-backup.json"
    shutil.copy2(key_file, backup)
    key_file.unlink()
    before = counts(h)
    with h.app.catalog.session() as s:
        name = s.scalar(select(t.WarcFile.name))
    env = {"ARCHIVER_CONNECTORS__FACEBOOK__API_BASE": h.server.url}
    for args in (("warc", "cat", name), ("poll", "--once"), ("verify", "--all"), ("keys", "init"),
                 ("daemon",), ("keys", "rotate")):
        line = one_line_error(invoke(h.home, *args, **env))
        assert "restore" in line and "kek.json" in line, (args, line)
        assert not key_file.exists(), args
    added = invoke(h.home, "accounts", "add", "facebook", "1000002", "--token-env", "FB_TOKEN")
    assert added.exit_code == 0 and not key_file.exists()  # an existing archive gets no new key
    assert counts(h) == before  # nothing was captured, stored or catalogued

    shutil.copy2(backup, key_file)  # restoring the backup brings everything back
    cat = CliRunner().invoke(cli, ["warc", "cat", name], env={"ARCHIVER_HOME": str(h.home)})
    assert cat.exit_code == 0 and cat.stdout_bytes[:2] == b"\x1f\x8b"


def test_a_key_file_lacking_the_catalogs_keys_stops_capture(h: Harness, tmp_path: Path) -> None:
    key_file = h.home / "keys" / "kek.json"
    key_file.unlink()
    KeyFileProvider(key_file)  # another archive's key file (or an older backup) put in its place
    before = counts(h)
    line = one_line_error(invoke(h.home, "poll", "--once", ARCHIVER_CONNECTORS__FACEBOOK__API_BASE=h.server.url))
    assert "lacks key" in line and "restore the key file" in line
    assert counts(h) == before


def test_keys_init_force_is_the_only_way_past_a_lost_key_file(h: Harness) -> None:
    key_file = h.home / "keys" / "kek.json"
    key_file.unlink()
    forced = invoke(h.home, "keys", "init", "--force")
    assert forced.exit_code == 0 and key_file.exists()
    assert invoke(h.home, "keys", "init").output.strip().endswith("already exists; nothing changed")
