"""One exception hierarchy, named for what the caller should do next.

Every class carries a one-line `message` a records officer can act on; the CLI prints exactly
that line and exits non-zero. `detail` holds technical context for logs and never secrets.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from archiver.core.models import WarcPointer


class ArchiverError(Exception):
    """Root of every error the archiver raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class ConfigError(ArchiverError):
    """Settings, accounts or files are wrong; a person must fix them."""

    exit_code = 2


class CatalogError(ArchiverError):
    """The metadata catalog cannot be reached or is inconsistent."""


class ConnectorError(ArchiverError):
    """Something went wrong talking to a platform."""

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        account: str = "",
        detail: str = "",
        evidence: WarcPointer | None = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.platform = platform
        self.account = account
        self.evidence = evidence


class TryLater(ConnectorError):
    """Rate limited or the platform is down: retry at `retry_at` (UTC) or later."""

    def __init__(self, message: str, *, retry_at: datetime, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]  # passes the base class keywords through unchanged
        self.retry_at = retry_at


class NeedsAttention(ConnectorError):
    """A person must act (expired token, revoked permission) before capture can resume."""


class AccountGone(ConnectorError):
    """The account itself no longer exists or is suspended on the platform."""


class UnexpectedResponse(ConnectorError):
    """The platform answered in a shape we do not understand; its bytes are in the WARC."""


class StorageError(ArchiverError):
    """An object could not be written to, read from or deleted in the object store."""


class IntegrityError(StorageError):
    """Stored bytes do not match the digest we recorded: a fixity finding."""


class ObjectLocked(StorageError):
    """The store refused to delete an object under retention or legal hold."""


class VaultError(ArchiverError):
    """Encrypted data could not be read or written."""


class WrongKey(VaultError):
    """The key at hand is not the one that encrypted this object."""


class MissingKey(VaultError):
    """The key needed to decrypt this object is not available."""


class TamperedData(VaultError):
    """Ciphertext failed authentication: truncated, reordered or altered."""


class RetentionError(ArchiverError):
    """Retention schedules or holds forbid what was asked."""


class HoldConflict(RetentionError):
    """A legal or records-request hold blocks this disposition."""


class ScheduleInvalid(RetentionError):
    """A retention schedule file is malformed or contradicts itself."""


class RequestError(ArchiverError):
    """A public records request operation failed."""
