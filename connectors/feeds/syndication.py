"""RSS 2.0, RSS 1.0 and Atom documents as plain entries (pure; no network).

Only the substance of an entry goes into its content: title, link, text, categories,
authors and enclosure identities. Atom `<updated>` and RSS dates stay out, so a feed that
merely re-stamps an entry does not make an edit; a changed text does.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from archiver.core.models import MediaRef, media_key
from connectors.feeds.textutil import html_to_text, img_sources

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
MEDIA = "{http://search.yahoo.com/mrss/}"
FH = "{http://purl.org/syndication/history/1.0}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RSS1 = "{http://purl.org/rss/1.0/}"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


@dataclass
class Entry:
    guid: str
    content: dict[str, Any]
    published: datetime | None
    dated: datetime | None  # published, else updated: where the entry sits in the window
    author: str
    text: str
    url: str
    media: tuple[MediaRef, ...]


@dataclass
class FeedDoc:
    title: str
    entries: list[Entry] = field(default_factory=list)
    complete: bool = False  # RFC 5005 <fh:complete/>: the document lists every entry
    next_url: str | None = None  # RFC 5005 paged feed: rel="next"
    problems: list[str] = field(default_factory=list)


def _text(el: ET.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _atom_text(el: ET.Element | None) -> str:
    """Atom text constructs: text/html as characters, xhtml as the serialized inner markup."""
    if el is None:
        return ""
    if el.get("type") == "xhtml":
        inner = "".join(ET.tostring(child, encoding="unicode") for child in el)
        return ((el.text or "") + inner).strip()
    return (el.text or "").strip()


def _rfc822(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return _iso(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _kind(mime: str) -> str:
    major = mime.split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "file"


def _media(enclosures: list[tuple[str, str]], html: str) -> tuple[MediaRef, ...]:
    seen: set[str] = set()
    refs: list[MediaRef] = []
    for url, mime in [*enclosures, *((u, "image/*") for u in img_sources(html))]:
        if url.startswith(("http://", "https://")) and media_key(url) not in seen:
            seen.add(media_key(url))
            refs.append(MediaRef(url, _kind(mime) if mime else "file"))
    return tuple(refs)


def _entry(guid: str, *, title: str, link: str, summary: str, body: str, categories: list[str],
           authors: list[str], enclosures: list[tuple[str, str]], published: datetime | None,
           updated: datetime | None) -> Entry:
    content = {
        "title": title,
        "link": link,
        "summary": summary,
        "content": body,
        "categories": sorted(set(categories)),
        "authors": authors,
        "enclosures": sorted(media_key(u) for u, _ in enclosures),
    }
    return Entry(guid, content, published, published or updated, ", ".join(authors),
                 html_to_text(body or summary), link, _media(enclosures, body or summary))


def parse_feed(root: ET.Element) -> FeedDoc:
    if root.tag == "rss":
        return _rss(root)
    if root.tag == f"{ATOM}feed":
        return _atom(root)
    if root.tag == f"{RDF}RDF":
        return _rss1(root)
    raise ValueError(f"<{root.tag}> is not an RSS or Atom feed")


def _paging(container: ET.Element, doc: FeedDoc) -> None:
    doc.complete = container.find(f"{FH}complete") is not None
    for link in container.findall(f"{ATOM}link"):
        if link.get("rel") == "next" and link.get("href"):
            doc.next_url = link.get("href")


def _rss(root: ET.Element) -> FeedDoc:
    channel = root.find("channel")
    if channel is None:
        raise ValueError("RSS document without a <channel>")
    doc = FeedDoc(_text(channel.find("title")))
    _paging(channel, doc)
    for item in channel.findall("item"):
        link = _text(item.find("link"))
        guid = _text(item.find("guid")) or link
        description = _text(item.find("description"))
        body = _text(item.find(f"{CONTENT}encoded"))
        enclosures = [(e.get("url", ""), e.get("type", "")) for e in item.findall("enclosure")]
        enclosures += [(m.get("url", ""), m.get("type") or m.get("medium", "")) for m in item.iter(f"{MEDIA}content")]
        enclosures += [(m.get("url", ""), "image/*") for m in item.iter(f"{MEDIA}thumbnail")]
        published = _rfc822(_text(item.find("pubDate"))) or _iso(_text(item.find(f"{DC}date")))
        authors = [_text(a) for a in [*item.findall(f"{DC}creator"), *item.findall("author")] if _text(a)]
        if not guid:
            doc.problems.append("an <item> has neither <guid> nor <link>")
            guid = _fallback_guid(_text(item.find("title")), description or body)
        doc.entries.append(_entry(
            guid, title=_text(item.find("title")), link=link, summary=description, body=body,
            categories=[_text(c) for c in item.findall("category") if _text(c)], authors=authors,
            enclosures=[(u, t) for u, t in enclosures if u], published=published, updated=None))
    return doc


def _atom(root: ET.Element) -> FeedDoc:
    doc = FeedDoc(_atom_text(root.find(f"{ATOM}title")))
    _paging(root, doc)
    for entry in root.findall(f"{ATOM}entry"):
        links = entry.findall(f"{ATOM}link")
        alternate = next((lk.get("href", "") for lk in links if lk.get("rel", "alternate") == "alternate"), "")
        enclosures = [(lk.get("href", ""), lk.get("type", "")) for lk in links if lk.get("rel") == "enclosure"]
        enclosures += [(m.get("url", ""), m.get("type") or m.get("medium", "")) for m in entry.iter(f"{MEDIA}content")]
        guid = _text(entry.find(f"{ATOM}id")) or alternate
        summary = _atom_text(entry.find(f"{ATOM}summary"))
        body = _atom_text(entry.find(f"{ATOM}content"))
        if not guid:
            doc.problems.append("an <entry> has neither <id> nor a link")
            guid = _fallback_guid(_atom_text(entry.find(f"{ATOM}title")), body or summary)
        authors = [_text(a.find(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author") if _text(a.find(f"{ATOM}name"))]
        doc.entries.append(_entry(
            guid, title=_atom_text(entry.find(f"{ATOM}title")), link=alternate, summary=summary, body=body,
            categories=[c.get("label") or c.get("term", "") for c in entry.findall(f"{ATOM}category")],
            authors=authors, enclosures=[(u, t) for u, t in enclosures if u],
            published=_iso(_text(entry.find(f"{ATOM}published"))),
            updated=_iso(_text(entry.find(f"{ATOM}updated")))))
    return doc


def _rss1(root: ET.Element) -> FeedDoc:
    channel = root.find(f"{RSS1}channel")
    doc = FeedDoc(_text(channel.find(f"{RSS1}title")) if channel is not None else "")
    for item in root.findall(f"{RSS1}item"):
        link = _text(item.find(f"{RSS1}link"))
        guid = item.get(f"{RDF}about") or link
        description = _text(item.find(f"{RSS1}description"))
        body = _text(item.find(f"{CONTENT}encoded"))
        if not guid:
            doc.problems.append("an <item> has neither rdf:about nor <link>")
            guid = _fallback_guid(_text(item.find(f"{RSS1}title")), description)
        doc.entries.append(_entry(
            guid, title=_text(item.find(f"{RSS1}title")), link=link, summary=description, body=body,
            categories=[_text(s) for s in item.findall(f"{DC}subject") if _text(s)],
            authors=[_text(a) for a in item.findall(f"{DC}creator") if _text(a)], enclosures=[],
            published=_iso(_text(item.find(f"{DC}date"))), updated=None))
    return doc


def _fallback_guid(title: str, text: str) -> str:
    return "sha256:" + hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:32]


def entry_item_id(feed_id: str, guid: str) -> str:
    """Globally unique ids (Atom ids, URL guids, tag: and urn: URIs) are used as they are;
    a bare guid like `1234` is only unique within its feed, so it is prefixed with the feed."""
    value = guid if _URI.fullmatch(guid) and not guid.startswith("sha256:") else f"{feed_id}#{guid}"
    if len(value) > 255:
        value = f"{value[:180]}#sha256:{hashlib.sha256(value.encode()).hexdigest()[:40]}"
    return value
