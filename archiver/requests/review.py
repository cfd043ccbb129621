"""Review for personal information, and the state of an officer's redaction decisions.

Candidates are e-mail addresses, phone numbers, street addresses and student names from the
district's roster. The roster is read into memory for one review and never stored, logged or
exported: names are kept only as folded word tuples in this process, and errors about the file
name a row number, never a name.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.catalog.search_text import words_with_spans
from archiver.core.errors import RequestError
from archiver.requests.package.model import Redaction, Withholding

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]\d{4}(?![\w-])")
STREET = re.compile(
    r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z0-9][\w'.-]*\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Loop|Trail|Trl)\b\.?"
)


@dataclass(frozen=True)
class Finding:
    item_id: str
    version: int
    kind: str  # email | phone | street-address | student-name
    text: str  # the words as they stand in the item (shown to the officer, never logged)
    start: int
    end: int


class Roster:
    """Student names as folded word tuples, in memory only."""

    def __init__(self, names: Iterable[tuple[str, ...]]) -> None:
        self._names = {n for n in names if len(n) >= 2}
        self.lengths = sorted({len(n) for n in self._names}, reverse=True)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, words: tuple[str, ...]) -> bool:
        return words in self._names


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w, _, _ in words_with_spans(text))


def load_roster(path: Path) -> Roster:
    """A CSV with `first_name,last_name` (and optional `preferred_name`) or one `name` column."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise RequestError(f"No roster file at {path}; give the path of the district's roster CSV") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RequestError(f"Cannot read the roster {path} ({type(exc).__name__}); save it as UTF-8 CSV") from exc
    if not rows:
        raise RequestError(f"The roster {path} is empty; it needs a header and one row per student")
    header = [c.strip().lower() for c in rows[0]]
    if "name" in header:
        columns = [header.index("name")]
    elif "first_name" in header and "last_name" in header:
        columns = [header.index("first_name"), header.index("last_name")]
    else:
        raise RequestError(f"The roster {path} needs a 'name' column or 'first_name' and 'last_name' columns")
    preferred = header.index("preferred_name") if "preferred_name" in header else None
    names: list[tuple[str, ...]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise RequestError(f"The roster {path} row {number} has {len(row)} fields, the header "
                               f"{len(header)}; fix the row (names are not shown here)")
        parts = [_words(row[c]) for c in columns]
        if any(not p for p in parts) or sum(len(p) for p in parts) < 2:
            raise RequestError(f"The roster {path} row {number} lacks a first and a last name; "
                               "fix the row (names are not shown here)")
        full = tuple(w for p in parts for w in p)
        names.append(full)
        if len(columns) == 2:
            names.append(parts[1] + parts[0])  # "Doe, Pat"
            if preferred is not None and _words(row[preferred]):
                names.append(_words(row[preferred]) + parts[1])
    return Roster(names)


def scan(item_id: str, version: int, text: str, roster: Roster | None = None) -> list[Finding]:
    found = [Finding(item_id, version, kind, m.group(), m.start(), m.end())
             for kind, pattern in (("email", EMAIL), ("phone", PHONE), ("street-address", STREET))
             for m in pattern.finditer(text)]
    if roster is not None and len(roster):
        spans = words_with_spans(text)
        words = [w for w, _, _ in spans]
        i = 0
        while i < len(words):
            for n in roster.lengths:
                if tuple(words[i : i + n]) in roster:
                    start, end = spans[i][1], spans[i + n - 1][2]
                    found.append(Finding(item_id, version, "student-name", text[start:end], start, end))
                    i += n - 1
                    break
            i += 1
    return sorted(found, key=lambda f: (f.start, f.kind))


@dataclass(frozen=True)
class DecisionRow:
    item_id: str
    action: str  # redact | withhold | release
    text: str | None
    exemption: str
    by: str
    at: datetime


@dataclass(frozen=True)
class ReviewState:
    redactions: tuple[Redaction, ...]
    withheld: tuple[Withholding, ...]


def replay(decisions: Sequence[DecisionRow]) -> ReviewState:
    """The decisions in force: the newest decision about each text or item wins."""
    redactions: dict[tuple[str, str], Redaction] = {}
    withheld: dict[str, Withholding] = {}
    for d in decisions:
        if d.action == "redact" and d.text is not None:
            redactions[(d.item_id, d.text)] = Redaction(d.item_id, d.text, d.exemption, d.by, d.at)
        elif d.action == "withhold":
            withheld[d.item_id] = Withholding(d.item_id, d.exemption, d.by, d.at)
        elif d.action == "release":
            if d.text is None:
                withheld.pop(d.item_id, None)
            else:
                redactions.pop((d.item_id, d.text), None)
    return ReviewState(tuple(redactions.values()), tuple(withheld.values()))
