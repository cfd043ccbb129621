"""Turn a payload shape the harvest code did not expect into a clear per-account status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from archiver.errors import UnexpectedResponse


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
