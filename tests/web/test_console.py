"""The console over HTTP in process (Starlette's TestClient): sign-in, lockout, sessions,
CSRF on every form, roles, the hostile corpus, audit events, proxy headers, query counts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from starlette.routing import Route
from starlette.testclient import TestClient

from archiver.app import App
from archiver.catalog.console_tables import DispositionApproval
from archiver.core.clock import ManualClock
from archiver.core.errors import ConfigError, RetentionError
from archiver.services import approvals, users
from archiver.services import audit as audit_svc
from archiver.services import requests as requests_svc
from archiver.web.app import ConsoleConfig, asgi, build
from archiver.web.security import ProxyConfig
from tests.web.conftest import PASSWORD, PHONE, ConsoleArchive

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def app(console_archive: ConsoleArchive) -> Iterator[App]:
    app = console_archive.app()
    yield app
    app.close()


def _client(app: App, config: ConsoleConfig | None = None, client: tuple[str, int] = ("127.0.0.1", 50000),
            base_url: str = BASE) -> TestClient:
    return TestClient(asgi(app, config), base_url=base_url, client=client, follow_redirects=False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    token = _csrf(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "name": name, "password": password})


def signed_in(app: App, name: str, **kw: Any) -> TestClient:
    client = _client(app, **kw)
    assert login(client, name).status_code == 303
    return client


# --- sign-in, lockout, sessions ---------------------------------------------------------------


def test_sign_in_sets_a_strict_http_only_cookie_and_a_new_csrf_token(app: App) -> None:
    client = _client(app)
    before = _csrf(client.get("/login").text)
    response = login(client, "pat")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "pat (records-officer)" in page.text
    assert _csrf(page.text) != before  # a token planted before sign-in is worthless after it


def test_wrong_password_five_times_locks_even_the_right_one_until_the_lockout_ends(
        console_archive: ConsoleArchive) -> None:
    clock = ManualClock(datetime.now(UTC))
    app = console_archive.app(clock=clock)
    try:
        users.add_user(app, "lockme", role="clerk", password=PASSWORD, actor="test")
        client = _client(app)
        for _ in range(4):
            assert login(client, "lockme", "wrong password!!").status_code == 401
        assert login(client, "lockme").status_code == 303  # four wrong: not locked, and reset
        client = _client(app)
        for _ in range(5):
            assert login(client, "lockme", "wrong password!!").status_code == 401
        refused = login(client, "lockme")
        assert refused.status_code == 401 and "locked until" in refused.text
        clock.advance(users.LOCKOUT.total_seconds() - 60)
        assert login(client, "lockme").status_code == 401  # still locked a minute before the end
        clock.advance(61)
        assert login(client, "lockme").status_code == 303
        actions = [e.action for e in audit_svc.list_entries(app, subject="user:lockme")]
        assert actions.count("login.refused") == 11 and actions[0] == "login"
    finally:
        app.close()


def test_many_failures_from_one_address_are_throttled_whatever_the_names(app: App) -> None:
    client = _client(app, client=("127.0.0.9", 1))
    for i in range(20):
        assert login(client, f"nobody{i}", "whatever password").status_code == 401
    assert login(client, "pat").status_code == 429


def test_a_session_expires(console_archive: ConsoleArchive) -> None:
    clock = ManualClock(datetime.now(UTC))
    app = console_archive.app(clock=clock)
    try:
        client = signed_in(app, "pat", config=ConsoleConfig(session_minutes=30))
        assert client.get("/search").status_code == 200
        clock.advance(29 * 60)
        assert client.get("/search").status_code == 200
        clock.advance(2 * 60)
        expired = client.get("/search")
        assert expired.status_code == 303 and expired.headers["location"] == "/login"
        assert "session expired" in client.get("/login").text
    finally:
        app.close()


def test_a_forged_or_tampered_cookie_is_not_a_session(app: App) -> None:
    client = signed_in(app, "pat")
    value = client.cookies.get("archiver_console")
    assert value
    # A different character for the second-to-last one (choosing by the last one left the
    # cookie unchanged, and the test failing, whenever the second-to-last already was "A").
    client.cookies.set("archiver_console", value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1])
    assert client.get("/").status_code == 303


def test_a_disabled_user_is_signed_out_at_the_next_page(app: App) -> None:
    users.add_user(app, "leaver", role="clerk", password=PASSWORD, actor="test")
    client = signed_in(app, "leaver")
    assert client.get("/search").status_code == 200
    users.set_disabled(app, "leaver", True, actor="test")
    assert client.get("/search").status_code == 303


# --- CSRF -------------------------------------------------------------------------------------


def test_every_post_without_the_csrf_token_is_refused_and_changes_nothing(app: App) -> None:
    client = signed_in(app, "pat")
    posts = [r.path for r in build(app).routes if isinstance(r, Route) and "POST" in (r.methods or set())]
    assert len(posts) >= 14  # every form of the console
    before = len(audit_svc.list_entries(app))
    opened = len(requests_svc.list_requests(app, include_closed=True))
    for path in posts:
        url = re.sub(r"\{(\w+)(:int)?\}", lambda m: "1" if m.group(2) else "PRR-2026-0001", path)
        for data in ({"requester": "X", "description": "Y", "reason": "r"},
                     {"csrf": "forged-token", "requester": "X", "description": "Y"}):
            response = client.post(url, data=data)
            assert response.status_code == 403, (url, response.status_code)
            assert "CSRF" in response.text or "forged" in response.text
    assert len(requests_svc.list_requests(app, include_closed=True)) == opened
    assert len(audit_svc.list_entries(app)) == before  # not one change, not even a sign-out


# --- roles ------------------------------------------------------------------------------------


def test_an_operator_sees_no_record_content(app: App, console_archive: ConsoleArchive) -> None:
    client = signed_in(app, "olive")
    for path in ("/search?q=bus", f"/items/{console_archive.post}", f"/items/{console_archive.picture_post}/media/0",
                 "/requests", "/holds", "/retention", "/audit"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Bus route" not in response.text and PHONE not in response.text
    home = client.get("/")
    assert home.status_code == 200 and "Bus route" not in home.text and "/search" not in home.text
    assert client.get("/accounts").status_code == 200


def test_an_auditor_reads_but_changes_nothing(app: App, console_archive: ConsoleArchive) -> None:
    client = signed_in(app, "alex")
    assert "Bus route 12" in client.get(f"/items/{console_archive.post}").text
    assert client.get("/audit").status_code == 200
    page = client.get("/requests")
    assert "Open a request" not in page.text
    token = _csrf(page.text)
    for path, data in (("/requests", {"requester": "A", "description": "B"}), ("/holds", {"reason": "x"}),
                       ("/retention/propose", {}), ("/accounts/check", {})):
        response = client.post(path, data={"csrf": token, **data})
        assert response.status_code == 403, path
    assert not any(e.actor == "alex" and not e.action.startswith(("login", "console.", "search", "retention.plan"))
                   for e in audit_svc.list_entries(app))


def test_a_clerk_works_requests_but_cannot_approve_destruction_or_hold(app: App) -> None:
    client = signed_in(app, "chris")
    page = client.get("/retention")
    assert page.status_code == 200 and "Propose destruction" not in page.text
    token = _csrf(page.text)
    assert client.post("/retention/propose", data={"csrf": token}).status_code == 403
    assert client.post("/retention/1/confirm", data={"csrf": token}).status_code == 403
    assert client.post("/holds", data={"csrf": token, "reason": "x"}).status_code == 403
    assert client.get("/audit").status_code == 403
    opened = client.post("/requests", data={"csrf": token, "requester": "Clerk's requester",
                                            "description": "bus records", "received": ""})
    assert opened.status_code == 303 and opened.headers["location"].startswith("/requests/PRR-")


def test_destruction_needs_a_second_records_officer(app: App) -> None:
    with pytest.raises(RetentionError, match="Nothing is eligible"):
        approvals.propose(app, actor="pat")  # nothing is past retention in a fresh archive
    now = app.clock.now()
    with app.catalog.session() as s:
        row = DispositionApproval(as_of=now, objects=1, proposed_by="pat", proposed_at=now, status="proposed")
        s.add(row)
        s.flush()
        pid = row.id
    with pytest.raises(RetentionError, match="second records officer"):
        approvals.confirm(app, pid, actor="pat")
    client = signed_in(app, "pat")
    page = client.get("/retention")
    assert "waiting for another records officer" in page.text and "Confirm and destroy" not in page.text
    refused = client.post(f"/retention/{pid}/confirm", data={"csrf": _csrf(page.text)})
    assert refused.status_code == 303 and "second records officer" in client.get("/retention").text
    other = signed_in(app, "sam")
    assert "Confirm and destroy" in other.get("/retention").text
    assert "proposed by pat" in other.get("/").text and "waits for a second records officer" in other.get("/").text
    approvals.cancel(app, pid, actor="sam")
    assert "waits for a second records officer" not in other.get("/").text


# --- what the pages show ----------------------------------------------------------------------


def test_hostile_platform_text_renders_as_text(app: App, console_archive: ConsoleArchive) -> None:
    client = signed_in(app, "pat")
    for path in (f"/items/{console_archive.hostile_comment}", f"/items/{console_archive.post}",
                 "/search?q=bold"):
        html = client.get(path).text
        body = html[html.index("<main"):]
        assert "<script>alert" not in body and "<b>bold</b>" not in body and "<iframe" not in body
        assert "<img src=x" not in body and "onerror=alert" not in body.replace("onerror=alert(1)&gt;", "")
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in body
        assert "\x1b" not in body and "\u202e" not in body and "\x9b" not in body and "\r" not in body
        assert "&lt;U+202E&gt;" in body and "\u241b[2J" in body  # shown, not obeyed
    author = client.get(f"/items/{console_archive.hostile_comment}").text
    assert "Hostile &lt;img src=x onerror=alert(1)&gt;" in author


def test_every_response_carries_the_strict_csp(app: App, console_archive: ConsoleArchive) -> None:
    client = signed_in(app, "pat")
    for path in ("/login", "/", "/search?q=bus", f"/items/{console_archive.post}", "/nowhere"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


def test_item_page_shows_versions_with_a_word_diff_and_the_deletion(app: App,
                                                                    console_archive: ConsoleArchive) -> None:
    client = signed_in(app, "pat")
    post = client.get(f"/items/{console_archive.post}").text
    assert "<ins>Thursday, not </ins>Friday." in post
    assert "Version 2" in post and "edited: 2 versions" in post and "/warcs/facebook-" in post
    deleted = client.get(f"/items/{console_archive.deleted_comment}").text
    assert "Deleted on the platform" in deleted and "Deletion detected" in deleted
    assert "Bus route 12 will change" in deleted  # the thread: the post it answered


def test_search_uses_the_cli_filters_highlights_and_context(app: App, console_archive: ConsoleArchive) -> None:
    client = signed_in(app, "chris")
    page = client.get("/search", params={"q": "bus"}).text
    assert "<mark>bus</mark>" in page and "in post" in page
    deleted = client.get("/search", params={"q": "bus", "deleted": "1"}).text
    assert "1 item(s) match" in deleted and console_archive.deleted_comment in deleted
    edited = client.get("/search", params={"q": "bus", "edited": "1"}).text
    assert "1 item(s) match" in edited and "version 2 of 2" in edited
    assert client.get("/search", params={"q": "bus", "since": "yesterday"}).status_code == 400


def test_search_over_the_ranking_cap_says_newest_first(app: App, console_archive: ConsoleArchive,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """More matches than catalog.search.RANK_LIMIT: the page says the hits are the newest."""
    from archiver.catalog import search as search_mod

    client = signed_in(app, "chris")
    ranked = client.get("/search", params={"q": "bus"}).text
    assert "newest first" not in ranked and "item(s) match" in ranked
    monkeypatch.setattr(search_mod, "RANK_LIMIT", 1)
    page = client.get("/search", params={"q": "bus"}).text
    assert ("More than 1 matches: newest first. Narrow the search (account, dates, phrase) to rank "
            "by relevance.") in page
    assert "More than 1 items match; the newest" in page and "<mark>bus</mark>" in page


def test_viewing_content_and_downloading_are_audit_events(app: App, console_archive: ConsoleArchive) -> None:
    client = signed_in(app, "alex")
    client.get(f"/items/{console_archive.post}")
    media = client.get(f"/items/{console_archive.picture_post}/media/0")
    assert media.status_code == 200 and media.headers["content-type"] == "image/jpeg"
    assert media.headers["content-security-policy"] == "default-src 'none'; sandbox"
    client.get("/search", params={"q": "assembly"})
    mine = [e for e in audit_svc.list_entries(app, limit=20) if e.actor == "alex"]
    seen = {(e.action, e.subject) for e in mine}
    assert ("console.view", f"item:facebook:{console_archive.post}") in seen
    assert ("console.download", f"item:{console_archive.picture_post}") in seen
    assert any(e.action == "search" and e.details["query"] == "assembly" for e in mine)


def test_queries_per_page_do_not_grow_with_the_results(app: App, console_archive: ConsoleArchive) -> None:
    client = signed_in(app, "pat")
    count = {"n": 0}

    def counter(*args: Any) -> None:
        count["n"] += 1

    def queries(path: str, **params: str) -> int:
        count["n"] = 0
        assert client.get(path, params=params).status_code == 200
        return count["n"]

    event.listen(app.catalog.engine, "before_cursor_execute", counter)
    try:
        many, one = queries("/search", q="bus"), queries("/search", q="anger")  # 5 hits, 1 (both replies)
        thread, leaf = queries(f"/items/{console_archive.post}"), queries(f"/items/{console_archive.phone_comment}")
    finally:
        event.remove(app.catalog.engine, "before_cursor_execute", counter)
    assert many == one, (many, one)  # five hits or one: the same queries
    assert thread <= leaf + 2, (thread, leaf)  # four replies cost no query each


# --- the reverse proxy ------------------------------------------------------------------------


def test_forwarded_headers_count_only_from_the_configured_proxy(app: App) -> None:
    config = ConsoleConfig(proxy=ProxyConfig("10.0.0.5", "X-Remote-User"))
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "records.example.org", "X-Remote-User": "pat"}
    stranger = _client(app, config, client=("10.0.0.6", 1))
    page = stranger.get("/", headers=forwarded)
    assert page.status_code == 303 and page.headers["location"] == "/login"  # no user from a stranger
    assert "Secure" not in page.headers["set-cookie"]
    proxy = _client(app, config, client=("10.0.0.5", 1))
    page = proxy.get("/", headers=forwarded)
    assert page.status_code == 200 and "pat (records-officer)" in page.text
    assert "Secure" in page.headers["set-cookie"]
    assert proxy.get("/", headers={**forwarded, "X-Remote-User": "nobody"}).status_code == 303


def test_users_service_refuses_bad_input(app: App) -> None:
    with pytest.raises(ConfigError, match="too short"):
        users.add_user(app, "shorty", role="clerk", password="short", actor="t")
    with pytest.raises(ConfigError, match="Unknown role"):
        users.add_user(app, "rolly", role="admin", password=PASSWORD, actor="t")
    with pytest.raises(ConfigError, match="exists already"):
        users.add_user(app, "pat", role="clerk", password=PASSWORD, actor="t")
    with pytest.raises(ConfigError, match="not allowed"):
        users.add_user(app, "<b>x</b>", role="clerk", password=PASSWORD, actor="t")
    assert timedelta(minutes=15) == users.LOCKOUT


def test_a_request_page_costs_the_same_queries_for_one_record_or_many(app: App,
                                                                      console_archive: ConsoleArchive) -> None:
    a = console_archive
    one = requests_svc.open_request(app, requester="One", received=app.clock.now().date(), description="one",
                                    actor="pat")
    many = requests_svc.open_request(app, requester="Many", received=app.clock.now().date(),
                                     description="many", actor="pat")
    requests_svc.add_items(app, one.id, items=[a.phone_comment], actor="pat")
    requests_svc.add_items(app, many.id, items=[a.post, a.phone_comment, a.hostile_comment, a.deleted_comment,
                                                a.student_comment, a.picture_post], actor="pat")
    count = {"n": 0}

    def counter(*args: Any) -> None:
        count["n"] += 1

    def queries(fn: Any, rid: str) -> int:
        count["n"] = 0
        fn(app, rid)
        return count["n"]

    event.listen(app.catalog.engine, "before_cursor_execute", counter)
    try:
        for fn in (requests_svc.request_items, requests_svc.review):
            assert queries(fn, one.id) == queries(fn, many.id), fn.__name__
    finally:
        event.remove(app.catalog.engine, "before_cursor_execute", counter)
    items = requests_svc.request_items(app, many.id)
    assert len(items) == 6 and {i.id for i in items if i.deleted} == {a.deleted_comment}
    assert next(i for i in items if i.id == a.post).versions == 2
    assert next(i for i in items if i.id == a.post).text.startswith("Bus route 12 will change for the field trip on Thu")
    assert {f.text for f in requests_svc.review(app, many.id)} >= {PHONE}


def test_review_with_an_uploaded_roster_finds_the_student_and_keeps_no_copy(
        app: App, console_archive: ConsoleArchive, tmp_path: Any) -> None:
    import tempfile

    from tests.web.conftest import STUDENT

    view = requests_svc.open_request(app, requester="Roster", received=app.clock.now().date(),
                                     description="student", actor="pat")
    requests_svc.add_items(app, view.id, items=[console_archive.student_comment], actor="pat")
    client = signed_in(app, "chris")
    token = _csrf(client.get(f"/requests/{view.id}").text)
    before = set(Path(tempfile.gettempdir()).glob("archiver-roster-*"))
    page = client.post(f"/requests/{view.id}/review", data={"csrf": token},
                       files={"roster": ("roster.csv", f"name\n{STUDENT}\n".encode(), "text/csv")})
    assert page.status_code == 200
    review = page.text[page.text.index('id="review-h"'):]
    assert "student-name" in review and STUDENT in review
    assert set(Path(tempfile.gettempdir()).glob("archiver-roster-*")) == before
    entry = audit_svc.list_entries(app, subject=view.id, action_prefix="request.review")[0]
    assert entry.details["roster"] is True and STUDENT not in str(entry.details)
    empty = client.post(f"/requests/{view.id}/review", data={"csrf": token})
    assert empty.status_code == 303 and "roster CSV" in client.get(f"/requests/{view.id}").text


def test_extending_a_request_from_the_console(app: App) -> None:
    view = requests_svc.open_request(app, requester="Ext", received=app.clock.now().date(), description="x",
                                     actor="pat")
    client = signed_in(app, "chris")
    token = _csrf(client.get(f"/requests/{view.id}").text)
    later = (datetime.fromisoformat(view.due) + timedelta(days=7)).date().isoformat()
    done = client.post(f"/requests/{view.id}/extend", data={"csrf": token, "until": later,
                                                           "reason": "many records to review"})
    assert done.status_code == 303
    assert f"Due date extended to {later}" in client.get(f"/requests/{view.id}").text
    assert requests_svc.show_request(app, view.id).request.due == later


def test_item_ids_with_slashes_reach_the_item_page(app: App) -> None:
    """Bluesky's ids are at:// URIs; the page must receive the whole id, not a 404."""
    client = signed_in(app, "pat")
    page = client.get("/items/at%3A//did:plc:abc/app.bsky.feed.post/3k2xyz")
    assert page.status_code == 400 and "at://did:plc:abc/app.bsky.feed.post/3k2xyz" in page.text
    media = client.get("/items/at%3A//did:plc:abc/app.bsky.feed.post/3k2xyz/media/0")
    assert media.status_code == 400 and "3k2xyz" in media.text
    assert "3k2xyz/media/0" not in media.text  # the media route took it, not the item page


def test_the_request_list_costs_the_same_queries_for_any_number_of_requests(
        console_archive: ConsoleArchive, tmp_path: Any) -> None:
    from archiver.core.settings import Settings
    from archiver.services.archive_home import create_archive

    fresh = App(Settings(home=tmp_path / "home"))
    try:
        create_archive(fresh)
        count = {"n": 0}

        def counter(*args: Any) -> None:
            count["n"] += 1

        def queries() -> int:
            count["n"] = 0
            requests_svc.list_requests(fresh)
            return count["n"]

        today = fresh.clock.now().date()
        first = requests_svc.open_request(fresh, requester="A", received=today, description="a", actor="pat")
        event.listen(fresh.catalog.engine, "before_cursor_execute", counter)
        one = queries()
        for n in range(4):
            requests_svc.open_request(fresh, requester=f"R{n}", received=today, description="b", actor="pat")
        later = (datetime.fromisoformat(first.due) + timedelta(days=5)).date()
        requests_svc.extend_request(fresh, first.id, until=later, reason="volume", actor="pat")
        assert queries() == one
        event.remove(fresh.catalog.engine, "before_cursor_execute", counter)
        listed = {v.id: v for v in requests_svc.list_requests(fresh)}
        assert len(listed) == 5 and listed[first.id].due == later.isoformat()
        assert [e.reason for e in listed[first.id].extensions] == ["volume"]
        assert all(not v.extensions for k, v in listed.items() if k != first.id)
    finally:
        fresh.close()
