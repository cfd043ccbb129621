"""The audit log's hash chain on SQLite and PostgreSQL: appends verify, any tampering is found."""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog import tables as t
from archiver.catalog.db import open_catalog
from archiver.cli.main import cli
from archiver.core.settings import Settings

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _fill(app: App, n: int) -> None:
    with app.catalog.session() as s:
        for i in range(n):
            audit.append(s, actor="officer", action="hold.add", subject=f"hold-{i}",
                         details={"reason": "lawsuit", "items": i, "when": T0}, at=T0 + timedelta(seconds=i))


def test_appended_entries_verify_and_tampering_is_named(tmp_path: Path, database_url: str) -> None:
    app = App(Settings(home=tmp_path / "home", database_url=database_url))
    _fill(app, 5)
    with app.catalog.session() as s:
        verdict = audit.verify_chain(s)
        assert verdict.ok and verdict.entries == 5 and verdict.head_seq == 5
        newest = audit.entries(s, newest_first=True, limit=2)
        assert [e.seq for e in newest] == [5, 4]
        assert audit.entries(s, subject="hold-2")[0].details["when"] == T0.isoformat(sep=" ")
    with app.catalog.session() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == 3).values(actor="someone else"))
    with app.catalog.session() as s:
        verdict = audit.verify_chain(s)
    assert not verdict.ok and verdict.first_bad_seq == 3 and "changed" in verdict.problem
    assert verdict.entries == 2
    app.close()


def test_a_deleted_entry_breaks_the_chain(tmp_path: Path, database_url: str) -> None:
    app = App(Settings(home=tmp_path / "home", database_url=database_url))
    _fill(app, 4)
    with app.catalog.session() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.seq == 2))
    with app.catalog.session() as s:
        verdict = audit.verify_chain(s)
    assert not verdict.ok and verdict.first_bad_seq == 2 and "missing" in verdict.problem
    app.close()


def test_concurrent_writers_never_fork_the_chain(tmp_path: Path, database_url: str) -> None:
    app = App(Settings(home=tmp_path / "home", database_url=database_url))
    _fill(app, 1)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        for i in range(15):
            for _attempt in range(20):  # SQLite may answer "busy"; PostgreSQL waits on the lock
                try:
                    with app.catalog.session() as s:
                        audit.append(s, actor=name, action="search", subject=str(i), at=T0)
                    break
                except Exception as exc:  # noqa: BLE001
                    last = exc
            else:
                errors.append(last)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    with app.catalog.session() as s:
        verdict = audit.verify_chain(s)
    assert verdict.ok and verdict.entries == 46
    app.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(st.text(max_size=40), min_size=1, max_size=6),
    victim=st.integers(min_value=0, max_value=5),
    field=st.sampled_from(["actor", "action", "subject", "details", "at", "prev_hash", "entry_hash"]),
)
def test_any_single_field_change_is_detected(texts: list[str], victim: int, field: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        catalog = open_catalog(f"sqlite:///{Path(tmp) / 'c.sqlite'}")
        try:
            with catalog.session() as s:
                for i, text_ in enumerate(texts):
                    audit.append(s, actor=text_ or "x", action="request.redact", subject=text_,
                                 details={"text": text_, "n": i}, at=T0 + timedelta(minutes=i))
            seq = victim % len(texts) + 1
            changed = {"actor": "mallory", "action": "request.release", "subject": "other",
                       "details": {"text": "other"}, "at": T0 - timedelta(days=1),
                       "prev_hash": "f" * 64, "entry_hash": "e" * 64}[field]
            with catalog.session() as s:
                assert audit.verify_chain(s).ok
                s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == seq).values({field: changed}))
            with catalog.session() as s:
                verdict = audit.verify_chain(s)
            assert not verdict.ok
            assert verdict.first_bad_seq in (seq, seq + 1)  # a changed hash shows at the next entry
        finally:
            catalog.dispose()


def test_cli_lists_and_verifies_the_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = App(Settings(home=home))
    _fill(app, 3)
    app.close()
    runner = CliRunner()
    env = {"ARCHIVER_HOME": str(home)}
    listed = runner.invoke(cli, ["audit", "list", "--json"], env=env, catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert '"seq": 3' in listed.output and '"subject": "hold-2"' in listed.output
    ok = runner.invoke(cli, ["audit", "verify"], env=env, catch_exceptions=False)
    assert ok.exit_code == 0 and "intact: 3 entries" in ok.output
    app = App(Settings(home=home))
    with app.catalog.session() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == 2).values(subject="hold-9"))
    app.close()
    broken = runner.invoke(cli, ["audit", "verify"], env=env, catch_exceptions=False)
    assert broken.exit_code == 1
    assert "entry 2 was changed" in broken.output


@pytest.mark.parametrize("bad", [{"actor": ""}, {"action": ""}])
def test_an_entry_needs_actor_and_action(tmp_path: Path, bad: dict[str, str]) -> None:
    app = App(Settings(home=tmp_path / "home"))
    with pytest.raises(ValueError), app.catalog.session() as s:
        audit.append(s, **{"actor": "a", "action": "b", **bad}, at=T0)  # type: ignore[arg-type]
    app.close()


def test_cli_shows_typed_and_platform_text_inert(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = App(Settings(home=home))
    with app.catalog.session() as s:
        audit.append(s, actor="\x1b]0;pwned\x07officer", action="search", subject="[bold]x",
                     at=T0)
    app.close()
    out = CliRunner().invoke(cli, ["audit", "list"], env={"ARCHIVER_HOME": str(home)},
                             catch_exceptions=False).output
    assert "\x1b" not in out and "\x07" not in out and "␛" in out
    assert "[bold]x" in out  # markup shown as typed, at 80 columns
