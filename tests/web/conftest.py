"""A small archive for the console tests: a thread with an edited post, a deleted comment, a
comment with a phone number and a student's name, and the hostile corpus of the hardening
issue (markup, script, ANSI, bidi overrides); console users of every role."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.app import App
from archiver.core.settings import Settings
from archiver.services.keys import init_export_key
from archiver.services.users import add_user
from connectors.facebook.sandbox import LINCOLN, FacebookContract
from tests.cli.test_officer_view import HOSTILE as TERMINAL_HOSTILE
from tests.harness import Harness
from tests.requests.test_export_package import HOSTILE as HTML_HOSTILE
from tests.requests.test_export_package import HOSTILE_AUTHOR

PASSWORD = "correct horse battery staple"
USERS = {"pat": "records-officer", "sam": "records-officer", "chris": "clerk", "alex": "auditor",
         "olive": "operator"}
HOSTILE = HTML_HOSTILE + " | " + " | ".join(TERMINAL_HOSTILE) + " <iframe src=//evil.example></iframe>"
PHONE = "555-123-4567"
STUDENT = "Jordan Smith"


@dataclass(frozen=True)
class ConsoleArchive:
    home: Path
    post: str  # edited
    phone_comment: str
    hostile_comment: str
    deleted_comment: str
    student_comment: str
    picture_post: str

    def app(self, **kw: object) -> App:
        return App(Settings(home=self.home), **kw)  # type: ignore[arg-type]


def isolate(mp: pytest.MonkeyPatch, root: Path) -> None:
    """Module-scoped fixtures run before conftest's per-test environment: set it here."""
    for key in [k for k in os.environ if k.startswith("ARCHIVER_") and k != "ARCHIVER_TEST_PG_URL"]:
        mp.delenv(key)
    config = root / "archiver.toml"
    config.write_text("")
    mp.setenv("ARCHIVER_CONFIG", str(config))
    mp.setenv("ARCHIVER_DISTRICT", "Test School District")
    mp.setenv("ARCHIVER_STATE", "WA")


def build_archive(root: Path) -> ConsoleArchive:
    h = Harness(root, "facebook")
    try:
        contract = h.sandbox
        assert isinstance(contract, FacebookContract)
        sb = contract.sandbox
        post = sb.publish(LINCOLN, "Bus route 12 will change for the field trip on Friday.")
        phone = sb.comment(post, f"Call me at {PHONE} about bus 12 please", author=("Pat Parent", "900020"))
        hostile = sb.comment(post, HOSTILE, author=(HOSTILE_AUTHOR, "900021"))
        doomed = sb.comment(post, "This bus comment was posted in anger", author=("Angry Parent", "900022"))
        student = sb.comment(post, f"My son {STUDENT} rides bus 12 every day.", author=("A Parent", "900023"))
        picture = sb.publish(LINCOLN, "Photos from the bus safety assembly.", picture=True)
        assert h.poll().status == "complete"
        sb.edit_post(post, "Bus route 12 will change for the field trip on Thursday, not Friday.")
        sb.delete_comment(doomed)
        assert h.poll().status == "complete"
        init_export_key(h.app)
        for name, role in USERS.items():
            add_user(h.app, name, role=role, password=PASSWORD, actor="test-setup")
    finally:
        h.close()
    return ConsoleArchive(h.home, post, phone, hostile, doomed, student, picture)


@pytest.fixture(scope="module")
def console_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleArchive]:
    root = tmp_path_factory.mktemp("console")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, root)
        yield build_archive(root)
