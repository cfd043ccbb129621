"""Registering and checking accounts: the records officer's inventory of what is captured."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from archiver.app import App
from archiver.capture.session import CaptureSession
from archiver.catalog import tables as t
from archiver.core.credentials import read_token, token_ref
from archiver.core.errors import ArchiverError, ConfigError
from archiver.core.models import AccountRef
from archiver.warc.rolling import RollingWarc


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
) -> t.Account:
    connector = app.connector(platform)  # ConfigError for an unknown platform
    account_id = connector.normalize_account_id(raw_id)
    ref = token_ref(token_env, token_file)
    base = (api_base or app.settings.connector(platform).api_base or "").rstrip("/")
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
        row.role = role or row.role
        row.api_base = base
        row.token_ref = ref or row.token_ref
        if replace:  # a person changed the registration: try it afresh
            row.status, row.status_message, row.next_poll_after = "new", "", None
        s.flush()
        return row


@dataclass
class CheckOutcome:
    account: str
    ok: bool
    message: str
    display_name: str = ""


def check_account(app: App, account: t.Account) -> CheckOutcome:
    """One cheap authenticated call; the exchange is kept like any other (in a scratch WARC)."""
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
            ref = AccountRef(account.platform, account.account_id, account.name, account.api_base, account.role)
            result = connector.check(ref, session)
        finally:
            session.close()
            for sealed in rolling.seal_all():
                sealed.path.unlink(missing_ok=True)
        return CheckOutcome(account.label, result.ok, result.message, result.display_name)
    except ArchiverError as exc:
        return CheckOutcome(account.label, False, exc.message)
