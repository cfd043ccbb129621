"""Registering, listing and checking accounts: the records officer's inventory of what is captured."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog import tables as t
from archiver.core.credentials import read_token, token_ref
from archiver.core.errors import ArchiverError, ConfigError, NeedsAttention
from archiver.core.models import AccountRef


@dataclass(frozen=True)
class AccountInfo:
    """A registered account as the services hand it out (never the ORM row)."""

    id: int
    platform: str
    account_id: str
    name: str
    role: str
    api_base: str
    token_ref: str
    status: str
    status_message: str
    last_polled_at: datetime | None
    next_poll_after: datetime | None
    cursor: dict[str, Any] | None

    @classmethod
    def of(cls, row: t.Account) -> AccountInfo:
        return cls(row.id, row.platform, row.account_id, row.name, row.role, row.api_base,
                   row.token_ref, row.status, row.status_message, row.last_polled_at,
                   row.next_poll_after, dict(row.cursor) if row.cursor is not None else None)

    @property
    def label(self) -> str:
        return f"{self.platform}:{self.account_id}"

    @property
    def ref(self) -> AccountRef:
        return AccountRef(self.platform, self.account_id, self.name, self.api_base, self.role)

    @property
    def token_source(self) -> str:
        """Where the token comes from ("env", "file" or "none"), never the reference itself."""
        return self.token_ref.split(":", 1)[0] if self.token_ref else "none"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "platform": self.platform, "account": self.account_id, "name": self.name,
                "role": self.role, "status": self.status, "message": self.status_message,
                "last_polled_at": self.last_polled_at.isoformat() if self.last_polled_at else None,
                "next_poll_after": self.next_poll_after.isoformat() if self.next_poll_after else None,
                "token": self.token_source}


def register_account(
    app: App,
    platform: str,
    raw_id: str,
    *,
    name: str = "",
    role: str = "",
    api_base: str | None = None,
    token_env: str | None = None,
    token_file: str | None = None,
    replace: bool = False,
    actor: str | None = None,
) -> AccountInfo:
    """Register (or with `replace`, change) an account. With `actor`, the registration is an
    audit entry in the same transaction (the console always names who did it)."""
    from connectors import resolve_alias

    platform, raw_id = resolve_alias(platform, raw_id)  # `wordpress SITE` is `feeds wp:SITE`
    connector = app.connector(platform)  # ConfigError for an unknown platform, naming the known ones
    account_id = check_account_id(platform, connector.normalize_account_id(raw_id))
    ref = token_ref(token_env, token_file)
    given_base = check_api_base(api_base.rstrip("/")) if api_base else None
    with app.catalog.session() as s:
        row = s.scalar(
            select(t.Account).where(t.Account.platform == platform, t.Account.account_id == account_id)
        )
        if row is not None and not replace:
            raise ConfigError(
                f"{platform}:{account_id} is already registered; use --replace to change it"
            )
        if row is None:
            row = t.Account(
                platform=platform, account_id=account_id, created_at=app.clock.now(), status="new"
            )
            s.add(row)
        row.name = name or row.name or account_id
        role_changed = row.id is not None and bool(role) and role != row.role
        row.role = role or row.role
        # A field not given keeps what the registration had (a sandbox or self-hosted base is
        # never reset to the public API); a new registration takes the configured default.
        if given_base is not None:
            row.api_base = given_base
        elif not row.api_base:
            row.api_base = (app.settings.connector(platform).api_base or "").rstrip("/")
        row.token_ref = ref or row.token_ref
        if replace:  # a person changed the registration: try it afresh
            row.status, row.status_message, row.next_poll_after = "new", "", None
        s.flush()
        if role_changed:
            _reclassify_account(app, s, row.id)
        if actor:
            audit.append(s, actor=actor, action="account.replace" if replace else "account.register",
                         subject=f"account:{platform}:{account_id}", at=app.clock.now(),
                         details={"name": row.name, "role": row.role, "api_base": row.api_base,
                                  "token": row.token_ref.split(":", 1)[0] if row.token_ref else "none"})
        return AccountInfo.of(row)


DISABLED = "disabled"  # an officer paused it: no polls, no token checks, no gap alerts
NOT_POLLED = ("gone", DISABLED)  # statuses the daemon and `archiver poll` (no selector) skip


def disable_account(app: App, selector: str, *, reason: str, actor: str) -> AccountInfo:
    """Stop capturing one account (the school closed, the page moved) without forgetting it:
    its records and their retention stay as they are; `enable_account` resumes it."""
    if not reason.strip():
        raise ConfigError("Say why the account is disabled (--reason), for the audit log")
    return _set_disabled(app, selector, True, reason.strip(), actor)


def enable_account(app: App, selector: str, *, actor: str) -> AccountInfo:
    """Resume a disabled account: it is polled at the next cycle, as if newly registered."""
    return _set_disabled(app, selector, False, "", actor)


def _set_disabled(app: App, selector: str, disable: bool, reason: str, actor: str) -> AccountInfo:
    chosen = select_accounts(app, selector)
    if len(chosen) != 1:
        raise ConfigError(f"'{selector}' matches {len(chosen)} accounts; give one as platform:id")
    with app.catalog.session() as s:
        row = s.get(t.Account, chosen[0].id)
        assert row is not None
        if disable == (row.status == DISABLED):
            raise ConfigError(f"{row.label} is already {'disabled' if disable else 'enabled'}")
        if disable:
            row.status, row.status_message = DISABLED, f"by {actor}: {reason}"
        else:
            row.status, row.status_message, row.next_poll_after = "new", "", None
        audit.append(s, actor=actor, action="account.disable" if disable else "account.enable",
                     subject=f"account:{row.label}", at=app.clock.now(),
                     details={"reason": reason} if disable else {})
        s.flush()
        return AccountInfo.of(row)


MAX_ACCOUNT_ID_BYTES = 200  # one store key segment and file name, with room to spare
MAX_API_BASE_CHARS = 512  # the catalog column


def check_account_id(platform: str, account_id: str) -> str:
    """Refuse at registration an id that would fail (or escape a folder) at the first poll."""
    if not account_id or any(ord(c) < 32 or ord(c) == 127 for c in account_id):
        raise ConfigError(f"The {platform} account id {account_id!r} is empty or holds control characters")
    if ".." in account_id.replace("\\", "/").split("/"):
        raise ConfigError(f"The {platform} account id {account_id!r} contains a '..' path segment; "
                          "give the account's own id, handle or URL")
    if len(account_id.encode("utf-8")) > MAX_ACCOUNT_ID_BYTES:
        raise ConfigError(f"The {platform} account id {account_id[:40]!r}... is longer than "
                          f"{MAX_ACCOUNT_ID_BYTES} bytes; give a shorter id or URL")
    return account_id


def check_api_base(api_base: str) -> str:
    """An http(s) URL of catalog size, so a typo fails here and not at the first poll."""
    from urllib.parse import urlsplit

    parts = urlsplit(api_base)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(api_base) > MAX_API_BASE_CHARS:
        raise ConfigError(f"--api-base {api_base[:60]!r} is not an http(s) URL of at most "
                          f"{MAX_API_BASE_CHARS} characters; give e.g. https://mastodon.example.org")
    return api_base


def _reclassify_account(app: App, s: Session, account_pk: int) -> None:
    """Retention: a new role can put the account's items under another schedule series."""
    from archiver.retention.active import load_effective
    from archiver.retention.classify import classify_items

    try:
        effective = load_effective(s, app.settings.state)
    except ArchiverError:
        return  # no usable schedule: the items stay as they are and hold; plan reclassifies
    pks = list(s.scalars(select(t.Item.id).where(t.Item.account_pk == account_pk)))
    classify_items(s, effective, app.clock.now(), pks)


def list_accounts(app: App) -> list[AccountInfo]:
    with app.catalog.session() as s:
        return [AccountInfo.of(r) for r in s.scalars(select(t.Account).order_by(t.Account.id))]


@dataclass(frozen=True)
class AccountPage:
    """One page of the accounts, in registration order, with how many there are in all."""

    accounts: list[AccountInfo]
    total: int  # accounts matching the text asked for (all of them without one)
    offset: int
    limit: int


def page_accounts(app: App, *, offset: int = 0, limit: int = 100, text: str | None = None) -> AccountPage:
    """The console's list a page at a time (with every account's forms, 1,000 accounts made a
    1 MB page): two queries whatever the number of accounts. With `text`, only the accounts
    whose label, name, role or status contains it, ignoring case (str.casefold, so the same
    on both engines and for any script); those are matched here, over every account's row."""
    offset, limit = max(offset, 0), max(limit, 1)
    needle = (text or "").strip().casefold()
    with app.catalog.session() as s:
        if needle:
            found = [AccountInfo.of(r) for r in s.scalars(select(t.Account).order_by(t.Account.id))
                     if any(needle in v.casefold() for v in (f"{r.platform}:{r.account_id}", r.name, r.role,
                                                             r.status))]
            return AccountPage(found[offset:offset + limit], len(found), offset, limit)
        total = s.scalar(select(func.count()).select_from(t.Account)) or 0
        rows = s.scalars(select(t.Account).order_by(t.Account.id).offset(offset).limit(limit))
        return AccountPage([AccountInfo.of(r) for r in rows], total, offset, limit)


def reconciled_at(app: App) -> dict[int, dict[str, datetime | None]]:
    """Per account, when each reconciliation window (recent, warm, cold) last ended a full
    pass: an edit or deletion older than that in the window may not be seen yet."""
    out: dict[int, dict[str, datetime | None]] = {}
    with app.catalog.session() as s:
        for row in s.scalars(select(t.ReconcileWindow)):
            out.setdefault(row.account_pk, {})[row.window] = row.last_full_at
    return out


def select_accounts(app: App, selector: str | None = None) -> list[AccountInfo]:
    """Every account, or those matching `selector` (id, platform:id, account id or name).

    A selector is matched in the database through the accounts' indexes (one query, whatever
    the number of accounts) with the same meaning as comparing it with each account's row id,
    account id, label and name. A selector that matches nothing is an error, so a typo never
    reads as "nothing captured"."""
    if selector is None:
        return list_accounts(app)
    conditions = [t.Account.account_id == selector, t.Account.name == selector]
    if selector.isdigit() and str(int(selector)) == selector:
        conditions.append(t.Account.id == int(selector))
    platform, colon, account_id = selector.partition(":")
    if colon:
        conditions.append((t.Account.platform == platform) & (t.Account.account_id == account_id))
    with app.catalog.session() as s:
        chosen = [AccountInfo.of(r) for r in s.scalars(
            select(t.Account).where(or_(*conditions)).order_by(t.Account.id))]
    if not chosen:
        raise ConfigError(f"No registered account matches '{selector}'; see 'archiver accounts list'")
    return chosen


@dataclass(frozen=True)
class CheckOutcome:
    account: str
    ok: bool
    message: str
    display_name: str = ""
    # The check failed because a person must act (expired or revoked token, missing
    # permission): what a capture would flag the account for. Not part of the JSON output.
    needs_attention: bool = False

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("needs_attention")
        return out


def check_account(app: App, account: AccountInfo) -> CheckOutcome:
    """One cheap authenticated call; the exchange is kept like any other (in a scratch WARC)."""
    from archiver.capture.session import CaptureSession
    from archiver.warc.rolling import RollingWarc

    try:
        connector = app.connector(account.platform)
        token = read_token(account.token_ref, label=account.label)
        scratch = app.settings.home / "scratch"
        rolling = RollingWarc(scratch, f"check-{account.platform}", {}, max_bytes=10**9, clock=app.clock)
        session = CaptureSession(
            warc=rolling,
            clock=app.clock,
            settings=app.settings.capture,
            auth=connector.auth(token),
            platform=account.platform,
            account=account.account_id,
        )
        try:
            result = connector.check(account.ref, session)
        finally:
            session.close()
            for sealed in rolling.seal_all():
                sealed.path.unlink(missing_ok=True)
        return CheckOutcome(account.label, result.ok, result.message, result.display_name)
    except ArchiverError as exc:
        return CheckOutcome(account.label, False, exc.message, needs_attention=isinstance(exc, NeedsAttention))


def check_accounts(app: App, selector: str | None = None) -> list[CheckOutcome]:
    return [check_account(app, a) for a in select_accounts(app, selector)]
