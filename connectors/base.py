"""The contract every platform connector satisfies.

A connector knows one platform's API: which URLs to ask, how to page, what its errors mean
and how to turn a response into items. It never touches storage, SQL or schedules. It reaches
the network only through the `HttpClient` it is handed, which writes every exchange to the
WARC and strips credentials before a byte is written.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from archiver.core.models import (
    AccountRef,
    CapturedExchange,
    CheckResult,
    Gone,
    HarvestEvent,
    Item,
    ParseWarning,
    Present,
)
from connectors.auth import Auth, AuthStyle

__all__ = ["Auth", "AuthStyle", "Connector", "HttpClient", "Registered", "parse_guarded"]

log = logging.getLogger(__name__)


class HttpClient(Protocol):
    """What a connector may do on the network. Implemented by archiver.capture.CaptureSession."""

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CapturedExchange:
        """GET and record. Retries network errors and 5xx; raises TryLater on HTTP 429."""
        ...

    def post_json(
        self,
        url: str,
        *,
        json: object,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CapturedExchange:
        """POST a JSON body and record it (APIs such as TikTok's list endpoints need this)."""
        ...

    def fetch_media(self, url: str, *, max_bytes: int | None = None) -> CapturedExchange | None:
        """Download a media file into the WARC; None when it is larger than the cap."""
        ...


@runtime_checkable
class Connector(Protocol):
    platform: ClassVar[str]
    auth_style: ClassVar[AuthStyle]
    default_api_base: ClassVar[str]

    def normalize_account_id(self, raw: str) -> str:
        """Turn a handle, URL or numeric id as a person types it into the canonical id."""
        ...

    def check(self, account: AccountRef, http: HttpClient) -> CheckResult:
        """A cheap call that proves the credentials still work."""
        ...

    def harvest(
        self, account: AccountRef, cursor: dict[str, Any] | None, http: HttpClient
    ) -> Iterator[HarvestEvent]:
        """Walk the account's listings; yield Observed items, Covered scopes, Checkpoints."""
        ...

    def confirm_gone(self, account: AccountRef, item_id: str, http: HttpClient) -> Gone | Present:
        """Fetch one item directly to tell a deletion from a listing gap."""
        ...

    def parse(
        self, account: AccountRef, exchange: CapturedExchange
    ) -> Iterator[Item | ParseWarning]:
        """Pure: the items one captured response shows, and a coded warning for each part it
        cannot understand. Shared by harvest and catalog rebuild, so both see the same.
        Callers go through `parse_guarded`, never straight here."""
        ...

    # Optional hooks: declared here, with defaults in connectors.common.ConnectorBase.

    def raise_for_429(self, exchange: CapturedExchange, account_id: str) -> None:
        """Called by the session on HTTP 429 before its generic handling; raises the platform's
        own TryLater when the quota reset is not in Retry-After (LinkedIn's daily limits, X's
        monthly usage cap). The default returns, and Retry-After / *-Reset headers decide."""
        ...

    def auth(self, secret: str | None) -> Auth:
        """How the session presents `secret` (the account's stored credential) to the platform,
        and which values it must redact. The default follows `auth_style`."""
        ...


QUARANTINED = "parser_error"  # the code suffix of a response whose parser raised


# While a capture harvests, the poller sets a memo here (record id -> what the parser made of
# that response) so that the indexer, handed the same response, does not parse its JSON again
# (issue 13). Per thread (a ContextVar): the daemon's concurrent captures keep their own.
# The memo keeps a digest of the body, not the body: the journal already holds it once.
ParseMemo = dict[str, tuple[AccountRef, tuple[Any, ...], tuple["Item | ParseWarning", ...]]]
_MEMO: ContextVar[ParseMemo | None] = ContextVar("archiver_parse_memo", default=None)


@contextmanager
def remembering_parses(memo: ParseMemo) -> Iterator[ParseMemo]:
    """Within the block, every completed guarded parse is kept in `memo` by its record id."""
    token = _MEMO.set(memo)
    try:
        yield memo
    finally:
        _MEMO.reset(token)


def remembered_parse(memo: ParseMemo | None, account: AccountRef,
                     exchange: CapturedExchange) -> tuple[Item | ParseWarning, ...] | None:
    """What the harvest's parser made of this very response (same account, URL, status,
    headers and body), or None: parse it."""
    if not memo or exchange.response_pointer is None:
        return None
    hit = memo.get(exchange.response_pointer.record_id)
    if hit is None:
        return None
    ref, seen, parsed = hit
    return parsed if ref == account and seen == _identity(exchange) else None


def _identity(exchange: CapturedExchange) -> tuple[Any, ...]:
    """What makes two responses the same input to a parser."""
    digest = hashlib.blake2b(exchange.body, digest_size=16).digest()
    return (exchange.url, exchange.status, tuple(exchange.headers), len(exchange.body), digest)


class _Decoded(threading.local):
    """The last body a harvest decoded on this thread, and what it decoded to."""

    body: bytes | None = None
    data: Any = None


_DECODED = _Decoded()


def remember_decoded(exchange: CapturedExchange, data: Any) -> Any:
    """Keep `data` (what `exchange.body` decodes to) for `decoded_json`, so that a harvest
    which decodes a page and then hands it to its parser decodes it once (issue 13). Neither
    side may change the decoded data. Returns `data`."""
    _DECODED.body, _DECODED.data = exchange.body, data
    return data


def decoded_json(exchange: CapturedExchange) -> Any:
    """`json.loads(exchange.body)`, taken from `remember_decoded` when it was handed this very
    body object (bytes are immutable, and the reference kept there stops its id being reused);
    any other body, equal or not, is decoded. Taken once: the thread then holds no page until
    its harvest decodes the next. Raises what json.loads raises."""
    if _DECODED.body is exchange.body:
        data = _DECODED.data
        _DECODED.body = _DECODED.data = None
        return data
    return json.loads(exchange.body)


def parse_guarded(
    connector: Connector, account: AccountRef, exchange: CapturedExchange
) -> Iterator[Item | ParseWarning]:
    """`connector.parse`, guarded (_parse_guarded says how); remembered under a parse memo."""
    memo = _MEMO.get()
    if memo is None or exchange.response_pointer is None:
        yield from _parse_guarded(connector, account, exchange)
        return
    made: list[Item | ParseWarning] = []
    for parsed in _parse_guarded(connector, account, exchange):
        made.append(parsed)
        yield parsed
    # only a parse read to its end is remembered
    memo[exchange.response_pointer.record_id] = (account, _identity(exchange), tuple(made))


def _parse_guarded(
    connector: Connector, account: AccountRef, exchange: CapturedExchange
) -> Iterator[Item | ParseWarning]:
    """`connector.parse`, with a parser bug contained to the one response that set it off.

    The only way the archiver calls a parser (harvest, indexing, the spool sweep, rebuild): an
    exception becomes a coded quarantine warning pointing at the response in the WARC, whose
    bytes stay there, and the items of every other response are still indexed. Items the
    parser yielded before it raised are kept; they are whole on their own.
    """
    try:
        yield from connector.parse(account, exchange)
    except Exception as exc:  # noqa: BLE001 - contained here on purpose; see the docstring
        log.warning(
            "%s parser raised %s on %s; response quarantined",
            connector.platform, type(exc).__name__, exchange.url, exc_info=log.isEnabledFor(logging.DEBUG),
        )
        yield ParseWarning(
            f"{connector.platform}.{QUARANTINED}",
            f"quarantined: the {connector.platform} parser raised {type(exc).__name__} "
            f"({str(exc)[:160]}); the response is kept in the WARC, and items it holds are "
            "indexed once the parser is fixed and the catalog is rebuilt",
            exchange.response_pointer,
        )


def is_quarantine(warning: ParseWarning) -> bool:
    return warning.code.endswith(f".{QUARANTINED}")


@dataclass(frozen=True, slots=True)
class Registered:
    """A connector and the sandbox that imitates its platform, for the registry and tests.

    The connector is named "module:Class" (a class also works) and imported when first asked
    for, so a command that needs one platform's connector (an export reading a captured page)
    does not import all of them."""

    target: type[Connector] | str  # "module:Class" of the Connector, or the class itself
    sandbox: str  # "module:Class" of its archiver.sandbox.contract.ContractSandbox adapter

    @property
    def connector(self) -> type[Connector]:
        if not isinstance(self.target, str):
            return self.target
        module, _, name = self.target.partition(":")
        found: type[Connector] = getattr(importlib.import_module(module), name)
        return found


