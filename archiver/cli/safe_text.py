"""Platform text made inert before it reaches the officer's terminal.

Comments, names and messages come from the public. Printed raw, an ANSI or OSC escape could
clear the screen, retitle the window or plant a clickable link, and rich would read
`[link=file:///etc/passwd]` or `[bold red]` as its own markup: the screen would differ from
the record. Every platform string the CLI shows goes through `plain` (a rich Text, never
parsed for markup or emoji codes) or `markup` (escaped, for f-strings that mix in our own
styles), and both make control characters visible: ESC as ␛, CR as ␍, bidi overrides as
<U+202E>. Newlines and tabs stay, so full text keeps its lines.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

_KEEP = {"\n", "\t"}
# Bidirectional overrides and isolates reorder what is shown (the "Trojan Source" trick);
# zero-width and invisible characters hide text inside text.
_INVISIBLE = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200C, 0x200D, 0x200E,
              0x200F, 0x2060, 0xFEFF, 0x061C}


def _visible_char(ch: str) -> str:
    code = ord(ch)
    if ch in _KEEP:
        return ch
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ␀ … ␛ … ␟
    if code == 0x7F:
        return "␡"
    if 0x80 <= code < 0xA0 or code in _INVISIBLE:  # C1 controls (0x9B is a one-byte CSI)
        return f"<U+{code:04X}>"
    return ch


def visible(text: object) -> str:
    """`text` with every control character (but newline and tab) shown as a visible symbol."""
    s = "" if text is None else str(text)
    if s.isprintable():
        return s
    return "".join(_visible_char(ch) for ch in s)


def one_line(text: object) -> str:
    """Visible, with runs of whitespace (newlines too) folded to single spaces: for table cells."""
    return " ".join(visible(text).split())


def plain(text: object, style: str = "") -> Text:
    """A rich Text that prints exactly these (visible) characters: no markup, no emoji codes."""
    return Text(visible(text), style=style)


def markup(text: object) -> str:
    """Visible and escaped, to embed in a string that rich parses as markup."""
    return escape(visible(text))
