"""Tokens are named, not stored: the catalog keeps "env:VAR" or "file:/path", read at poll time."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from archiver.core.errors import ConfigError, NeedsAttention


def token_ref(token_env: str | None, token_file: str | None) -> str:
    if token_env and token_file:
        raise ConfigError("Give either --token-env or --token-file, not both")
    if token_env:
        if not token_env.replace("_", "").isalnum():
            raise ConfigError(f"'{token_env}' is not a valid environment variable name")
        return f"env:{token_env}"
    if token_file:
        return f"file:{Path(token_file).expanduser().resolve()}"
    return ""


def read_token(ref: str, *, label: str) -> str | None:
    """The token named by `ref`, or None for platforms that need none."""
    if not ref:
        return None
    kind, _, name = ref.partition(":")
    if kind == "env":
        value = os.environ.get(name, "").strip()
        if not value:
            raise NeedsAttention(
                f"The token variable {name} for {label} is not set; export it before polling "
                "or re-register the account with --token-file"
            )
        return value
    if kind == "file":
        path = Path(name)
        try:
            mode = path.stat().st_mode
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise NeedsAttention(
                f"Cannot read the token file {path} for {label} ({exc.strerror}); "
                "check the path and its permissions"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise NeedsAttention(
                f"The token file {path} for {label} is readable by other users; run chmod 600 on it"
            )
        if not value:
            raise NeedsAttention(f"The token file {path} for {label} is empty")
        return value
    raise ConfigError(f"Unknown token reference for {label}; re-register the account")
