"""Write the CLI reference (docs/cli.md) from the click commands themselves.

    python -m archiver.cli.docgen > docs/cli.md

A test regenerates it and fails when docs/cli.md differs, so the reference cannot drift
from the commands. The text is each command's own --help, so it also proves help renders.
"""

from __future__ import annotations

import click

from archiver.cli.main import cli

WIDTH = 100
HEADER = """# CLI reference

Generated from the click commands by `make docs` (`python -m archiver.cli.docgen > docs/cli.md`); a test
fails when this file is stale. Every command prints the same text with `--help`.
"""


def _sections(command: click.Command, name: str, parent: click.Context | None) -> list[str]:
    """This command's help (as `--help` prints it at a fixed width), then its subcommands'."""
    settings = {**command.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    ctx = click.Context(command, info_name=name, parent=parent, **settings)
    title = ctx.command_path
    found = [f"## {title}\n\n```\n{command.get_help(ctx).rstrip()}\n```\n"]
    if isinstance(command, click.Group):  # list_commands/get_command: the root group is lazy
        for sub in sorted(command.list_commands(ctx)):
            subcommand = command.get_command(ctx, sub)
            assert subcommand is not None
            found.extend(_sections(subcommand, sub, ctx))
    return found


def render() -> str:
    return "\n".join([HEADER, *_sections(cli, "archiver", None)])


def main() -> None:
    click.echo(render(), nl=False)


if __name__ == "__main__":
    main()
