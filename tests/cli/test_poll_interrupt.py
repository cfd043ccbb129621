"""Ctrl-C during `poll` (a real SIGINT to a real process) says what was kept and that the next
run finishes the rest; the next run does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from archiver.catalog import tables as t
from archiver.catalog.db import open_catalog
from archiver.sandbox.server import Request, Response, SandboxServer
from connectors.facebook.sandbox import DISTRICT, LINCOLN, FacebookContract

REPO = Path(__file__).resolve().parents[2]


def _as_from_a_shell() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _signal_dispositions(pid: int) -> str:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return "unknown"
    return " ".join(line.strip() for line in status.read_text().splitlines() if line.startswith("Sig"))


def test_ctrl_c_during_poll_reports_what_was_kept_and_the_next_run_finishes(tmp_path: Path) -> None:
    contract = FacebookContract()
    contract.seed_account()

    # The interrupt must land while the second account is being fetched, whatever the machine's
    # load: its first request waits until the test has sent SIGINT (a timed sleep raced the poll).
    armed, reached, release = threading.Event(), threading.Event(), threading.Event()

    def slow(req: Request) -> Response:
        if armed.is_set() and LINCOLN in req.path:
            reached.set()
            release.wait(60)
        return contract.app(req)

    server = SandboxServer(slow).start()
    contract.bind(server.url)
    home = tmp_path / "home"
    env = {**os.environ, "ARCHIVER_HOME": str(home), "FB_TOKEN": contract.token, "PYTHONPATH": str(REPO),
           "ARCHIVER_CONNECTORS__FACEBOOK__MIN_RETRY_SECONDS": "0.05", "ARCHIVER_CAPTURE__BACKOFF_BASE": "0.01"}

    def archiver(*args: str) -> list[str]:
        return [sys.executable, "-m", "archiver.cli.main", *args]

    try:
        for page in (DISTRICT, LINCOLN):  # the small Page first, then the big one
            subprocess.run(archiver("accounts", "add", "facebook", page, "--api-base", server.url,
                                    "--token-env", "FB_TOKEN"), env=env, check=True, capture_output=True)
        catalog = open_catalog(f"sqlite:///{home / 'catalog.sqlite'}")
        armed.set()
        # A shell's Ctrl-C meets a process whose SIGINT is neither ignored nor blocked; a child
        # of a test worker can inherit either (both survive exec), so the child starts as a
        # shell would start it.
        proc = subprocess.Popen(archiver("poll", "--once"), env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_as_from_a_shell)
        assert reached.wait(120), "the poll never reached the second account"
        with catalog.session() as s:  # the first account is done, the second under way
            assert {r.status for r in s.query(t.CaptureRun)} == {"complete", "running"}
        dispositions = _signal_dispositions(proc.pid)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)  # let the signal land before the held request is answered
        armed.clear()
        release.set()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, f"{out}{err}\nchild's signal masks: {dispositions}"
        assert "Aborted!" not in err and "Traceback" not in err
        assert f"facebook:{DISTRICT}" in out  # the table of what was kept
        assert "interrupted: 1 of 2 accounts were captured and stored" in err
        assert f"what was fetched for facebook:{LINCOLN} before the interruption stays in the spool" in err
        assert "run 'archiver poll --once' again to finish the rest" in err

        again = subprocess.run(archiver("poll", "--once", "--json"), env=env, text=True, capture_output=True)
        assert again.returncode == 0, again.stderr
        assert {r["status"] for r in json.loads(again.stdout)} == {"complete"}
        with catalog.session() as s:
            assert {r.status for r in s.query(t.CaptureRun)} == {"complete", "interrupted"}
            live = contract.live_item_ids(LINCOLN) | contract.live_item_ids(DISTRICT)
            assert live <= {i.item_id for i in s.query(t.Item)}
        assert [p.name for p in (home / "spool").iterdir() if p.name != ".lock"] == []
        catalog.dispose()
    finally:
        release.set()
        server.stop()
