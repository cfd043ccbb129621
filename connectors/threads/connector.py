"""Threads accounts through Meta's Threads API: the token owner's own threads and the
conversations under them.

Each cycle asks `/me` whose token this is (a token of another account must never feed this
one's archive), pages `/{user-id}/threads` by `paging.next` to the end, then reads each
thread's `/conversation` (every reply at every depth, flattened) when it has replies.
Deletions are confirmed by asking for the object: Graph's 100/33 answer is the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from archiver.core.errors import ConfigError, NeedsAttention, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checkpoint,
    CheckResult,
    Covered,
    Gone,
    HarvestEvent,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
    Present,
)
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase
from connectors.threads import errors
from connectors.threads.parse import parse_response

POST_FIELDS = "id,media_product_type,media_type,media_url,permalink,owner,username,text,timestamp,shortcode," \
              "is_quote_post,has_replies"
REPLY_FIELDS = POST_FIELDS + ",is_reply,root_post,replied_to,hide_status"
_USERNAME = re.compile(r"[a-z0-9._]{1,30}")


class ThreadsConnector(ConnectorBase):
    platform: ClassVar[str] = "threads"
    label: ClassVar[str] = "Threads"
    auth_style: ClassVar[AuthStyle] = AuthStyle.QUERY_ACCESS_TOKEN
    default_api_base: ClassVar[str] = "https://graph.threads.net"
    default_version: ClassVar[str] = "v1.0"

    def normalize_account_id(self, raw: str) -> str:
        """Accept @username, username, or a threads.net / threads.com profile or post URL."""
        value = raw.strip()
        if "threads." in value.lower() and "/" in value:
            parts = urlsplit(value if "://" in value else f"https://{value}")
            host = (parts.hostname or "").lower().removeprefix("www.")
            segments = [unquote(s) for s in parts.path.split("/") if s]
            if host not in ("threads.net", "threads.com") or not segments or not segments[0].startswith("@"):
                raise ConfigError(f"'{raw}' is not a Threads profile; use @username or "
                                  "https://www.threads.net/@username")
            value = segments[0]
        username = value.removeprefix("@").lower()
        if not _USERNAME.fullmatch(username) or username.strip(".") != username:
            raise ConfigError(f"'{raw}' is not a Threads username (1-30 letters, digits, periods or "
                              "underscores); use @username or https://www.threads.net/@username")
        return username

    # --- helpers ---------------------------------------------------------------------------

    def _base(self, account: AccountRef) -> str:
        return f"{self.api_root(account)}/{self.version}"

    def _checked(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> dict[str, Any]:
        errors.raise_for_error(exchange, account=account.account_id, now=exchange.captured_at,
                               min_wait=self.min_wait(), subject=subject)
        return self.decode_json(exchange, account, subject)

    def _identity(self, account: AccountRef, http: HttpClient) -> dict[str, str]:
        exchange = http.get(f"{self._base(account)}/me", params={"fields": "id,username,name"})
        data = self._checked(exchange, account, "the token's user")
        if not isinstance(data.get("id"), str):
            raise UnexpectedResponse("Threads /me did not name the token's user; the response is kept in the WARC",
                                     platform=self.platform, account=account.account_id,
                                     evidence=exchange.response_pointer)
        username = str(data.get("username") or "").lower()
        if username != account.account_id:
            raise NeedsAttention(f"The Threads token registered for @{account.account_id} belongs to "
                                 f"@{username or '?'}; update the account's token file with a token from the "
                                 "right account", platform=self.platform, account=account.account_id,
                                 evidence=exchange.response_pointer)
        return {"user_id": data["id"], "name": str(data.get("name") or "")}

    def _pages(self, account: AccountRef, url: str, fields: str, http: HttpClient,
               subject: str) -> Iterator[tuple[CapturedExchange, list[Any]]]:
        """Follow `paging.next` to the end; a listing we cannot read stops the harvest."""
        params: dict[str, str] | None = {"fields": fields, "limit": str(self.settings.page_limit)}
        for _ in range(self.settings.max_pages):
            exchange = http.get(url, params=params)
            data = self._checked(exchange, account, subject)
            rows = data.get("data")
            if not isinstance(rows, list):
                raise UnexpectedResponse(f"Threads listing for {subject} has no data array; it is kept in the "
                                         "WARC and nothing in it is judged deleted", platform=self.platform,
                                         account=account.account_id, evidence=exchange.response_pointer)
            yield exchange, rows
            paging = data.get("paging")
            next_url = paging.get("next") if isinstance(paging, dict) else None
            if not isinstance(next_url, str) or not next_url:
                return
            url, params = next_url, None
        raise UnexpectedResponse(f"Threads listing for {subject} exceeded {self.settings.max_pages} pages; raise "
                                 "connectors.threads.max_pages if this account is that large",
                                 platform=self.platform, account=account.account_id)

    def _observe(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[HarvestEvent]:
        for parsed in self.parse(account, exchange):
            yield parsed if isinstance(parsed, ParseWarning) else Observed(parsed, exchange.response_pointer)

    # --- contract --------------------------------------------------------------------------

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        who = self._identity(account, http)
        return CheckResult(True, "token works", display_name=who["name"], details={"user_id": who["user_id"]})

    def harvest(self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient) -> Iterator[HarvestEvent]:
        state = {"user_id": self._identity(account, http)["user_id"]}
        yield Checkpoint(state)
        base = self._base(account)
        threads: list[tuple[str, Any]] = []
        for exchange, rows in self._pages(account, f"{base}/{state['user_id']}/threads", POST_FIELDS, http,
                                          account.account_id):
            yield from self._observe(account, exchange)
            threads += [(r["id"], r.get("has_replies")) for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)]
        yield Covered(None, (ItemKind.POST,))
        for thread_id, has_replies in threads:
            seen = [thread_id]
            if has_replies is not False:
                for exchange, rows in self._pages(account, f"{base}/{thread_id}/conversation", REPLY_FIELDS, http,
                                                  thread_id):
                    yield from self._observe(account, exchange)
                    seen += [r["id"] for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)]
            yield Covered(thread_id, (ItemKind.COMMENT,))
            for reply_id in seen:
                yield Covered(reply_id, (ItemKind.REPLY,))
        yield Checkpoint(state)

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        exchange = http.get(f"{self._base(account)}/{item_id}", params={"fields": "id,timestamp"})
        error = errors.error_of(exchange)
        if error is not None and errors.is_not_found(error, exchange.status):
            return Gone(reason="deleted", evidence=exchange.response_pointer, status=exchange.status,
                        detail=f"Threads API code {error.get('code')} subcode {error.get('error_subcode')}")
        self._checked(exchange, account, item_id)  # raises for throttles, tokens, oddities
        return Present((), exchange.response_pointer)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        return parse_response(account.account_id, exchange)
