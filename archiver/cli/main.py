"""`archiver`: the root command and the list of command groups, nothing else.

Each command group lives in its own module under archiver/cli/ and is click wiring over
archiver/services only. To add a group: write archiver/cli/<name>.py with one click group (or
command) and add one line to COMMANDS below (module, attribute, the first paragraph of its
help), keeping the list sorted. Group modules import click, rich and archiver.cli.common at
the top and everything else (services, the App) inside the command functions, so that
starting one command does not import every layer.
"""

from __future__ import annotations

import gc
import importlib

import click

# name -> (module, attribute, the first paragraph of the command's help). Each group's module
# is imported only when that command runs (or its own --help is asked for), so `archiver
# --help` and every command pay only for what they use; the summary is what `archiver --help`
# lists, kept here so listing does not import every group (tests/cli/test_lazy_cli.py fails
# when one differs from the command's own help). Sorted by name.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "accounts": ("archiver.cli.accounts", "accounts", "Register and check the district's accounts."),
    "audit": ("archiver.cli.audit", "audit",
              "The audit log: holds, verifications, dispositions, records requests (who, when, what)."),
    "catalog": ("archiver.cli.catalog", "catalog", "Maintain the metadata catalog."),
    "config": ("archiver.cli.config", "config", "Inspect the effective configuration."),
    "daemon": ("archiver.cli.daemon", "daemon",
               "Capture every account on a schedule until stopped (SIGTERM or Ctrl-C)."),
    "demo": ("archiver.cli.demo", "demo",
             "Run the bundled sandbox platforms on 127.0.0.1 and capture them three times."),
    "export": ("archiver.cli.export", "export",
               "Public records export packages (made by 'archiver requests export')."),
    "holds": ("archiver.cli.holds", "holds",
              "Holds stop disposition and put the affected objects under legal hold."),
    "init": ("archiver.cli.vault_commands", "init",
             "Create an archive in ARCHIVER_HOME: folders, catalog and (without KMS) the key file."),
    "items": ("archiver.cli.items", "items", "Search and show captured posts, comments and replies."),
    "keys": ("archiver.cli.vault_commands", "keys", "Manage the keys that protect every object's data key."),
    "migrate": ("archiver.cli.migrate", "migrate",
                "Upgrade the catalog's schema to the newest revision (a no-op when it is current)."),
    "poll": ("archiver.cli.poll", "poll",
             "Capture every registered account once (the daemon runs the same code on a schedule)."),
    "requests": ("archiver.cli.requests", "requests",
                 "Public records requests: deadlines, responsive items, review, redaction, export."),
    "retention": ("archiver.cli.retention", "retention",
                  "What may be destroyed, what is held and why, and what was destroyed on whose approval."),
    "schedules": ("archiver.cli.schedules", "schedules",
                  "State retention schedules, the district's adopted schedule, and verification."),
    "search": ("archiver.cli.search", "search", "Find items whose any version matches QUERY, best first."),
    "serve": ("archiver.cli.serve", "serve",
              "Serve the web console: search, threads, requests to the package, holds, retention, audit."),
    "status": ("archiver.cli.status", "status", "Is every account being captured? Workers, open alerts, scheduled jobs."),
    "users": ("archiver.cli.users", "users", "Console users and roles: records-officer, clerk, auditor, operator."),
    "verify": ("archiver.cli.vault_commands", "verify", "Re-read stored WARCs and prove they are intact (fixity)."),
    "warc": ("archiver.cli.warcs", "warc", "List stored WARC files and print their bytes."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (see COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _summary = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command), f"{module}.{attribute} is not a click command"
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's own listing, from the summaries in COMMANDS (no group is imported)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in COMMANDS:
                summary = click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)
            else:
                command = self.commands[name]
                if command.hidden:
                    continue
                summary = command.get_short_help_str(limit)
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    from archiver.cli.common import fit_consoles
    from archiver.core.log import setup_logging

    setup_logging(["WARNING", "INFO", "DEBUG"][min(verbose, 2)])
    fit_consoles()


def main() -> None:
    """The `archiver` script. The cyclic garbage collector is off while the command imports its
    libraries (SQLAlchemy's import makes tens of thousands of objects and triggers collections
    that find nothing to free: 10-15% of a read command's start-up) and back on, with what was
    built frozen out of later collections, once the command has its catalog
    (archiver.cli.common.startup_done, called by get_app). A command that opens no catalog
    calls startup_done itself (config show, export verify, demo, schedules check)."""
    gc.disable()
    cli(prog_name="archiver")


if __name__ == "__main__":
    main()
