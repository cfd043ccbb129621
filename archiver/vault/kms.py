"""AWS KMS as the key provider: KMS generates and unwraps data keys; the KEK never leaves KMS.

The object's context is sent as the KMS EncryptionContext, so KMS refuses to unwrap a data
key for any other account/object, and CloudTrail logs the context of every unwrap.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from archiver.core.errors import MissingKey, VaultError, WrongKey
from archiver.vault.keys import Context, DataKey, WrappedKey, canonical_context

_WRONG = {"InvalidCiphertextException", "IncorrectKeyException"}
_UNAVAILABLE = {
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",
    "KeyUnavailableException",
    "AccessDeniedException",
}


class KmsKeyProvider:
    """KMS-backed provider. `client` is a boto3 KMS client (injected so tests can use moto)."""

    def __init__(self, key_id: str, client: Any) -> None:
        self.configured_key_id = key_id
        self.client = client
        self._arn: str | None = None

    def __repr__(self) -> str:
        return f"KmsKeyProvider({self.configured_key_id!r})"

    @property
    def key_id(self) -> str:
        """The key ARN (aliases resolved once), so 'already current' compares like with like."""
        if self._arn is None:
            meta = self._call("DescribeKey", self.configured_key_id, KeyId=self.configured_key_id)
            self._arn = str(meta["KeyMetadata"]["Arn"])
        return self._arn

    def generate_data_key(self, context: Context) -> DataKey:
        resp = self._call(
            "GenerateDataKey",
            self.configured_key_id,
            KeyId=self.configured_key_id,
            KeySpec="AES_256",
            EncryptionContext=_context(context),
        )
        return DataKey(resp["Plaintext"], resp["CiphertextBlob"], resp["KeyId"])

    def wrap(self, data_key: bytes, context: Context) -> WrappedKey:
        resp = self._call(
            "Encrypt",
            self.configured_key_id,
            KeyId=self.configured_key_id,
            Plaintext=data_key,
            EncryptionContext=_context(context),
        )
        return WrappedKey(resp["CiphertextBlob"], resp["KeyId"])

    def unwrap(self, wrapped: bytes, key_id: str, context: Context) -> bytes:
        resp = self._call(
            "Decrypt",
            key_id,
            CiphertextBlob=wrapped,
            KeyId=key_id,
            EncryptionContext=_context(context),
        )
        return bytes(resp["Plaintext"])

    def reencrypt(self, wrapped: bytes, key_id: str, context: Context) -> WrappedKey:
        """Move a wrapped key to the current KMS key inside KMS; plaintext never leaves it."""
        ctx = _context(context)
        resp = self._call(
            "ReEncrypt",
            key_id,
            CiphertextBlob=wrapped,
            SourceKeyId=key_id,
            SourceEncryptionContext=ctx,
            DestinationKeyId=self.configured_key_id,
            DestinationEncryptionContext=ctx,
        )
        return WrappedKey(resp["CiphertextBlob"], resp["KeyId"])

    def _call(self, operation: str, key_id: str, **params: Any) -> dict[str, Any]:
        method = {
            "DescribeKey": self.client.describe_key,
            "GenerateDataKey": self.client.generate_data_key,
            "Encrypt": self.client.encrypt,
            "Decrypt": self.client.decrypt,
            "ReEncrypt": self.client.re_encrypt,
        }[operation]
        try:
            return dict(method(**params))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            detail = f"KMS {operation} failed: {code}"
            if code in _WRONG:
                raise WrongKey(
                    f"KMS key {key_id!r} refused to unwrap this data key: wrong account/object "
                    "context or a different key; check the object's catalog row.",
                    detail=detail,
                ) from None
            if code in _UNAVAILABLE:
                raise MissingKey(
                    f"KMS key {key_id!r} is not available ({code}); check the key exists, is "
                    "enabled, and that this service may use it.",
                    detail=detail,
                ) from None
            raise VaultError(
                f"KMS {operation} failed ({code}); retry later or check the KMS settings.",
                detail=detail,
            ) from None
        except BotoCoreError as exc:
            raise VaultError(
                f"KMS could not be reached for {operation}; check network and endpoint, then "
                "retry.",
                detail=type(exc).__name__,
            ) from None


def _context(context: Context) -> dict[str, str]:
    canonical_context(context)  # same type checks as the key-file provider
    return dict(context)
