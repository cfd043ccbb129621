"""docs/cli.md is generated from the click commands; this fails the moment it is stale."""

from __future__ import annotations

from pathlib import Path

from archiver.cli.docgen import render

REPO = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current() -> None:
    assert (REPO / "docs" / "cli.md").read_text() == render(), (
        "docs/cli.md is stale: run  make docs")


def test_cli_reference_covers_every_command() -> None:
    import click

    from archiver.cli.main import COMMANDS, cli

    text = render()
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in cli.list_commands(ctx):  # the root group is lazy: its `commands` fill on use
        command = cli.get_command(ctx, name)
        assert f"## archiver {name}\n" in text
        for sub in getattr(command, "commands", {}):
            assert f"## archiver {name} {sub}\n" in text
