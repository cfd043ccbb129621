"""What every connector shares: its settings, where its API lives, how long a throttle waits,
and how a payload of an unexpected shape becomes a clear per-account status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import ClassVar

from archiver.errors import UnexpectedResponse
from archiver.models import AccountRef
from archiver.settings import ConnectorSettings


class ConnectorBase:
    """Settings handling for a connector; the platform specifics live in the subclass."""

    default_api_base: ClassVar[str] = ""
    default_version: ClassVar[str] = ""

    def __init__(self, settings: ConnectorSettings | None = None) -> None:
        self.settings = settings or ConnectorSettings()

    @property
    def version(self) -> str:
        return self.settings.api_version or self.default_version

    def api_root(self, account: AccountRef) -> str:
        """The account's own base URL (sandbox, self-hosted) over settings over the default."""
        return (account.api_base or self.settings.api_base or self.default_api_base).rstrip("/")

    def min_wait(self) -> timedelta:
        """The shortest wait after a throttle, whatever the platform's headers say."""
        return timedelta(seconds=self.settings.min_retry_seconds)


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
