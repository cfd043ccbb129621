"""The PDF reading copy's own layout (archiver/requests/package/pdf.py), checked by what a reader
gets out of the file: the extracted text (pypdf), the fonts embedded, the links. The whole
package's PDF (redactions absent, bars and citations present) is checked in
test_export_package.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from archiver.core.errors import RequestError
from archiver.requests.package import pdf
from archiver.requests.package.reading_copy import page


def _render(tmp_path: Path, body: str) -> PdfReader:
    out = tmp_path / "out.pdf"
    pdf.render(page("t", body), out, title="t", footer="Request T")
    return PdfReader(str(out))


def _text(reader: PdfReader) -> str:
    return "\n".join(p.extract_text() or "" for p in reader.pages)


def test_long_text_wraps_onto_lines_and_pages_without_losing_a_word(tmp_path: Path) -> None:
    words = [f"w{n:04d}" for n in range(3000)]
    long_token = "x" * 300 + "END"
    body = (f'<article class="item"><div class="text" dir="auto">{" ".join(words)}</div>'
            f'<p class="meta">{long_token}</p></article>')
    reader = _render(tmp_path, body)
    text = _text(reader)
    assert re.findall(r"w\d{4}", text) == words  # every word, in order
    assert len(reader.pages) > 3
    lines = [ln for ln in text.splitlines() if "w0" in ln or "w1" in ln or "w2" in ln]
    assert len(lines) > 3000 // 20 and max(len(ln) for ln in lines) < 130  # wrapped at the margin
    assert long_token in re.sub(r"\s+", "", text)  # a word wider than the line is cut, not dropped


def test_platform_line_breaks_are_kept_and_markup_in_text_shows_as_text(tmp_path: Path) -> None:
    body = ('<div class="text" dir="auto">first line\nsecond line\n\n'
            "&lt;b&gt;not bold&lt;/b&gt; **not markdown**</div>")
    text = _text(_render(tmp_path, body))
    lines = [ln.strip() for ln in text.splitlines()]
    assert "first line" in lines and "second line" in lines
    assert "<b>not bold</b> **not markdown**" in text


def test_index_links_lead_to_their_threads(tmp_path: Path) -> None:
    index = "".join(f'<p><a href="#thread-{n}">Go to thread {n}</a></p>' for n in (1, 2, 3))
    threads = "".join(f'<section class="thread" id="thread-{n}"><h1>Thread {n} heading</h1>'
                      f'<div class="text">body {n}</div></section>' for n in (1, 2, 3))
    reader = _render(tmp_path, f'<section id="top">{index}</section>{threads}')
    assert len(reader.pages) == 4  # each thread starts a page, as in print
    targets = []
    for annot in reader.pages[0].get("/Annots") or []:
        a = annot.get_object()
        if a.get("/Subtype") == "/Link":
            dest = a["/Dest"] if "/Dest" in a else a["/A"]["/D"]
            targets.append(reader.get_page_number(dest[0].get_object()))
    assert targets == [1, 2, 3]
    for n in (1, 2, 3):
        assert f"Thread {n} heading" in (reader.pages[n].extract_text() or "")


def _has_font(name: str) -> bool:
    if shutil.which("fc-list") is None:
        return False
    return name in subprocess.run(["fc-list"], capture_output=True, text=True, check=False).stdout


@pytest.mark.skipif(not (_has_font("Noto Color Emoji") and _has_font("NotoSansDevanagari")),
                    reason="needs fonts-noto-core and fonts-noto-color-emoji (scripts/test-setup.sh)")
def test_characters_the_body_font_lacks_come_from_fallback_fonts(tmp_path: Path) -> None:
    body = '<div class="text">Hindi \u0928\u092e\u0938\u094d\u0924\u0947 emoji \U0001F469 Greek \u03b1\u03b2\u03b3</div>'
    reader = _render(tmp_path, body)
    fonts: Any = reader.pages[0]["/Resources"]
    names = {str(f.get_object().get("/BaseFont") or f.get_object().get("/Name"))
             for f in fonts["/Font"].values()}
    assert any("DejaVuSans" in n for n in names)
    assert any("NotoSansDevanagari" in n for n in names)
    assert any("NotoColorEmoji" in n for n in names)  # the emoji DejaVu lacks, drawn in colour
    text = reader.pages[0].extract_text() or ""
    assert "\U0001F469" in text and "\u03b1\u03b2\u03b3" in text


def test_no_usable_font_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "_installed_fonts", lambda: {})
    with pytest.raises(RequestError, match="fonts-dejavu-core"):
        pdf.render(page("t", "<p>x</p>"), tmp_path / "x.pdf", title="t", footer="f")
    assert not (tmp_path / "x.pdf").exists()


# Every kind of run the reading copy has: nested items, bold, italic, monospace ids, sizes,
# marked edits, bars and citations, a word cut by characters, combining marks, scripts and
# emoji the body font lacks (drawn by fallbacks when the system has them), words that recur.
_VARIED = (
    '<section id="top"><h1>Request <em>T</em></h1><table class="facts"><tr><th>Due</th>'
    '<td>2026-12-08</td></tr></table></section>'
    '<section class="thread" id="thread-1"><h1>Thread 1</h1>'
    '<article class="item"><header><span class="kind">post</span> by <strong>Pat</strong>'
    '<div class="meta">facebook · id <code class="rid">1000001_3000002</code></div></header>'
    '<div class="text" dir="auto">bus contract bus contract cafe\u0301 na\u00efve \u05e9\u05dc\u05d5\u05dd '
    '\u0928\u092e\u0938\u094d\u0924\u0947 \U0001F600 \u03b1\u03b2\u03b3 ' + "y" * 260 + "</div>"
    '<div class="edit"><div><del>old words</del> kept</div><div><ins>new words</ins> kept</div></div>'
    '<p>plain <em>emphasis</em>, <strong>strong</strong></p><p class="meta">meta <em>emphasis</em></p>'
    '<p>call <span class="bar">\u2588\u2588\u2588\u2588</span> <cite class="cite">RCW 42.56.230(1)</cite></p>'
    '<article class="item deleted"><p class="banner">Deleted, detected 2026-12-02</p>'
    '<div class="text">bus contract <b>bold <i>bold italic</i></b> <code>mono</code></div></article>'
    "</article></section>"
)


def _content(reader: PdfReader) -> list[bytes]:
    return [p.get_contents().get_data() for p in reader.pages]  # type: ignore[union-attr]


def test_shortcuts_lay_out_exactly_what_the_character_by_character_path_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A word whose characters are all known to be drawn by the style's first font is one
    piece (no per-character font choice), and the style of each (tag, classes, parent) is
    remembered: the pages' drawing operations and text are those of the path without either."""
    (tmp_path / "fast").mkdir()
    fast = _render(tmp_path / "fast", _VARIED)
    pdf._style_for.cache_clear()
    monkeypatch.setattr(pdf.Fonts, "single", lambda self, text, style: None)
    monkeypatch.setattr(pdf, "_style_for", pdf._style_for.__wrapped__)
    (tmp_path / "slow").mkdir()
    slow = _render(tmp_path / "slow", _VARIED)
    assert _content(fast) == _content(slow)
    assert _text(fast) == _text(slow)
    assert "bus contract" in _text(fast) and "RCW 42.56.230(1)" in _text(fast)
