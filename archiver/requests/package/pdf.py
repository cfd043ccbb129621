"""data/reading/records.pdf: the reading copy as one PDF, laid out from the same HTML.

The PDF is made from exactly the HTML the reading copy's pages are made of (`combined_html`: the
index and every thread, with their redaction bars, citations, deletion banners and edits), so
it says what the pages say and a redacted string cannot reach it: the masked HTML is its only
input. It used to be rendered by WeasyPrint, which is faithful but slow (about 7 s of CPU for a
100-item request, most of an export's time), so this module lays the pages out itself, with a
deliberately small layout model that the reading copy's markup fits: paragraphs that wrap,
nested items indented under a rule, table rows and the side-by-side edits as columns, and inline
styles (bold, italic, monospace, sizes, colours, marked deletions and insertions, black bars).
fpdf2 writes the file (fonts embedded as subsets, text extractable).

Line breaking is done here, with widths cached per word: fpdf2's own `write`/`multi_cell`
re-measure the whole line for every character, which is what made them slow.

Fonts: DejaVu Sans (Noto Sans if DejaVu is missing) for the text, DejaVu Sans Mono for record
ids; every character those fonts lack is looked up through fontconfig (`fc-match`), as Pango did
for WeasyPrint, so Hebrew, Arabic, Indic scripts and emoji (Noto Color Emoji, drawn in colour)
show when the system has a font for them (Debian: fonts-dejavu-core, fonts-noto-core,
fonts-noto-color-emoji). Right-to-left and complex-script runs are shaped and reordered with
HarfBuzz (uharfbuzz) when it is installed.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from archiver.core.errors import RequestError
from archiver.requests.package.reading_copy import ReadingCopy, page

# --- the source -------------------------------------------------------------------------------


def combined_html(copy: ReadingCopy) -> str:
    """The index and every thread in one document, thread links as anchors."""
    parts = [f'<section id="top">{copy.index_body(lambda t: f"#thread-{t.number}")}</section>']
    parts += [copy.thread_body(t, "#top") for t in copy.threads]
    return page(f"Public records request {copy.req.request_id}", "".join(parts))


# --- the layout model -------------------------------------------------------------------------

Color = tuple[int, int, int]
BLACK: Color = (17, 17, 17)
BODY_SIZE = 9.5


@dataclass(frozen=True)
class Style:
    bold: bool = False
    italic: bool = False
    mono: bool = False
    size: float = BODY_SIZE
    color: Color = BLACK
    fill: Color | None = None
    strike: bool = False
    underline: bool = False
    link: str | None = None  # an anchor id in this document
    capitalize: bool = False


@dataclass
class Para:
    """A block of inline runs that wraps at the width it is given."""

    runs: list[tuple[str, Style]] = field(default_factory=list)
    indent: float = 0.0
    space_before: float = 2.0
    rule: Color | None = None  # a line above (an item's top border)
    page_break: bool = False
    anchors: list[str] = field(default_factory=list)
    line_factor: float = 1.35

    def empty(self) -> bool:
        return not any(text.strip() for text, _ in self.runs)


@dataclass
class Row:
    """Cells side by side (a table row, or the two versions of an edit)."""

    cells: list[list[Para]] = field(default_factory=list)
    widths: list[float] | None = None  # fractions of the row; None: equal
    indent: float = 0.0
    space_before: float = 1.0
    rule: Color | None = None


Block = Para | Row

_BLOCK_TAGS = {"section", "h1", "h2", "h3", "h4", "p", "div", "li", "tr", "header", "article",
               "table", "ul", "ol", "footer", "main", "body"}
_SKIP_TAGS = {"head", "style", "title", "script", "nav"}  # nav: hidden in print, as in the CSS
_VOID_TAGS = {"meta", "br", "img", "hr", "link", "input"}
_GREY: Color = (68, 68, 68)
_RED: Color = (160, 0, 0)
_INDENT = 14.0


def _classes(attrs: list[tuple[str, str | None]]) -> set[str]:
    return set((dict(attrs).get("class") or "").split())


@functools.lru_cache(maxsize=4096)
def _style_for(tag: str, classes: frozenset[str], parent: Style) -> Style:
    """What the reading copy's CSS says, reduced to what a PDF line needs. Remembered: the same
    few (tag, classes, parent style) recur in every item, and each `replace` builds a Style."""
    s = parent
    if tag in ("strong", "b", "th") or "kind" in classes:
        s = replace(s, bold=True)
    if tag in ("em", "i", "cite"):
        s = replace(s, italic=True)
    if tag == "h1":
        s = replace(s, bold=True, size=14.0)
    elif tag == "h2":
        s = replace(s, bold=True, size=12.0)
    elif tag in ("h3", "h4"):
        s = replace(s, bold=True, size=8.0, color=_GREY)
    if "kind" in classes:
        s = replace(s, capitalize=True)
    if classes & {"meta", "records"}:
        s = replace(s, size=7.8, color=_GREY)
    if classes & {"withheld", "context"}:
        s = replace(s, size=8.6, color=(51, 51, 51))
    if "banner" in classes:
        s = replace(s, size=8.6, color=_RED)
    if "notes" in classes:
        s = replace(s, size=8.2)
    if tag == "code" or "rid" in classes:
        s = replace(s, mono=True, size=min(s.size, 7.4))
    if tag == "del":
        s = replace(s, strike=True, fill=(255, 215, 215), color=_RED)
    if tag == "ins":
        s = replace(s, underline=True, fill=(212, 247, 212), color=(0, 90, 0))
    if "bar" in classes:
        s = replace(s, color=(0, 0, 0), fill=(0, 0, 0), bold=False, strike=False, underline=False)
    if "cite" in classes:
        s = replace(s, italic=True, size=7.2, color=(0, 0, 0), fill=None, strike=False,
                    underline=False)
    if "ctl" in classes:
        s = replace(s, size=6.8, color=(85, 85, 85), bold=False)
    return s


@dataclass
class _Open:
    tag: str
    classes: set[str]
    style: Style
    block: bool
    pre: bool
    is_row: bool = False
    is_cell: bool = False


class _Builder(HTMLParser):
    """The reading copy's HTML into Blocks. It knows the reading copy's markup, not all HTML:
    anything else is laid out as plain text, never dropped (everything inside <body> shows)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.stack: list[_Open] = []
        self.skip = 0
        self.depth = 0  # nested items (article)
        self.row: Row | None = None
        self.cell: list[Para] | None = None
        self.para = Para()
        self.pending_anchors: list[str] = []
        self.pending_break = False
        self.pending_rule: Color | None = None
        self.pending_space = 0.0

    # --- helpers ---

    @property
    def style(self) -> Style:
        return self.stack[-1].style if self.stack else Style()

    @property
    def pre(self) -> bool:
        return bool(self.stack) and self.stack[-1].pre

    def _flush(self) -> None:
        p = self.para
        if not p.empty():
            p.indent = self.depth * _INDENT if self.row is None else 0.0
            p.anchors, self.pending_anchors = self.pending_anchors + p.anchors, []
            p.page_break, self.pending_break = self.pending_break, False
            if self.pending_rule is not None and self.row is None:
                p.rule, self.pending_rule = self.pending_rule, None
            p.space_before = max(p.space_before, self.pending_space)
            self.pending_space = 0.0
            (self.cell if self.cell is not None else self.blocks).append(p)
        self.para = Para()

    def _space(self, points: float) -> None:
        self.pending_space = max(self.pending_space, points)

    # --- parser callbacks ---

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            if tag == "br" and not self.skip:
                self.para.runs.append(("\n", self.style))
            return
        if self.skip or tag in _SKIP_TAGS:
            self.skip += 1
            return
        classes = _classes(attrs)
        anchor = dict(attrs).get("id")
        block = tag in _BLOCK_TAGS
        parent = self.stack[-1] if self.stack else None
        style = _style_for(tag, frozenset(classes), self.style)
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("#"):
                style = replace(style, link=href[1:])
        pre = self.pre or "text" in classes
        entry = _Open(tag, classes, style, block, pre)
        if block:
            self._flush()
            if tag == "section" and "thread" in classes:
                self.pending_break = True
            if tag == "article":
                self.depth += 1 if any(o.tag == "article" for o in self.stack) else 0
                self.pending_rule = _RED if "deleted" in classes else (187, 187, 187)
                self._space(6.0)
            elif tag == "h1":
                self._space(4.0)
            elif tag == "h2":
                self._space(10.0)
            elif tag in ("p", "footer"):
                self._space(3.0)
            if tag == "tr" or (tag == "div" and "edit" in classes):
                self.row = Row(indent=self.depth * _INDENT, rule=(204, 204, 204) if tag == "tr" else None,
                               space_before=1.0 if tag == "tr" else 3.0)
                if tag == "tr" and parent is not None and "facts" in parent.classes:
                    self.row.widths = [0.26, 0.74]
                entry.is_row = True
            elif self.row is not None and (tag in ("td", "th") or (
                    tag == "div" and parent is not None and parent.is_row)):
                self.cell = []
                self.row.cells.append(self.cell)
                entry.is_cell = True
            if tag == "li":
                self.para.runs.append(("\u2022 ", style))
        elif tag in ("td", "th") and self.row is not None:
            self._flush()
            self.cell = []
            self.row.cells.append(self.cell)
            entry.is_cell = True
        if anchor:
            self.pending_anchors.append(anchor)
        self.stack.append(entry)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS:
            return
        if self.skip:
            self.skip -= 1
            return
        if not self.stack:
            return
        # close up to the matching element (the reading copy's HTML is well formed)
        while self.stack:
            entry = self.stack.pop()
            if entry.block or entry.is_cell:
                self._flush()
            if entry.is_cell:
                self.cell = None
            if entry.is_row and self.row is not None:
                row, self.row = self.row, None
                if any(cell for cell in row.cells):
                    row.space_before = max(row.space_before, self.pending_space)
                    self.pending_space = 0.0
                    if self.pending_rule is not None:
                        row.rule, self.pending_rule = self.pending_rule, None
                    self.blocks.append(row)
            if entry.tag == "article" and any(o.tag == "article" for o in self.stack):
                self.depth -= 1
            if entry.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.skip or not self.stack:
            return
        style = self.style
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if not self.para.runs or self.para.runs[-1][0].endswith((" ", "\n")):
                data = data.lstrip(" ")
        else:
            data = data.replace("\r\n", "\n").replace("\t", "    ")
        if not data:
            return
        if style.capitalize:
            data = data[:1].upper() + data[1:]
        self.para.runs.append((data, style))


def parse(html: str) -> list[Block]:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    builder._flush()
    return builder.blocks


# --- fonts ------------------------------------------------------------------------------------

_BODY_FAMILIES = (
    ("DejaVu Sans", {"": "Book", "B": "Bold", "I": "Oblique", "BI": "Bold Oblique"}),
    ("Noto Sans", {"": "Regular", "B": "Bold", "I": "Italic", "BI": "Bold Italic"}),
)
_MONO_FAMILIES = (("DejaVu Sans Mono", "Book"), ("Noto Sans Mono", "Regular"), ("Liberation Mono", "Regular"))
_MAX_FALLBACK_LOOKUPS = 24


@functools.lru_cache(maxsize=1)
def _installed_fonts() -> dict[tuple[str, str], str]:
    """(family, style) -> file, from fontconfig's list of the system's fonts."""
    if shutil.which("fc-list") is None:
        return {}
    out = subprocess.run(["fc-list", "--format", "%{family}\t%{style}\t%{file}\n"],
                         capture_output=True, text=True, check=False, timeout=30).stdout
    fonts: dict[tuple[str, str], str] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].lower().endswith((".ttf", ".otf")):
            continue
        for family in parts[0].split(","):
            for style in parts[1].split(","):
                fonts.setdefault((family.strip(), style.strip()), parts[2])
    return fonts


def _fc_match(chars: str) -> str | None:
    """The file of the font fontconfig prefers for these characters (as Pango would ask)."""
    if shutil.which("fc-match") is None or not chars:
        return None
    charset = " ".join(f"{ord(c):x}" for c in chars)
    out = subprocess.run(["fc-match", "--format", "%{file}", f"sans-serif:charset={charset}"],
                         capture_output=True, text=True, check=False, timeout=30).stdout.strip()
    return out if out.lower().endswith((".ttf", ".otf")) else None


class Fonts:
    """Which font draws each character: the body font in the run's style, then the regular
    body font, then fallbacks fontconfig chose for the characters those lack."""

    def __init__(self, pdf: Any, text: str) -> None:
        self.pdf = pdf
        installed = _installed_fonts()
        # Font files are read when first used (reading one costs about 30 ms): a document
        # without italics never loads the italic faces.
        self._files: dict[str, str] = {}
        for family, styles in _BODY_FAMILIES:
            if (family, styles[""]) in installed:
                for style, name in styles.items():
                    self._files[f"body{style}"] = installed.get((family, name)) or installed[(family, styles[""])]
                break
        if not self._files:
            raise RequestError(
                "Cannot make the PDF reading copy: no DejaVu Sans or Noto Sans font is installed; "
                "install one (Debian: fonts-dejavu-core) and run the export again")
        self.mono = "body"
        for family, name in _MONO_FAMILIES:
            if (family, name) in installed:
                self._files["mono"] = installed[(family, name)]
                self.mono = "mono"
                break
        self.fallbacks: list[str] = []
        self.color: set[str] = set()
        self._font("body", "")  # the page footers use it whatever the text
        self._find_fallbacks(text)
        self._choice: dict[tuple[str, str, str], tuple[str, str]] = {}
        # per (emphasis, mono): the characters `pick` gave the style's first font (most of them)
        self._first: dict[tuple[str, str], set[str]] = {}

    def _font(self, family: str, style: str) -> Any:
        key = f"{family.lower()}{style}"
        font = self.pdf.fonts.get(key)
        if font is None:
            self.pdf.add_font(family, style, self._files[key])
            font = self.pdf.fonts[key]
        return font

    def _find_fallbacks(self, text: str) -> None:
        regular = self._font("body", "").cmap
        missing = sorted(c for c in set(text)
                         if ord(c) not in regular and not unicodedata.category(c).startswith(("Z", "C")))
        lookups = 0
        seen: set[str] = set()
        while missing and lookups < _MAX_FALLBACK_LOOKUPS:
            lookups += 1
            path = _fc_match("".join(missing[:64])) or _fc_match(missing[0])
            if path is None or path in seen:
                path = _fc_match(missing[0])
                if path is None or path in seen:
                    missing = missing[1:]  # no font has it: it shows as a missing-glyph box
                    continue
            seen.add(path)
            name = f"fallback{len(self.fallbacks)}"
            self._files[name] = path
            try:
                font = self._font(name, "")
            except Exception:  # noqa: BLE001 - a font fpdf2 cannot read is one we skip
                continue
            cmap = font.cmap
            covered = [c for c in missing if ord(c) in cmap]
            if covered:
                self.fallbacks.append(name)
                if font.color_font is not None:
                    self.color.add(name)
            missing = [c for c in missing if ord(c) not in cmap]

    def pick(self, ch: str, style: Style) -> tuple[str, str]:
        """(font family, emphasis) that draws `ch` in `style`."""
        emphasis = ("B" if style.bold else "") + ("I" if style.italic else "")
        key = (ch, emphasis, "m" if style.mono else "")
        hit = self._choice.get(key)
        if hit is not None:
            return hit
        code = ord(ch)
        candidates = [(self.mono, "")] if style.mono else []
        candidates += [("body", emphasis), ("body", "")]
        candidates += [(name, "") for name in self.fallbacks]
        choice = candidates[0]
        for family, emph in candidates:
            if code in self._font(family, emph).cmap:
                choice = (family, emph)
                break
        self._choice[key] = choice
        if choice == candidates[0]:
            self._first.setdefault(key[1:], set()).add(ch)
        return choice

    def single(self, text: str, style: Style) -> tuple[str, str] | None:
        """The style's first font, when `pick` gave it every character of `text` already (the
        text is then one piece, as the character-by-character cut would find); None when not."""
        emphasis = ("B" if style.bold else "") + ("I" if style.italic else "")
        first = self._first.get((emphasis, "m" if style.mono else ""))
        if not text or first is None or not first.issuperset(text):
            return None
        return (self.mono, "") if style.mono else ("body", emphasis)

    def width(self, family: str, emphasis: str, text: str, size: float) -> float:
        cw = self._font(family, emphasis).cw
        return sum(map(cw.__getitem__, map(ord, text))) * size * 0.001


# --- line breaking ----------------------------------------------------------------------------

Piece = tuple[str, Style, str, str, float]  # text, style, family, emphasis, width


def _needs_shaping(text: str) -> bool:
    """Right-to-left text (reordered), scripts whose letters join or reorder, and emoji
    sequences joined with ZWJ: what HarfBuzz must shape. Plain Latin text skips it (faster)."""
    for ch in text:
        if ord(ch) < 0x0590:
            continue
        if ch == "\u200d":
            return True
        if unicodedata.bidirectional(ch) in ("R", "AL", "AN") or 0x0900 <= ord(ch) <= 0x0DFF \
                or 0x0E00 <= ord(ch) <= 0x0EFF or 0x1000 <= ord(ch) <= 0x109F:
            return True
    return False


def _joins(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Me", "Cf") or 0xFE00 <= ord(ch) <= 0xFE0F \
        or 0x1F3FB <= ord(ch) <= 0x1F3FF


@dataclass
class Line:
    pieces: list[Piece]
    height: float
    ascent: float


class Layout:
    def __init__(self, fonts: Fonts) -> None:
        self.fonts = fonts
        self._cache: dict[tuple[str, Style], list[Piece]] = {}

    def pieces(self, text: str, style: Style) -> list[Piece]:
        """`text` cut where the font changes, each part measured (cached: words recur)."""
        key = (text, style)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        out: list[Piece] = []
        whole = self.fonts.single(text, style)
        if whole is not None:  # the common case: every character in the style's first font
            out.append((text, style, whole[0], whole[1], self.fonts.width(whole[0], whole[1], text, style.size)))
            if len(self._cache) < 200_000:
                self._cache[key] = out
            return out
        start = 0
        current = self.fonts.pick(text[0], style) if text else ("body", "")
        for i, ch in enumerate(text):
            if i and _joins(ch):
                continue  # a mark, joiner or variation selector stays with its base character
            font = self.fonts.pick(ch, style)
            if font != current:
                part = text[start:i]
                out.append((part, style, current[0], current[1],
                            self.fonts.width(current[0], current[1], part, style.size)))
                start, current = i, font
        if start < len(text):
            part = text[start:]
            out.append((part, style, current[0], current[1],
                        self.fonts.width(current[0], current[1], part, style.size)))
        if len(self._cache) < 200_000:
            self._cache[key] = out
        return out

    def lines(self, para: Para, width: float) -> list[Line]:
        """Greedy line breaking at spaces; a word wider than the line is cut by characters."""
        words: list[list[Piece]] = []  # a word, or a space, or a newline
        kinds: list[str] = []
        for text, style in para.runs:
            for token in re.findall(r"\n| +|[^ \n]+", text):
                kind = "nl" if token == "\n" else "sp" if token[0] == " " else "w"
                parts = [] if kind == "nl" else self.pieces(token, style)
                if kind == "w" and kinds and kinds[-1] == "w":
                    words[-1] = words[-1] + parts  # a word continued in another style
                else:
                    words.append(parts)
                    kinds.append(kind)
        lines: list[list[Piece]] = [[]]
        used = 0.0
        pending: list[Piece] = []
        for parts, kind in zip(words, kinds, strict=True):
            if kind == "nl":
                lines.append([])
                used, pending = 0.0, []
                continue
            if kind == "sp":
                if lines[-1]:
                    pending = parts
                continue
            w = sum(p[4] for p in parts)
            gap = sum(p[4] for p in pending)
            if lines[-1] and used + gap + w > width:
                lines.append([])
                used, pending, gap = 0.0, [], 0.0
            if not lines[-1] and w > width:
                for chunk in self._cut(parts, width):
                    if lines[-1]:
                        lines.append([])
                    lines[-1].extend(chunk)
                    used = sum(p[4] for p in chunk)
                pending = []
                continue
            lines[-1].extend(pending + parts)
            used += gap + w
            pending = []
        out = []
        for pieces in lines:
            size = max((p[1].size for p in pieces), default=max((s.size for _, s in para.runs), default=BODY_SIZE))
            out.append(Line(pieces, size * para.line_factor, size * 0.95))
        while out and not out[-1].pieces:
            out.pop()
        return out

    def _cut(self, parts: list[Piece], width: float) -> Iterator[list[Piece]]:
        line: list[Piece] = []
        used = 0.0
        for text, style, family, emph, _ in parts:
            for ch in text:
                w = self.fonts.width(family, emph, ch, style.size)
                if line and used + w > width:
                    yield line
                    line, used = [], 0.0
                if line and line[-1][1] == style and line[-1][2] == family and line[-1][3] == emph:
                    last = line[-1]
                    line[-1] = (last[0] + ch, style, family, emph, last[4] + w)
                else:
                    line.append((ch, style, family, emph, w))
                used += w
        if line:
            yield line


# --- drawing ----------------------------------------------------------------------------------


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Adjacent pieces in the same style and font become one text operation."""
    out: list[Piece] = []
    for p in pieces:
        if out and out[-1][1] == p[1] and out[-1][2] == p[2] and out[-1][3] == p[3]:
            last = out[-1]
            out[-1] = (last[0] + p[0], p[1], p[2], p[3], last[4] + p[4])
        else:
            out.append(p)
    return out


class Renderer:
    MARGIN_X = 40.0
    MARGIN_TOP = 46.0
    MARGIN_BOTTOM = 50.0

    def __init__(self, pdf: Any, layout: Layout, footer: str) -> None:
        self.pdf = pdf
        self.layout = layout
        self.footer = footer
        self.links: dict[str, int] = {}
        self.anchors: dict[str, tuple[int, float]] = {}
        self.shaping = _shaping_available()
        self.y = 0.0
        self.page_top = True

    @property
    def right(self) -> float:
        return float(self.pdf.w) - self.MARGIN_X

    @property
    def bottom(self) -> float:
        return float(self.pdf.h) - self.MARGIN_BOTTOM

    def new_page(self) -> None:
        self.pdf.add_page()
        pdf = self.pdf
        pdf.set_font("body", "", 7)
        pdf.set_text_color(110, 110, 110)
        # centred where a 10 pt high cell would put it; one text operation is cheaper than a cell
        text = f"{self.footer} \u00b7 page {pdf.page}"
        width = self.right - self.MARGIN_X
        pdf.text(self.MARGIN_X + (width - pdf.get_string_width(text)) / 2, float(pdf.h) - 30 + 5 + 0.3 * 7, text)
        self.y = self.MARGIN_TOP
        self.page_top = True

    def _room(self, height: float) -> None:
        if self.y + height > self.bottom and not self.page_top:
            self.new_page()

    def _anchor(self, names: list[str]) -> None:
        for name in names:
            self.anchors[name] = (self.pdf.page, self.y)

    def block(self, b: Block) -> None:
        if isinstance(b, Para):
            if b.page_break and not self.page_top:
                self.new_page()
            x = self.MARGIN_X + b.indent
            lines = self.layout.lines(b, self.right - x)
            if not self.page_top:
                self.y += b.space_before
            self._room(lines[0].height if lines else 0)
            self._anchor(b.anchors)
            if b.rule is not None:
                self._rule(x, b.rule)
            for line in lines:
                self._room(line.height)
                self._line(line, x)
                self.y += line.height
            return
        self.y += b.space_before
        x0 = self.MARGIN_X + b.indent
        total = self.right - x0
        n = len(b.cells)
        fractions = b.widths if b.widths and len(b.widths) == n else [1 / n] * n
        gap = 8.0
        cells = []
        for cell, frac in zip(b.cells, fractions, strict=True):
            width = total * frac - (gap if n > 1 else 0)
            cells.append([(p, self.layout.lines(p, width)) for p in cell])
        height = max((sum(line.height for _, ls in c for line in ls) + sum(p.space_before for p, _ in c[1:])
                      for c in cells), default=0.0)
        if height <= self.bottom - self.MARGIN_TOP:
            self._room(height + 2)
        if b.rule is not None:
            self._rule(x0, b.rule)
        top, top_page = self.y + 1.5, self.pdf.page
        lowest, lowest_page = top, top_page
        x = x0
        for c, frac in zip(cells, fractions, strict=True):
            self.y = top
            if self.pdf.page != top_page:
                self.pdf.page = top_page
            for i, (p, lines) in enumerate(c):
                if i:
                    self.y += p.space_before
                self._anchor(p.anchors)
                for line in lines:
                    self._room(line.height)
                    self._line(line, x)
                    self.y += line.height
            if (self.pdf.page, self.y) > (lowest_page, lowest):
                lowest, lowest_page = self.y, self.pdf.page
            x += total * frac
        self.pdf.page = lowest_page
        self.y = lowest

    def _rule(self, x: float, color: Color) -> None:
        self.pdf.set_draw_color(*color)
        self.pdf.set_line_width(0.6 if color != _RED else 1.4)
        self.pdf.line(x, self.y, self.right, self.y)
        self.y += 2.0

    def _line(self, line: Line, x: float) -> None:
        pdf = self.pdf
        self.page_top = False
        for text, style, family, emph, width in _merge(line.pieces):
            decor = ("U" if style.underline else "") + ("S" if style.strike else "")
            pdf.set_font(family, emph + decor, style.size)
            pdf.set_text_color(*style.color)
            box_h = style.size * 1.2
            top = self.y + (line.height - box_h) / 2
            shaped = self.shaping and _needs_shaping(text)
            if shaped or family in self.layout.fonts.color:
                # HarfBuzz shaping and colour glyphs go through fpdf2's full text path
                if shaped:
                    pdf.set_text_shaping(True)
                    width = pdf.get_string_width(text)  # ligatures and joined emoji are narrower
                if style.fill is not None:
                    pdf.set_fill_color(*style.fill)
                pdf.set_xy(x, top)
                pdf.cell(width, box_h, text, fill=style.fill is not None)
                if shaped:
                    pdf.set_text_shaping(False)
            else:
                # plain runs: one text operation (about 5x cheaper than a cell)
                if style.fill is not None:
                    pdf.set_fill_color(*style.fill)
                    pdf.rect(x, top, width, box_h, style="F")
                pdf.text(x, top + box_h / 2 + 0.3 * style.size, text)
            if style.link:
                link = self.links.get(style.link) or self.links.setdefault(style.link, pdf.add_link())
                pdf.link(x, top, width, box_h, link)
            x += width

    def finish(self) -> None:
        for name, link in self.links.items():
            where = self.anchors.get(name)
            if where is not None:
                self.pdf.set_link(link, y=where[1], page=where[0])


@functools.lru_cache(maxsize=1)
def _shaping_available() -> bool:
    try:
        import uharfbuzz  # noqa: F401
    except ImportError:
        return False
    return True


def load_fpdf() -> Any:
    """fpdf2's FPDF class (importing fpdf2 and fontTools: about 0.2 s of CPU, the largest
    import of an export), or the one-line error that says how to get it."""
    try:
        from fpdf import FPDF
    except ImportError as exc:
        raise RequestError(f"Cannot make the PDF reading copy ({exc}); reinstall the archiver "
                           "with its dependencies (fpdf2) and run the export again") from exc
    for name in ("fpdf", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return FPDF


def render(html: str, path: Path, *, title: str, footer: str) -> int:
    """Lay `html` (the reading copy's markup) out into a PDF at `path`; returns the page count."""
    FPDF = load_fpdf()
    blocks = parse(html)
    pdf = FPDF(unit="pt", format="letter")
    pdf.set_auto_page_break(False)
    pdf.c_margin = 0
    pdf.set_title(title)
    pdf.set_creator("archiver")
    pdf.set_lang("en")
    text = "".join(t for b in blocks for p in ([b] if isinstance(b, Para) else [q for c in b.cells for q in c])
                   for t, _ in p.runs)
    layout = Layout(Fonts(pdf, text))
    r = Renderer(pdf, layout, footer)
    r.new_page()
    for b in blocks:
        r.block(b)
    r.finish()
    pdf.output(str(path))
    return int(pdf.page)


def write_pdf(copy: ReadingCopy, path: Path) -> None:
    title = f"Public records request {copy.req.request_id}"
    render(combined_html(copy), path, title=title, footer=f"{title}, {copy.req.district}")
