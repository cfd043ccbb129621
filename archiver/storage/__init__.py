"""Object stores: where encrypted WARCs live, written once, under retention."""

from __future__ import annotations

from archiver.storage.base import InvalidKey, NoSuchObject, ObjectStore, StoredObject
from archiver.storage.factory import open_store
from archiver.storage.local import LocalFolderStore

__all__ = [
    "InvalidKey",
    "LocalFolderStore",
    "NoSuchObject",
    "ObjectStore",
    "StoredObject",
    "open_store",
]
