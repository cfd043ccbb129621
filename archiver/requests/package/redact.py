"""Apply redactions to what the package shows: every platform string passes through a Masker.

A redaction names an item, but the same words (a student's name) can recur in a reply, an
author field or a search the officer ran, so each redacted text is masked wherever it occurs
in the package's readable files. The text itself is never written: marks are cited by label
(R1, R2, ...) and exemption. Archival records are never altered; a record that still carries
redacted text is left out of the package's WARC instead (see records.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from archiver.requests.package.model import Redaction


@dataclass(frozen=True)
class Mark:
    """Where redacted text was: labels and exemptions, never the text."""

    labels: tuple[str, ...]
    exemptions: tuple[str, ...]

    @property
    def caption(self) -> str:
        return f"redacted {', '.join(self.labels)}: {'; '.join(self.exemptions)}"


Segment = str | Mark


@dataclass(frozen=True)
class LabelledRedaction:
    label: str
    redaction: Redaction


class Masker:
    def __init__(self, redactions: Iterable[Redaction]) -> None:
        ordered = sorted(redactions, key=lambda r: (r.at, r.item_id, r.exemption))
        self.redactions = tuple(
            LabelledRedaction(f"R{n}", r) for n, r in enumerate(ordered, start=1)
        )
        self._texts = [(lr.label, lr.redaction) for lr in self.redactions if lr.redaction.text.strip()]

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(r.text for _, r in self._texts)

    def segments(self, value: str) -> list[Segment]:
        """`value` split into plain text and Marks; overlapping redactions merge into one."""
        if not value or not self._texts:
            return [value] if value else []
        spans: list[tuple[int, int, str, str]] = []
        for label, r in self._texts:
            start = value.find(r.text)
            while start >= 0:
                spans.append((start, start + len(r.text), label, r.exemption))
                start = value.find(r.text, start + 1)
        if not spans:
            return [value]
        spans.sort()
        out: list[Segment] = []
        pos = 0
        i = 0
        while i < len(spans):
            start, end, label, exemption = spans[i]
            labels, exemptions = [label], [exemption]
            i += 1
            while i < len(spans) and spans[i][0] < end:
                end = max(end, spans[i][1])
                if spans[i][2] not in labels:
                    labels.append(spans[i][2])
                if spans[i][3] not in exemptions:
                    exemptions.append(spans[i][3])
                i += 1
            if start > pos:
                out.append(value[pos:start])
            out.append(Mark(tuple(labels), tuple(exemptions)))
            pos = end
        if pos < len(value):
            out.append(value[pos:])
        return out

    def plain(self, value: str | None) -> str:
        """For CSV, JSON and titles: marks become '[redacted R1: exemption]'."""
        if not value:
            return value or ""
        return "".join(s if isinstance(s, str) else f"[{s.caption}]" for s in self.segments(value))

    def contains_redacted(self, haystack: str) -> bool:
        return any(text in haystack for text in self.texts)

    def labels_in(self, value: str) -> list[str]:
        return [label for label, r in self._texts if r.text in value]
