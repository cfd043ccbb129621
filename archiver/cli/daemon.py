"""`archiver daemon`: the same capture as `poll`, on a schedule."""

from __future__ import annotations

import click

from archiver.cli.common import get_app, handle_errors


@click.command()
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              help="Timestamped text lines, or one JSON object per line.")
@click.pass_context
@handle_errors
def daemon(ctx: click.Context, log_format: str) -> None:
    """Capture every account on a schedule until stopped (SIGTERM or Ctrl-C).

    Each account is polled every daemon.poll_interval_minutes (default 15); throttled
    accounts wait as the platform asked. On stop, the account being captured is finished.

    \b
    Example:
      ARCHIVER_DAEMON__POLL_INTERVAL_MINUTES=10 archiver daemon
    """
    from archiver.core.log import setup_logging
    from archiver.daemon.scheduler import run_daemon

    app = get_app(ctx, migrate=True)  # the daemon's start upgrades the catalog's schema
    setup_logging(app.settings.log_level, json_lines=log_format == "json")
    run_daemon(app)
