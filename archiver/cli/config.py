"""`archiver config`: what the archiver will actually use, secrets masked."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from archiver.cli.common import console, handle_errors, print_json, startup_done


@click.group()
def config() -> None:
    """Inspect the effective configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@handle_errors
def config_show(as_json: bool) -> None:
    """Print the effective settings (defaults < archiver.toml < ARCHIVER_*), secrets masked.

    \b
    Example:
      ARCHIVER_HOME=/srv/archive archiver config show
    """
    from archiver.app import App
    from archiver.core.settings import load_settings

    settings = load_settings()
    startup_done()  # no catalog to wait for (see archiver.cli.main.main)
    App(settings)  # each [connectors.<platform>] section is checked by its connector's model
    data = settings.masked()
    if as_json:
        print_json(data)
        return
    table = Table("setting", "value", title="Effective configuration")
    for key, value in _flatten(data):
        table.add_row(key, str(value))
    console.print(table)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, value))
    return rows
