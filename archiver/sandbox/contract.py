"""What every platform sandbox offers the connector contract suite and the demo.

One adapter per platform drives its fake through the same verbs, so one test suite can check
every connector the same way: seed an account, publish, edit, delete, throttle, expire a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from archiver.sandbox.kit import PlatformSandbox
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

    def publish_old(self, account_id: str, days: float) -> str:
        """A top-level item created `days` ago (with a comment, where the platform has them),
        for the incremental-capture tests: old items are found again only by sweeps."""
        ...

    def comment_on(self, item_id: str) -> str:
        """A new comment (or reply) on the top-level item, now; returns its id."""
        ...

    def throttle_next(self, count: int) -> None:
        """The next `count` API requests get the platform's real rate-limit answer, asking for a
        wait of at most one second."""
        ...

    def expire_token(self, token: str) -> None: ...

    def demo_accounts(self) -> list[SeededAccount]:
        """The accounts the demo registers (the seeded account unless a platform has more)."""
        ...

    def before_cycle(self, cycle: int) -> int:
        """The demo's changes before `cycle` (2 and 3); returns how many were content edits."""
        ...


class ContractAdapter:
    """The generic adapter: a platform subclass supplies the seeding and the item verbs that
    differ (`seed_account`, `seed_bulk`, `live_item_ids`, `publish`, `edit`, `delete`)."""

    platform: str = ""
    token: str = ""
    # False for a platform whose API lists no comments (TikTok's Display API, a feed without
    # them): the incremental tests then skip the "new comment on an old post" half, saying why.
    has_comments: bool = True

    def __init__(self, sandbox: PlatformSandbox) -> None:
        self.sandbox = sandbox
        self.app: App = sandbox
        self.edits = 0
        self._demo: list[SeededAccount] = []
        if self.token and isinstance(sandbox.tokens, set):
            sandbox.tokens.add(self.token)

    def bind(self, base_url: str) -> None:
        self.sandbox.base_url = base_url

    def next_edit(self) -> int:
        """A fresh number for an edit's text, so each edit really changes the content."""
        self.edits += 1
        return self.edits

    def throttle_next(self, count: int) -> None:
        self.sandbox.throttle_next = count

    def expire_token(self, token: str) -> None:
        self.sandbox.expire_token(token)

    def seed_account(self) -> SeededAccount:
        raise NotImplementedError

    def live_item_ids(self, account_id: str) -> set[str]:
        raise NotImplementedError

    def publish(self, account_id: str) -> str:
        raise NotImplementedError

    def edit(self, item_id: str) -> None:
        raise NotImplementedError

    def delete(self, item_id: str) -> None:
        raise NotImplementedError

    def publish_old(self, account_id: str, days: float) -> str:
        raise NotImplementedError(f"{self.platform} sandbox cannot publish back-dated items yet")

    def comment_on(self, item_id: str) -> str:
        raise NotImplementedError(f"{self.platform} sandbox cannot add comments yet")

    def demo_accounts(self) -> list[SeededAccount]:
        if not self._demo:
            self._demo = [self.seed_account()]
        return self._demo

    def before_cycle(self, cycle: int) -> int:
        """The generic demo script: publish, edit and throttle once before cycle 2, delete the
        last live item before cycle 3."""
        account = self.demo_accounts()[0].account_id
        live = sorted(self.live_item_ids(account))
        if cycle == 2:
            self.publish(account)
            self.edit(live[0])
            self.throttle_next(1)
            return 1
        if cycle == 3:
            self.delete(live[-1])
        return 0
