"""The daemon's threads must not be the first to import a package that imports itself in a
cycle: two threads importing `archiver.storage` at once (a capture opening the store and the
retention-plan job) failed one capture with "partially initialized module"."""

from __future__ import annotations

import subprocess
import sys


def test_the_worker_imports_the_storage_package_before_any_thread_starts() -> None:
    code = ("import sys; import archiver.daemon.worker; "
            "assert 'archiver.storage.factory' in sys.modules, sorted(m for m in sys.modules if 'storage' in m)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
