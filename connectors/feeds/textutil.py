"""Plain text and image sources from the HTML that blogs put in posts and feeds."""

from __future__ import annotations

from html.parser import HTMLParser

_BREAKS = {"br", "p", "li", "div", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
_SKIP = {"script", "style"}


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.images: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.images.append(src)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _walk(fragment: str) -> _Walker:
    walker = _Walker()
    try:
        walker.feed(fragment)
        walker.close()
    except Exception:  # noqa: BLE001 - a convenience view; the HTML itself is kept
        pass
    return walker


def html_to_text(fragment: str) -> str:
    lines = "".join(_walk(fragment).parts).splitlines()
    return "\n".join(line.strip() for line in lines if line.strip())


def img_sources(fragment: str) -> list[str]:
    return _walk(fragment).images if "<img" in fragment.lower() else []
