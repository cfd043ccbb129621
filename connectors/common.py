"""What every connector shares: its settings, where its API lives, how long a throttle waits,
and how a payload of an unexpected shape becomes a clear per-account status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ClassVar

from archiver.core.errors import UnexpectedResponse
from archiver.core.models import AccountRef, CapturedExchange
from archiver.core.settings import ConnectorSettings


class ConnectorBase:
    """Settings handling for a connector; the platform specifics live in the subclass."""

    platform: ClassVar[str]
    label: ClassVar[str] = ""  # the platform's name as people write it, for messages
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
