"""docs/cli.md is generated from the click commands; this fails the moment it is stale."""

from __future__ import annotations

from pathlib import Path

from archiver.cli.docgen import render

REPO = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current() -> None:
    assert (REPO / "docs" / "cli.md").read_text() == render(), (
        "docs/cli.md is stale: run  make docs")


def test_cli_reference_covers_every_command() -> None:
    from archiver.cli.main import cli

    text = render()
    for name, command in cli.commands.items():
        assert f"## archiver {name}\n" in text
        for sub in getattr(command, "commands", {}):
            assert f"## archiver {name} {sub}\n" in text
