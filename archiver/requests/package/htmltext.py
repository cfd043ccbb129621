"""Platform strings into HTML: escaped, invisible controls made visible, redactions as bars.

Everything a platform sent (text, names, ids, URLs) reaches the reading copy only through
`text_html`; templates never interpolate a platform string themselves. Bidirectional
controls (an RLO can make "gpj.exe" read as "exe.jpg") are shown as labelled tokens, and
each string is isolated (`dir=auto`) so right-to-left text cannot reorder what follows it.
"""

from __future__ import annotations

import difflib
import html
import re
import unicodedata

from archiver.requests.package.redact import Mark, Masker, Segment

_NAMED_CONTROLS = {
    "\u202a": "LRE", "\u202b": "RLE", "\u202c": "PDF", "\u202d": "LRO", "\u202e": "RLO",
    "\u2066": "LRI", "\u2067": "RLI", "\u2068": "FSI", "\u2069": "PDI",
    "\u200e": "LRM", "\u200f": "RLM", "\u061c": "ALM",
    "\u200b": "ZWSP", "\u2060": "WJ", "\ufeff": "BOM", "\u00ad": "SHY",
}
BAR = "\u2588" * 6


def _control_token(ch: str) -> str:
    name = _NAMED_CONTROLS.get(ch) or f"U+{ord(ch):04X}"
    return (f'<span class="ctl" title="invisible character U+{ord(ch):04X} shown as text">'
            f"[{name}]</span>")


def _is_shown_control(ch: str) -> bool:
    if ch in _NAMED_CONTROLS:
        return True
    if ch in "\n\t":
        return False
    return unicodedata.category(ch) == "Cc"


def escape_text(value: str) -> str:
    """HTML-escape `value`; control and bidi-formatting characters become visible tokens."""
    value = value.replace("\r\n", "\n")
    out: list[str] = []
    plain: list[str] = []
    for ch in value:
        if _is_shown_control(ch):
            if plain:
                out.append(html.escape("".join(plain), quote=True))
                plain = []
            out.append(_control_token(ch))
        else:
            plain.append(ch)
    if plain:
        out.append(html.escape("".join(plain), quote=True))
    return "".join(out)


def mark_html(mark: Mark) -> str:
    caption = html.escape(mark.caption, quote=True)
    return (f'<span class="redaction" title="{caption}"><span class="bar" aria-hidden="true">'
            f'{BAR}</span><span class="cite">[{caption}]</span></span>')


def segments_html(segments: list[Segment]) -> str:
    return "".join(escape_text(s) if isinstance(s, str) else mark_html(s) for s in segments)


def text_html(value: str | None, masker: Masker) -> str:
    """A platform string, masked and escaped, as inline HTML."""
    return segments_html(masker.segments(value or ""))


def inline(value: str | None, masker: Masker) -> str:
    """A short platform string (a name, an id) isolated from the text around it."""
    return f"<bdi>{text_html(value, masker)}</bdi>"


# --- edits side by side -------------------------------------------------------------------

_WORD = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
Token = str | Mark


def tokens(segments: list[Segment]) -> list[Token]:
    out: list[Token] = []
    for s in segments:
        if isinstance(s, str):
            out.extend(_WORD.findall(s))
        else:
            out.append(s)
    return out


def _tokens_html(items: list[Token]) -> str:
    return "".join(escape_text(t) if isinstance(t, str) else mark_html(t) for t in items)


def diff_html(before: str, after: str, masker: Masker) -> tuple[str, str]:
    """Two HTML fragments: the old wording with removed words in <del>, the new wording with
    added words in <ins>. Redactions are applied before comparing, so a bar never hides a
    difference that would reveal what it covers."""
    a, b = tokens(masker.segments(before)), tokens(masker.segments(after))
    left: list[str] = []
    right: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = _tokens_html(a[i1:i2]), _tokens_html(b[j1:j2])
        if op == "equal":
            left.append(old)
            right.append(new)
            continue
        if i2 > i1:
            left.append(f'<del title="removed in the next version">{old}</del>')
        if j2 > j1:
            right.append(f'<ins title="added in this version">{new}</ins>')
    return "".join(left), "".join(right)
