"""/accounts a page at a time (issue 15): 1,000 accounts with their forms made a 1 MB page.
Paging, finding an account by text (any case, any script), the same queries on every page,
and an auditor's read-only view of the same pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from archiver.app import App
from archiver.catalog import tables as t
from archiver.core.settings import Settings
from archiver.services import users
from archiver.web.app import ACCOUNTS_PER_PAGE
from tests.web.conftest import PASSWORD
from tests.web.test_console import signed_in

ACCOUNTS = 2 * ACCOUNTS_PER_PAGE + 30


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[App]:
    app = App(Settings(home=tmp_path / "home"))
    users.add_user(app, "olive", role="operator", password=PASSWORD, actor="test")
    users.add_user(app, "alex", role="auditor", password=PASSWORD, actor="test")
    now = app.clock.now()
    with app.catalog.session() as s:
        s.add_all([t.Account(platform="facebook", account_id=str(1_000_000 + n), name=f"School {n}",
                             role="school", created_at=now) for n in range(ACCOUNTS - 1)])
        s.add(t.Account(platform="mastodon", account_id="escuela@example.social",
                        name="Escuela Bilingüe JOSÉ Martí", role="school", created_at=now))
    yield app
    app.close()


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr[^>]*><td>([^<]+)</td>", html.split("<tbody>", 1)[1].split("</tbody>", 1)[0])


def test_accounts_come_a_page_at_a_time_with_the_same_queries_on_every_page(app: App) -> None:
    client = signed_in(app, "olive")
    first = client.get("/accounts")
    assert first.status_code == 200
    assert _rows(first.text) == [f"facebook:{1_000_000 + n}" for n in range(ACCOUNTS_PER_PAGE)]
    assert f"Accounts 1–{ACCOUNTS_PER_PAGE} of {ACCOUNTS}" in first.text
    assert 'href="/accounts?page=2"' in first.text and 'href="/accounts?page=3"' in first.text
    assert first.text.count('aria-label="Disable ') == ACCOUNTS_PER_PAGE  # the forms, per row shown
    assert len(first.content) < 200_000

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    pages = {}
    event.listen(app.catalog.engine, "before_cursor_execute", record)
    try:
        for number in (1, 3):
            statements.clear()
            pages[number] = client.get(f"/accounts?page={number}").text
            pages[-number] = str(len(statements))
    finally:
        event.remove(app.catalog.engine, "before_cursor_execute", record)
    assert pages[-1] == pages[-3]  # a page costs the same queries wherever it is
    last = _rows(pages[3])
    assert len(last) == 30 and last[-1] == "mastodon:escuela@example.social"
    assert f"Accounts {2 * ACCOUNTS_PER_PAGE + 1}–{ACCOUNTS} of {ACCOUNTS}" in pages[3]
    assert 'rel="prev"' in pages[3] and 'rel="next"' not in pages[3]
    for odd in ("0", "-1", "abc", "99999999999"):  # no error page: the first page
        assert _rows(client.get(f"/accounts?page={odd}").text)[0] == "facebook:1000000"
    beyond = client.get("/accounts?page=9")
    assert beyond.status_code == 200 and "No accounts on this page." in beyond.text


def test_finding_accounts_ignores_case_in_any_script(app: App) -> None:
    client = signed_in(app, "olive")
    for text in ("josé", "JOSÉ", "BILINGÜE josé", "escuela@"):
        page = client.get("/accounts", params={"q": text})
        assert _rows(page.text) == ["mastodon:escuela@example.social"], text
        assert "of 1 matching" in page.text
    page = client.get("/accounts", params={"q": "school 1"})  # School 1, 10-19, 100-199
    assert len(_rows(page.text)) == ACCOUNTS_PER_PAGE and 'href="/accounts?page=2&amp;q=school%201"' in page.text
    assert len(_rows(client.get("/accounts", params={"q": "school 1", "page": "2"}).text)) == 11
    assert "No account matches" in client.get("/accounts", params={"q": "<b>nothing</b>"}).text
    assert "<b>nothing</b>" not in client.get("/accounts", params={"q": "<b>nothing</b>"}).text


def test_an_auditor_pages_through_accounts_without_forms(app: App) -> None:
    client = signed_in(app, "alex")
    page = client.get("/accounts?page=2")
    assert page.status_code == 200
    assert _rows(page.text)[0] == f"facebook:{1_000_000 + ACCOUNTS_PER_PAGE}"
    assert "Disable" not in page.text and "Register an account" not in page.text
