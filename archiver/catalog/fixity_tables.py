"""What fixity remembers between runs besides its log (archiver/catalog/tables.py FixityCheck).

Not derived from the WARCs (`catalog rebuild --apply` keeps it); keyed by WARC name with no
foreign key, like the fixity log, so it outlives a rebuilt `warc_files` row. A row is only a
claim about the plaintext whose digest it names: an object whose plaintext hashes to anything
else is deep-checked again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from archiver.catalog.tables import Base


class FixityDeepCheck(Base):
    """The plaintext sha256 under which every WARC record digest of one object last passed.

    SHA-256 is collision resistant, so a later read whose plaintext hashes to this value read
    the very bytes whose record digests passed: a routine `verify` proves that with hashlib and
    the AEAD tags instead of inflating every gzip member again (see preservation/fixity.py).
    """

    __tablename__ = "fixity_deep_checks"

    warc_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    plaintext_sha256: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    checked_at: Mapped[datetime]
    run_id: Mapped[str] = mapped_column(String(64))
