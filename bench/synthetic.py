"""A synthetic archive of any size (10k to 1M items and more) that the real CLI can read.

One Facebook sandbox account is captured for real, twice, through the whole pipeline (poll ->
WARC -> vault -> store -> catalog), with 5% of its items edited and 1% deleted in between. That
capture is the template. Each synthetic account is a copy of it with new ids:

- every WARC record is rewritten with the template account's ids mapped to the new account's
  (page, post and comment numbers offset by the account number), `created_time` values shifted
  so that accounts interleave in time, new WARC-Record-IDs (references follow them), fresh
  block and payload digests, one gzip member per record; each WARC is encrypted under the
  target archive's keys and put in its store like any captured WARC;
- every catalog row (items, versions, observations, tombstones, WARC files, runs) is copied
  with the same mapping and pointers into the rewritten WARCs, inserted with SQLAlchemy Core
  executemany in chunks of accounts, on SQLite or PostgreSQL.

So `items list`, `items show`, `warc cat` and `verify` work on the result, and the records
agree with the rows (a `catalog rebuild` of a small archive finds no difference).

    python bench/synthetic.py --home /tmp/synth --items 100000
    python bench/synthetic.py --home /tmp/synth-pg --items 1000000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/synth

From code (the request-export benchmark does this):

    from bench.synthetic import generate
    summary = generate(app, items=10_000, seed=1)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, func, insert, select, text  # noqa: E402

from archiver.app import App  # noqa: E402
from archiver.catalog import tables as t  # noqa: E402
from archiver.catalog.search import index_body  # noqa: E402
from archiver.catalog.search_tables import SearchDoc  # noqa: E402
from archiver.core.models import content_hash  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.preservation.outbox import vault_context, warc_key  # noqa: E402
from archiver.services.archive_home import create_archive  # noqa: E402
from archiver.services.warcs import warc_bytes  # noqa: E402
from archiver.vault import encrypt_stream  # noqa: E402
from archiver.warc.revisit import uri_key  # noqa: E402

PLATFORM = "facebook"
DEFAULT_ITEMS_PER_ACCOUNT = 1000
EDITED_SHARE = 0.05
DELETED_SHARE = 0.01
_ID_STRIDE = 10**9  # template ids are 7 digits; account n's ids are n * 10**9 + template id
_GRAPH_TIME = "%Y-%m-%dT%H:%M:%S+0000"
# Record ids, sha256 hex, Graph times, numbers: what the template shares with its copies.
_TOKENS = re.compile(
    rb"<urn:uuid:[0-9a-f-]{36}>"
    rb"|[0-9a-f]{64}"
    rb"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000"
    rb"|\d+"
)
_LOCATION = re.compile(rb"(?m)^(evidence-location: )([\w.-]+\.warc\.gz)#(\d+)\+(\d+)")
_HTTP_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*\d+")


@dataclass(frozen=True)
class SyntheticSummary:
    """What was generated: enough for a benchmark to pick accounts and items to look up."""

    items: int
    accounts: int
    versions: int
    observations: int
    tombstones: int
    warc_files: int
    warc_bytes: int  # plaintext WARC bytes written
    object_bytes: int  # encrypted bytes stored
    seconds: float
    account_labels: list[str] = field(default_factory=list)  # platform:account_id, in order
    sample_items: dict[str, str] = field(default_factory=dict)  # first/edited/deleted/last

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "account_labels"} | {
            "first_accounts": self.account_labels[:3]}


# --- the template: one real capture ----------------------------------------------------------


Parts = tuple[tuple[bytes, ...], tuple[Any, ...]]  # literals around tokens: len(lits) == len(toks) + 1


@dataclass
class _Rec:
    old_id: str
    rec_type: str
    headers: list[tuple[str, str]]
    block: bytes
    offset: int
    length: int
    # Filled by _prepare: the block cut at every token a copy changes, so that copying a
    # record is a join, not a regular-expression pass.
    head: Parts | None = None
    body: Parts | None = None


@dataclass(frozen=True)
class _TemplateWarc:
    name: str
    records: list[_Rec]
    row: dict[str, Any]


@dataclass
class _Template:
    account: dict[str, Any]
    runs: list[dict[str, Any]]
    warcs: list[_TemplateWarc]
    items: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    observations: list[dict[str, Any]]
    tombstones: list[dict[str, Any]]
    media: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    payloads: list[dict[str, Any]]  # stored_payloads: what revisit records refer to
    numbers: frozenset[bytes]  # the id numbers that make an item id of this account
    record_ids: frozenset[bytes] = frozenset()
    hashes: frozenset[bytes] = frozenset()
    times: set[bytes] = field(default_factory=set)


def capture_template(workdir: Path, items: int, seed: int) -> App:
    """Capture a Facebook sandbox account of `items` items twice, editing and deleting between."""
    from archiver.sandbox.server import SandboxServer
    from archiver.services.accounts import register_account
    from archiver.services.poll import Poller
    from connectors import load_sandbox

    sandbox: Any = load_sandbox(PLATFORM)
    server = SandboxServer(sandbox.app).start()
    try:
        sandbox.bind(server.url)
        seeded = sandbox.seed_bulk(items)
        app = App(Settings(home=workdir / "template", district="Synthetic School District", state="WA",
                           connectors={PLATFORM: {"api_base": server.url, "page_limit": 100}}))
        create_archive(app)
        token = workdir / "template.token"
        token.write_text(seeded.token)
        os.chmod(token, 0o600)
        account = register_account(app, PLATFORM, seeded.raw_id, token_file=str(token))
        poller = Poller(app)
        for cycle in (1, 2):
            if cycle == 2:
                rng = random.Random(seed)
                live = sorted(sandbox.live_item_ids(seeded.account_id))
                for item_id in rng.sample(live, max(1, round(len(live) * EDITED_SHARE))):
                    sandbox.edit(item_id)
                comments = sorted(i for i in live if i not in sandbox.sandbox.posts)
                deleted = max(1, round(len(live) * DELETED_SHARE)) if len(live) >= 20 else 0
                for item_id in rng.sample(comments, min(deleted, len(comments))):
                    sandbox.delete(item_id)
            # The second capture reads every listing (--reconcile), so the template holds the
            # edits of old comments that an incremental cycle would find only in later sweeps.
            report = next(iter(poller.poll(account.label, reconcile=cycle == 2)))
            if report.status != "complete":
                raise RuntimeError(f"template capture {cycle} did not complete: {report.message}")
        return app
    finally:
        server.stop()


def _split_members(data: bytes) -> Iterable[tuple[int, int, bytes]]:
    """(offset, length, decompressed bytes) of each gzip member."""
    pos = 0
    view = memoryview(data)
    while pos < len(data):
        d = zlib.decompressobj(31)
        out = d.decompress(view[pos:])
        length = len(data) - pos - len(d.unused_data)
        yield pos, length, out
        pos += length


def _parse_record(offset: int, length: int, raw: bytes) -> _Rec:
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("utf-8").split("\r\n")
    if not lines[0].startswith("WARC/"):
        raise ValueError(f"not a WARC record at offset {offset}")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    hdr = dict(headers)
    size = int(hdr["Content-Length"])
    return _Rec(hdr["WARC-Record-ID"], hdr["WARC-Type"], headers, rest[:size], offset, length)


def _rows(app: App, table: Any, order: Any) -> list[dict[str, Any]]:
    with app.catalog.session() as s:
        return [dict(r._mapping) for r in s.execute(select(table.__table__).order_by(order))]


def _cut(data: bytes, tpl: _Template) -> Parts:
    """`data` as literals around the tokens a copy changes (ids, record ids, digests, times,
    and an evidence-location, which names another record's place in the copy)."""
    cuts: list[tuple[int, int, Any]] = []
    location = _LOCATION.search(data)
    skip = (location.start(2), location.end()) if location else (-1, -1)
    if location:
        cuts.append((skip[0], skip[1], ("loc", location.group(2).decode(), int(location.group(3)))))
    for m in _TOKENS.finditer(data):
        tok = m.group()
        if skip[0] <= m.start() < skip[1]:
            continue
        if tok.endswith(b"+0000"):
            tpl.times.add(tok)
        elif not (tok in tpl.numbers or tok in tpl.record_ids or tok in tpl.hashes):
            continue
        cuts.append((m.start(), m.end(), tok))
    cuts.sort(key=lambda c: c[0])
    lits: list[bytes] = []
    toks: list[Any] = []
    pos = 0
    for start, end, tok in cuts:
        lits.append(data[pos:start])
        toks.append(tok)
        pos = end
    lits.append(data[pos:])
    return tuple(lits), tuple(toks)


def _prepare(tpl: _Template) -> None:
    for w in tpl.warcs:
        for rec in w.records:
            if rec.rec_type == "warcinfo":
                continue
            if rec.rec_type in ("request", "response") and b"\r\n\r\n" in rec.block:
                http_head, _, body = rec.block.partition(b"\r\n\r\n")
                rec.head, rec.body = _cut(http_head, tpl), _cut(body, tpl)
            else:
                rec.body = _cut(rec.block, tpl)


def load_template(app: App) -> _Template:
    accounts = _rows(app, t.Account, t.Account.id)
    if len(accounts) != 1:
        raise ValueError("the template archive must hold exactly one account")
    warcs = []
    for row in _rows(app, t.WarcFile, t.WarcFile.name):
        data = b"".join(warc_bytes(app, row["name"]))
        warcs.append(_TemplateWarc(row["name"], [_parse_record(*m) for m in _split_members(data)], row))
    items = _rows(app, t.Item, t.Item.id)
    versions = _rows(app, t.ItemVersion, t.ItemVersion.id)
    numbers = {accounts[0]["account_id"].encode()}
    for item in items:
        numbers.update(part.encode() for part in item["item_id"].split("_") if part.isdigit())
    tpl = _Template(
        account=accounts[0], runs=_rows(app, t.CaptureRun, t.CaptureRun.started_at), warcs=warcs,
        items=items, versions=versions, observations=_rows(app, t.Observation, t.Observation.id),
        tombstones=_rows(app, t.Tombstone, t.Tombstone.id),
        media=_rows(app, t.MediaCapture, t.MediaCapture.id),
        warnings=_rows(app, t.CaptureWarning, t.CaptureWarning.id),
        payloads=_rows(app, t.StoredPayload, t.StoredPayload.id),
        numbers=frozenset(numbers),
        record_ids=frozenset(r.old_id.encode() for w in warcs for r in w.records),
        hashes=frozenset(v["content_sha256"].encode() for v in versions),
    )
    _prepare(tpl)
    return tpl


# --- one synthetic account ---------------------------------------------------------------------


class _Mapper:
    """Maps the template account's ids, times, record ids and digests to account n's."""

    def __init__(self, tpl: _Template, n: int, shift: timedelta) -> None:
        self.map: dict[bytes, bytes] = {num: str(int(num) + n * _ID_STRIDE).encode() for num in tpl.numbers}
        self.map.update((rid, f"<urn:uuid:{uuid.uuid4()}>".encode()) for rid in tpl.record_ids)
        for tok in tpl.times:
            when = datetime.strptime(tok.decode(), _GRAPH_TIME) - shift
            self.map[tok] = when.strftime(_GRAPH_TIME).encode()
        self.locations: dict[tuple[str, int], tuple[str, int, int]] = {}
        self.digests: dict[str, str] = {}  # template response record id -> the copy's payload digest
        self.shift = shift

    def _one(self, m: re.Match[bytes]) -> bytes:
        tok = m.group()
        return self.map.get(tok, tok)

    def sub(self, data: bytes) -> bytes:
        return _TOKENS.sub(self._one, data)

    def text(self, value: str | None) -> str | None:
        return None if value is None else self.sub(value.encode("utf-8")).decode("utf-8")

    def render(self, parts: Parts) -> bytes:
        lits, toks = parts
        if not toks:
            return lits[0]
        get = self.map.__getitem__
        out = [lits[0]]
        for tok, lit in zip(toks, lits[1:], strict=True):
            if tok.__class__ is bytes:
                out.append(get(tok))
            else:
                file, offset, length = self.locations[(tok[1], tok[2])]
                out.append(f"{file}#{offset}+{length}".encode())
            out.append(lit)
        return b"".join(out)


def _member(headers: list[tuple[str, str]], block: bytes, level: int) -> bytes:
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    return comp.compress(head.encode("utf-8")) + comp.compress(block) + comp.compress(b"\r\n\r\n") + comp.flush()


def _rewrite(rec: _Rec, m: _Mapper, name: str, run_id: str, account_name: str) -> tuple[list[tuple[str, str]], bytes]:
    payload_digest = None
    if rec.rec_type == "warcinfo":
        fields = []
        for line in rec.block.decode("utf-8").split("\r\n"):
            if line.startswith("archiver-run:"):
                line = f"archiver-run: {run_id}"
            elif line.startswith("archiver-account-name:"):
                line = f"archiver-account-name: {account_name}"
            elif line.startswith("archiver-account:"):
                line = m.text(line) or ""
            fields.append(line)
        block = "\r\n".join(fields).encode("utf-8")
    elif rec.head is not None and rec.body is not None:
        body = m.render(rec.body)
        http_head = _HTTP_LENGTH.sub(f"Content-Length: {len(body)}".encode(), m.render(rec.head))
        block = http_head + b"\r\n\r\n" + body
        payload_digest = "sha256:" + hashlib.sha256(body).hexdigest()
        m.digests[rec.old_id] = payload_digest
    else:
        assert rec.body is not None
        block = m.render(rec.body)
    headers = []
    for key, value in rec.headers:
        if key in ("WARC-Record-ID", "WARC-Warcinfo-ID", "WARC-Concurrent-To", "WARC-Refers-To"):
            value = m.map.get(value.encode(), value.encode()).decode()
        elif key in ("WARC-Target-URI", "WARC-Refers-To-Target-URI"):
            value = m.text(value) or ""
        elif key == "X-Archiver-Refers-To-Location":  # a revisit: where its original is in the copy
            file, _, where = value.rpartition("#")
            new_file, new_offset, new_length = m.locations[(file, int(where.partition("+")[0]))]
            value = f"{new_file}#{new_offset}+{new_length}"
        elif key == "WARC-Payload-Digest" and rec.rec_type == "revisit":
            value = m.digests[dict(rec.headers)["WARC-Refers-To"]]
        elif key == "WARC-Filename":
            value = name
        elif key == "WARC-Block-Digest":
            value = "sha256:" + hashlib.sha256(block).hexdigest()
        elif key == "WARC-Payload-Digest" and payload_digest is not None:
            value = payload_digest
        elif key == "Content-Length":
            value = str(len(block))
        headers.append((key, value))
    return headers, block


@dataclass
class _Ids:
    """Next primary key per table (explicit ids make executemany inserts one round trip each)."""

    account: int
    item: int
    version: int
    observation: int
    tombstone: int
    warc: int
    media: int
    warning: int
    payload: int


def _next_ids(app: App) -> _Ids:
    with app.catalog.session() as s:
        def nxt(col: Any) -> int:
            return int(s.scalar(select(func.max(col))) or 0) + 1
        return _Ids(nxt(t.Account.id), nxt(t.Item.id), nxt(t.ItemVersion.id), nxt(t.Observation.id),
                    nxt(t.Tombstone.id), nxt(t.WarcFile.id), nxt(t.MediaCapture.id), nxt(t.CaptureWarning.id),
                    nxt(t.StoredPayload.id))


@dataclass
class _Batch:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    warcs: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    tombstones: list[dict[str, Any]] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)

    def insert(self, app: App) -> None:
        """One transaction per chunk of accounts, parents before children."""
        order: list[tuple[Any, list[dict[str, Any]]]] = [
            (t.Account, self.accounts), (t.CaptureRun, self.runs), (t.WarcFile, self.warcs),
            (t.Item, self.items), (t.ItemVersion, self.versions), (t.Observation, self.observations),
            (t.Tombstone, self.tombstones), (t.MediaCapture, self.media), (t.CaptureWarning, self.warnings),
            (t.StoredPayload, self.payloads),
        ]
        # Every version is searchable, as the indexer makes it (archiver/catalog/search.py).
        docs = [{"version_pk": v["id"], "item_pk": v["item_pk"], "body": index_body(v.get("text") or "")}
                for v in self.versions]
        order.append((SearchDoc, docs))
        with app.catalog.session() as s:
            for model, rows in order:
                table: Table = model.__table__
                for start in range(0, len(rows), 20_000):
                    s.execute(insert(table), rows[start:start + 20_000])


class _Writer:
    def __init__(self, app: App, tpl: _Template, scratch: Path, level: int) -> None:
        self.app = app
        self.tpl = tpl
        self.scratch = scratch
        self.level = level
        self.warc_bytes = 0
        self.object_bytes = 0

    def account(self, n: int, shift: timedelta, ids: _Ids, batch: _Batch) -> str:
        tpl, app = self.tpl, self.app
        m = _Mapper(tpl, n, shift)
        account_id = m.text(tpl.account["account_id"]) or ""
        account_name = f"Synthetic School {n}"
        account_pk = ids.account
        ids.account += 1
        batch.accounts.append(tpl.account | {
            "id": account_pk, "account_id": account_id, "name": account_name, "role": "school",
            "token_ref": "", "status": "ok", "status_message": "synthetic", "cursor": None,
            "lease_owner": None, "lease_until": None})
        run_ids = {r["id"]: str(uuid.uuid4()) for r in tpl.runs}
        for r in tpl.runs:
            batch.runs.append(r | {"id": run_ids[r["id"]], "account_pk": account_pk})
        # Content hashes before the WARCs: edit records name them.
        new_content: dict[int, dict[str, Any]] = {}
        for v in tpl.versions:
            content = json.loads(m.sub(json.dumps(v["content"], ensure_ascii=False).encode("utf-8")))
            new_content[v["id"]] = content
            m.map[v["content_sha256"].encode()] = content_hash(content).encode()
        for w in tpl.warcs:
            name = m.text(w.name) or ""
            run_id = run_ids.get(w.row["run_id"], w.row["run_id"])
            plain = bytearray()
            for rec in w.records:
                headers, block = _rewrite(rec, m, name, run_id, account_name)
                member = _member(headers, block, self.level)
                m.locations[(w.name, rec.offset)] = (name, len(plain), len(member))
                plain += member
            key = warc_key(PLATFORM, account_id, name)
            enc = self.scratch / (name + ".enc")
            with open(enc, "wb") as fh:
                info = encrypt_stream(_BytesReader(plain), fh, app.keys, context=vault_context(name),  # type: ignore[arg-type]
                                      segment_size=app.settings.vault.segment_size)
            stored = app.store.put_file(key, enc, sha256=info.ciphertext_sha256)
            enc.unlink()
            self.warc_bytes += len(plain)
            self.object_bytes += info.ciphertext_size
            batch.warcs.append(w.row | {
                "id": ids.warc, "name": name, "run_id": run_id, "account_pk": account_pk,
                "size": len(plain), "sha256": info.plaintext_sha256, "store_key": key,
                "object_size": stored.size, "object_sha256": info.ciphertext_sha256,
                "key_id": info.key_id, "wrapped_key": info.wrapped_key})
            ids.warc += 1
        self._rows(m, account_pk, run_ids, new_content, ids, batch)
        return f"{PLATFORM}:{account_id}"

    def _rows(self, m: _Mapper, account_pk: int, run_ids: dict[str, str],
              new_content: dict[int, dict[str, Any]], ids: _Ids, batch: _Batch) -> None:
        tpl = self.tpl
        rid = m.map

        def at(file: str, offset: int) -> dict[str, Any]:
            name, new_offset, length = m.locations[(file, offset)]
            return {"warc_file": name, "warc_offset": new_offset, "warc_length": length}

        item_pk: dict[int, int] = {}
        item_rows: list[dict[str, Any]] = []
        for it in tpl.items:
            item_pk[it["id"]] = ids.item
            created = it["created_at"] - m.shift if it["created_at"] is not None else None
            item_rows.append(it | {
                "id": ids.item, "account_pk": account_pk, "item_id": m.text(it["item_id"]),
                "parent_id": m.text(it["parent_id"]), "created_at": created})
            ids.item += 1
        batch.items.extend(item_rows)
        version_pk: dict[int, int] = {}
        for v in tpl.versions:
            version_pk[v["id"]] = ids.version
            batch.versions.append(v | at(v["warc_file"], v["warc_offset"]) | {
                "id": ids.version, "item_pk": item_pk[v["item_pk"]], "content": new_content[v["id"]],
                "content_sha256": rid[v["content_sha256"].encode()].decode(),
                "media": json.loads(m.sub(json.dumps(v["media"]).encode())), "text": m.text(v["text"]),
                "author": m.text(v["author"]), "url": m.text(v["url"]),
                "warc_record_id": rid[v["warc_record_id"].encode()].decode()})
            ids.version += 1
        if "latest_version_pk" in t.Item.__table__.c:  # issue 13: the item names its newest version
            for row in item_rows:
                row["latest_version_pk"] = version_pk.get(row["latest_version_pk"])
        for o in tpl.observations:
            batch.observations.append(o | at(o["warc_file"], o["warc_offset"]) | {
                "id": ids.observation, "run_id": run_ids.get(o["run_id"], o["run_id"]),
                "item_pk": item_pk[o["item_pk"]], "version_pk": version_pk[o["version_pk"]]})
            ids.observation += 1
        for tb in tpl.tombstones:
            ev = at(tb["evidence_file"], tb["evidence_offset"])
            batch.tombstones.append(tb | {
                "id": ids.tombstone, "item_pk": item_pk[tb["item_pk"]], "detail": m.text(tb["detail"]),
                "evidence_file": ev["warc_file"], "evidence_offset": ev["warc_offset"],
                "evidence_length": ev["warc_length"],
                "evidence_record_id": rid.get(tb["evidence_record_id"].encode(), b"").decode(),
                "metadata_record_id": rid.get(tb["metadata_record_id"].encode(), b"").decode(),
                "last_good_record_id": rid.get(tb["last_good_record_id"].encode(), b"").decode()})
            ids.tombstone += 1
        for md in tpl.media:
            batch.media.append(md | at(md["warc_file"], md["warc_offset"]) | {
                "id": ids.media, **({"account_pk": account_pk} if "account_pk" in md else {}), "url": m.text(md["url"]), "media_key": m.text(md["media_key"]),
                "warc_record_id": rid[md["warc_record_id"].encode()].decode()})
            ids.media += 1
        for wn in tpl.warnings:
            where = at(wn["warc_file"], wn["warc_offset"]) if wn["warc_file"] else {}
            batch.warnings.append(wn | where | {
                "id": ids.warning, "run_id": run_ids.get(wn["run_id"], wn["run_id"]),
                "item_id": m.text(wn["item_id"])})
            ids.warning += 1
        for pl in tpl.payloads:
            uri = m.text(pl["target_uri"]) or ""
            batch.payloads.append(pl | at(pl["warc_file"], pl["warc_offset"]) | {
                "id": ids.payload, "account_pk": account_pk, "target_uri": uri, "uri_sha256": uri_key(uri),
                "payload_digest": m.digests[pl["record_id"]],
                "record_id": rid[pl["record_id"].encode()].decode()})
            ids.payload += 1


class _BytesReader:
    """A reader over a bytearray without copying it (encrypt_stream reads with readinto)."""

    def __init__(self, data: bytearray) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def readinto(self, target: bytearray | memoryview) -> int:
        n = min(len(target), len(self._view) - self._pos)
        target[:n] = self._view[self._pos:self._pos + n]
        self._pos += n
        return n

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n is None or n < 0 else min(len(self._view), self._pos + n)
        out = bytes(self._view[self._pos:end])
        self._pos = end
        return out


def _advance_sequences(app: App) -> None:
    """PostgreSQL: explicit ids leave the serial sequences behind; move them past the rows."""
    if app.catalog.engine.dialect.name != "postgresql":
        return
    with app.catalog.engine.begin() as conn:
        for table in ("accounts", "items", "item_versions", "observations", "tombstones", "warc_files",
                      "media_captures", "capture_warnings", "stored_payloads"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))


def _analyze(app: App) -> None:
    """PostgreSQL: gather planner statistics, as autovacuum would soon after a real install's
    writes. Without them the planner guesses, and a benchmark measures its guesses: the
    first capture of a new account read every item of the platform at 1,000,000 items
    (issue 13). SQLite has no statistics unless ANALYZE is run, which the archiver never does."""
    if app.catalog.engine.dialect.name != "postgresql":
        return
    with app.catalog.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


# --- the API ---------------------------------------------------------------------------------


def generate(
    app_or_settings: App | Settings,
    *,
    items: int,
    accounts: int | None = None,
    seed: int = 1,
    chunk_accounts: int = 25,
    compress_level: int = 6,
    progress: Callable[[int, int], None] | None = None,
) -> SyntheticSummary:
    """Add about `items` items over `accounts` accounts (default: one per 1,000 items) to the
    archive of `app_or_settings` (its catalog, store and keys). Each account gets the same
    number of items, so the total is rounded up to a multiple of `accounts`. `progress(done,
    total)` is told after each chunk of accounts."""
    started = time.perf_counter()
    app = app_or_settings if isinstance(app_or_settings, App) else App(app_or_settings)
    create_archive(app)  # a new home gets its catalog and key file; an existing one is only opened
    accounts = accounts or max(1, round(items / DEFAULT_ITEMS_PER_ACCOUNT))
    if items < 1 or accounts < 1 or accounts > items:
        raise ValueError("need at least one item per account")
    per_account = math.ceil(items / accounts)
    with tempfile.TemporaryDirectory(prefix="synthetic-") as tmp:
        work = Path(tmp)
        template_app = capture_template(work, per_account, seed)
        try:
            tpl = load_template(template_app)
        finally:
            template_app.close()
        with app.catalog.session() as s:  # the first synthetic account number not yet used
            taken = s.scalar(select(func.count()).select_from(t.Account)) or 0
        ids = _next_ids(app)
        writer = _Writer(app, tpl, work, compress_level)
        labels: list[str] = []
        rng = random.Random(seed)
        year = 365 * 24 * 3600
        for start in range(0, accounts, chunk_accounts):
            batch = _Batch()
            for n in range(start, min(accounts, start + chunk_accounts)):
                shift = timedelta(seconds=rng.randrange(year))
                labels.append(writer.account(taken + n + 1, shift, ids, batch))
            batch.insert(app)
            if progress:
                progress(min(accounts, start + chunk_accounts), accounts)
        _advance_sequences(app)
        _analyze(app)
    mapper_first, mapper_last = _Mapper(tpl, taken + 1, timedelta()), _Mapper(tpl, taken + accounts, timedelta())
    edited = {tpl_v["item_pk"] for tpl_v in tpl.versions if tpl_v["version_no"] > 1}
    deleted = {tb["item_pk"] for tb in tpl.tombstones}
    by_pk = {it["id"]: it["item_id"] for it in tpl.items}
    sample = {"first": mapper_first.text(tpl.items[0]["item_id"]) or "",
              "last": mapper_last.text(tpl.items[-1]["item_id"]) or ""}
    if edited:
        sample["edited"] = mapper_first.text(by_pk[min(edited)]) or ""
    if deleted:
        sample["deleted"] = mapper_first.text(by_pk[min(deleted)]) or ""
    return SyntheticSummary(
        items=len(tpl.items) * accounts, accounts=accounts, versions=len(tpl.versions) * accounts,
        observations=len(tpl.observations) * accounts, tombstones=len(tpl.tombstones) * accounts,
        warc_files=len(tpl.warcs) * accounts, warc_bytes=writer.warc_bytes,
        object_bytes=writer.object_bytes, seconds=time.perf_counter() - started,
        account_labels=labels, sample_items=sample)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="archive home (created if missing)")
    parser.add_argument("--items", type=int, required=True, help="items to add, e.g. 10000 or 1000000")
    parser.add_argument("--accounts", type=int, default=None, help="accounts (default: items / 1000)")
    parser.add_argument("--database-url", default=None, help="catalog URL (default: SQLite in HOME)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    settings = Settings(home=args.home, database_url=args.database_url)
    app = App(settings)

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} accounts", end="", file=sys.stderr, flush=True)

    try:
        summary = generate(app, items=args.items, accounts=args.accounts, seed=args.seed, progress=progress)
    finally:
        app.close()
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        for key, value in summary.as_dict().items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
