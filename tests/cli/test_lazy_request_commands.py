"""Fast start of the two commands that answer a records request (issue 10): `archiver search`
and `archiver requests export` each run in a fresh process, so what they import is their
start-up time. Search imports no export, PDF, platform or deadline code; an export imports the
connector of the platforms it reads only, and neither imports the daemon, the console or the
sandbox platforms."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.services.requests import add_items, open_request, withhold
from tests.cli.test_lazy_cli import HEAVY, _loaded, _modules_after
from tests.harness import captured_cli_home

# Never needed by either command: the daemon, the web console, the fake platforms, alembic.
NEVER = ("archiver.daemon", "archiver.web", "archiver.sandbox", "flask", "alembic", "boto3")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str, str]]:
    with captured_cli_home(tmp_path_factory.mktemp("lazy-request")) as (h, env):
        with h.app.catalog.session() as s:
            every = list(s.scalars(select(t.Item.item_id).order_by(t.Item.item_id)))
        ids = every[:5]
        req = open_request(h.app, requester="Pat", received=date(2026, 12, 1), description="bus")
        add_items(h.app, req.id, items=ids)
        held = open_request(h.app, requester="Pat", received=date(2026, 12, 1), description="bus")
        add_items(h.app, held.id, items=every)  # pages besides the withheld item's are read
        withhold(h.app, held.id, item=every[0], exemption="RCW 42.56.290")
    yield env, req.id, held.id


def test_search_imports_no_export_pdf_connector_or_deadline_code(home: tuple[dict[str, str], str, str]) -> None:
    env, _, _ = home
    status, modules, stderr = _modules_after(["search", "post", "--json"], env)
    assert status == 0, stderr
    unwanted = (*HEAVY, *NEVER, "fontTools", "PIL", "holidays", "archiver.requests")
    assert [p for p in unwanted if _loaded(modules, p)] == []


@pytest.mark.parametrize("withheld", [False, True])
def test_export_imports_only_the_connector_of_the_platform_it_reads(
        home: tuple[dict[str, str], str, str], tmp_path: Path, withheld: bool) -> None:
    """A connector parses copied pages again only to find a withheld item on them: with
    nothing withheld, none is imported."""
    env, request_id, held_id = home
    status, modules, stderr = _modules_after(
        ["requests", "export", held_id if withheld else request_id, "--out", str(tmp_path / "pkg")], env)
    assert status == 0, stderr
    assert (tmp_path / "pkg" / "bagit.txt").is_file()
    assert _loaded(modules, "connectors.facebook") == withheld and _loaded(modules, "fpdf")
    others = [p for p in ("x", "youtube", "feeds", "bluesky", "mastodon", "instagram", "linkedin",
                          "tiktok", "threads") if _loaded(modules, f"connectors.{p}")]
    assert others == []
    assert [p for p in (*NEVER, "holidays") if _loaded(modules, p)] == []
