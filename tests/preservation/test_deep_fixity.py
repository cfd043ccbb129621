"""Routine and deep fixity (issue 13 part 6): a routine `verify` skips re-inflating record
digests only for plaintext that already passed a deep check under the same sha256, and still
fails on any changed stored byte or any catalog digest that no longer matches.

Uses the twelve-capture archive of tests/test_fixity.py (4 KiB vault segments: many AEAD
segments per object), each test on its own copy of the home.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.catalog.fixity_tables import FixityDeepCheck
from archiver.cli.main import cli
from archiver.preservation.fixity import FixityReport, Level, Verdict, verify
from archiver.preservation.outbox import Outbox
from archiver.vault import read_header
from archiver.vault.format import TAG_SIZE
from tests.test_fixity import (
    POLLS,
    flip,
    rewrite,
    rows,
    stored_path,
    update_row,
)

SEGMENT = 4096  # the archive's vault segment size (tests/test_fixity.py)


def deep_rows(app: App) -> dict[str, FixityDeepCheck]:
    with app.catalog.session() as s:
        return {d.warc_name: d for d in s.scalars(select(FixityDeepCheck))}


def levels(report: FixityReport) -> dict[str, Level]:
    return {r.name: r.level for r in report.results}


def test_first_run_is_deep_then_routine_until_deep_is_asked(app: App) -> None:
    first = verify(app, sample_pct=None, all_=True)
    assert first.ok and set(levels(first).values()) == {Level.DEEP}
    catalogued = {r.name: r for r in rows(app)}
    assert all(r.records == catalogued[r.name].records for r in first.results)
    recorded = deep_rows(app)
    assert {n: d.plaintext_sha256 for n, d in recorded.items()} == {n: r.sha256 for n, r in catalogued.items()}
    assert all(d.run_id == first.run_id for d in recorded.values())

    second = verify(app, sample_pct=None, all_=True)
    assert second.ok and set(levels(second).values()) == {Level.ROUTINE}
    assert all(r.records == 0 for r in second.results)  # no record digest inflated again
    assert all(r.bytes_read == catalogued[r.name].object_size for r in second.results)  # every byte read
    assert deep_rows(app)[first.results[0].name].run_id == first.run_id  # routine does not re-stamp

    forced = verify(app, sample_pct=None, all_=True, deep=True)
    assert forced.ok and set(levels(forced).values()) == {Level.DEEP}
    assert all(r.records == catalogued[r.name].records for r in forced.results)
    assert deep_rows(app)[first.results[0].name].run_id == forced.run_id

    with app.catalog.session() as s:  # the fixity log says which level each verdict came from
        logged = {(c.run_id, c.level) for c in s.scalars(select(t.FixityCheck))}
    assert logged == {(first.run_id, "deep"), (second.run_id, "routine"), (forced.run_id, "deep")}


def _segment_offsets(path: Path) -> tuple[int, int]:
    """(header size, offset of segment 0's tag) of a stored object."""
    with open(path, "rb") as fh:
        header = read_header(fh)
    return header.size, header.size + SEGMENT


def test_routine_check_fails_on_a_flipped_ciphertext_or_tag_byte(app: App) -> None:
    assert verify(app, sample_pct=None, all_=True).ok  # every object deep-checked once
    warcs = rows(app)
    body, tag, last_tag = warcs[1], warcs[4], warcs[7]
    rewrite(stored_path(app, body.store_key), flip(body.object_size // 2))  # type: ignore[operator]
    _, tag_at = _segment_offsets(stored_path(app, tag.store_key))
    rewrite(stored_path(app, tag.store_key), flip(tag_at + TAG_SIZE // 2))  # inside segment 0's tag
    rewrite(stored_path(app, last_tag.store_key), flip(last_tag.object_size - 1))  # type: ignore[operator]

    report = verify(app, sample_pct=None, all_=True)

    found = {r.name: (r.verdict, r.level) for r in report.findings}
    assert found == {w.name: (Verdict.TAMPERED, Level.ROUTINE) for w in (body, tag, last_tag)}
    assert "segment 0" in next(r for r in report.findings if r.name == tag.name).explanation
    assert "stored bytes also differ" in next(r for r in report.findings if r.name == body.name).explanation
    assert {r.level for r in report.results if r.ok} == {Level.ROUTINE}


def test_same_ciphertext_but_catalog_digest_changed_is_a_finding_at_either_level(app: App) -> None:
    assert verify(app, sample_pct=None, all_=True).ok
    warcs = rows(app)
    row_only, both = warcs[2], warcs[5]
    # the row's plaintext digest changed, the deep-check record did not: checked deep again
    update_row(app, row_only.name, sha256="e" * 64)
    # row and deep-check record changed alike (say, by someone covering a swap): still read and hashed
    update_row(app, both.name, sha256="d" * 64)
    with app.catalog.session() as s:
        s.get(FixityDeepCheck, both.name).plaintext_sha256 = "d" * 64  # type: ignore[union-attr]

    report = verify(app, sample_pct=None, all_=True)

    found = {r.name: (r.verdict, r.level) for r in report.findings}
    assert found == {row_only.name: (Verdict.PLAINTEXT_MISMATCH, Level.DEEP),
                     both.name: (Verdict.PLAINTEXT_MISMATCH, Level.ROUTINE)}
    assert deep_rows(app)[row_only.name].plaintext_sha256 == row_only.sha256  # a failure records nothing


def _members(data: bytes) -> list[bytes]:
    out = []
    while data:
        d = zlib.decompressobj(31)
        d.decompress(data)
        used = len(data) - len(d.unused_data)
        out.append(data[:used])
        data = d.unused_data
    return out


def test_a_replaced_object_whose_row_was_updated_to_match_is_checked_deep(app: App) -> None:
    """The stored object and every catalog digest changed together (a restore from a bad
    replica, say): ciphertext, tags and plaintext all match the row, so only recomputing the
    record digests finds the damaged record. The old deep check must not vouch for it."""
    assert verify(app, sample_pct=None, all_=True).ok
    victim = rows(app)[3]
    plain = b"".join(app.warc_reader().warc_bytes(victim.name))
    members = _members(plain)
    index = next(i for i, m in enumerate(members) if b"WARC-Type: response" in zlib.decompress(m, 31))
    record = zlib.decompress(members[index], 31)
    end = record.rindex(b"}")  # the JSON body's last byte: same length, block digest now wrong
    members[index] = zlib.compress(record[:end] + b"]" + record[end + 1:], wbits=31)
    damaged = b"".join(members)

    spool = app.settings.spool_dir
    spool.mkdir(parents=True, exist_ok=True)
    (spool / victim.name).write_bytes(damaged)
    enc = Outbox(app).encrypt(spool / victim.name)
    object_sha = hashlib.sha256(enc.read_bytes()).hexdigest()
    stored = app.store.put_file(victim.store_key + ".restored", enc, sha256=object_sha)
    with open(enc, "rb") as fh:
        header = read_header(fh)
    enc.unlink()
    update_row(app, victim.name, store_key=victim.store_key + ".restored", size=len(damaged),
               sha256=hashlib.sha256(damaged).hexdigest(), object_size=stored.size,
               object_sha256=object_sha, key_id=header.key_id, wrapped_key=header.wrapped_key)

    report = verify(app, sample_pct=None, all_=True)

    found = {r.name: (r.verdict, r.level) for r in report.findings}
    assert found == {victim.name: (Verdict.RECORD_DIGEST_FAILED, Level.DEEP)}
    assert "digest failed" in report.findings[0].explanation
    assert deep_rows(app)[victim.name].plaintext_sha256 == victim.sha256  # still the old, good one


def test_cli_says_which_level_each_object_was_checked_at(app: App) -> None:
    env = {"ARCHIVER_HOME": str(app.settings.home)}
    first = CliRunner().invoke(cli, ["verify", "--all", "--json"], env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["levels"] == {"deep": POLLS, "routine": 0}
    assert {o["level"] for o in data["objects"]} == {"deep"} and len(data["objects"]) == POLLS

    routine = CliRunner().invoke(cli, ["verify", "--all"], env=env, catch_exceptions=False)
    assert routine.exit_code == 0, routine.output
    assert f"0 deep (every record digest recomputed), {POLLS} routine" in " ".join(routine.output.split())

    victim = rows(app)[6]
    rewrite(stored_path(app, victim.store_key), flip(victim.object_size // 3))  # type: ignore[operator]
    deep = CliRunner().invoke(cli, ["verify", "--all", "--deep", "--json"], env=env, catch_exceptions=False)
    assert deep.exit_code == 1
    data = json.loads(deep.stdout)
    assert data["levels"] == {"deep": POLLS, "routine": 0}
    assert [(f["name"], f["verdict"], f["level"]) for f in data["findings"]] == [(victim.name, "tampered", "deep")]


def test_the_daemons_sampled_fixity_is_routine_after_a_deep_check_and_still_finds_damage(app: App) -> None:
    from archiver.daemon.jobs import run_fixity

    status, _ = run_fixity(app)  # never deep-checked: the sample is checked deep
    assert status == "ok"
    assert verify(app, sample_pct=None, all_=True).ok  # now every object has passed deep
    for row in rows(app):
        rewrite(stored_path(app, row.store_key), flip(row.object_size // 2))  # type: ignore[operator]
    status, message = run_fixity(app)
    assert status == "findings", message
    with app.catalog.session() as s:
        last_run = s.scalars(select(t.FixityCheck).order_by(t.FixityCheck.id.desc())).first()
        assert last_run is not None
        sampled = list(s.scalars(select(t.FixityCheck).where(t.FixityCheck.run_id == last_run.run_id)))
    assert sampled and {(c.verdict, c.level) for c in sampled} == {("tampered", "routine")}
