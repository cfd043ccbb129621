"""Mastodon accounts on any instance through the REST API v1.

Each cycle walks the account's statuses to the end (Link `rel="next"` = `max_id` paging, 40
a page), so the top level is always Covered and edits and deletions of statuses of any age
are found every cycle. `replies_count` is each status's change signal: its context
(descendants) is read only when the plan asks (a full capture or `--reconcile`, a new status,
a moved `replies_count`, or the status in this cycle's reconciliation sweep, which finds
nested replies and reply edits nothing signals). Statuses whose `edited_at` moved since the
last cycle get their `/history` fetched into the WARC.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import Field

from archiver.core.errors import ConfigError, UnexpectedResponse
from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    Checkpoint,
    CheckResult,
    Gone,
    HarvestEvent,
    Item,
    ItemKind,
    Observed,
    ParseWarning,
    Present,
)
from archiver.core.plan import FULL, HarvestPlan
from connectors.base import AuthStyle, HttpClient
from connectors.common import ConnectorBase, PlatformSettings
from connectors.mastodon import errors, ids
from connectors.mastodon.parse import parse_exchange
from connectors.paging import LinkHeader, Page, PageRequest, items_of
from connectors.ratelimit import Budget
from connectors.shapes import as_dict

MAX_LIMIT = 40  # Mastodon caps `limit` on account statuses at 40
UNAUTHENTICATED_DESCENDANTS = 60  # the context cap for requests without a token


class MastodonSettings(PlatformSettings):
    """`[connectors.mastodon]`: `api_base` names the instance when the account id does not."""

    statuses_page_limit: int = Field(MAX_LIMIT, ge=1, le=MAX_LIMIT,
                                     description="Statuses asked per page of the account's listing (Mastodon allows 40)")


class MastodonConnector(ConnectorBase):
    platform: ClassVar[str] = "mastodon"
    label: ClassVar[str] = "Mastodon"
    auth_style: ClassVar[AuthStyle] = AuthStyle.BEARER
    default_api_base: ClassVar[str] = "https://{instance}"
    default_version: ClassVar[str] = "v1"
    settings_model: ClassVar[type[PlatformSettings]] = MastodonSettings
    incremental: ClassVar[bool] = True

    def _budget(self, account: AccountRef) -> Budget:
        return errors.WINDOW.budget(account.account_id, self.min_wait())

    # --- helpers ---------------------------------------------------------------------------

    def _api_base(self, account: AccountRef) -> str:
        base = account.api_base or self.settings.api_base
        if not base:
            handle = ids.handle_parts(account.account_id)
            if handle is None:
                raise ConfigError(
                    f"Mastodon account {account.account_id} is a numeric id, which names no "
                    "instance; set the account's api_base to https://<instance> or register it as @user@instance"
                )
            base = self.default_api_base.format(instance=handle[1])
        return base.rstrip("/")

    def _api(self, account: AccountRef) -> str:
        version = self.settings.api_version or self.default_version
        return f"{self._api_base(account)}/api/{version}"

    def _get(
        self, http: HttpClient, account: AccountRef, url: str, params: dict[str, str] | None,
        budget: Budget, *, subject: str, account_scope: bool = False, allow_404: bool = False,
        allow_401: bool = False,
    ) -> CapturedExchange:
        budget.check()
        exchange = http.get(url, params=params)
        budget.note(exchange)
        if (allow_404 and exchange.status == 404) or (allow_401 and exchange.status == 401):
            return exchange
        errors.raise_for_status(
            exchange, account=account.account_id, subject=subject, min_wait=self.min_wait(),
            account_scope=account_scope,
        )
        return exchange

    def _json(self, exchange: CapturedExchange, account: AccountRef, subject: str) -> Any:
        return self.decode_json(exchange, account, subject, expect_object=False)

    def _shape_error(self, exchange: CapturedExchange, account: AccountRef, what: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            f"Mastodon changed the shape of {what} for {account.account_id}; capture of this account "
            "is paused until the connector is updated (the response is kept in the WARC)",
            platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
        )

    def _resolve(self, account: AccountRef, http: HttpClient, budget: Budget) -> tuple[str, dict[str, Any]]:
        """Numeric account id (and the Account entity) for a handle, via accounts/lookup."""
        api = self._api(account)
        handle = ids.handle_parts(account.account_id)
        if handle is None:
            exchange = self._get(http, account, f"{api}/accounts/{account.account_id}", None, budget,
                                 subject="the account", account_scope=True)
        else:
            user, domain = handle
            host = self._api_base(account).split("://", 1)[-1].split("/", 1)[0].lower()
            acct = user if host == domain else f"{user}@{domain}"
            exchange = self._get(http, account, f"{api}/accounts/lookup", {"acct": acct}, budget,
                                 subject="the account lookup", account_scope=True)
        data = self._json(exchange, account, "the account")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str | int):
            raise self._shape_error(exchange, account, "the account")
        if data.get("suspended") is True:
            raise errors.AccountGone(
                f"Mastodon account {account.account_id} is suspended on its instance; nothing new can be captured",
                platform=self.platform, account=account.account_id, evidence=exchange.response_pointer,
            )
        return str(data["id"]), data

    # --- contract --------------------------------------------------------------------------

    def normalize_account_id(self, raw: str) -> str:
        return ids.normalize(raw)

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        budget = self._budget(account)
        account_id, data = self._resolve(account, http, budget)
        name = str(data.get("display_name") or data.get("acct") or account.account_id)
        return CheckResult(True, f"instance answers; account id {account_id}", display_name=name,
                           details={"id": account_id, "acct": data.get("acct", "")})

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient,
        plan: HarvestPlan = FULL,
    ) -> Iterator[HarvestEvent]:
        state = dict(cursor or {})
        budget = self._budget(account)
        api = self._api(account)
        numeric = state.get("account_numeric_id")
        if not isinstance(numeric, str) or not numeric:
            numeric, _ = self._resolve(account, http, budget)
        instance = ids.instance_of(account.account_id, self._api_base(account))
        statuses: dict[str, dict[str, Any]] = {}  # status id -> replies_count, edited_at

        def fetch(request: PageRequest) -> Page:
            exchange = self._get(http, account, request.url, dict(request.params or {}), budget,
                                 subject="the account's statuses", account_scope=True)
            data = self._json(exchange, account, "the account's statuses")
            if not isinstance(data, list):
                raise self._shape_error(exchange, account, "the account's statuses")
            return Page(exchange, data, data)

        listing = self.listing(account, "the account's statuses")
        first = PageRequest(f"{api}/accounts/{numeric}/statuses",
                            {"limit": str(min(getattr(self.settings, "statuses_page_limit", MAX_LIMIT), MAX_LIMIT))})
        parsed: dict[str, Item] = {}
        for page in listing.pages(fetch, first, LinkHeader()):
            for event in listing.observe(page.exchange):
                if isinstance(event, Observed):
                    parsed[event.item.item_id] = event.item
                yield event
            _remember(statuses, page.rows)
        yield from listing.covered(None, ItemKind.POST)

        threads_before = {str(t) for t in state.get("threads", []) if isinstance(t, str)}
        threads_now: set[str] = set()
        replies_meta: dict[str, dict[str, Any]] = {}
        auth: dict[str, bool] = {}
        for status_id, meta in list(statuses.items()):
            if meta["replies"] <= 0 and status_id not in threads_before:
                continue
            known = parsed.get(ids.item_id(instance, status_id))
            if known is not None and not plan.wants_children(known):
                threads_now.add(status_id)  # its replies did not change: read them another cycle
                continue
            exchange = self._get(http, account, f"{api}/statuses/{status_id}/context", None, budget,
                                 subject=f"the replies to status {status_id}", allow_404=True)
            if exchange.status == 404:
                continue  # deleted since it was listed: the next cycle judges it
            data = self._json(exchange, account, f"the replies to status {status_id}")
            descendants = data.get("descendants") if isinstance(data, dict) else None
            if not isinstance(descendants, list):
                raise self._shape_error(exchange, account, "a status context")
            context = self.listing(account, f"the replies to status {status_id}")
            yield from context.observe(exchange)
            for child in descendants:
                if isinstance(child, dict) and isinstance(child.get("id"), str):
                    replies_meta[child["id"]] = {"replies": 0, "edited_at": child.get("edited_at")}
            if descendants or meta["replies"] > 0:
                threads_now.add(status_id)
            if self._context_complete(exchange, descendants, account, http, budget, auth):
                yield from context.covered(ids.item_id(instance, status_id), ItemKind.REPLY)

        edits_before = as_dict(state.get("edits"))
        edits_now: dict[str, str] = {}
        for status_id, meta in {**replies_meta, **statuses}.items():
            stamp = meta.get("edited_at")
            if not isinstance(stamp, str) or not stamp:
                continue
            edits_now[status_id] = stamp
            if edits_before.get(status_id) != stamp:
                self._get(http, account, f"{api}/statuses/{status_id}/history", None, budget,
                          subject=f"the edit history of status {status_id}", allow_404=True)
        yield Checkpoint({
            "account_numeric_id": numeric,
            "threads": sorted(threads_now),
            "edits": edits_now,
            "newest_id": max(statuses, key=_id_order) if statuses else state.get("newest_id", ""),
        })

    def _context_complete(
        self, exchange: CapturedExchange, descendants: list[Any], account: AccountRef,
        http: HttpClient, budget: Budget, auth: dict[str, bool],
    ) -> bool:
        """A context is a complete reply listing unless the instance says it is still fetching
        remote replies (Mastodon-Async-Refresh) or the unauthenticated cap of 60 may have cut it."""
        if exchange.header("mastodon-async-refresh"):
            return False
        if len(descendants) < UNAUTHENTICATED_DESCENDANTS:
            return True
        if "token" not in auth:  # one cheap call per cycle, only for large threads
            probe = self._get(http, account, f"{self._api(account)}/accounts/verify_credentials", None,
                              budget, subject="the token", allow_404=True, allow_401=True)
            auth["token"] = probe.status == 200
        return auth["token"]

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        status_id = ids.status_id_of(item_id)
        exchange = http.get(f"{self._api(account)}/statuses/{status_id}")
        if exchange.status in (404, 410):
            return Gone(
                reason="deleted",
                evidence=exchange.response_pointer,
                status=exchange.status,
                detail=f"Mastodon answered {exchange.status} {errors.error_text(exchange) or 'Record not found'}",
            )
        errors.raise_for_status(exchange, account=account.account_id, subject=f"status {status_id}",
                                min_wait=self.min_wait())
        return Present(items_of(self, account, exchange), exchange.response_pointer)

    def parse(self, account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
        try:
            base = self._api_base(account)
        except ConfigError:
            base = exchange.url
        yield from parse_exchange(account, exchange, base)


def _remember(statuses: dict[str, dict[str, Any]], data: list[Any]) -> None:
    for status in data:
        if not isinstance(status, dict) or not isinstance(status.get("id"), str):
            continue
        replies = status.get("replies_count")
        statuses[status["id"]] = {
            "replies": replies if isinstance(replies, int) and not isinstance(replies, bool) else 1,
            "edited_at": status.get("edited_at"),
        }


def _id_order(status_id: str) -> tuple[int, str]:
    return (len(status_id), status_id)

