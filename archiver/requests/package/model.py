"""What the request register hands the package builder: the request, the responsive items and
every review decision. Plain frozen data; the register fills it in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Redaction:
    item_id: str
    text: str
    exemption: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Withholding:
    item_id: str
    exemption: str
    by: str
    at: datetime


@dataclass(frozen=True)
class ExportRequest:
    request_id: str
    requester: str
    received: date
    due: date
    description: str
    state: str
    district: str
    item_ids: tuple[str, ...]
    redactions: tuple[Redaction, ...]
    withheld: tuple[Withholding, ...]
    searches: tuple[str, ...]
