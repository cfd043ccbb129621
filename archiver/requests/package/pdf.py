"""data/reading/records.pdf: the reading copy as one PDF, rendered from the same HTML.

WeasyPrint lays the pages out (Pango and fontconfig underneath), so the PDF shows exactly what
the HTML shows, redaction bars included, and the redacted text never reaches it. Glyphs come
from the system's fonts with per-character fallback: install fonts that cover the platforms'
scripts and emoji (Debian: fonts-dejavu, fonts-noto-core, fonts-noto-color-emoji).
"""

from __future__ import annotations

import logging
from pathlib import Path

from archiver.core.errors import RequestError
from archiver.requests.package.reading_copy import ReadingCopy, page


def combined_html(copy: ReadingCopy) -> str:
    parts = [f'<section id="top">{copy.index_body(lambda t: f"#thread-{t.number}")}</section>']
    parts += [copy.thread_body(t, "#top") for t in copy.threads]
    return page(f"Public records request {copy.req.request_id}", "".join(parts))


def write_pdf(copy: ReadingCopy, path: Path) -> None:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango missing from the system
        raise RequestError(
            f"Cannot make the PDF reading copy ({exc}); install the system's Pango library "
            "(Debian: libpango-1.0-0) and run the export again"
        ) from exc
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    HTML(string=combined_html(copy)).write_pdf(path)
