"""`archiver requests export` as the one-shot process it is (issue 10: search + export under 2 s
at 1M items). Its imports (SQLAlchemy, the models, fpdf2, fontTools) leave some 150,000 objects
that live until the process exits; the garbage collector's full passes over them cost about a
fifth of an export's CPU. The command imports with the collector off, fpdf2 included, and
freezes what exists before the export starts, with the collector back on for the export's own
objects (so memory stays flat on a large export)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.services.requests import add_items, open_request
from tests.harness import captured_cli_home

REPO = Path(__file__).resolve().parents[2]

# In a fresh interpreter: the collector's state when the package builder starts, and at the end.
PROBE = """
import gc, json, sys
import archiver.requests.package.build as build
from archiver.cli.main import main
seen = {}
real = build.build_package
def spy(*args, **kwargs):
    seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count(), young=len(gc.get_objects()),
                fpdf="fpdf" in sys.modules, fontTools="fontTools.subset" in sys.modules)
    return real(*args, **kwargs)
build.build_package = spy
sys.argv = ["archiver", *sys.argv[1:]]
try:
    main()  # the `archiver` script: the collector off while the command imports
    code = 0
except SystemExit as exc:
    code = exc.code or 0
seen.update(code=code, enabled_after=gc.isenabled(), young_after=len(gc.get_objects()))
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def exportable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str]]:
    with captured_cli_home(tmp_path_factory.mktemp("export-process")) as (h, env):
        with h.app.catalog.session() as s:
            ids = list(s.scalars(select(t.Item.item_id).order_by(t.Item.item_id).limit(5)))
        req = open_request(h.app, requester="Pat", received=date(2026, 12, 1), description="bus")
        add_items(h.app, req.id, items=ids)
    yield env, req.id


def test_export_freezes_its_imports_out_of_the_collectors_way(
        exportable: tuple[dict[str, str], str], tmp_path: Path) -> None:
    env, request_id = exportable
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "requests", "export", request_id, "--out", str(tmp_path / "pkg")],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}, **env},
        cwd=REPO, capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0, done.stderr
    assert (tmp_path / "pkg" / "bagit.txt").is_file()
    # fpdf2 and fontTools are imported before the export starts, and frozen with the rest:
    # what the collector still tracks is a small fraction of what the imports made.
    assert seen["fpdf"] and seen["fontTools"]
    assert seen["frozen"] > 50_000 and seen["young"] * 5 < seen["frozen"], seen
    assert seen["enabled"] and seen["enabled_after"]  # the export's own objects are collected
    # the finished export leaves nothing for the collection at exit to walk
    assert seen["young_after"] < 5_000, seen
