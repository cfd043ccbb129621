"""What every platform sandbox offers the connector contract suite and the demo.

One adapter per platform drives its fake through the same verbs, so one test suite can check
every connector the same way: seed an account, publish, edit, delete, throttle, expire a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from archiver.sandbox.server import App


@dataclass(frozen=True, slots=True)
class SeededAccount:
    account_id: str  # the canonical id the connector uses
    raw_id: str  # a form a person would type (handle, URL) that normalize_account_id accepts
    token: str  # the credential; empty for platforms that need none
    name: str


class ContractSandbox(Protocol):
    platform: str
    app: App  # the HTTP app served on 127.0.0.1

    def bind(self, base_url: str) -> None:
        """Told the URL it is served at (for paging links and media URLs)."""
        ...

    def seed_account(self) -> SeededAccount:
        """An account with enough top-level items for three or more pages, some with comments
        and replies (where the platform has them), and one with an image."""
        ...

    def seed_bulk(self, count: int) -> SeededAccount:
        """Another account holding `count` items in all (top-level items plus comments), for
        the capture benchmarks."""
        ...

    def live_item_ids(self, account_id: str) -> set[str]:
        """Ground truth: every item the connector should capture now."""
        ...

    def publish(self, account_id: str) -> str:
        """A new top-level item; returns its id."""
        ...

    def edit(self, item_id: str) -> None:
        """Change the item's content (text) in place, as the platform shows edits."""
        ...

    def delete(self, item_id: str) -> None: ...

    def throttle_next(self, count: int) -> None:
        """The next `count` API requests get the platform's real rate-limit answer, asking for a
        wait of at most one second."""
        ...

    def expire_token(self, token: str) -> None: ...
