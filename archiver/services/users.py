"""The web console's users: who may sign in, with which role, and the login throttle.

Roles follow what each person does with the records (issue 15):
- records-officer: everything, including approving destruction (with a second officer);
- clerk: search and requests; no holds, no destruction;
- auditor: reads records and the audit log; changes nothing;
- operator: accounts and capture status; sees no record content at all.
The console asks `allowed(role, capability)` and nothing else, so the policy lives here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import select

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog.console_tables import ConsoleUser
from archiver.core.errors import ArchiverError, ConfigError

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ROLES = ("records-officer", "clerk", "auditor", "operator")
MAX_FAILURES = 5  # wrong passwords in a row before the account locks
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12

CAPABILITIES: dict[str, frozenset[str]] = {
    "content.read": frozenset({"records-officer", "clerk", "auditor"}),
    "requests.change": frozenset({"records-officer", "clerk"}),
    "holds.change": frozenset({"records-officer"}),
    "retention.read": frozenset({"records-officer", "clerk", "auditor"}),
    "retention.approve": frozenset({"records-officer"}),
    "audit.read": frozenset({"records-officer", "auditor"}),
    "accounts.read": frozenset({"records-officer", "clerk", "auditor", "operator"}),
    "accounts.change": frozenset({"records-officer", "operator"}),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@cache
def _argon2() -> tuple[PasswordHasher, str]:
    """The password hasher, and the hash verified against when the name is unknown (so a wrong
    name costs as long as a wrong password). Made on first use, not at import: importing argon2
    and computing that hash cost `archiver users list` (which never hashes) 0.1 s of CPU.
    `archiver serve` makes them before it serves (prepare_login), so no sign-in is the first."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    return hasher, hasher.hash("not a password anyone has")


def prepare_login() -> None:
    """Make the hasher and the dummy hash now (see _argon2)."""
    _argon2()


class LoginRefused(ArchiverError):
    """Wrong name or password, a disabled user, or a locked account (one message for all but
    the lock, so the form tells nobody which names exist)."""


@dataclass(frozen=True)
class UserView:
    name: str
    role: str
    disabled: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    has_password: bool


def allowed(role: str, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(capability)  # a typo in the console must fail loudly, not deny silently
    return role in CAPABILITIES[capability]


def _view(row: ConsoleUser) -> UserView:
    return UserView(row.name, row.role, row.disabled, row.locked_until, row.last_login_at,
                    row.password_hash is not None)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


def add_user(app: App, name: str, *, role: str, password: str | None, actor: str) -> UserView:
    """A new console user; `password` None makes a user who can only come through the proxy."""
    if not _NAME.match(name):
        raise ConfigError(f"User name {name!r} is not allowed; use letters, digits and . _ @ - "
                          "(at most 64)")
    check_role(role)
    if password is not None and len(password) < MIN_PASSWORD:
        raise ConfigError(f"The password is too short; give at least {MIN_PASSWORD} characters")
    now = app.clock.now()
    with app.catalog.session() as s:
        if s.scalar(select(ConsoleUser).where(ConsoleUser.name == name)) is not None:
            raise ConfigError(f"User {name!r} exists already; see 'archiver users list'")
        row = ConsoleUser(name=name, role=role, password_hash=_argon2()[0].hash(password) if password else None,
                          disabled=False, created_at=now, created_by=actor, failed_logins=0)
        s.add(row)
        audit.append(s, actor=actor, action="user.add", subject=f"user:{name}", at=now,
                     details={"role": role, "password": password is not None})
        s.flush()
        return _view(row)


def set_password(app: App, name: str, password: str, *, actor: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"The password is too short; give at least {MIN_PASSWORD} characters")
    with app.catalog.session() as s:
        row = _get(s, name)
        row.password_hash = _argon2()[0].hash(password)
        row.failed_logins, row.locked_until = 0, None
        audit.append(s, actor=actor, action="user.password", subject=f"user:{name}", at=app.clock.now())


def set_disabled(app: App, name: str, disabled: bool, *, actor: str) -> None:
    with app.catalog.session() as s:
        row = _get(s, name)
        row.disabled = disabled
        audit.append(s, actor=actor, action="user.disable" if disabled else "user.enable",
                     subject=f"user:{name}", at=app.clock.now())


def list_users(app: App) -> list[UserView]:
    with app.catalog.session() as s:
        return [_view(r) for r in s.scalars(select(ConsoleUser).order_by(ConsoleUser.name))]


def get_user(app: App, name: str) -> UserView | None:
    """An enabled user by name (the proxy's header, or a session's), else None."""
    with app.catalog.session() as s:
        row = s.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
        return _view(row) if row is not None and not row.disabled else None


def _get(s: object, name: str) -> ConsoleUser:
    row = s.scalar(select(ConsoleUser).where(ConsoleUser.name == name))  # type: ignore[attr-defined]
    if row is None:
        raise ConfigError(f"No console user {name!r}; see 'archiver users list'")
    return row


def authenticate(app: App, name: str, password: str, *, source: str = "") -> UserView:
    """The user, or LoginRefused. Five wrong passwords in a row lock the user for LOCKOUT,
    counted in the catalog; while locked even the right password is refused. Every refusal
    and every sign-in is in the audit log (with the client address, never the password)."""
    now = app.clock.now()
    refusal: str | None = None
    with app.catalog.session() as s:  # the refusal is raised after the commit, so it counts
        row = s.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
        if row is None or row.password_hash is None or row.disabled:
            _verify(_argon2()[1], password)  # the same time as a wrong password
            audit.append(s, actor=name[:255] or "?", action="login.refused", subject="console", at=now,
                         details={"source": source, "why": "unknown or disabled user"})
            refusal = "Wrong user name or password; try again"
        elif row.locked_until is not None and row.locked_until > now:
            audit.append(s, actor=row.name, action="login.refused", subject=f"user:{row.name}", at=now,
                         details={"source": source, "why": "locked"})
            refusal = (f"Too many wrong passwords: this user is locked until {row.locked_until:%H:%M} UTC; "
                       "wait, or ask a records officer to reset the password")
        elif not _verify(row.password_hash, password):
            row.failed_logins += 1
            details: dict[str, object] = {"source": source, "why": "wrong password",
                                          "failures": row.failed_logins}
            if row.failed_logins >= MAX_FAILURES:
                row.locked_until, row.failed_logins = now + LOCKOUT, 0
                details["locked_until"] = row.locked_until.isoformat()
            audit.append(s, actor=row.name, action="login.refused", subject=f"user:{row.name}", at=now,
                         details=details)
            refusal = "Wrong user name or password; try again"
        else:
            if _argon2()[0].check_needs_rehash(row.password_hash):
                row.password_hash = _argon2()[0].hash(password)
            row.failed_logins, row.locked_until, row.last_login_at = 0, None, now
            audit.append(s, actor=row.name, action="login", subject=f"user:{row.name}", at=now,
                         details={"source": source})
            s.flush()
            view = _view(row)
    if refusal is not None:
        raise LoginRefused(refusal)
    return view


def _verify(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return bool(_argon2()[0].verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
