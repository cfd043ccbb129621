"""Fast start of the read commands (issue 13 part 5, issue 10's search): a fresh `items list`,
`items show` or `search` reads a plain configuration without pydantic and declares only the
catalog models it queries; `items list` on the home's SQLite catalog reads it with sqlite3
alone. Same output, same one-line errors as the full path."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import lite
from archiver.catalog import tables as t
from archiver.catalog.revisions import head_revisions, known_revisions
from archiver.cli.main import cli
from archiver.core import plain_settings, settings
from archiver.core.errors import ConfigError
from bench.synthetic import generate
from tests.cli.test_lazy_cli import HEAVY, _loaded, _modules_after
from tests.harness import Harness

# What no read command needs: validation models, upgrades, the console's web stack, S3/KMS,
# the export's PDF writer, and the model modules of requests, the console and the daemon.
NOT_READ = (*HEAVY, "pydantic", "pydantic_settings", "starlette", "archiver.web", "archiver.daemon",
            "archiver.catalog.request_tables", "archiver.catalog.console_tables",
            "archiver.catalog.daemon_tables")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str, str]]:
    """An archive holding one captured account, one of its items' id, and the account."""
    root = tmp_path_factory.mktemp("fast-start")
    config = root / "archiver.toml"
    config.write_text('district = "Test School District"\nstate = "WA"\n')
    env = {"ARCHIVER_CONFIG": str(config)}
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("ARCHIVER_") and k != "ARCHIVER_TEST_PG_URL"]:
            mp.delenv(key)
        mp.setenv("ARCHIVER_CONFIG", str(config))
        h = Harness(root, "facebook")
        try:
            assert h.poll().status == "complete"
            with h.app.catalog.session() as s:
                item_id = s.scalars(select(t.Item.item_id).where(t.Item.kind == "comment").limit(1)).one()
                account = s.scalars(select(t.Account.platform + ":" + t.Account.account_id)).one()
        finally:
            h.close()
    yield {**env, "ARCHIVER_HOME": str(h.home)}, item_id, account


@pytest.mark.parametrize(("command", "also_absent"), [
    (["items", "list", "--limit", "100"], ("sqlalchemy", "archiver.catalog.tables", "archiver.services")),
    (["items", "show", "ITEM"], ("sqlalchemy", "archiver.catalog.tables", "archiver.services")),
    (["items", "show", "ITEM", "--json"], ("sqlalchemy",)),
    (["items", "list", "--json", "--not-deleted", "--account", "ACCOUNT"], ("sqlalchemy",)),
    (["search", "comment", "--limit", "100"], ("archiver.catalog.retention_tables",)),
    (["warc", "list"], ("sqlalchemy", "archiver.catalog.tables", "archiver.services")),
    (["warc", "list", "--json"], ("sqlalchemy", "archiver.catalog.tables", "archiver.services")),
])
def test_read_commands_import_no_validation_models_nor_unused_catalog_models(
        home: tuple[dict[str, str], str, str], command: list[str], also_absent: tuple[str, ...]) -> None:
    env, item_id, account = home
    status, modules, stderr = _modules_after([{"ITEM": item_id, "ACCOUNT": account}.get(a, a) for a in command], env)
    assert status == 0, stderr
    assert [p for p in (*NOT_READ, *also_absent) if _loaded(modules, p)] == []


def test_every_model_module_is_in_the_whole_schema() -> None:
    """all_models() is what Alembic compares: a new *_tables.py module must be listed there."""
    found = {p.stem for p in Path(t.__file__).parent.glob("*_tables.py")}
    assert found == set(t.MODEL_MODULES)
    names = set(t.all_models().tables)
    assert {"records_requests", "item_retention", "search_docs", "daemon_workers", "console_users", "fixity_deep_checks"} <= names, sorted(names)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


PLAIN_CASES = {
    "nothing set": ({}, ""),
    "environment only": ({"ARCHIVER_HOME": "HOME", "ARCHIVER_DISTRICT": "Env District", "ARCHIVER_LOG_LEVEL": "DEBUG"}, ""),
    "file only": ({}, 'home = "HOME"\ndistrict = "File District"\nstate = "OR"\n'),
    "environment over file": ({"ARCHIVER_HOME": "HOME/env", "ARCHIVER_STATE": "KS"},
                              'home = "HOME/file"\nstate = "WA"\ndatabase_url = "sqlite:///HOME/c.sqlite"\n'),
    "relative home, PostgreSQL": ({"ARCHIVER_HOME": "rel/../arch",
                                   "ARCHIVER_DATABASE_URL": "postgresql+psycopg://u:secret@127.0.0.1:5432/db"}, ""),
    "user's home": ({"ARCHIVER_HOME": "~/arch"}, ""),
}


def _configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], toml: str) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("ARCHIVER_") and k != "ARCHIVER_TEST_PG_URL"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ARCHIVER_CONFIG", str(_write(tmp_path / "archiver.toml", toml.replace("HOME", str(tmp_path)))))
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace("HOME", str(tmp_path)))


@pytest.mark.parametrize("case", PLAIN_CASES)
def test_plain_settings_are_the_full_settings(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env, toml = PLAIN_CASES[case]
    _configure(monkeypatch, tmp_path, env, toml)
    quick, full = plain_settings.load_settings(), settings.load_settings()
    assert isinstance(quick, plain_settings.PlainSettings) and isinstance(full, settings.Settings)
    for name in ("home", "database_url", "district", "state", "log_level", "connectors", "catalog_url",
                 "spool_dir", "store_url", "key_file"):
        assert getattr(quick, name) == getattr(full, name), name
    assert quick.masked() == full.masked()  # anything else is answered by the full Settings


NOT_PLAIN = {
    "a section": ({}, "[capture]\ntimeout = 5\n"),
    "a nested variable": ({"ARCHIVER_CAPTURE__TIMEOUT": "5"}, ""),
    "a connector": ({}, '[connectors.facebook]\napi_base = "http://127.0.0.1:9"\n'),
    "an unknown key": ({}, "timeout_seconds = 5\n"),
    "an unknown variable": ({"ARCHIVER_HOMEE": "x"}, ""),
    "a lower-case variable": ({"archiver_home": "x"}, ""),
    "a number": ({}, "district = 5\n"),
    "an empty value": ({"ARCHIVER_DATABASE_URL": ""}, ""),
    "an unsupported URL": ({"ARCHIVER_DATABASE_URL": "mysql://u:secret@127.0.0.1/db"}, ""),
    "a malformed file": ({}, 'district = "unterminated\n'),
}


@pytest.mark.parametrize("case", NOT_PLAIN)
def test_anything_else_is_read_and_refused_by_the_full_settings(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not plain: the full Settings read it, so a read command reports exactly what `config
    show` reports (one line), or runs with the same values."""
    env, toml = NOT_PLAIN[case]
    _configure(monkeypatch, tmp_path, env, toml)
    assert plain_settings.read_plain() is None
    try:
        full: settings.Settings | ConfigError = settings.load_settings()
    except ConfigError as exc:
        full = exc
    if isinstance(full, ConfigError):
        with pytest.raises(ConfigError) as quick_error:
            plain_settings.load_settings()
        assert quick_error.value.message == full.message
        result = CliRunner().invoke(cli, ["items", "list"], env=dict(os.environ))
        lines = result.output.strip().splitlines()
        assert result.exit_code != 0 and lines == [f"error: {full.message}"], result.output
    else:
        quick = plain_settings.load_settings()
        assert isinstance(quick, settings.Settings) and quick.model_dump() == full.model_dump()


def test_a_missing_config_file_is_the_same_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVER_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError) as quick:
        plain_settings.load_settings()
    with pytest.raises(ConfigError) as full:
        settings.load_settings()
    assert quick.value.message == full.value.message and "does not exist" in full.value.message


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str], dict[str, str]]]:
    """A 1,200-item archive in the home's own SQLite catalog (edited and deleted items over
    three accounts; one in 40 without a creation time, as a platform may leave it; a retention
    classification and a failed fixity check on the edited item), its account labels and
    sample item ids."""
    home = tmp_path_factory.mktemp("lite") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARCHIVER_DISTRICT", "Test School District")
        mp.setenv("ARCHIVER_STATE", "WA")
        app = App(settings.Settings(home=home))
        try:
            summary = generate(app, items=1200, accounts=3, seed=5)
        finally:
            app.close()
    with sqlite3.connect(home / "catalog.sqlite") as db:
        db.execute("UPDATE items SET created_at = NULL WHERE id % 40 = 7")
        thread = _retention_and_fixity(db, summary.sample_items["edited"])
    yield home, list(summary.account_labels), {**summary.sample_items, "thread": thread}


LISTINGS = [
    ["--limit", "100"], ["--limit", "7", "--json"], ["--all", "--json"], ["--kind", "comment", "--limit", "30"],
    ["--deleted"], ["--deleted", "--json", "--all"], ["--edited", "--limit", "20"], ["--not-deleted", "--not-edited"],
    ["--account", "ACCOUNT", "--limit", "40", "--json"], ["--account", "ACCOUNT", "--edited", "--all"],
    ["--limit", "1"],
    # the full path answers these (and refuses the last three in its words)
    ["--account", "nobody"], ["--limit", "0"], ["--after", "garbage"], ["--all", "--limit", "3"],
]


def _retention_and_fixity(db: sqlite3.Connection, item_id: str) -> str:
    """The rows `items show` reports besides the item's own: its retention; the last fixity
    check of its first version's WARC failed (an older one passed), that of its second's
    passed (an older one failed). And a post whose replies were created in another order than
    stored: its id."""
    rows = db.execute("SELECT i.id, v.warc_file FROM items i JOIN item_versions v ON v.item_pk = i.id "
                      "WHERE i.item_id = ? ORDER BY v.version_no", (item_id,)).fetchall()
    (pk, first), (_, second) = rows[0], rows[-1]
    assert first != second
    db.execute("INSERT INTO item_retention (item_pk, state, series, schedule, series_source, rule, flagged, "
               "trigger_at, retain_until, retain_floor, waits_for, fingerprint, classified_at) VALUES "
               "(?, 'due', 'GS50-05A-12', 'WA', 'state', 'comment on a post', 1, '2026-01-02 03:04:05.000000', "
               "'2029-01-02 03:04:05.000000', NULL, '', 'x', '2026-12-01 00:00:00.000000')", (pk,))
    for name, verdict in ((first, "ok"), (first, "damaged"), (second, "damaged"), (second, "ok")):
        db.execute("INSERT INTO fixity_checks (run_id, warc_name, store_key, checked_at, verdict, detail, level) "
                   "VALUES ('r', ?, 'k', '2026-12-02 10:00:00.000000', ?, 'digest differs', 'routine')", (name, verdict))
    parent, newest = db.execute("SELECT parent_id, max(id) FROM items WHERE parent_id IS NOT NULL "
                                "GROUP BY parent_id HAVING count(*) > 1 ORDER BY parent_id LIMIT 1").fetchone()
    db.execute("UPDATE items SET created_at = '2000-01-01 00:00:00.000000' WHERE id = ?", (newest,))
    return str(parent)


def test_the_light_listing_is_the_full_one(synthetic: tuple[Path, list[str], dict[str, str]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Every filter and every page of a paged walk print the same output (stdout and stderr,
    cursors included) whether sqlite3 alone or the services and the ORM read them."""
    home, accounts, _ = synthetic
    monkeypatch.setenv("ARCHIVER_HOME", str(home))
    _compare_listings(monkeypatch, accounts)


def test_the_light_listing_is_the_full_one_on_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same through psycopg (placeholders, aware timestamps, the keyset's bound time, JSON
    and booleans as psycopg returns them), `items show` too."""
    from tests.conftest import _pg_database

    for url in _pg_database():
        home = tmp_path / "home"
        assert CliRunner().invoke(cli, ["init"], env={"ARCHIVER_HOME": str(home)}).exit_code == 0
        app = App(settings.Settings(home=home, database_url=url))
        try:
            summary = generate(app, items=600, accounts=3, seed=7)
            with app.catalog.engine.begin() as conn:
                conn.exec_driver_sql("UPDATE items SET created_at = NULL WHERE mod(id, 40) = 7")
        finally:
            app.close()
        monkeypatch.setenv("ARCHIVER_HOME", str(home))
        monkeypatch.setenv("ARCHIVER_DATABASE_URL", url)
        _compare_listings(monkeypatch, list(summary.account_labels), page=150)
        ids = [summary.sample_items[k] for k in ("edited", "deleted", "first", "last")]
        assert _compare_shows(monkeypatch, ids) == [True] * 4
        _compare_warc_lists(monkeypatch)


def test_the_light_warc_list_is_the_full_one(synthetic: tuple[Path, list[str], dict[str, str]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    home, _, _ = synthetic
    monkeypatch.setenv("ARCHIVER_HOME", str(home))
    _compare_warc_lists(monkeypatch)


def _spy_on_light_path(monkeypatch: pytest.MonkeyPatch, name: str) -> list[bool]:
    """Wraps `lite.<name>`; the list says, per call, whether the light path answered (not None)."""
    answered: list[bool] = []
    real = getattr(lite, name)

    def spy(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)
        answered.append(result is not None)
        return result

    monkeypatch.setattr(lite, name, spy)
    return answered


def _compare_warc_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """`warc list` (table at two widths, and JSON) read by sqlite3 or psycopg alone, with the
    store opened from the plain settings, prints what the services, the ORM and App.store print."""
    answered = _spy_on_light_path(monkeypatch, "list_warcs")
    app = App(settings.load_settings(), migrate=False)
    try:
        for args, columns in ((["--json"], "100"), ([], "200"), ([], "70")):
            env = {"COLUMNS": columns}
            light = CliRunner().invoke(cli, ["warc", "list", *args], env=env)
            full = CliRunner().invoke(cli, ["warc", "list", *args], env=env, obj={"app": app})
            assert (light.exit_code, light.stdout, light.stderr) == (full.exit_code, full.stdout, full.stderr), args
            assert light.exit_code == 0 and ("WARC files in" in light.stdout or ".warc.gz" in light.stdout)
    finally:
        app.close()
    assert answered == [True] * 3


def _compare_listings(monkeypatch: pytest.MonkeyPatch, accounts: list[str], page: int = 300) -> None:
    answered = _spy_on_light_path(monkeypatch, "list_page")
    app = App(settings.load_settings(), migrate=False)
    try:
        for args in LISTINGS:
            args = [accounts[1] if a == "ACCOUNT" else a for a in args]
            light = CliRunner().invoke(cli, ["items", "list", *args])
            full = CliRunner().invoke(cli, ["items", "list", *args], obj={"app": app})  # the App: full path
            assert (light.exit_code, light.stdout, light.stderr) == (full.exit_code, full.stdout, full.stderr), args
        assert answered[:11] == [True] * 11 and answered[11:] == [False] * 3  # --all --limit: refused before
        after: str | None = None
        for _ in range(5):  # a walk through every page by cursor
            args = ["--limit", str(page), *(["--after", after] if after else [])]
            light = CliRunner().invoke(cli, ["items", "list", *args])
            full = CliRunner().invoke(cli, ["items", "list", *args], obj={"app": app})
            assert (light.stdout, light.stderr) == (full.stdout, full.stderr)
            after = light.stderr.split("--after ", 1)[1].split()[0] if "--after" in light.stderr else None
            if after is None:
                break
        assert after is None and answered[-1] is True
    finally:
        app.close()


def test_an_older_home_catalog_is_refused_with_the_migrate_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ARCHIVER_HOME", str(home))
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    older = sorted(known_revisions() - head_revisions())[0]
    with sqlite3.connect(home / "catalog.sqlite") as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (older,))
    refused = CliRunner().invoke(cli, ["items", "list"])
    lines = refused.output.strip().splitlines()
    assert refused.exit_code != 0 and len(lines) == 1, refused.output
    assert "archiver migrate" in lines[0] and older in lines[0]



@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:5432/db", "postgresql+psycopg://u:p%40ss;w@db.example:5/x",
    "sqlite:////tmp/c.sqlite", "sqlite+pysqlite:///rel.db", "sqlite:///C:/a b/c.sqlite",
])
def test_urls_accepted_without_sqlalchemy_are_ones_it_accepts(url: str) -> None:
    assert plain_settings._PLAIN_URL.fullmatch(url)
    settings.check_database_url(url)  # raises if SQLAlchemy would refuse it


def _compare_shows(monkeypatch: pytest.MonkeyPatch, ids: list[str]) -> list[bool]:
    """`items show ID` (and --json) through lite.show_item and through the services: the same
    stdout and stderr; which ids the light path answered."""
    answered = _spy_on_light_path(monkeypatch, "show_item")
    app = App(settings.load_settings(), migrate=False)
    try:
        for item_id in ids:
            for extra in ([], ["--json"]):
                light = CliRunner().invoke(cli, ["items", "show", item_id, *extra])
                full = CliRunner().invoke(cli, ["items", "show", item_id, *extra], obj={"app": app})
                assert (light.exit_code, light.stdout, light.stderr) == (full.exit_code, full.stdout, full.stderr), item_id
    finally:
        app.close()
    return answered[::2]


def test_the_light_item_is_the_full_one(synthetic: tuple[Path, list[str], dict[str, str]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Edited (with retention and a failed fixity check), deleted, a post with replies, a
    reply; an unknown id is left to the full path (its one-line error)."""
    home, _, samples = synthetic
    monkeypatch.setenv("ARCHIVER_HOME", str(home))
    with sqlite3.connect(home / "catalog.sqlite") as db:
        reply = db.execute("SELECT item_id FROM items WHERE parent_id IS NOT NULL ORDER BY id LIMIT 1").fetchone()[0]
    ids = [samples["edited"], samples["deleted"], samples["first"], samples["thread"], reply, "no_such_item"]
    assert _compare_shows(monkeypatch, ids) == [True] * 5 + [False]
    shown = CliRunner().invoke(cli, ["items", "show", samples["edited"]]).stdout
    assert "fixity failed" in shown and "GS50-05A-12" in shown


def test_the_light_item_is_the_full_one_for_a_captured_account(
        home: tuple[dict[str, str], str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every item of a real (sandbox) capture: posts, comments, replies, media."""
    env, _, _ = home
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with sqlite3.connect(Path(env["ARCHIVER_HOME"]) / "catalog.sqlite") as db:
        ids = [r[0] for r in db.execute("SELECT item_id FROM items ORDER BY id")]
        (with_media,) = db.execute("SELECT i.item_id FROM items i JOIN item_versions v ON v.item_pk = i.id "
                                   "WHERE v.media != '[]' LIMIT 1").fetchone()
    assert all(_compare_shows(monkeypatch, ids))
    assert "media: " in CliRunner().invoke(cli, ["items", "show", with_media]).stdout


@pytest.mark.parametrize("command", [
    ["holds", "list"], ["audit", "list"], ["warc", "list"], ["accounts", "list"], ["status"], ["requests", "list"],
    ["search", "comment", "--limit", "100"], ["retention", "certificates"],
])
def test_sqlite_read_commands_import_no_postgresql_dialect(
        home: tuple[dict[str, str], str, str], command: list[str]) -> None:
    """The PostgreSQL dialect's package (0.05 s) is imported on PostgreSQL only: the models
    declare no postgresql_* argument (all_models() adds it) and search imports ARRAY where used."""
    env, _, _ = home
    status, modules, stderr = _modules_after(command, env)
    assert status == 0, stderr
    assert not _loaded(modules, "sqlalchemy.dialects.postgresql")


def test_the_whole_schema_keeps_the_postgresql_partial_index() -> None:
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex

    (index,) = [i for i in t.all_models().tables["items"].indexes if i.name == "ix_items_deleted_kind"]
    assert str(CreateIndex(index).compile(dialect=postgresql.dialect())).endswith("WHERE deleted_at IS NOT NULL")


# Runs the `archiver` script's main() and reports whether the garbage collector was on when
# SQLAlchemy (or, on the driver-only path, sqlite3's connection) was imported, and at the end.
GC_PROBE = """
import gc, json, sys
seen = {}
def hook(event, args):
    if event == "import" and args[0] in ("sqlalchemy", "archiver.catalog.lite") and args[0] not in seen:
        seen[args[0]] = gc.isenabled()
sys.addaudithook(hook)
from archiver.cli.main import main
sys.argv = ["archiver", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps([seen, gc.isenabled(), gc.get_freeze_count() > 0]))
"""


@pytest.mark.parametrize(("command", "first_import"), [
    (["audit", "list"], "sqlalchemy"), (["items", "list", "--limit", "5"], "archiver.catalog.lite"),
    (["config", "show"], "sqlalchemy"), (["schedules", "check"], "sqlalchemy"),
])
def test_the_collector_is_off_during_start_up_and_back_on_after(
        home: tuple[dict[str, str], str, str], command: list[str], first_import: str) -> None:
    env, _, _ = home
    done = subprocess.run([sys.executable, "-c", GC_PROBE, *command], env={**os.environ, **env},
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, check=True)
    seen, enabled_at_end, frozen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen[first_import] is False  # off while the libraries load
    assert enabled_at_end and frozen  # on again, what start-up built moved out of its generations


def test_users_list_neither_imports_argon2_nor_hashes(home: tuple[dict[str, str], str, str]) -> None:
    """argon2 and the login's dummy hash (0.1 s of CPU) are made on first use, by a sign-in."""
    env, _, _ = home
    status, modules, stderr = _modules_after(["users", "list"], env)
    assert status == 0, stderr
    assert not _loaded(modules, "argon2")
