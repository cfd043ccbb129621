"""What an officer sees (issue 9 items 8, 13, 14): hostile text stays inert, listings page,
tables keep whole names at 80 columns, `items show` shows the whole item and its thread.

The commands run in-process with the CLI's consoles forced to a colour terminal of 80
columns (so rich would emit escapes and hyperlinks if it interpreted anything), and once as a
real process with FORCE_COLOR, as an officer's terminal runs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from archiver.cli.main import cli
from archiver.cli.poll import run_table
from archiver.cli.safe_text import markup, one_line, plain, visible
from archiver.sandbox.server import SandboxServer
from archiver.services.poll import RunReport
from connectors.facebook.sandbox import LINCOLN, FacebookContract

HOSTILE_PAGE = "1000077"
# What a member of the public can type into a comment or a page name.
HOSTILE = [
    "\x1b[2J\x1b[31mCLEARED",  # ANSI: clear the screen, turn red
    "\x1b]0;pwned window title\x07",  # OSC 0: set the window title
    "\x1b]8;;file:///etc/shadow\x1b\\click me\x1b]8;;\x1b\\",  # OSC 8: a real terminal hyperlink
    "[link=file:///etc/passwd]innocent[/link]",  # rich markup: a link
    "[bold red]ALERT[/bold red]",  # rich markup: styling
    ":warning: emoji code",
    "\x9b31mC1-CSI",  # the one-byte CSI
    "carriage\roverwrite",
    "bidi \u202egnp.exe",
]
HOSTILE_TEXT = " | ".join(HOSTILE)
HOSTILE_NAME = "\x1b]0;owned\x07[link=file:///etc/passwd]Lincoln[/link] \x1b[5mBlink"
OWN_STYLES = re.compile(r"\x1b\[[0-9;]*m")  # what rich itself writes for our own emphasis
# ...and for the progress bar on stderr: hide/show the cursor, redraw the line, move up.
OWN_CONTROLS = re.compile(r"\r\x1b\[1A\x1b\[2K|\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\r\x1b\[2K|\x1b\[1A|\x1b\[2K")


@dataclass
class Archive:
    home: Path
    env: dict[str, str]
    post: str
    comment: str
    reply: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """In-process, through the consoles `terminal_consoles` put in place."""
        result = CliRunner().invoke(cli, list(args), env=self.env)
        return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)

    def run_process(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A real `archiver` process on a colour terminal of 80 columns."""
        env = {**os.environ, **self.env, "COLUMNS": "80", "FORCE_COLOR": "1", "TERM": "xterm-256color",
               "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        return subprocess.run([sys.executable, "-m", "archiver.cli.main", *args], env=env, text=True,
                              capture_output=True, timeout=300)


@contextmanager
def terminal_consoles() -> Iterator[None]:
    """Every CLI module's consoles become 80-column colour terminals (as FORCE_COLOR would)."""
    def terminal(stderr: bool) -> Console:
        return Console(stderr=stderr, force_terminal=True, color_system="truecolor", width=80,
                       emoji=False, highlight=False)

    with pytest.MonkeyPatch.context() as mp:
        for name, module in list(sys.modules.items()):
            if name.startswith("archiver.cli."):
                for attr, stderr in (("console", False), ("err_console", True)):
                    if hasattr(module, attr):
                        mp.setattr(module, attr, terminal(stderr))
        yield


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    contract = FacebookContract()
    server = SandboxServer(contract.app).start()
    contract.bind(server.url)
    contract.seed_account()
    sb = contract.sandbox
    sb.add_page(HOSTILE_PAGE, HOSTILE_NAME)
    post = sb.publish(HOSTILE_PAGE, HOSTILE_TEXT)
    comment = sb.comment(post, "comment: " + HOSTILE_TEXT, author=(HOSTILE_NAME, "900077"))
    reply = sb.comment(post, "reply: " + HOSTILE_TEXT, parent=comment)
    home = tmp_path_factory.mktemp("officer") / "home"
    # Module-scoped, so set up before conftest's per-test district and state: name them here.
    env = {"ARCHIVER_HOME": str(home), "FB_TOKEN": contract.token, "ARCHIVER_DISTRICT": "Test School District",
           "ARCHIVER_STATE": "WA",
           "ARCHIVER_CONNECTORS__FACEBOOK__MIN_RETRY_SECONDS": "0.05", "ARCHIVER_CAPTURE__BACKOFF_BASE": "0.01"}
    a = Archive(home, env, post, comment, reply)
    with terminal_consoles():
        for page, name in ((LINCOLN, "Lincoln High School"), (HOSTILE_PAGE, HOSTILE_NAME)):
            added = a.run("accounts", "add", "facebook", page, "--name", name, "--api-base", server.url,
                          "--token-env", "FB_TOKEN")
            assert added.returncode == 0, added.stderr
        polled = a.run("poll", "--once")
        assert polled.returncode == 0, polled.stdout + polled.stderr
        yield a
    server.stop()


def assert_inert(result: subprocess.CompletedProcess[str]) -> str:
    """Nothing hostile acts on the terminal; returns the output without our own colours."""
    out = OWN_CONTROLS.sub("", result.stdout + result.stderr)
    for bad in ("\x1b", "\x07", "\x9b", "\r", "\u202e"):  # no escape but rich's own is left
        assert bad not in out, f"{bad!r} reached the terminal:\n{out!r}"
    return out


def test_hostile_text_is_shown_inert_and_literal(archive: Archive) -> None:
    assert "\x1b[" in archive.run("items", "show", archive.comment).stdout  # a colour terminal indeed
    shown = assert_inert(archive.run_process("items", "show", archive.comment))
    for literal in ("␛[2J", "␛]0;pwned window title␇", "[link=file:///etc/passwd]innocent[/link]",
                    "[bold red]ALERT[/bold red]", ":warning: emoji code", "<U+009B>31mC1-CSI",
                    "carriage␍overwrite", "<U+202E>gnp.exe"):
        assert literal in shown, literal
    assert "[link=file:///etc/passwd]Lincoln[/link]" in shown  # the author's name, literally
    for args in (["items", "list", "--all"], ["items", "show", archive.post], ["items", "show", archive.reply],
                 ["accounts", "list"], ["accounts", "check"], ["poll", "--once"], ["warc", "list"]):
        assert_inert(archive.run(*args))
    # An error that repeats what was typed (or what a platform said) is one inert line too.
    error = archive.run("items", "show", "\x1b]0;x\x07[bold]id")
    assert error.returncode != 0
    line = assert_inert(error).strip()
    assert line.startswith("error:") and "␛]0;x␇[bold]id" in line and "\n" not in line


def test_the_safe_text_helpers() -> None:
    assert visible("a\x1b[0mb\x00\x7f\u200b\n\t") == "a␛[0mb␀␡<U+200B>\n\t"
    assert one_line("two\nlines\x1b") == "two lines␛"
    assert markup("[bold]x[/]") == "\\[bold]x\\[/]"
    console = Console(width=80, record=True, force_terminal=True, emoji=False)
    console.print(plain("[link=file:///etc/passwd]x[/link] :smile: \x1b]8;;u\x1b\\"))
    text = console.export_text()
    assert "[link=file:///etc/passwd]x[/link] :smile: ␛]8;;u␛\\" in text


def test_items_show_has_author_permalink_full_text_thread_and_versions(archive: Archive) -> None:
    shown = assert_inert(archive.run("items", "show", archive.comment))
    assert "author" in shown and "permalink" in shown and "https://" in shown
    flat = " ".join(shown.split())
    assert one_line(visible("comment: " + HOSTILE_TEXT)) in flat  # the full text, not cut
    assert "parent" in shown and archive.post in shown  # what it answers...
    assert "reply" in shown and archive.reply in shown  # ...and what answers it
    assert re.search(r"version 1, observed \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", shown)
    detail = json.loads(archive.run("items", "show", archive.comment, "--json").stdout)
    assert detail["parent"]["id"] == archive.post and [r["id"] for r in detail["replies"]] == [archive.reply]


def test_items_list_pages_and_refuses_bad_input(archive: Archive) -> None:
    everything = json.loads(archive.run("items", "list", "--all", "--json").stdout)
    assert len(everything) > 50
    page = archive.run("items", "list")
    assert page.returncode == 0
    assert "50 items (more follow)" in page.stdout
    assert "--all" in page.stderr and "--after " in page.stderr
    first = json.loads(archive.run("items", "list", "--json").stdout)
    assert first == everything[:50]
    # Keyset paging: following each page's cursor walks the whole list once, in order.
    walked, after = list(first), re.search(r"--after (\S+)", OWN_STYLES.sub("", page.stderr))
    while after:
        step = archive.run("items", "list", "--json", "--after", after.group(1))
        walked += json.loads(step.stdout)
        after = re.search(r"--after (\S+)", OWN_STYLES.sub("", step.stderr))
    assert walked == everything
    bad = archive.run("items", "list", "--after", "not-a-cursor")
    assert bad.returncode != 0 and "is not a page cursor" in bad.stderr
    assert len(json.loads(archive.run("items", "list", "--limit", "7", "--json").stdout)) == 7
    for bad in ("0", "-5"):
        result = archive.run("items", "list", "--limit", bad)
        assert result.returncode != 0 and result.stdout == ""
        assert OWN_STYLES.sub("", result.stderr).strip().startswith("error: --limit must be 1 or more")
    nobody = archive.run("items", "list", "--account", "nobody")
    polled = archive.run("poll", "--once", "--account", "nobody")
    assert nobody.returncode == polled.returncode != 0
    assert OWN_STYLES.sub("", nobody.stderr) == OWN_STYLES.sub("", polled.stderr)
    assert "No registered account matches 'nobody'" in nobody.stderr
    by_label = json.loads(archive.run("items", "list", "--all", "--json", "--account", f"facebook:{HOSTILE_PAGE}").stdout)
    assert {r["id"] for r in by_label} == {archive.post, archive.comment, archive.reply}


def test_tables_keep_whole_names_at_80_columns(archive: Archive) -> None:
    names = [w["name"] for w in json.loads(archive.run("warc", "list", "--json").stdout)]
    listed = OWN_STYLES.sub("", archive.run("warc", "list").stdout)
    assert names
    for name in names:  # each name whole on one line, so it can be copied into 'warc cat'
        assert any(name in line for line in listed.splitlines()), f"{name} is cut:\n{listed}"
    assert "…" not in listed and max(len(line) for line in listed.splitlines()) <= 80
    # The poll and demo table at 80 columns: dispensable columns go first, so realistic labels
    # (a Mastodon handle, a feed URL) stay on one line; one too long for any terminal folds whole.
    labels = ["mastodon:@lincolnhs@mastodon.riverside.k12.or.us", "feeds:https://lincolnhigh.k12.wa.us/feed/",
              "facebook:1000001"]
    text = _render_run_table(labels)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for label in labels:
        assert any(label in line for line in text.splitlines()), f"{label} is cut:\n{text}"
    assert "new" in text and "deleted" in text and "status" in text  # what matters stays
    huge = "mastodon:@lincoln_high_school_athletics_and_activities@mastodon.riverside.k12.example.org"
    text = _render_run_table([huge, "facebook:1000001"])
    lines = text.splitlines()
    header = next(line for line in lines if "account" in line and "status" in line)
    start, end = header.index("account"), header.index("status")
    column = "".join(line[start:end].strip() for line in lines[lines.index(header) + 2:])
    assert huge in column and "…" not in text, text


def _render_run_table(labels: list[str]) -> str:
    reports = [RunReport(label, "run", "complete", exchanges=120, new=45, edited=3, unchanged=900,
                         deleted=2, media=17, warcs=("a", "b")) for label in labels]
    console = Console(width=80, record=True)
    from archiver.cli import poll as poll_module

    original = poll_module.console
    poll_module.console = console
    try:
        console.print(run_table(reports, "Capture cycle"))
    finally:
        poll_module.console = original
    return console.export_text()
