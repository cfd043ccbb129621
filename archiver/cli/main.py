"""`archiver`: the root command and the list of command groups, nothing else.

Each command group lives in its own module under archiver/cli/ and is click wiring over
archiver/services only. To add a group: write archiver/cli/<name>.py with one click group (or
command), import it below and add one `cli.add_command(<name>)` line, keeping the list sorted.
"""

from __future__ import annotations

import click

from archiver.cli.accounts import accounts
from archiver.cli.audit import audit
from archiver.cli.catalog import catalog
from archiver.cli.config import config
from archiver.cli.daemon import daemon
from archiver.cli.demo import demo
from archiver.cli.export import export
from archiver.cli.holds import holds
from archiver.cli.items import items
from archiver.cli.poll import poll
from archiver.cli.requests import requests
from archiver.cli.retention import retention
from archiver.cli.schedules import schedules
from archiver.cli.search import search
from archiver.cli.serve import serve
from archiver.cli.users import users
from archiver.cli.vault_commands import init, keys, verify
from archiver.cli.warcs import warc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="district-social-archiver")
@click.option("-v", "--verbose", count=True, help="Log more (-v: progress, -vv: every request).")
def cli(verbose: int) -> None:
    """Records-retention archiver for a school district's official social media.

    All state lives under ARCHIVER_HOME (default ./archive); the catalog database is
    ARCHIVER_DATABASE_URL (default SQLite in the home).

    \b
    Example:
      archiver demo
      archiver items list --deleted
    """
    from archiver.core.log import setup_logging

    setup_logging(["WARNING", "INFO", "DEBUG"][min(verbose, 2)])


# One line per command group (help lists them alphabetically).
cli.add_command(init)
cli.add_command(config)
cli.add_command(accounts)
cli.add_command(poll)
cli.add_command(items)
cli.add_command(warc)
cli.add_command(catalog)
cli.add_command(demo)
cli.add_command(verify)
cli.add_command(keys)
cli.add_command(audit)
cli.add_command(daemon)
cli.add_command(requests)
cli.add_command(search)
cli.add_command(export)
cli.add_command(schedules)
cli.add_command(holds)
cli.add_command(retention)
cli.add_command(serve)
cli.add_command(users)


def main() -> None:
    cli(prog_name="archiver")


if __name__ == "__main__":
    main()
