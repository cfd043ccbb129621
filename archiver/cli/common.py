"""What every command shares: building the App once, printing JSON or tables, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console

from archiver.app import App
from archiver.core.errors import ArchiverError
from archiver.core.settings import load_settings

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


def get_app(ctx: click.Context) -> App:
    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        obj["app"] = App(load_settings())
        ctx.call_on_close(obj["app"].close)
    return obj["app"]


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def error_line(message: str) -> None:
    """One unwrapped line on stderr, whatever the terminal width, so scripts can grep it."""
    click.secho(f"error: {message}", fg="red", err=True)


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
