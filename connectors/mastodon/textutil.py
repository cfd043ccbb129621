"""Plain text from the small HTML fragments Mastodon puts in `content`."""

from __future__ import annotations

from html.parser import HTMLParser

_BREAKS = {"br", "p", "li", "div", "blockquote"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(fragment: str) -> str:
    parser = _Text()
    try:
        parser.feed(fragment)
        parser.close()
    except Exception:  # noqa: BLE001 - text is a convenience; the HTML itself is kept
        return fragment
    lines = "".join(parser.parts).splitlines()
    return "\n".join(line.strip() for line in lines if line.strip())
