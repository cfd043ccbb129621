"""The composition root: settings, catalog, object store and clock, built once per process.

The CLI and the daemon build one `App` and pass it down; nothing else constructs these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from archiver.catalog.db import Catalog, open_catalog
from archiver.core.clock import Clock, SystemClock
from archiver.core.errors import MissingKey

if TYPE_CHECKING:  # imported where used: a read command never loads the vault or connectors
    from archiver.core.settings import Settings  # pydantic: see archiver.core.plain_settings
    from archiver.preservation.reading import WarcReader
    from archiver.storage.base import ObjectStore
    from archiver.vault import KeyProvider
    from connectors.base import Connector


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    # Upgrade the catalog's schema on first use (library callers, capture, the daemon); when
    # False the catalog is only checked to be at head, and an older one is refused with a
    # one-line "run 'archiver migrate'" (read commands: no Alembic import, no migration run).
    migrate: bool = True

    def __post_init__(self) -> None:
        # Each [connectors.<platform>] section is checked by that connector's own settings
        # model now, at start-up, so a misspelt key is refused before anything runs.
        if self.settings.connectors:
            from connectors import make_connector

            for platform, section in self.settings.connectors.items():
                make_connector(platform, section)
                if section.budget is not None:  # a bad quota figure is a config error naming it
                    from connectors.quotas import model_for

                    model_for(platform, section.budget)

    @cached_property
    def catalog(self) -> Catalog:
        self.settings.ensure_home()
        return open_catalog(self.settings.catalog_url, upgrade=self.migrate)

    @cached_property
    def store(self) -> ObjectStore:
        from archiver.storage.factory import open_store

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
        store.check_bucket()  # refuse a bucket without versioning and Object Lock, before any upload
        return store

    @cached_property
    def keys(self) -> KeyProvider:
        """KMS when a key id is configured; otherwise the key file under the home."""
        from archiver.vault import KeyFileProvider

        vault = self.settings.vault
        if vault.kms_key_id:
            import boto3

            from archiver.vault.kms import KmsKeyProvider

            client = boto3.client(
                "kms", endpoint_url=vault.kms_endpoint_url, region_name=vault.kms_region
            )
            return KmsKeyProvider(vault.kms_key_id, client)
        path = self.settings.key_file
        if not path.exists():  # never replaced silently: the backup would not read new objects
            raise MissingKey(
                f"Key file {path} does not exist; restore it from backup (a new archive gets "
                "one from 'archiver init')"
            )
        return KeyFileProvider(path, create=False)

    def check_keys_present(self) -> None:
        """Before capturing: refuse a key file that lacks keys the catalog's wrapped keys need
        (an older backup, or another archive's file), so nothing new is encrypted under it.
        Readers need not ask: each object they cannot open is reported on its own."""
        from sqlalchemy import select

        from archiver.catalog import tables as t
        from archiver.vault import KeyFileProvider

        provider = self.keys
        if not isinstance(provider, KeyFileProvider):
            return

        with self.catalog.session() as s:
            used = set(s.scalars(select(t.WarcFile.key_id).where(
                t.WarcFile.wrapped_key.is_not(None), t.WarcFile.key_id.like("kf-%")).distinct()))
        missing = sorted(k for k in used - set(provider.key_ids) if k)
        if missing:
            raise MissingKey(
                f"Key file {provider.path} lacks key {missing[0]!r}"
                + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                + " that the catalog's objects need; restore the key file from backup"
            )

    def warc_reader(self) -> WarcReader:
        """A fresh reader of stored WARCs (its range-reader cache belongs to the caller)."""
        from archiver.preservation.reading import WarcReader

        return WarcReader(self.catalog, self.store, self.keys)

    def connector(self, platform: str) -> Connector:
        from connectors import make_connector

        return make_connector(platform, self.settings.connector(platform))

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.dispose()
