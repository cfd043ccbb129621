"""TikTok access tokens last 24 hours; the refresh token lasts a year. With the secret stored as
JSON `{"client_key": …, "client_secret": …, "refresh_token": …}` the connector's auth strategy
asks `POST /v2/oauth/token/` (grant_type=refresh_token) for an access token before the first
request and again when an answer says `access_token_invalid`. The exchange is sent
unrecorded; the client secret and every token are redacted from WARCs and logs. TikTok may
hand back a new refresh token: it is used for the rest of the session, and the stored one
stays valid until it expires (store the newest one when you renew the app's login)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from archiver.core.errors import ConfigError, NeedsAttention
from connectors.auth import AuthBase, Post, Query

FIELDS = ("client_key", "client_secret", "refresh_token")


class TikTokRefresh(AuthBase):
    def __init__(self, client_key: str, client_secret: str, refresh_token: str) -> None:
        self.client_key, self.client_secret, self.refresh_token = client_key, client_secret, refresh_token
        self.access = ""

    @classmethod
    def from_secret(cls, secret: str) -> TikTokRefresh:
        try:
            data = json.loads(secret)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k] for k in FIELDS):
            raise ConfigError(
                "The TikTok secret looks like JSON but is not {\"client_key\", \"client_secret\", "
                "\"refresh_token\"}; fix the account's token file or variable"
            )
        return cls(data["client_key"], data["client_secret"], data["refresh_token"])

    def apply(self, query: Query, headers: dict[str, str]) -> Query:
        if self.access:
            headers["Authorization"] = f"Bearer {self.access}"
        return query

    def secrets(self) -> Iterable[str]:
        return tuple(v for v in (self.client_secret, self.refresh_token, self.access) if v)

    def login(self, origin: str, post: Post) -> None:
        status, data = post(f"{origin}/v2/oauth/token/", form={
            "client_key": self.client_key, "client_secret": self.client_secret,
            "grant_type": "refresh_token", "refresh_token": self.refresh_token})
        self._take(status, data)

    def expired(self, status: int, body: bytes) -> bool:
        return status == 401 and b"access_token_invalid" in body

    def refresh(self, origin: str, post: Post) -> bool:
        self.login(origin, post)
        return True

    def _take(self, status: int, data: Any) -> None:
        access = data.get("access_token") if isinstance(data, dict) else None
        if status != 200 or not isinstance(access, str) or not access:
            error = data.get("error", "") if isinstance(data, dict) else ""
            raise NeedsAttention(
                f"TikTok refused the refresh token (HTTP {status} {error}); log in again through the "
                "archiver's TikTok app and store the new refresh token in the account's token file",
                platform="tiktok",
            )
        self.access = access
        rotated = data.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self.refresh_token = rotated
