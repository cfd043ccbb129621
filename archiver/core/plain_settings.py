"""The settings a read command needs, read without pydantic when the configuration is plain.

Importing pydantic and pydantic-settings and building the Settings models costs about 0.13 s
of CPU, a third of what `archiver items list` may spend in all (issue 13: read commands under
0.3 s). Most archives set a handful of top-level strings (home, database URL, district,
state): `read_plain` reads exactly those, from ARCHIVER_* variables and the TOML file, with
the same precedence and the same derived paths as `Settings`, and answers None as soon as it
meets anything else (a section, a nested variable, a value that is not a plain string, a file
it cannot parse). The caller then builds the full `Settings`, which validates and reports as
it always did, so every error is the one the full settings give.

This module imports neither pydantic nor SQLAlchemy at its top: archiver.core.settings and
archiver.catalog.db share its helpers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from archiver.core.errors import ConfigError

if TYPE_CHECKING:
    from archiver.core.settings import Settings

ENV_PREFIX = "ARCHIVER_"
# Variables the archiver reads that are not settings: the config file's path, and who is acting
# (archiver/core/actor.py: the name audit entries carry).
NOT_SETTINGS = ("ARCHIVER_CONFIG", "ARCHIVER_ACTOR")
NOT_SETTINGS_PREFIXES = ("ARCHIVER_TEST_",)  # the test suite's own (e.g. its PostgreSQL URL)
DATABASE_URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
# The top-level string settings read here; any other setting present means the full Settings.
PLAIN_FIELDS = ("home", "database_url", "district", "state", "log_level")
DEFAULT_HOME = "archive"  # Settings.home's default (resolved like a given value)
DEFAULT_LOG_LEVEL = "INFO"


def config_path(environ: Mapping[str, str]) -> Path:
    """archiver.toml, or the file ARCHIVER_CONFIG names, which must then exist."""
    named = environ.get("ARCHIVER_CONFIG")
    path = Path(named or "archiver.toml").expanduser()
    if path.is_dir():
        raise ConfigError(f"The configuration file {path} is a directory; point ARCHIVER_CONFIG at a TOML file")
    if named is not None and not path.is_file():
        raise ConfigError(
            f"The configuration file {path} (ARCHIVER_CONFIG) does not exist; fix the path or unset ARCHIVER_CONFIG"
        )
    return path


def check_database_url(url: str) -> None:
    """ValueError (one line) unless `url` is a SQLAlchemy URL for SQLite or PostgreSQL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        parsed = None
    driver = parsed.drivername if parsed is not None else ""
    if driver not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        shown = mask_url(url) if parsed is not None else url[:60]
        raise ValueError(f"'{shown}' is not a supported database URL; use {DATABASE_URL_FORMS}")


def mask_url(url: str) -> str:
    """Hide a password inside a database URL."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown without its userinfo
        return url.split("@")[-1]


class PlainSettings:
    """Stands in for `Settings` when the configuration holds plain top-level strings only:
    the fields read commands use are answered here; any other attribute (a section, `masked`,
    `model_dump`) builds the full Settings from the same environment once and answers from it,
    so a caller cannot tell the two apart but by type."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.home = Path(values.get("home", DEFAULT_HOME)).expanduser().resolve()
        self.database_url: str | None = values.get("database_url")
        self.district: str | None = values.get("district")
        self.state: str | None = values.get("state")
        self.log_level: str = values.get("log_level", DEFAULT_LOG_LEVEL)
        # No [connectors.*] section nor ARCHIVER_CONNECTORS__* variable, or read_plain gives None.
        self.connectors: dict[str, Any] = {}
        self._full: Settings | None = None

    def __getattr__(self, name: str) -> Any:
        """Only called for what __init__ did not set: the full Settings answers, built with
        these values first (as Settings(**values): the same values, whatever the environment
        holds by then) and the defaults for the rest."""
        if name.startswith("__") or name in ("_full", "_values"):
            raise AttributeError(name)
        if self._full is None:
            from archiver.core.settings import load_settings

            self._full = load_settings(**self._values)
        return getattr(self._full, name)

    # Derived locations, as Settings derives them (tests/core/test_plain_settings.py compares).
    @property
    def catalog_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'catalog.sqlite'}"

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def store_url(self) -> str:
        """HOME/store: a plain configuration sets no [storage] url."""
        return (self.home / "store").as_uri()

    def ensure_home(self) -> None:
        ensure_home(self.home, self.spool_dir)


def load_settings() -> Settings:
    """The effective settings, as archiver.core.settings.load_settings() gives them (the same
    values, the same errors): without pydantic when they are plain, else the full Settings."""
    plain = read_plain()
    if plain is not None:
        return cast("Settings", plain)  # a stand-in: see PlainSettings
    from archiver.core.settings import load_settings as load_full

    return load_full()


def read_plain(environ: Mapping[str, str] | None = None) -> PlainSettings | None:
    """The settings, if they are plain top-level strings only (see the module's docstring);
    None when the full Settings must read them. Raises only the errors Settings raises first
    (ARCHIVER_CONFIG naming no file)."""
    environ = os.environ if environ is None else environ
    from_env: dict[str, str] = {}
    for name, value in environ.items():
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NOT_SETTINGS or upper.startswith(NOT_SETTINGS_PREFIXES):
            continue
        field = name[len(ENV_PREFIX):].lower()
        if name != upper or field not in PLAIN_FIELDS or not value:
            return None  # lower-case names, nested or unknown variables, empty values
        from_env[field] = value
    from_toml = _plain_toml(config_path(environ))
    if from_toml is None:
        return None
    values = {**from_toml, **from_env}  # the environment wins, as in Settings
    if "database_url" in values and not _supported_url(values["database_url"]):
        return None  # Settings says why, in its words
    return PlainSettings(values)


def _plain_toml(path: Path) -> dict[str, str] | None:
    """The file's settings if all are plain non-empty strings of PLAIN_FIELDS ({} if none)."""
    if not path.is_file():
        return {}
    import tomllib

    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, ValueError):
        return None
    if any(key not in PLAIN_FIELDS or not isinstance(value, str) or not value for key, value in data.items()):
        return None
    return data


# URLs of these shapes are ones SQLAlchemy's make_url parses to a supported driver (its grammar
# is wider); they are accepted without importing SQLAlchemy, any other is checked by it.
_PLAIN_URL = re.compile(
    r"sqlite(\+pysqlite)?:///[^?#]+"
    r"|postgresql\+psycopg://[A-Za-z0-9._~%-]+(:[A-Za-z0-9._~%!$&'()*+,;=-]*)?@[A-Za-z0-9.-]+(:[0-9]{1,5})?/[A-Za-z0-9._-]+")


def _supported_url(url: str) -> bool:
    if _PLAIN_URL.fullmatch(url):
        return True
    try:
        check_database_url(url)
    except ValueError:
        return False
    return True


def ensure_home(home: Path, spool: Path) -> None:
    """Create HOME and its folders (only this user reads them), or say clearly why we cannot;
    Settings.ensure_home and the plain settings both call it."""
    try:
        for folder in (home, spool):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = home / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"Cannot write to the archive home {home} ({exc.strerror}); "
            "set ARCHIVER_HOME to a folder this user can write."
        ) from exc
