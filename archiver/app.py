"""The composition root: settings, catalog, object store and clock, built once per process.

The CLI and the daemon build one `App` and pass it down; nothing else constructs these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from archiver.catalog.db import Catalog, open_catalog
from archiver.core.clock import Clock, SystemClock
from archiver.core.settings import Settings
from archiver.storage.base import ObjectStore
from archiver.storage.factory import open_store
from archiver.vault import KeyFileProvider, KeyProvider
from connectors import make_connector
from connectors.base import Connector

if TYPE_CHECKING:
    from archiver.preservation.reading import WarcReader


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def catalog(self) -> Catalog:
        self.settings.ensure_home()
        return open_catalog(self.settings.catalog_url)

    @cached_property
    def store(self) -> ObjectStore:
        self.settings.ensure_home()
        options: dict[str, Any] = {}
        if self.settings.store_url.startswith("s3://"):
            options = {
                "endpoint_url": self.settings.storage.s3_endpoint_url,
                "region": self.settings.storage.s3_region,
                "lock_mode": self.settings.storage.object_lock_mode,
            }
        if self.settings.storage.default_retain_days:
            from datetime import timedelta

            options["default_retention"] = timedelta(days=self.settings.storage.default_retain_days)
        store = open_store(self.settings.store_url, **{k: v for k, v in options.items() if v})
        check = getattr(store, "check_bucket", None)
        if check is not None:
            check()  # refuse a bucket without versioning and Object Lock, before any upload
        return store

    @cached_property
    def keys(self) -> KeyProvider:
        """KMS when a key id is configured; otherwise the key file under the home."""
        vault = self.settings.vault
        if vault.kms_key_id:
            import boto3

            from archiver.vault.kms import KmsKeyProvider

            client = boto3.client(
                "kms", endpoint_url=vault.kms_endpoint_url, region_name=vault.kms_region
            )
            return KmsKeyProvider(vault.kms_key_id, client)
        self.settings.ensure_home()
        return KeyFileProvider(self.settings.key_file)

    def warc_reader(self) -> WarcReader:
        """A fresh reader of stored WARCs (its range-reader cache belongs to the caller)."""
        from archiver.preservation.reading import WarcReader

        return WarcReader(self.catalog, self.store, self.keys)

    def connector(self, platform: str) -> Connector:
        return make_connector(platform, self.settings.connector(platform))

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.dispose()
