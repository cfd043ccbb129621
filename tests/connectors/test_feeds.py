"""Blogs: WordPress REST and RSS/Atom feeds against the sandbox over real HTTP.

Covers the honest deletion rule for latest-N feeds, WordPress trash versus permanent
deletion, modified_gmt, conditional GET, XML attacks, identifier forms and parse robustness.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.capture.session import CaptureSession
from archiver.catalog import tables as t
from archiver.core.clock import ManualClock
from archiver.core.errors import ConfigError, UnexpectedResponse
from archiver.core.models import AccountRef, CapturedExchange, Covered, Item, Observed, ParseWarning
from archiver.sandbox.server import Response, SandboxServer
from archiver.services.accounts import register_account
from archiver.services.poll import RunReport
from connectors.base import AuthStyle
from connectors.feeds import FeedsConnector
from connectors.feeds.sandbox import WordPressSandbox
from connectors.feeds.xmlsafe import UnsafeXml, fromstring
from tests.harness import Harness, SwitchApp, scratch_session, switch_server

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SITE = "lincoln.k12.example"


# --- identifiers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("wp:https://Lincoln.K12.example/", f"wp:https://{SITE}"),
    (f"https://{SITE}/wp-json/", f"wp:https://{SITE}"),
    ("https://district.org/lincoln/wp-json/wp/v2/posts", "wp:https://district.org/lincoln"),
    (f"wordpress:{SITE}", f"wp:https://{SITE}"),
    ("https://blog.example.org/feed/", "https://blog.example.org/feed/"),
    ("Blog.Example.org/feed.xml#top", "https://blog.example.org/feed.xml"),
    ("http://blog.example.org/?feed=rss2", "http://blog.example.org/?feed=rss2"),
])
def test_identifier_forms_are_normalised(raw: str, expected: str) -> None:
    assert FeedsConnector().normalize_account_id(raw) == expected


@pytest.mark.parametrize(("raw", "hint"), [
    (f"https://{SITE}/", "is a site, not a feed"),
    (SITE, "is a site, not a feed"),
    ("ftp://blog.example.org/feed", "not a web address"),
    ("https://user:pw@blog.example.org/feed", "not a web address"),
    ("", "empty feed address"),
    ("wp:not a site", "not a web address"),
])
def test_bad_identifiers_raise_one_helpful_line(raw: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        FeedsConnector().normalize_account_id(raw)
    assert hint in err.value.message and "wp:https://" in err.value.message and "\n" not in err.value.message


# --- WordPress through the poller ----------------------------------------------------------

@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, "feeds")
    yield h
    h.close()


def _wp(h: Harness) -> WordPressSandbox:
    return h.sandbox.sandbox  # type: ignore[attr-defined,no-any-return]


def test_trash_permanent_deletion_and_held_comment_are_told_apart(harness: Harness) -> None:
    wp = _wp(harness)
    assert harness.poll().media >= 1  # the featured image (and the same file inline)
    with harness.app.catalog.session() as s:
        assert any("/wp-content/uploads/" in m.url for m in s.query(t.MediaCapture).all())
    posts = [p.id for p in wp.public_posts()]
    erased, trashed = posts[10], posts[11]
    held = next(c for c in wp.comments.values() if c.parent == 0)
    wp.erase(erased)
    wp.trash(trashed)
    held.status = "hold"
    # WordPress signals none of these to an incremental cycle (a trashed or erased post leaves
    # `modified_after` silently; a held comment leaves `after`): the sweep or --reconcile finds them.
    (report,) = harness.poller.poll(harness.account.label, reconcile=True)
    items = harness.items()
    tomb = {k: v.tombstone for k, v in items.items() if v.tombstone is not None}
    assert report.deleted == len(tomb)
    assert tomb[f"{SITE}/posts/{erased}"].reason == "deleted"
    assert "rest_post_invalid_id" in tomb[f"{SITE}/posts/{erased}"].detail
    assert tomb[f"{SITE}/posts/{trashed}"].reason == "unpublished"
    assert "rest_forbidden" in tomb[f"{SITE}/posts/{trashed}"].detail
    assert tomb[f"{SITE}/comments/{held.id}"].reason == "unpublished"
    # Replies under the held comment are still public (WordPress keeps them listed), so alive.
    assert all(items[f"{SITE}/comments/{c.id}"].tombstone is None for c in wp.comments.values() if c.parent == held.id)


def test_modified_gmt_alone_is_not_an_edit_but_new_text_is(harness: Harness) -> None:
    wp = _wp(harness)
    harness.poll()
    post = wp.public_posts()[3]
    wp.overrides[post.id] = lambda data: {**data, "modified_gmt": "2031-01-01T00:00:00", "modified": "2031-01-01T00:00:00"}
    assert harness.poll().edited == 0
    wp.edit_post(post.id, "Corrected: graduation starts at 10am.")
    assert harness.poll().edited == 1
    versions = harness.items()[f"{SITE}/posts/{post.id}"].versions
    assert len(versions) == 2 and "10am" in versions[1].content["content"]


def test_field_type_change_is_a_warning_and_a_broken_listing_a_clear_status(harness: Harness) -> None:
    wp = _wp(harness)
    victim = wp.public_posts()[4].id
    wp.overrides[victim] = lambda data: {**data, "title": "plain string title"}
    report = harness.poll()
    assert report.status == "complete" and report.warnings >= 1
    assert f"{SITE}/posts/{victim}" not in harness.items()
    with harness.app.catalog.session() as s:
        assert "feeds.bad_field_type" in {w.code for w in s.query(t.CaptureWarning).all()}
    wp.malformed_next = 1
    report = harness.poll()
    assert isinstance(report.error, UnexpectedResponse) and report.deleted == 0
    with harness.app.catalog.session() as s:
        account = s.get(t.Account, harness.account.id)
        assert account.status == "error" and "shape we do not understand" in account.status_message


# --- RSS / Atom through the poller ---------------------------------------------------------

def _feed_account(h: Harness, path: str) -> str:
    account = register_account(h.app, "feeds", f"{h.server.url}{path}", name="Lincoln feed")
    return account.label


def _poll(h: Harness, label: str) -> RunReport:
    (report,) = list(h.poller.poll(label))
    return report


def _feed_items(h: Harness) -> dict[str, t.Item]:
    return {k: v for k, v in h.items().items() if k.startswith("http")}


def test_latest_n_feed_judges_deletions_only_while_it_still_spans_everything_known(harness: Harness) -> None:
    wp = _wp(harness)
    label = _feed_account(harness, "/feed/")
    first = _poll(harness, label)
    assert first.status == "complete" and first.new == wp.posts_per_rss == len(_feed_items(harness))

    # An entry deleted inside the window: an older one rolls in, so the feed still reaches back
    # past everything we know, and the missing entry is confirmed by fetching its address.
    inside = wp.public_posts()[2]
    wp.trash(inside.id)
    second = _poll(harness, label)
    assert second.deleted == 1
    tomb = _feed_items(harness)[f"{harness.server.url}/?p={inside.id}"].tombstone
    assert tomb is not None and tomb.reason == "deleted"

    # Two new posts push the two oldest known entries out of the window: their absence proves
    # nothing, so the rolled-off entries are not "deleted" ...
    wp.publish("Snow day", "All schools closed.")
    wp.publish("Snow day 2", "Still closed.")
    third = _poll(harness, label)
    assert third.new == 2 and third.deleted == 0
    rolled_off = [k for k, v in _feed_items(harness).items() if v.tombstone is None
                  and k not in {f"{harness.server.url}/?p={p.id}" for p in wp.public_posts()[: wp.posts_per_rss]}]
    assert rolled_off
    # ... but an entry deleted inside the window (newer than the feed's oldest entry) is
    # still judged: it is checked by fetching its address.
    inside_again = wp.public_posts()[2]
    wp.trash(inside_again.id)
    fourth = _poll(harness, label)
    assert fourth.deleted == 1
    assert _feed_items(harness)[f"{harness.server.url}/?p={inside_again.id}"].tombstone is not None
    assert all(_feed_items(harness)[k].tombstone is None for k in rolled_off)


def test_complete_atom_feed_is_covered_and_an_unchanged_feed_is_a_304(harness: Harness) -> None:
    wp = _wp(harness)
    wp.feed_complete = True
    label = _feed_account(harness, "/feed/atom/")
    first = _poll(harness, label)
    assert first.new == len(wp.public_posts())
    harness.server.requests.clear()
    second = _poll(harness, label)
    feed_requests = [r for r in harness.server.requests if r.path == "/feed/atom/"]
    assert feed_requests[0].header("if-none-match") and second.new == 0 and second.deleted == 0
    victim = wp.public_posts()[-1]
    wp.trash(victim.id)
    third = _poll(harness, label)
    assert third.deleted == 1 and _feed_items(harness)[f"{harness.server.url}/?p={victim.id}"].tombstone


# --- XML safety ----------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><title>&lol3;</title></channel></rss>"""


def _xxe(url: str) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{url}/secret">]>'
            '<rss version="2.0"><channel><title>&xxe;</title><item><title>x</title>'
            '<guid>https://b.example/1</guid></item></channel></rss>').encode()


@pytest.fixture(scope="module")
def shared_server() -> Iterator[tuple[SwitchApp, SandboxServer]]:
    with switch_server() as pair:
        yield pair


@pytest.fixture
def hostile(shared_server) -> tuple[SandboxServer, list[bytes]]:  # type: ignore[no-untyped-def]
    switch, server = shared_server
    bodies: list[bytes] = []

    def app(req):  # type: ignore[no-untyped-def]
        if req.path == "/feed/":
            return Response(200, bodies[0], [("Content-Type", "application/rss+xml")])
        return Response(200, b"secret", [("Content-Type", "text/plain")])

    switch.target = app
    server.requests.clear()
    return server, bodies


@pytest.fixture
def site(shared_server) -> tuple[WordPressSandbox, SandboxServer]:  # type: ignore[no-untyped-def]
    from connectors.feeds.sandbox import FeedsContract

    switch, server = shared_server
    contract = FeedsContract()
    switch.target = contract.sandbox
    server.requests.clear()
    contract.bind(server.url)
    contract.seed_account()
    return contract.sandbox, server


def _session(tmp_path: Path) -> CaptureSession:
    return scratch_session(tmp_path, "feeds", auth_style=AuthStyle.BEARER, clock=ManualClock(T0),
                           account="acct", max_retries=4)


def test_paged_feed_is_followed_to_the_end(tmp_path: Path, site) -> None:  # type: ignore[no-untyped-def]
    wp, server = site
    wp.feed_paged = True
    events = list(FeedsConnector().harvest(AccountRef("feeds", f"{server.url}/feed/"), None, _session(tmp_path)))
    observed = {e.item.item_id for e in events if isinstance(e, Observed)}
    assert len(observed) == len(wp.public_posts())
    assert [r.query.get("paged", "1") for r in server.requests] == ["1", "2", "3", "4", "5", "6"]


def test_harvest_covers_posts_and_every_posts_comments(tmp_path: Path, site) -> None:  # type: ignore[no-untyped-def]
    wp, server = site
    ref = AccountRef("feeds", f"wp:https://{SITE}", api_base=server.url)
    covered = [e for e in FeedsConnector().harvest(ref, None, _session(tmp_path)) if isinstance(e, Covered)]
    assert covered[0].parent_id is None
    assert {c.parent_id for c in covered[1:]} == {f"{SITE}/posts/{p.id}" for p in wp.public_posts()}
    comment_requests = [r for r in server.requests if r.path.endswith("/comments")]
    assert len(comment_requests) <= 3 and all("," in r.query["post"] for r in comment_requests)


@pytest.mark.parametrize("kind", ["billion_laughs", "external_entity"])
def test_entity_tricks_are_refused_without_expansion_or_fetching(tmp_path: Path, hostile, kind: str) -> None:  # type: ignore[no-untyped-def]
    server, bodies = hostile
    bodies.append(BILLION_LAUGHS if kind == "billion_laughs" else _xxe(server.url))
    ref = AccountRef("feeds", f"{server.url}/feed/")
    with pytest.raises(UnexpectedResponse, match="entity declarations"):
        list(FeedsConnector().harvest(ref, None, _session(tmp_path)))
    assert [r.path for r in server.requests] == ["/feed/"]  # nothing else was fetched
    exchange = CapturedExchange(f"{server.url}/feed/", "GET", 200, (("Content-Type", "application/rss+xml"),),
                                bodies[0], T0)
    out = list(FeedsConnector().parse(ref, exchange))
    assert [w.code for w in out if isinstance(w, ParseWarning)] == ["feeds.unsafe_xml"]
    with pytest.raises(UnsafeXml):
        fromstring(bodies[0])


# --- parse is pure and total ---------------------------------------------------------------

WP_ACCOUNT = AccountRef("feeds", f"wp:https://{SITE}")
FEED_ACCOUNT = AccountRef("feeds", "https://blog.example.org/feed/")
WP_URLS = [f"https://{SITE}/wp-json/wp/v2/posts?per_page=25&page=1", f"https://{SITE}/wp-json/wp/v2/comments?post=1",
           f"https://{SITE}/wp-json/wp/v2/posts/7", f"https://{SITE}/wp-json/wp/v2/comments/9"]
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)


def _sample_wp() -> tuple[dict, dict, bytes]:
    wp = WordPressSandbox(now=lambda: T0)
    wp.base_url = f"https://{SITE}"
    post = wp.publish("Hello", "Body <b>bold</b>", image=True)
    comment = wp.comment(post, "Nice")
    rss = wp._rss(wp.public_posts(), "", "")
    return wp.post_json(wp.posts[post], True), wp.comment_json(wp.comments[comment]), rss.encode()


SAMPLE_POST, SAMPLE_COMMENT, SAMPLE_RSS = _sample_wp()


def _check(account: AccountRef, exchange: CapturedExchange) -> list[Item | ParseWarning]:
    out = list(FeedsConnector().parse(account, exchange))  # the raw parser: nothing catches
    assert all(isinstance(x, Item | ParseWarning) for x in out)
    assert not [o for o in out if isinstance(o, ParseWarning) and o.code.endswith(".parser_error")]
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.sampled_from(WP_URLS), body=_json)
def test_wordpress_parse_never_raises_on_arbitrary_json(url: str, body: object) -> None:
    _check(WP_ACCOUNT, CapturedExchange(url, "GET", 200, (), json.dumps(body).encode(), T0))


@settings(max_examples=100, deadline=None)
@given(url=st.sampled_from(WP_URLS), post_key=st.sampled_from(sorted(SAMPLE_POST)),
       comment_key=st.sampled_from(sorted(SAMPLE_COMMENT)), value=_json)
def test_wordpress_parse_never_raises_on_mutated_objects(url: str, post_key: str, comment_key: str, value: object) -> None:
    row = {**SAMPLE_POST, post_key: value} if "posts" in url else {**SAMPLE_COMMENT, comment_key: value}
    body = row if url.rstrip("0123456789").endswith("/") else [row]
    _check(WP_ACCOUNT, CapturedExchange(url, "GET", 200, (), json.dumps(body).encode(), T0))


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(SAMPLE_RSS)), junk=st.binary(max_size=40))
def test_feed_parse_never_raises_on_mangled_xml(cut: int, junk: bytes) -> None:
    body = SAMPLE_RSS[:cut] + junk + SAMPLE_RSS[cut:]
    headers = (("Content-Type", "application/rss+xml"),)
    _check(FEED_ACCOUNT, CapturedExchange("https://blog.example.org/feed/", "GET", 200, headers, body, T0))


def test_feed_entry_content_has_substance_but_no_dates() -> None:
    headers = (("Content-Type", "application/rss+xml"),)
    (item,) = _check(FEED_ACCOUNT, CapturedExchange("https://blog.example.org/feed/", "GET", 200, headers, SAMPLE_RSS, T0))
    assert isinstance(item, Item) and item.item_id.startswith(f"https://{SITE}/?p=")
    assert "bold" in item.content["content"] and item.created_at is not None
    assert "pubDate" not in json.dumps(item.content) and item.media

@settings(max_examples=60, deadline=None)
@given(posts=st.lists(st.tuples(st.integers(1, 10**9), st.text(max_size=40)), max_size=6, unique_by=lambda p: p[0]))
def test_valid_wordpress_posts_yield_one_item_each_and_no_warning(posts: list[tuple[int, str]]) -> None:
    body = [{**SAMPLE_POST, "id": n, "title": {"rendered": html.escape(title)},
             "content": {"rendered": f"<p>{html.escape(title)}</p>", "protected": False}} for n, title in posts]
    out = _check(WP_ACCOUNT, CapturedExchange(WP_URLS[0], "GET", 200, (), json.dumps(body).encode(), T0))
    assert len([i for i in out if isinstance(i, Item)]) == len(posts)
    assert not [w for w in out if isinstance(w, ParseWarning)]


# --- WordPress application passwords (HTTP Basic) and the `wordpress SITE` shorthand --------------

APP_PASSWORD = "archivist:abcd EFGH ijkl MNOP qrst UVWX"


def test_application_password_goes_as_basic_auth_and_never_into_a_warc(tmp_path: Path) -> None:
    h = Harness(tmp_path, "feeds")
    try:
        h.sandbox.sandbox.app_passwords.add(APP_PASSWORD)  # type: ignore[attr-defined]
        token = tmp_path / "wp-app-password.txt"
        token.write_text(APP_PASSWORD)
        token.chmod(0o600)
        info = register_account(h.app, "wordpress", f"https://{SITE}", api_base=h.server.url,
                                token_file=str(token), replace=True)
        assert (info.platform, info.account_id) == ("feeds", f"wp:https://{SITE}")
        h.server.requests.clear()
        assert h.poll().status == "complete"
        sent = {r.header("authorization") for r in h.server.requests if r.path.startswith("/wp-json")}
        assert sent == {"Basic " + base64.b64encode(APP_PASSWORD.encode()).decode()}
        password = APP_PASSWORD.split(":", 1)[1]
        for path in h.warc_files():
            with gzip.open(path, "rb") as fh:
                data = fh.read()
            assert password.encode() not in data and base64.b64encode(APP_PASSWORD.encode()) not in data
        token.write_text("archivist:wrong password here")
        report = h.poll()
        assert report.status == "not-run" or report.error is not None
        with h.app.catalog.session() as s:
            account = s.get(t.Account, info.id)
            assert account.status == "needs-attention" and "application password" in account.status_message
            assert "wrong password" not in account.status_message
    finally:
        h.close()


def test_unknown_platform_lists_the_known_ones_and_the_shorthand(tmp_path: Path) -> None:
    h = Harness(tmp_path, "feeds")
    try:
        with pytest.raises(ConfigError) as info:
            register_account(h.app, "myspace", "lincoln")
        assert "facebook" in info.value.message and "wordpress (= feeds wp:SITE)" in info.value.message
    finally:
        h.close()


def test_a_refused_incremental_bound_falls_back_to_one_full_capture(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """WordPress answers 400 rest_invalid_param to a `modified_after` it cannot read: the cycle
    captures the whole site once, with a warning, and stores a bound it can read."""
    import logging

    assert harness.poll().status == "complete"
    with harness.app.catalog.session() as s:
        row = s.get(t.Account, harness.account.id)
        assert row is not None
        row.cursor = {**row.cursor, "modified": "last Tuesday"}
    new = harness.sandbox.publish(harness.seed.account_id)
    mark = len(harness.server.requests)
    with caplog.at_level(logging.WARNING, logger="connectors.feeds.connector"):
        report = harness.poll()
    assert report.status == "complete" and report.plan.startswith("incremental")
    assert new in harness.items() and report.deleted == 0
    asked = harness.server.requests[mark:]
    assert asked[0].query.get("modified_after") == "last Tuesday"
    assert any(r.path.endswith("/posts") and "modified_after" not in r.query and "include" not in r.query
               for r in asked[1:])  # the full listing
    assert any("refused the incremental bound" in r.getMessage() for r in caplog.records)
    with harness.app.catalog.session() as s:
        row = s.get(t.Account, harness.account.id)
        assert row is not None
        cursor = dict(row.cursor)
    datetime.fromisoformat(cursor["modified"])
    mark = len(harness.server.requests)
    assert harness.poll().status == "complete"
    assert len(harness.server.requests) - mark == 2  # back to the two since-listings


def test_an_incremental_cycle_stops_a_paged_feed_at_known_entries(harness: Harness) -> None:
    """Newest first: once a page shows only known entries the older pages are not asked for,
    and the entries on them are not judged (the span read is all that is covered)."""
    wp = _wp(harness)
    wp.feed_paged = True
    label = _feed_account(harness, "/feed/")
    first = _poll(harness, label)
    assert first.plan.startswith("full") and first.new == len(wp.public_posts())
    oldest = wp.public_posts()[-1]
    wp.trash(oldest.id)  # on the last page: an incremental cycle does not reach it
    wp.publish("Snow day", "All schools closed.")
    mark = len(harness.server.requests)
    second = _poll(harness, label)
    pages = [r.query.get("paged", "1") for r in harness.server.requests[mark:] if r.path == "/feed/"]
    assert second.plan.startswith("incremental") and second.new == 1 and second.deleted == 0
    assert pages == ["1", "2"]  # page 1 holds the new entry; page 2 only known ones
    assert _feed_items(harness)[f"{harness.server.url}/?p={oldest.id}"].tombstone is None
