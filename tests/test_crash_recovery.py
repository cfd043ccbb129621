"""Kill a capturing process at random moments; the restart loses and half-writes nothing.

A child process polls an account served by this test's sandbox and is SIGKILLed at a random
moment; the parent then restarts the pipeline (recover + poll) and checks the invariants:
every catalogued WARC is whole and stored, no `.open` file survives, every item pointer reads
back, and the catalog still equals a rebuild from the WARCs. The control ordering (catalog
before store) must fail the same check, which shows the check can fail.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.core.models import WarcPointer
from archiver.preservation.rebuild import rebuild
from tests.harness import Harness

CHILD = """
import sys
from archiver.app import App
from archiver.services.poll import Poller
from archiver.core.settings import Settings
settings = Settings(home=sys.argv[1], connectors={"facebook": {"api_base": sys.argv[2], "page_limit": 5}},
                    capture={"backoff_base": 0.01})
app = App(settings)
poller = Poller(app)
print("ready", flush=True)
while True:
    for report in poller.poll():
        pass
"""


CLEAN = {"plaintext_files": 0, "spool_files": 0, "missing_objects": 0, "orphaned_objects": 0,
         "bad_pointers": 0, "duplicated_versions": 0}


def invariants(h: Harness) -> dict[str, int]:
    spool = h.home / "spool"
    left = [p for p in spool.iterdir() if p.name != ".lock"] if spool.exists() else []
    problems = {
        # Plaintext WARCs (open or sealed) must not outlive a restart: student data at rest.
        "plaintext_files": sum(1 for p in left if not p.name.endswith(".enc")),
        "spool_files": len(left),
        "missing_objects": 0,
        "orphaned_objects": 0,
        "bad_pointers": 0,
        "duplicated_versions": 0,
    }
    with h.app.catalog.session() as s:
        warcs = list(s.scalars(select(t.WarcFile)))
        versions = list(s.scalars(select(t.ItemVersion).order_by(t.ItemVersion.item_pk, t.ItemVersion.version_no)))
    for w in warcs:
        head = h.app.store.head(w.store_key)
        if head is None or head.sha256 != w.object_sha256:
            problems["missing_objects"] += 1
    catalogued = {w.store_key for w in warcs}
    problems["orphaned_objects"] = sum(1 for k in h.app.store.keys("warc/") if k not in catalogued)
    for before, after in zip(versions, versions[1:], strict=False):
        if before.item_pk == after.item_pk and before.content_sha256 == after.content_sha256:
            problems["duplicated_versions"] += 1
    for v in versions:
        try:
            rec = h.app.warc_reader().record(WarcPointer(v.warc_file, v.warc_offset, v.warc_length, v.warc_record_id))
            if rec.pointer.record_id != v.warc_record_id or rec.rec_type != "response":
                problems["bad_pointers"] += 1
        except Exception:  # noqa: BLE001 - any failure to read back is a finding
            problems["bad_pointers"] += 1
    return problems


def kill_and_recover(tmp_path: Path, kills: int, seed: int, max_wait: float = 0.6) -> Harness:
    rng = random.Random(seed)
    h = Harness(tmp_path, "facebook")
    env = {**os.environ, "FB_TOKEN": h.seed.token, "PYTHONPATH": str(Path(__file__).parents[1])}
    token_file = tmp_path / "token.txt"
    assert token_file.exists()
    for n in range(kills):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(h.home), h.server.url], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert child.stdout is not None
        child.stdout.readline()  # "ready": imports done, the catalog is open
        time.sleep(rng.uniform(0.0, max_wait))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if n % 2:
            h.sandbox.publish(h.seed.account_id)
    h.poller.recover()
    return h


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_mid_capture_loses_and_half_writes_nothing(tmp_path: Path, seed: int) -> None:
    h = kill_and_recover(tmp_path, kills=4, seed=seed)
    try:
        assert invariants(h) == CLEAN
        report = h.poll()  # the restarted pipeline finishes the job
        assert report.status == "complete"
        assert set(h.items()) == h.sandbox.live_item_ids(h.seed.account_id)  # nothing lost
        assert rebuild(h.app).equal
    finally:
        h.close()


@pytest.mark.slow
def test_sigkill_many_times(tmp_path: Path) -> None:
    h = kill_and_recover(tmp_path, kills=100, seed=7, max_wait=1.5)
    try:
        assert invariants(h) == CLEAN
        with h.app.catalog.session() as s:
            captures = sum(w.records for w in s.scalars(select(t.WarcFile))) // 2
        assert captures >= 1000, captures
        assert h.poll().status == "complete"
        assert set(h.items()) == h.sandbox.live_item_ids(h.seed.account_id)
        assert rebuild(h.app).equal
    finally:
        h.close()


def test_control_ordering_is_caught_by_the_same_check(tmp_path: Path) -> None:
    """Index before storing (the wrong order) and lose the store write: the check must fail."""
    h = Harness(tmp_path, "facebook")
    try:
        store = h.app.store
        original = store.put_file

        def lost_upload(key, path, **kwargs):  # type: ignore[no-untyped-def]
            raise SystemExit("killed between catalog commit and upload")

        outbox = h.poller.outbox

        def wrong_order(plain, platform, account_id, timings=None, journal=None, within=None):  # type: ignore[no-untyped-def]
            from archiver.preservation.outbox import vault_context, warc_key
            from archiver.vault import decrypt_stream, read_header
            from archiver.vault.io import PlaintextReader

            enc = outbox.encrypt(plain)
            name = plain.name
            with open(enc, "rb") as fh:  # catalog first ...
                header = read_header(fh)
                reader = PlaintextReader(decrypt_stream(fh, h.app.keys, context=vault_context(name), header=header))
                outbox._index(reader, name, warc_key(platform, account_id, name), enc.stat().st_size,
                              "0" * 64, header.key_id, header.wrapped_key)
            lost_upload(name, enc)  # ... then the process dies before the upload

        outbox.store_sealed = wrong_order  # type: ignore[method-assign]
        with pytest.raises(SystemExit):
            h.poll()
        problems = invariants(h)
        assert problems["missing_objects"] > 0 or problems["bad_pointers"] > 0
        store.put_file = original  # type: ignore[method-assign]
    finally:
        h.close()


def test_sweep_removes_an_encryption_cut_short(tmp_path: Path) -> None:
    """Found by the 100-kill run: a kill inside encrypt_file left its hidden temp file."""
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()
        spool = h.home / "spool"
        spool.mkdir(exist_ok=True)
        (spool / ".x.warc.gz.enc.0a1b2c.partial").write_bytes(b"half a ciphertext")
        h.poller.recover()
        assert invariants(h) == CLEAN
    finally:
        h.close()
