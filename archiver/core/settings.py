"""One typed settings object: defaults < archiver.toml < ARCHIVER_* environment.

All state lives under `home`, so two homes never interfere. No other module reads os.environ
for configuration; the CLI builds Settings once and passes it down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from archiver.core.errors import ConfigError
from archiver.core.plain_settings import (
    ENV_PREFIX,
    NOT_SETTINGS,
    NOT_SETTINGS_PREFIXES,
    check_database_url,
    config_path,
    ensure_home,
    mask_url,
)

SECRET_MARKERS = ("token", "secret", "password", "key")


class ConnectorSettings(BaseModel):
    """Per-platform overrides; the sandbox and self-hosted instances need `api_base`.

    Keys beyond these are kept for the platform's own settings model
    (connectors.common.PlatformSettings), which refuses the ones it does not know."""

    model_config = ConfigDict(extra="allow")

    api_base: str | None = Field(None, description="API base URL (tests point it at 127.0.0.1)")
    api_version: str | None = Field(None, description="API version, e.g. v21.0 for Graph API")
    page_limit: int = Field(25, ge=1, le=100, description="Items asked per page")
    max_pages: int = Field(1000, ge=1, description="Safety cap on pages per listing")
    min_retry_seconds: float = Field(60.0, ge=0, description="Shortest wait after a throttle")
    # Incremental capture: how often items of each age are reconciled (their children re-read,
    # edits and deletions nobody signals found). A cycle never sweeps more than `sweep_share`
    # of the account's top-level items, so the passes stretch rather than the budget.
    recent_days: float = Field(14.0, ge=0, description="Items younger than this are 'recent'")
    recent_every_hours: float = Field(6.0, ge=0, description="One reconciliation pass over recent items per this many hours (0: every cycle)")
    warm_days: float = Field(90.0, ge=0, description="Items younger than this (and not recent) are 'warm'")
    warm_every_hours: float = Field(24.0, ge=0, description="One reconciliation pass over warm items per this many hours")
    cold_every_hours: float = Field(168.0, ge=0, description="One reconciliation pass over older items per this many hours")
    budget: dict[str, Any] | None = Field(
        None, description="Quota overrides: limit, period, reset_tz, reserve, costs (see connectors/quotas.py)"
    )
    sweep_share: float = Field(0.03, gt=0, le=1, description="Most top-level items one cycle reconciles, as a share of the account's")


class StorageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="file:///path or s3://bucket/prefix; default: HOME/store")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, moto)")
    s3_region: str | None = Field(None, description="AWS region of the bucket")
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        "GOVERNANCE", description="Object Lock mode for retain-until dates"
    )
    default_retain_days: int | None = Field(
        None, ge=1,
        description="Retain-until for new objects until retention schedules assign one (days)",
    )


class VaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_file: Path | None = Field(None, description="Key-encryption key file; default HOME/keys/kek.json")
    kms_key_id: str | None = Field(None, description="AWS KMS key id or ARN; overrides the key file")
    kms_region: str | None = Field(None, description="Region of the KMS key")
    kms_endpoint_url: str | None = Field(None, description="KMS endpoint (tests, private endpoints)")
    signing_key_file: Path | None = Field(
        None, description="The district's Ed25519 export signing key; default HOME/keys/export-signing.json")
    segment_size: int = Field(1 << 20, ge=4096, description="Plaintext bytes per AEAD segment")


class CaptureSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warc_max_bytes: int = Field(1_000_000_000, ge=1_000_000, description="Roll WARCs at this size")
    max_retries: int = Field(4, ge=0, le=10, description="Retries for 5xx and network errors")
    backoff_base: float = Field(1.0, ge=0.0, description="First retry delay in seconds (doubles)")
    timeout: float = Field(30.0, gt=0, description="HTTP timeout in seconds")
    media_max_bytes: int = Field(200_000_000, ge=0, description="Largest media file downloaded")
    max_inline_wait: float = Field(
        10.0, ge=0, description="Throttles shorter than this are waited out inside the cycle"
    )
    user_agent: str = Field("district-social-archiver/0.1 (+records retention)")


class DaemonSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    poll_interval_minutes: float = Field(15.0, gt=0, description="How often each account is captured")
    tick_seconds: float = Field(30.0, gt=0, description="How often the daemon looks for due accounts")
    lease_minutes: float = Field(
        30.0, gt=0, description="How long a worker holds an account it captures (expires if it dies)"
    )
    concurrency: int = Field(
        default_factory=lambda: default_concurrency(),
        ge=1, le=256, description="Accounts one worker captures at once (default: 8 per CPU core, at most 32)")
    per_platform_concurrency: int = Field(
        0, ge=0, description="At most this many captures of one platform at once (0: half of concurrency)")
    per_credential_concurrency: int = Field(
        2, ge=1, description="At most this many captures sharing one token at once")
    heartbeat_seconds: float = Field(15.0, gt=0, description="How often a worker writes its heartbeat")
    fixity_period_days: float = Field(
        90.0, gt=0, description="Every stored object is re-verified at least once in this many days")
    fixity_every_hours: float = Field(24.0, gt=0, description="How often a fixity sample runs")
    token_sweep_hours: float = Field(6.0, gt=0, description="How often every account's token is checked")
    retention_plan_hours: float = Field(24.0, gt=0, description="How often the retention plan is drawn up")
    summary_hours: float = Field(24.0, gt=0, description="How often the daily summary is written")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Serve Prometheus metrics on 127.0.0.1 at this port")


def default_concurrency() -> int:
    """Captures mostly wait on the network: several per core, bounded so a small machine and
    a platform's rate limits are not overrun."""
    return max(2, min(32, 8 * (os.cpu_count() or 1)))


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    smtp_host: str | None = Field(None, description="SMTP server for alert e-mail (none: no e-mail)")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS")
    smtp_user: str | None = Field(None)
    smtp_password: SecretStr | None = Field(None)
    mail_from: str = Field("archiver@localhost", description="From: of alert e-mail")
    mail_to: list[str] = Field(default_factory=list, description="Who receives alert e-mail")
    webhook_url: str | None = Field(None, description="Alerts are POSTed here as JSON")
    timeout: float = Field(10.0, gt=0, description="Seconds before a delivery attempt gives up")
    budget_alert_pct: float = Field(
        10.0, ge=0, le=100,
        description="A 'budget' alert when a credential has less than this percentage of its usable quota left (0: off)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ARCHIVER_",
        env_nested_delimiter="__",
        toml_file="archiver.toml",
        extra="forbid",  # a misspelt key in archiver.toml or ARCHIVER_* is an error, never ignored
    )

    home: Path = Field(Path("archive"), description="Folder that holds all archiver state")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in HOME")
    district: str | None = Field(
        None, description="District name written into every WARC; required before capture"
    )
    state: str | None = Field(
        None, description="US state whose retention schedule applies (e.g. WA); required before capture"
    )
    log_level: str = Field("INFO")
    storage: StorageSettings = Field(default_factory=StorageSettings)
    vault: VaultSettings = Field(default_factory=VaultSettings)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    connectors: dict[str, ConnectorSettings] = Field(default_factory=dict)
    aws_secret_access_key: SecretStr | None = Field(None, description="Only if not using roles")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        check_environment(os.environ)
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path(os.environ))
        return (init_settings, env_settings, toml)

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_database_url(value)
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # Derived locations: one place decides the layout of HOME.
    @property
    def catalog_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'catalog.sqlite'}"

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def store_url(self) -> str:
        return self.storage.url or (self.home / "store").as_uri()

    @property
    def key_file(self) -> Path:
        return self.vault.key_file or self.home / "keys" / "kek.json"

    def connector(self, platform: str) -> ConnectorSettings:
        return self.connectors.get(platform, ConnectorSettings())

    def ensure_home(self) -> None:
        """Create HOME and its folders, or say clearly why we cannot."""
        ensure_home(self.home, self.spool_dir)

    def masked(self) -> dict[str, Any]:
        """Effective settings as plain data, every secret replaced by '***'."""
        data = self.model_dump(mode="json")
        data["catalog_url"] = mask_url(self.catalog_url)
        data["store_url"] = self.store_url
        if data.get("database_url"):
            data["database_url"] = mask_url(data["database_url"])
        return _mask(data)


def check_environment(environ: Mapping[str, str]) -> None:
    """ConfigError naming the first ARCHIVER_* variable that is no setting (a typo is never
    silently ignored). Unknown keys below a known section are refused by the models."""
    fields = set(Settings.model_fields)
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NOT_SETTINGS or upper.startswith(NOT_SETTINGS_PREFIXES):
            continue
        top = upper[len(ENV_PREFIX):].split("__", 1)[0].lower()
        if top not in fields:
            raise ConfigError(
                f"Unknown setting in the environment: {name} (ARCHIVER_* variables name settings "
                "such as ARCHIVER_HOME or ARCHIVER_CAPTURE__TIMEOUT; see 'archiver config show'); "
                "fix or unset it"
            )


def missing_for_capture(settings: Settings) -> list[str]:
    """Settings that must be written explicitly before anything is captured."""
    examples = {"district": 'district = "Lincoln County School District"', "state": 'state = "WA"'}
    return [examples[name] for name in ("district", "state") if not getattr(settings, name)]


def require_capture_settings(settings: Settings) -> None:
    """Refuse to capture with the district or state unset: they are written into every WARC."""
    missing = missing_for_capture(settings)
    if missing:
        raise ConfigError(
            "Before capturing, write " + " and ".join(missing)
            + " in archiver.toml (or set ARCHIVER_DISTRICT / ARCHIVER_STATE); they go into every WARC"
        )


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    lowered = key.lower()
    is_secret_name = any(m in lowered for m in SECRET_MARKERS) and not lowered.endswith(
        ("_file", "_id", "_env")
    )
    if is_secret_name and value not in (None, ""):
        return "***"
    return value


def load_settings(**overrides: Any) -> Settings:
    """The effective settings, validated: any error is one ConfigError naming the setting.
    (The CLI reads a plain configuration without pydantic: archiver.core.plain_settings.)"""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ConfigError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        if first.get("type") == "extra_forbidden":
            raise ConfigError(
                f"Unknown setting {where}{more}; fix or remove it in archiver.toml or the matching "
                "ARCHIVER_* variable (see 'archiver config show' for the known settings)",
                detail=str(exc),
            ) from exc
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigError(
            f"Invalid setting {where}: {message}{more}; "
            "fix it in archiver.toml or the matching ARCHIVER_* variable",
            detail=str(exc),
        ) from exc
    except Exception as exc:  # a TOML syntax error, an unreadable file
        raise ConfigError(
            f"Cannot read the configuration ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "check archiver.toml",
            detail=str(exc),
        ) from exc
