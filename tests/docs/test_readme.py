"""Every command the README shows is run, as written, against a sandbox platform.

Placeholders a reader would replace (the Page id, an item id, a WARC name) are replaced with
real ones; `make` targets are dry-run (`make -n`: this test is itself part of `make test`);
the benchmark gets a small size; the daemon is stopped with SIGTERM after its first tick.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.sandbox.contract import SeededAccount
from archiver.sandbox.server import SandboxServer
from connectors.facebook.sandbox import FacebookContract

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    """Each command line of the README's ```sh blocks (continuations joined)."""
    text = (REPO / "README.md").read_text()
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        pending = ""
        for raw in block.splitlines():
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            line = (pending + raw).strip()
            pending = ""
            if line:
                lines.append(line)
    return lines


@pytest.fixture
def facebook() -> Iterator[tuple[FacebookContract, str, SeededAccount]]:
    contract = FacebookContract()
    server = SandboxServer(contract.app).start()
    contract.bind(server.url)
    seed = contract.seed_account()
    yield contract, server.url, seed
    server.stop()


def _run(line: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


def test_readme_has_the_blocks_this_test_knows() -> None:
    commands = readme_commands()
    assert any(c.startswith("make demo") for c in commands)
    assert any(c.startswith("archiver warc cat") for c in commands)
    assert not any("warcio check -" in c for c in commands), "warcio check cannot read stdin"


def test_every_readme_command_runs(tmp_path: Path, facebook: tuple[FacebookContract, str, SeededAccount]) -> None:
    contract, url, seed = facebook
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "FB_LINCOLN_TOKEN": contract.token,
           "ARCHIVER_CONNECTORS__FACEBOOK__API_BASE": url,
           "ARCHIVER_CONNECTORS__FACEBOOK__MIN_RETRY_SECONDS": "0.05",
           "ARCHIVER_CAPTURE__BACKOFF_BASE": "0.01",
           "ARCHIVER_DAEMON__TICK_SECONDS": "1"}
    env.pop("ARCHIVER_HOME", None)
    ran = []
    for line in readme_commands():
        command = line.split("  #")[0].strip()
        head = shlex.split(command)[0]
        if head == "make":
            result = _run(f"make -n {shlex.split(command)[1]}", REPO, env)
        elif head == "source":
            assert (REPO / shlex.split(command)[1]).is_file()
            continue  # what it does (archiver on PATH) the test environment already does
        elif head == "export":
            key, value = shlex.split(command)[1].split("=", 1)
            env[key] = value
            continue
        elif head.startswith(".venv/bin/"):
            command = command.replace(".venv/bin/", f"{BIN}/", 1)
            if "bench/capture.py" in command:
                command += " --platform facebook --items 20"
            result = _run(command, REPO, env)
        elif command == "archiver daemon":
            result = _daemon(tmp_path, env)
        else:
            assert head == "archiver", f"the README shows a command this test does not know: {line}"
            result = _run(_fill(command, tmp_path, env, seed.raw_id), tmp_path, env)
        assert result.returncode == 0, f"{line}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr, f"{line}\n{result.stderr[-2000:]}"
        ran.append(line)
    assert len(ran) >= 15


def _fill(command: str, cwd: Path, env: dict[str, str], page_id: str) -> str:
    """Replace what a reader would replace: an item id, a WARC name, the Page id."""
    def cli_json(*args: str) -> list[dict[str, str]]:
        out = _run(shlex.join(["archiver", *args]), cwd, env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)  # type: ignore[no-any-return]  # JSON of the CLI's own shape

    if "1234567890_987654321" in command:
        command = command.replace("1234567890_987654321", cli_json("items", "list", "--json")[0]["id"])
    if "NAME.warc.gz" in command:
        command = command.replace("NAME.warc.gz", cli_json("warc", "list", "--json")[0]["name"])
    if "facebook:1234567890" in command:  # platform:id names the registered account (a Page URL was given)
        command = command.replace("facebook:1234567890", "facebook:" + cli_json("accounts", "list", "--json")[0]["account"])
    return command.replace("1234567890", page_id)


def _daemon(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start it, wait until it says it runs (the account was just polled, so it is not due
    yet), then stop it with SIGTERM as systemd would: it must exit 0."""
    proc = subprocess.Popen(["archiver", "daemon"], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if not line or "daemon started" in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    output = "".join(seen) + out
    assert "daemon started" in output and "daemon stopped" in output, output
    return subprocess.CompletedProcess(proc.args, proc.returncode, output, "")
