"""What every connector shares: its settings, where its API lives, how long a throttle waits,
and how a payload of an unexpected shape becomes a clear per-account status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import ConfigDict, ValidationError

from archiver.core.errors import ConfigError, UnexpectedResponse
from archiver.core.models import AccountRef, CapturedExchange
from archiver.core.settings import ConnectorSettings
from connectors.auth import Auth, AuthStyle, strategy_for
from connectors.paging import Listing


class PlatformSettings(ConnectorSettings):
    """Base of each connector's own settings model: `[connectors.<platform>]` in archiver.toml,
    checked by the connector that reads it, so a misspelt key is an error, not a default."""

    model_config = ConfigDict(extra="forbid")


class ConnectorBase:
    """Settings, defaults for the optional hooks, and the listing helper; the platform
    specifics live in the subclass."""

    platform: ClassVar[str]
    label: ClassVar[str] = ""  # the platform's name as people write it, for messages
    auth_style: ClassVar[AuthStyle] = AuthStyle.NONE
    default_api_base: ClassVar[str] = ""
    default_version: ClassVar[str] = ""
    settings_model: ClassVar[type[PlatformSettings]] = PlatformSettings
    # True when `harvest` takes the `plan=` keyword (archiver.core.plan.HarvestPlan) and fetches
    # only what can have changed; False: every cycle walks every listing whole.
    incremental: ClassVar[bool] = False

    def __init__(self, settings: ConnectorSettings | None = None) -> None:
        self.settings = self._typed(settings)

    def _typed(self, settings: ConnectorSettings | None) -> Any:
        raw: dict[str, Any] = {}
        if settings is not None:  # extra keys are the platform's own; its model checks them
            raw = {**settings.model_dump(exclude_unset=True), **(settings.model_extra or {})}
        try:
            return self.settings_model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            what = (f"Unknown setting connectors.{self.platform}.{key}" if first["type"] == "extra_forbidden"
                    else f"connectors.{self.platform}.{key}: {first['msg']}")
            raise ConfigError(
                f"{what}; fix it in archiver.toml or the "
                f"ARCHIVER_CONNECTORS__{self.platform.upper()}__* variables"
            ) from None

    # --- optional hooks of the Connector contract, with their defaults ----------------------

    def raise_for_429(self, exchange: CapturedExchange, account_id: str) -> None:
        """No platform-specific quota knowledge: the session's generic 429 handling decides."""
        return None

    def auth(self, secret: str | None) -> Auth:
        return strategy_for(self.auth_style, secret)

    # --- helpers ---------------------------------------------------------------------------

    def listing(self, account: AccountRef, subject: str) -> Listing:
        """A listing of one scope, capped at this connector's `max_pages`."""
        return Listing(self, account, max_pages=self.settings.max_pages, subject=subject)  # type: ignore[arg-type]

    @property
    def version(self) -> str:
        return self.settings.api_version or self.default_version

    def api_root(self, account: AccountRef) -> str:
        """The account's own base URL (sandbox, self-hosted) over settings over the default."""
        return (account.api_base or self.settings.api_base or self.default_api_base).rstrip("/")

    def _base(self, account: AccountRef) -> str:
        """The versioned API root most platforms use: `{api_root}/{version}`."""
        return f"{self.api_root(account)}/{self.version}"

    def decode_json(
        self, exchange: CapturedExchange, account: AccountRef, subject: str, *, expect_object: bool = True
    ) -> Any:
        """The response body as JSON, or UnexpectedResponse: the bytes are already in the WARC,
        so the cycle stops for this account and the next poll reads the listing again."""
        try:
            data = json.loads(exchange.body)
        except (ValueError, UnicodeDecodeError):
            data = _INVALID
        if data is _INVALID or (expect_object and not isinstance(data, dict)):
            what = "a JSON object" if expect_object else "JSON"
            raise UnexpectedResponse(
                f"{self.label or self.platform} sent a response that is not {what} for {subject}; "
                "it is kept in the WARC and the next poll reads it again",
                platform=self.platform,
                account=account.account_id,
                evidence=exchange.response_pointer,
            )
        return data

    def min_wait(self) -> timedelta:
        """The shortest wait after a throttle, whatever the platform's headers say."""
        return timedelta(seconds=self.settings.min_retry_seconds)


_INVALID = object()


@contextmanager
def shape_guard(platform: str, account: str) -> Iterator[None]:
    """A changed field type must stop this account's cycle with a readable message (the
    responses are already in the WARC), never crash the poller for every account."""
    try:
        yield
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        raise UnexpectedResponse(
            f"{platform} answered for {account} in a shape this connector does not understand "
            f"({type(exc).__name__}); the responses are kept in the WARC - report it to the "
            "archiver maintainers",
            platform=platform,
            account=account,
            detail=str(exc)[:200],
        ) from exc
