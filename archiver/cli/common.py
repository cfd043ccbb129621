"""What every command shares: building the App once, printing JSON or tables, one-line errors."""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from archiver.cli.safe_text import one_line
from archiver.core.errors import ArchiverError

if TYPE_CHECKING:
    from archiver.app import App
    from archiver.catalog.lite import Catalog
    from archiver.core.plain_settings import PlainSettings

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# Platform text never reaches these as markup (see safe_text); emoji codes and rich's
# highlighter are off so ":x:" or a URL in a comment prints as the record has it.
console = Console(emoji=False, highlight=False)
err_console = Console(stderr=True, emoji=False, highlight=False)


def fit_consoles() -> None:
    """Take COLUMNS as this command finds it. rich reads it once, when a console is made (at
    this module's import), so a second command in one process (the console's or a test's
    CliRunner) drew tables at the first one's width: 200 columns where 80 were asked for."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        console.width = err_console.width = int(columns)


def startup_done() -> None:
    """Turn the garbage collector back on if archiver.cli.main.main turned it off for start-up,
    moving what start-up built (modules, classes, mappers) out of its generations, so later
    collections do not walk it again. Called when a command has its catalog (get_app, the
    driver-only read path) and by the commands that have none (they may run long)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def get_app(ctx: click.Context, *, create: bool = False, require: bool = True,
            migrate: bool = False) -> App:
    """The App for ARCHIVER_HOME. Only commands that may create an archive pass `create`
    (or `require=False`, the demo, which makes its own); every other command refuses a home
    that holds none (a mistyped ARCHIVER_HOME). Only `migrate`, capture and the daemon (and
    `create`) upgrade the catalog's schema; the others refuse an older one in one line."""
    from archiver.app import App
    from archiver.core.plain_settings import load_settings
    from archiver.services.archive_home import create_archive, require_archive

    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        settings = load_settings()
        if require and not create:
            require_archive(settings)
        obj["app"] = App(settings, migrate=migrate or create or not require)
        ctx.call_on_close(obj["app"].close)
        startup_done()
        if create:
            create_archive(obj["app"])
    return obj["app"]


def driver_read(ctx: click.Context, read: Callable[[ModuleType, Catalog, PlainSettings], T | None]) -> T | None:
    """`read` without SQLAlchemy when the settings are plain and the catalog URL is a plain
    SQLite or PostgreSQL one (archiver.catalog.lite, given as `read`'s first argument: `items
    list` 0.15 s of CPU where the full path takes 0.6-0.7 s); None when the full path must
    answer (it reads, or refuses, as always)."""
    if "app" in ctx.ensure_object(dict):  # a caller (the console, a test) already holds one
        return None
    from archiver.core.plain_settings import read_plain

    settings = read_plain()
    # An archive's home has its marker (or the full path says it holds none, in its words).
    if settings is None or not (settings.home / ".archiver-home").is_file():
        return None
    from archiver.catalog import lite

    catalog = lite.catalog_at(settings.catalog_url)
    if catalog is None:
        return None
    settings.ensure_home()  # as App.catalog does: a home this user cannot write is refused
    startup_done()
    return read(lite, catalog, settings)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def error_line(message: str) -> None:
    """One unwrapped line on stderr, whatever the terminal width, so scripts can grep it.
    Platform text inside the message (an API's error text, a name) has its controls shown."""
    click.secho(f"error: {one_line(message)}", fg="red", err=True)


def handle_errors(func: F) -> F:
    """Turn any ArchiverError into one clear line on stderr and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchiverError as exc:
            error_line(exc.message)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]  # same signature as func, which mypy cannot see through wraps
