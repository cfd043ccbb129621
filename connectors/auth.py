"""How a request carries an account's credential: a strategy chosen by the connector.

The capture session applies the strategy at send time and redacts every value it names from
what it writes and returns, so a new way to log in is a new class here or in a connector's
folder, never an edit to archiver/capture/session.py.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

Query = list[tuple[str, str]]


class AuthStyle(StrEnum):
    """The common ways an API takes a token; `strategy_for` turns one into an Auth."""

    NONE = "none"
    BEARER = "bearer"  # Authorization: Bearer <token>
    QUERY_ACCESS_TOKEN = "query_access_token"  # ?access_token=<token> (Graph API)
    QUERY_KEY = "query_key"  # ?key=<api key> (YouTube Data API)


class Post(Protocol):
    """An unrecorded POST for logging in: (status, decoded JSON body or None). Credentials
    exchanges are not platform content, so they never reach a WARC."""

    def __call__(self, url: str, *, json: object = None, form: dict[str, str] | None = None,
                 bearer: str | None = None) -> tuple[int, Any]: ...


class Auth(Protocol):
    def apply(self, query: Query, headers: dict[str, str]) -> Query:
        """The query to send (credential added, a redacted placeholder replaced); may add headers."""
        ...

    def secrets(self) -> Iterable[str]:
        """Every value that must never reach a WARC, a log line or a message (asked again
        after `login` and `refresh`, which may have obtained new ones)."""
        ...

    def login(self, origin: str, post: Post) -> None:
        """Called once before the first authenticated request to `origin` (session logins)."""
        ...

    def expired(self, status: int, body: bytes) -> bool:
        """Whether an answer says the credential expired, so `refresh` and one retry help."""
        ...

    def refresh(self, origin: str, post: Post) -> bool:
        """Obtain a fresh credential; False when this style cannot."""
        ...


class AuthBase:
    """Defaults for the session-login hooks: a plain token needs no login and never refreshes."""

    def login(self, origin: str, post: Post) -> None:
        return None

    def expired(self, status: int, body: bytes) -> bool:
        return False

    def refresh(self, origin: str, post: Post) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class NoAuth(AuthBase):
    def apply(self, query: Query, headers: dict[str, str]) -> Query:
        return query

    def secrets(self) -> Iterable[str]:
        return ()


@dataclass(frozen=True, slots=True)
class BearerAuth(AuthBase):
    token: str

    def apply(self, query: Query, headers: dict[str, str]) -> Query:
        headers["Authorization"] = f"Bearer {self.token}"
        return query

    def secrets(self) -> Iterable[str]:
        return (self.token,)


@dataclass(frozen=True, slots=True)
class QueryAuth(AuthBase):
    """The token as a query parameter (Graph API `access_token`, Google `key`)."""

    param: str
    token: str

    def apply(self, query: Query, headers: dict[str, str]) -> Query:
        return [(k, v) for k, v in query if k != self.param] + [(self.param, self.token)]

    def secrets(self) -> Iterable[str]:
        return (self.token,)


@dataclass(frozen=True, slots=True)
class BasicAuth(AuthBase):
    """HTTP Basic (WordPress application passwords); the secret is stored as `user:password`."""

    user: str
    password: str

    @classmethod
    def from_secret(cls, secret: str) -> BasicAuth:
        user, _, password = secret.partition(":")
        return cls(user, password)

    def _encoded(self) -> str:
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")

    def apply(self, query: Query, headers: dict[str, str]) -> Query:
        headers["Authorization"] = f"Basic {self._encoded()}"
        return query

    def secrets(self) -> Iterable[str]:
        return (self.password, self._encoded())


def strategy_for(style: AuthStyle, token: str | None) -> Auth:
    """The strategy of a plain token style; no token means unauthenticated requests."""
    if not token or style is AuthStyle.NONE:
        return NoAuth()
    if style is AuthStyle.BEARER:
        return BearerAuth(token)
    if style is AuthStyle.QUERY_ACCESS_TOKEN:
        return QueryAuth("access_token", token)
    return QueryAuth("key", token)
