"""Frozen data classes that cross layer boundaries (connectors <-> capture <-> catalog).

They carry no behaviour that touches I/O, so connectors can build and return them without
knowing anything about storage or SQL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit


class ItemKind(StrEnum):
    POST = "post"
    COMMENT = "comment"
    REPLY = "reply"
    MEDIA = "media"
    PROFILE = "profile"


@dataclass(frozen=True, slots=True)
class AccountRef:
    """A registered account as a connector sees it: no secrets, no catalog ids."""

    platform: str
    account_id: str
    name: str = ""
    api_base: str = ""
    role: str = ""


@dataclass(frozen=True, slots=True)
class WarcPointer:
    """Where one WARC record lives: enough to read it back without scanning the file."""

    filename: str
    offset: int
    length: int
    record_id: str


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A media file an item shows. `url` may be a signed CDN URL that expires."""

    url: str
    kind: str = "image"
    media_id: str = ""


def content_hash(content: dict[str, Any]) -> str:
    """sha256 of canonical JSON: the same content always hashes the same, key order aside."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def media_key(url: str) -> str:
    """Signed CDN URLs differ on every fetch (oh=, oe=); scheme, host and path name the file."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@dataclass(frozen=True, slots=True)
class Item:
    """One post, comment, reply, media object or profile as the platform showed it.

    `content` holds only what counts as the record's substance (text, media identity,
    moderation flags). Engagement counts and `updated_time` stay out of it, so that a new
    like or comment never looks like an edit.
    """

    platform: str
    account_id: str
    item_id: str
    kind: ItemKind
    content: dict[str, Any]
    created_at: datetime | None = None
    parent_id: str | None = None
    author: str = ""
    text: str = ""
    url: str = ""
    media: tuple[MediaRef, ...] = ()
    # What moves when the item's children change (a comment count, Graph's updated_time, a
    # reply count): opaque, compared for equality only, never part of the content hash. None
    # where the platform gives no such signal.
    signal: str | None = None

    @property
    def content_sha256(self) -> str:
        return content_hash(self.content)


@dataclass(frozen=True, slots=True)
class CapturedExchange:
    """One HTTP request/response as written to the WARC (secrets already removed)."""

    url: str
    method: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    captured_at: datetime
    response_pointer: WarcPointer | None = None
    request_record_id: str = ""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Observed:
    """An item seen in a captured response, with the pointer to that response."""

    item: Item
    evidence: WarcPointer | None


@dataclass(frozen=True, slots=True)
class Covered:
    """The listing of children of `parent_id` (None: the account's top level) is complete.

    Only items inside a covered scope can be judged missing; a listing cut short by an error
    never yields Covered, so nothing in it is ever marked deleted.
    """

    parent_id: str | None
    kinds: tuple[ItemKind, ...]
    # A listing that cannot reach back forever (X's 3,200-post timeline, a feed of the latest
    # N entries) covers only items created strictly after this moment.
    created_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """These known items were looked up one by one (or in a batch lookup that answered whole).

    Any of them not Observed in this cycle is missing and goes to `confirm_gone`, as an item
    absent from a covered listing does. Connectors whose listings stop early use it for the
    items a reconciliation sweep asks about.
    """

    item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Progress safe to persist; the next harvest may resume from `cursor`."""

    cursor: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParseWarning:
    """A payload part we could not understand; its bytes are in the WARC at `evidence`."""

    code: str
    message: str
    evidence: WarcPointer | None = None
    item_id: str = ""


@dataclass(frozen=True, slots=True)
class Gone:
    """The platform confirmed the item no longer exists (or is no longer visible)."""

    reason: str
    evidence: WarcPointer | None
    status: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Present:
    """A direct fetch found the item after all; it was only absent from the listing."""

    items: tuple[Item, ...] = ()
    evidence: WarcPointer | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str
    display_name: str = ""
    details: dict[str, Any] = field(default_factory=dict)


HarvestEvent = Observed | Covered | Checked | Checkpoint | ParseWarning
