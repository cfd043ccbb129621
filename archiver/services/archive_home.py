"""Which folder holds an archive, and the only ways one (and its key file) come into being.

A mistyped ARCHIVER_HOME must never answer "0 items" from a new empty archive, and a deleted
key file must never be silently replaced by a new one (the next capture would be encrypted
under a key the backup does not hold). So read commands refuse a home without an archive,
and a key file is created only by `archiver init`, `archiver keys init`, or the first
`accounts add` / `demo` in a brand-new home.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.core.errors import ConfigError, MissingKey

if TYPE_CHECKING:
    from archiver.core.settings import Settings

MARKER = ".archiver-home"
# What an archive made before the marker existed always has at least one of.
_ARCHIVE_SIGNS = (MARKER, "catalog.sqlite", "spool", "store", "keys")


def holds_archive(settings: Settings) -> bool:
    home = settings.home
    return home.is_dir() and any((home / sign).exists() for sign in _ARCHIVE_SIGNS)


def require_archive(settings: Settings) -> None:
    """ConfigError unless ARCHIVER_HOME holds an archive (read commands never create one)."""
    if not holds_archive(settings):
        raise ConfigError(
            f"ARCHIVER_HOME {settings.home} holds no archive (mistyped, or run from another "
            "folder?); point ARCHIVER_HOME at the archive, or run 'archiver init' to create one there"
        )


@dataclass(frozen=True)
class HomeReport:
    home: Path
    created: bool  # a new archive was made
    key_file: Path | None  # the key file, when this archive uses one
    key_created: bool


def create_archive(app: App) -> HomeReport:
    """Open the archive in ARCHIVER_HOME, creating it (and its key file) if there is none.

    An existing archive is never given a new key file: if its key file is missing, that is
    reported when a key is needed, with the advice to restore it.
    """
    settings = app.settings
    existed = holds_archive(settings)
    settings.ensure_home()
    marker = settings.home / MARKER
    if not marker.exists():
        marker.write_text("an archive of the district social media archiver\n")
    _ = app.catalog  # creates the catalog schema
    key_created = False
    if not existed and not settings.vault.kms_key_id and not settings.key_file.exists():
        key_created = init_key_file(app) is not None
    key_file = None if settings.vault.kms_key_id else settings.key_file
    return HomeReport(settings.home, not existed, key_file, key_created)


def keys_needed(app: App) -> bool:
    """Whether anything in this archive was encrypted under a key-file key (catalog rows,
    encrypted spool files or stored objects): then a new key file would be the wrong one."""
    from archiver.preservation.outbox import ENC_SUFFIX

    with app.catalog.session() as s:
        if s.scalar(select(t.WarcFile.id).where(t.WarcFile.key_id.like("kf-%")).limit(1)) is not None:
            return True
    spool = app.settings.spool_dir
    if spool.is_dir() and next(spool.glob(f"*{ENC_SUFFIX}"), None) is not None:
        return True
    return next((k for k in app.store.keys("warc/") if k.endswith(ENC_SUFFIX)), None) is not None


def init_key_file(app: App, *, force: bool = False) -> Path | None:
    """Create the key file; None if it already exists. Refused when the archive already holds
    objects encrypted under a key file (restore that one instead), unless `force` (the old
    key file is lost for good: those objects stay unreadable, new ones use the new key)."""
    settings = app.settings
    if settings.vault.kms_key_id:
        raise ConfigError("This archive uses AWS KMS (vault.kms_key_id); it has no key file to create")
    path = settings.key_file
    if path.exists():
        return None
    if not force and keys_needed(app):
        raise MissingKey(
            f"Key file {path} is missing but this archive holds objects encrypted under it; restore "
            "the key file from backup (a new key could not read them)"
        )
    from archiver.vault import KeyFileProvider

    KeyFileProvider(path, create=True)
    return path
