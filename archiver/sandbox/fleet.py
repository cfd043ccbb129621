"""A fleet of small Facebook Pages behind one sandbox, with latency and per-page throttling.

The daemon tests and bench/daemon_bench.py need hundreds or thousands of accounts, each with a
few posts, answered after a fixed delay the way a real platform answers (so a worker that
captures one account at a time is visibly slower than one that overlaps them), and a chosen
set of Pages that are always rate-limited (so a throttled platform or account can be shown
not to delay the others). It also counts feed requests per Page and the highest number of
requests in flight at once, which is what "every account polled exactly once" and "the
sandbox saw concurrent requests" are checked against.

Loopback and stdlib only, like the rest of the sandbox kit.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from archiver.sandbox.server import Request, Response
from connectors.facebook.graph_sandbox import graph_throttle
from connectors.facebook.sandbox import GraphSandbox


def page_id(n: int) -> str:
    return str(3_000_000 + n)


def token_of(n: int) -> str:
    return f"EAAB-fleet-token-{n:06d}"


@dataclass
class Fleet:
    """`pages` Pages with `posts` posts each; `__call__` is the HTTP app to serve."""

    pages: int
    posts: int = 2
    latency: float = 0.0  # seconds before every answer
    throttled: set[str] = field(default_factory=set)  # page ids always answered with a throttle
    per_account_tokens: bool = False  # else one token (one credential) for every Page
    sandbox: GraphSandbox = field(init=False)
    feed_requests: Counter[str] = field(default_factory=Counter, init=False)
    in_flight: int = field(default=0, init=False)
    max_in_flight: int = field(default=0, init=False)
    requests: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        tokens = {token_of(n) for n in range(self.pages)} if self.per_account_tokens else {token_of(0)}
        self.sandbox = GraphSandbox(tokens=tokens)
        start = self.sandbox.now() - timedelta(days=30)
        for n in range(self.pages):
            pid = page_id(n)
            self.sandbox.add_page(pid, f"Fleet School {n}")
            for k in range(self.posts):
                self.sandbox.publish(pid, f"Fleet School {n} announcement {k}", at=start + timedelta(hours=k))

    def token(self, n: int) -> str:
        return token_of(n if self.per_account_tokens else 0)

    def bind(self, base_url: str) -> None:
        self.sandbox.base_url = base_url

    def __call__(self, req: Request) -> Response:
        with self._lock:
            self.in_flight += 1
            self.requests += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            parts = req.path.split("/")
            owner = parts[2].split("_")[0] if len(parts) > 2 else ""
            if req.path.endswith("/feed"):
                with self._lock:
                    self.feed_requests[owner] += 1
            if owner in self.throttled:
                return graph_throttle(80001, "Page", owner, "pages", 100, 100)
            return self.sandbox(req)
        finally:
            with self._lock:
                self.in_flight -= 1
