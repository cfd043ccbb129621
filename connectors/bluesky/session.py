"""Logging in to Bluesky with a handle and an app password (`handle:app-password` as the
account's secret): `com.atproto.server.createSession` at the account's PDS gives a short-lived
access JWT (about two hours) and a refresh JWT; `refreshSession` renews them when an answer
says `ExpiredToken`, and a refused refresh logs in again. None of it is written to a WARC:
the session sends these calls unrecorded and redacts every token it learns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archiver.core.errors import NeedsAttention
from connectors.auth import AuthBase, Post, Query


class BlueskySession(AuthBase):
    def __init__(self, identifier: str, password: str) -> None:
        self.identifier = identifier.strip().lstrip("@")
        self.password = password.strip()
        self.access = ""
        self.refresh_jwt = ""

    def apply(self, query: Query, headers: dict[str, str]) -> Query:
        if self.access:
            headers["Authorization"] = f"Bearer {self.access}"
        return query

    def secrets(self) -> Iterable[str]:
        return tuple(v for v in (self.password, self.access, self.refresh_jwt) if v)

    def login(self, origin: str, post: Post) -> None:
        status, data = post(f"{origin}/xrpc/com.atproto.server.createSession",
                            json={"identifier": self.identifier, "password": self.password})
        self._take(status, data)

    def expired(self, status: int, body: bytes) -> bool:
        return status in (400, 401) and b"ExpiredToken" in body

    def refresh(self, origin: str, post: Post) -> bool:
        status, data = post(f"{origin}/xrpc/com.atproto.server.refreshSession", bearer=self.refresh_jwt)
        if status == 200:
            self._take(status, data)
        else:  # the refresh JWT expired too (after about two months): log in again
            self.login(origin, post)
        return True

    def _take(self, status: int, data: Any) -> None:
        access = data.get("accessJwt") if isinstance(data, dict) else None
        refresh = data.get("refreshJwt") if isinstance(data, dict) else None
        if status != 200 or not isinstance(access, str) or not isinstance(refresh, str):
            error = data.get("error", "") if isinstance(data, dict) else ""
            raise NeedsAttention(
                f"Bluesky refused the app password for {self.identifier} (HTTP {status} {error}); create "
                "a new app password under Settings > Privacy and security > App passwords and store it "
                "as handle:app-password in the account's token file or variable",
                platform="bluesky",
                account=self.identifier,
            )
        self.access, self.refresh_jwt = access, refresh
