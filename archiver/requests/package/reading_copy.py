"""data/reading/: the reading copy a requester opens in any browser, and the PDF's source.

Self-contained pages (inline CSS, no script, no external asset; a Content-Security-Policy
forbids loading anything), one per thread: the post, its comments and replies, each edit
side by side with the changed words marked, each deletion with when it was detected and the
record that proves it, redactions as black bars citing the exemption. Every platform string
goes through htmltext (escaped, controls visible, redactions applied).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from archiver.requests.package.gather import ContextItem, Gathered, ItemData, Key
from archiver.requests.package.htmltext import diff_html, inline, text_html
from archiver.requests.package.model import ExportRequest, Withholding
from archiver.requests.package.records import CopyResult
from archiver.requests.package.redact import Masker

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Noto Sans", system-ui, sans-serif;
  line-height: 1.45; margin: 0 auto; padding: 1rem; max-width: 60rem; color: #111;
  background: #fff; overflow-wrap: break-word; }
h1 { font-size: 1.4rem; margin: .2rem 0 .6rem; }
h2 { font-size: 1.15rem; margin: 1.4rem 0 .5rem; }
table { table-layout: fixed; border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #ccc; padding: .3rem .4rem; }
.facts th { width: 12rem; font-weight: 600; }
nav { font-size: .9rem; margin-bottom: .8rem; }
.item { border: 1px solid #bbb; border-radius: .4rem; padding: .6rem .8rem; margin: .6rem 0;
  background: #fff; }
.item .item { margin-left: 1rem; }
.item header { font-size: .9rem; color: #333; }
.kind { font-weight: 700; text-transform: capitalize; }
.meta, .records { font-size: .8rem; color: #444; }
.text { white-space: pre-wrap; margin: .4rem 0; unicode-bidi: plaintext; }
.deleted { border-color: #a00; border-width: 2px; }
.banner { background: #fde8e8; border-left: .3rem solid #a00; padding: .4rem .6rem; margin: .4rem 0;
  font-size: .9rem; }
.withheld, .context { background: #f3f3f3; color: #333; font-size: .9rem; }
.edit { display: grid; grid-template-columns: 1fr 1fr; gap: .6rem; margin: .4rem 0; }
.edit > div { border: 1px solid #ddd; padding: .4rem; border-radius: .3rem; min-width: 0; }
.edit h4 { margin: 0 0 .2rem; font-size: .8rem; color: #444; font-weight: 600; }
del { background: #ffd7d7; text-decoration: line-through; }
ins { background: #d4f7d4; text-decoration: underline; }
.redaction { white-space: nowrap; }
.redaction .bar { background: #000; color: #000; letter-spacing: -.05em; padding: 0 .1rem;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.redaction .cite { font-size: .75rem; color: #000; font-style: italic; white-space: normal; }
.ctl { font-size: .7rem; border: 1px dotted #777; padding: 0 .1rem; color: #555; }
code, .rid { font-family: "DejaVu Sans Mono", monospace; font-size: .78rem; }
footer.notes { margin-top: 2rem; font-size: .85rem; color: #333; }
@media (max-width: 40rem) {
  body { padding: .6rem; }
  .edit { grid-template-columns: 1fr; }
  .item .item { margin-left: .4rem; }
  .facts th { width: auto; }
}
@media print {
  body { max-width: none; padding: 0; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  .item { break-inside: avoid; }
  .thread { break-before: page; }
  del, ins, .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
@page { size: letter; margin: 1.6cm 1.4cm; }
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def when(value: datetime | date | None) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.isoformat()


def _time(value: datetime | None) -> str:
    if value is None:
        return "unknown"
    return f'<time datetime="{value.isoformat()}">{html.escape(when(value))}</time>'


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


@dataclass
class Thread:
    number: int
    root: Key
    members: list[Key] = field(default_factory=list)
    first: datetime | None = None

    @property
    def filename(self) -> str:
        return f"thread-{self.number:04d}.html"


@dataclass
class ReadingCopy:
    """Builds the pages; `link` says how to point at a thread (a file, or an anchor in the PDF)."""

    req: ExportRequest
    g: Gathered
    copied: CopyResult
    masker: Masker
    exported_at: datetime
    threads: list[Thread] = field(default_factory=list)
    children: dict[Key, list[Key]] = field(default_factory=dict)
    _trees: dict[Key, str] = field(default_factory=dict, repr=False)  # the PDF reuses the pages' HTML

    def __post_init__(self) -> None:
        self._arrange()

    # --- structure ------------------------------------------------------------------------

    def _parent(self, key: Key) -> Key | None:
        node = self._node(key)
        parent_id = node.parent_id if node is not None else None
        if not parent_id:
            return None
        parent = (key[0], parent_id)
        return parent if self._node(parent) is not None else None

    def _node(self, key: Key) -> ItemData | ContextItem | None:
        if key in self.g.released:
            return self.g.released[key]
        if key in self.g.withheld:
            return self.g.withheld[key][0]
        return self.g.context.get(key)

    @staticmethod
    def _created(node: ItemData | ContextItem | None) -> datetime:
        if isinstance(node, ItemData):
            return node.created_at or node.first_seen
        return datetime.max.replace(tzinfo=None)

    def _sort_key(self, key: Key) -> tuple[str, str]:
        node = self._node(key)
        created = self._created(node)
        return (created.isoformat() if created.tzinfo else "9999", key[1])

    def _arrange(self) -> None:
        keys = [*self.g.released, *self.g.withheld, *self.g.context]
        roots: dict[Key, list[Key]] = {}
        for key in keys:
            parent = self._parent(key)
            if parent is not None:
                self.children.setdefault(parent, []).append(key)
            root, hops = key, 0
            while (up := self._parent(root)) is not None and hops < 16:
                root, hops = up, hops + 1
            roots.setdefault(root, []).append(key)
        for kids in self.children.values():
            kids.sort(key=self._sort_key)
        ordered = sorted(roots, key=self._sort_key)
        for n, root in enumerate(ordered, start=1):
            members = roots[root]
            dates = [self._created(self._node(k)) for k in members if k in self.g.released]
            self.threads.append(Thread(n, root, members, min(dates) if dates else None))

    # --- one item -------------------------------------------------------------------------

    def _record_note(self, file: str, offset: int, record_id: str) -> str:
        copied = self.copied.by_source.get((file, offset))
        rid = html.escape(record_id or (copied.record_id if copied else ""))
        if copied is not None:
            return f'<span class="rid">{rid}</span> (in records.warc.gz)'
        left = next((lo for lo in self.copied.left_out if lo.record_id == record_id), None)
        why = f"left out of records.warc.gz: {html.escape(left.reason)}" if left else "not in this package"
        return f'<span class="rid">{rid}</span> ({why})'

    def _versions(self, item: ItemData) -> str:
        m = self.masker
        vs = item.versions
        if not vs:
            return '<p class="text"><em>No captured version.</em></p>'
        parts = []
        if len(vs) == 1:
            parts.append(f'<div class="text" dir="auto">{text_html(vs[0].text, m)}</div>')
        else:
            parts.append(f'<p class="meta">Edited: {len(vs)} versions captured. Latest wording:</p>'
                         f'<div class="text" dir="auto">{text_html(vs[-1].text, m)}</div>')
            for old, new in zip(vs, vs[1:], strict=False):
                left, right = diff_html(old.text, new.text, m)
                author_note = ""
                if old.text == new.text and old.author == new.author:
                    author_note = ('<p class="meta">The wording did not change; the platform changed '
                                   "other fields of this item (for example whether it is hidden).</p>")
                if old.author != new.author:
                    author_note = (f'<p class="meta">Author shown changed from {inline(old.author, m)} '
                                   f"to {inline(new.author, m)}.</p>")
                parts.append(
                    '<div class="edit">'
                    f"<div><h4>Version {old.number}, captured {_time(old.observed_at)}</h4>"
                    f'<div class="text" dir="auto">{left}</div></div>'
                    f"<div><h4>Version {new.number}, captured {_time(new.observed_at)}</h4>"
                    f'<div class="text" dir="auto">{right}</div></div>'
                    f"</div>{author_note}"
                )
        return "".join(parts)

    def _deletion(self, item: ItemData) -> str:
        d = item.deletion
        if d is None:
            return ""
        m = self.masker
        evidence = "no evidence record is referenced"
        if d.evidence is not None:
            copied = self.copied.by_source.get((d.evidence.file, d.evidence.offset))
            status = f"HTTP {copied.http_status} " if copied and copied.http_status else ""
            evidence = (f"the platform's {status}answer, record "
                        f"{self._record_note(d.evidence.file, d.evidence.offset, d.evidence.record_id)}")
        detail = f" Platform said: <bdi>{text_html(d.detail, m)}</bdi>." if d.detail else ""
        return (
            f'<p class="banner"><strong>Deleted from the platform.</strong> Detected {_time(d.detected_at)} '
            f"(reason: {text_html(d.reason, m)}).{detail} Evidence: {evidence}. "
            f'Archiver\'s conclusion: record <span class="rid">{html.escape(d.metadata_record_id)}</span>.</p>'
        )

    def _records(self, item: ItemData) -> str:
        rows = []
        for v in item.versions:
            rows.append(f"<li>version {v.number}: "
                        f"{self._record_note(v.record.file, v.record.offset, v.record.record_id)}</li>")
        for media in item.media:
            rows.append(f"<li>media {inline(media.url, self.masker)} ({media.size} bytes, HTTP "
                        f"{media.status}): {self._record_note(media.record.file, media.record.offset, media.record.record_id)}</li>")
        seen = len(item.observations)
        return (f'<div class="records">Captured {seen} time{"s" if seen != 1 else ""}, first '
                f"{_time(item.first_seen)}, last {_time(item.last_seen)}. Original records:"
                f"<ul>{''.join(rows)}</ul></div>")

    def _released(self, item: ItemData) -> str:
        m = self.masker
        latest = item.versions[-1] if item.versions else None
        author = inline(latest.author, m) if latest and latest.author else "unknown author"
        url = f" · URL <bdi>{text_html(latest.url, m)}</bdi>" if latest and latest.url else ""
        deleted = " deleted" if item.deletion else ""
        return (
            f'<article class="item kind-{html.escape(item.kind)}{deleted}" id="{self.anchor(item.key)}">'
            f'<header><span class="kind">{html.escape(item.kind)}</span> by {author} · created '
            f"{_time(item.created_at)}"
            f'<div class="meta">{html.escape(item.platform)} · account {inline(item.account_name or item.account, m)} '
            f"· id {inline(item.item_id, m)}{url}</div></header>"
            f"{self._deletion(item)}{self._versions(item)}{self._records(item)}"
        )

    def _withheld(self, item: ItemData, w: Withholding) -> str:
        return (
            f'<article class="item withheld" id="{self.anchor(item.key)}"><p><strong>Withheld</strong> '
            f"{html.escape(item.kind)} {inline(item.item_id, self.masker)}: exempt under "
            f"<cite>{html.escape(w.exemption)}</cite> (decided {_time(w.at)}). Its content and "
            "records are not in this package.</p>"
        )

    def _context(self, node: ContextItem) -> str:
        return (
            f'<article class="item context" id="{self.anchor(node.key)}"><p>{html.escape(node.kind).capitalize()} '
            f"{inline(node.key[1], self.masker)}: not part of this request; shown so the items below "
            "keep their place in the thread.</p>"
        )

    def anchor(self, key: Key) -> str:
        return "item-" + "".join(c if c.isalnum() else "-" for c in f"{key[0]}-{key[1]}")[:120]

    def _tree(self, key: Key) -> str:
        if key in self.g.released:
            out = self._released(self.g.released[key])
        elif key in self.g.withheld:
            out = self._withheld(*self.g.withheld[key])
        else:
            out = self._context(self.g.context[key])
        for child in self.children.get(key, []):
            out += self._tree(child)
        return out + "</article>"

    # --- pages ----------------------------------------------------------------------------

    def thread_title(self, thread: Thread) -> str:
        node = self._node(thread.root)
        kind = node.kind if node is not None else "item"
        return f"Thread {thread.number}: {kind} {self.masker.plain(thread.root[1])}"

    def thread_body(self, thread: Thread, index_link: str) -> str:
        nav = f'<nav><a href="{index_link}">&larr; All threads of request {html.escape(self.req.request_id)}</a></nav>'
        return (f'<section class="thread" id="thread-{thread.number}">{nav}'
                f"<h1>{html.escape(self.thread_title(thread))}</h1>{self._thread_tree(thread)}</section>")

    def _thread_tree(self, thread: Thread) -> str:
        tree = self._trees.get(thread.root)
        if tree is None:
            tree = self._trees[thread.root] = self._tree(thread.root)
        return tree

    def thread_page(self, thread: Thread) -> str:
        return page(self.thread_title(thread), self.thread_body(thread, "index.html"))

    def index_body(self, link: Callable[[Thread], str]) -> str:
        r, m = self.req, self.masker
        released = self.g.released.values()
        edited = sum(1 for i in released if len(i.versions) > 1)
        deleted = sum(1 for i in released if i.deletion)
        facts = [
            ("Request", html.escape(r.request_id)),
            ("District", html.escape(r.district)),
            ("Requester", inline(r.requester, m)),
            ("Received", html.escape(when(r.received))),
            ("Due", html.escape(when(r.due))),
            ("State", html.escape(r.state)),
            ("Request as received", f'<span class="text" dir="auto">{text_html(r.description, m)}</span>'),
            ("Package made", _time(self.exported_at)),
            ("Items released", f"{len(self.g.released)} ({edited} edited, {deleted} deleted on the platform)"),
            ("Items withheld", str(len(self.g.withheld))),
            ("Redactions", str(len(m.redactions))),
        ]
        rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
        threads = "".join(
            f'<tr><td><a href="{link(t)}">{html.escape(self.thread_title(t))}</a></td>'
            f"<td>{sum(1 for k in t.members if k in self.g.released)}</td>"
            f"<td>{html.escape(when(t.first)) if t.first else ''}</td></tr>"
            for t in self.threads
        )
        parts = [
            f"<h1>Public records request {html.escape(r.request_id)}</h1>",
            f'<table class="facts">{rows}</table>',
            "<h2>Threads</h2>",
            f"<table><tr><th>Thread</th><th>Items released</th><th>First item</th></tr>{threads}</table>",
        ]
        if self.g.withheld:
            items = "".join(
                f"<tr><td>{html.escape(i.platform)}</td><td>{inline(i.item_id, m)}</td><td>{html.escape(i.kind)}</td>"
                f"<td><cite>{html.escape(w.exemption)}</cite></td></tr>"
                for i, w in self.g.withheld.values()
            )
            parts += ["<h2>Withheld items</h2>",
                      f"<table><tr><th>Platform</th><th>Item</th><th>Kind</th><th>Exemption</th></tr>{items}</table>"]
        if m.redactions:
            items = "".join(
                f"<tr><td>{lr.label}</td><td>{inline(lr.redaction.item_id, m)}</td>"
                f"<td><cite>{html.escape(lr.redaction.exemption)}</cite></td>"
                f"<td>{inline(lr.redaction.by, m)}</td><td>{_time(lr.redaction.at)}</td></tr>"
                for lr in m.redactions
            )
            parts += ["<h2>Redactions</h2>",
                      "<p>Each redacted passage is masked wherever it appears in this reading copy, "
                      "the PDF and the indexes, and shown as a black bar citing its label and exemption.</p>",
                      f"<table><tr><th>Label</th><th>Item</th><th>Exemption</th><th>By</th><th>When</th></tr>{items}</table>"]
        if self.copied.left_out:
            items = "".join(
                f'<tr><td class="rid">{html.escape(lo.record_id)}</td><td>{html.escape(lo.reason)}</td>'
                f"<td>{', '.join(inline(i, m) for i in lo.item_ids)}</td></tr>"
                for lo in self.copied.left_out
            )
            parts += ["<h2>Archival records not included</h2>",
                      "<p>Archival records are never altered. These original records hold released items "
                      "but also withheld or redacted material, so they are not in records.warc.gz or "
                      "records.wacz; this reading copy shows their released content.</p>",
                      f"<table><tr><th>Record</th><th>Why</th><th>Released items it holds</th></tr>{items}</table>"]
        if r.searches:
            items = "".join(f'<li><code dir="auto">{text_html(q, m)}</code></li>' for q in r.searches)
            parts += ["<h2>How the records were found</h2>", f"<ul>{items}</ul>"]
        parts.append(NOTES)
        return "".join(parts)

    def index_page(self) -> str:
        return page(f"Public records request {self.req.request_id}",
                    self.index_body(lambda t: t.filename))


NOTES = """
<footer class="notes"><h2>About this package</h2>
<ul>
<li><strong>reading/</strong>: this reading copy (HTML, and records.pdf). Redactions apply here and in
the indexes only.</li>
<li><strong>records.warc.gz</strong>: the original archival records (WARC 1.1), byte for byte as
captured, with their original record ids and digests. Any WARC tool opens it.</li>
<li><strong>records.wacz</strong>: the same records for ReplayWeb.page (replayweb.page, or its
desktop app).</li>
<li><strong>index.csv</strong>, <strong>index.json</strong>: one row per item;
<strong>redaction-log.csv</strong>: every redaction and withholding with its exemption.</li>
<li>The package is a BagIt bag: manifest-sha256.txt and manifest-sha512.txt list every file's
digest; export-manifest.json lists them again and is signed (export-manifest.json.sig, Ed25519)
with the district's export key (export-key.pem). Check with the district that the key's
fingerprint matches the one it publishes. To verify without our software:
<code>openssl pkeyutl -verify -pubin -inkey export-key.pem -rawin -in export-manifest.json
-sigfile export-manifest.json.sig</code> and <code>sha256sum -c manifest-sha256.txt</code>
(from the bag's folder); with the archiver: <code>archiver export verify FOLDER</code>.</li>
</ul></footer>
"""
