"""The console in a real browser (Playwright driving Debian's /usr/bin/chromium; nothing is
downloaded): a records officer answers a public records request end to end, every page is
checked with axe-core (WCAG 2.1 A/AA), and no page loads anything from beyond 127.0.0.1.

One browser and one server per module; the whole flow is one test. Screenshots go to
test-artifacts/console/; ARCHIVER_UPDATE_SCREENSHOTS=1 also copies seven to docs/console/ (the
README's pictures)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from archiver.app import App
from archiver.services import audit as audit_svc
from archiver.services.exports import verify_export
from archiver.web.app import ConsoleConfig, asgi
from tests.web.conftest import PASSWORD, PHONE, ConsoleArchive

CHROMIUM = Path("/usr/bin/chromium")
VENDOR = Path(__file__).parent / "vendor"  # axe-core 4.14.1 from the npm registry (MPL-2.0)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# read at import: every test's environment drops ARCHIVER_* variables (tests/conftest.py)
UPDATE_SCREENSHOTS = os.environ.get("ARCHIVER_UPDATE_SCREENSHOTS") == "1"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test-setup.sh)")


@dataclass
class Browser:
    base: str
    page: Any
    app: App
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    violations: dict[str, list[str]] = field(default_factory=dict)

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def axe(self, name: str) -> None:
        """axe-core on the page as it stands; served from 127.0.0.1 like everything else, so
        the strict CSP need not be loosened for the check."""
        self.page.add_script_tag(url=self.base + "/_test/axe.min.js")
        result = self.page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                                    AXE_TAGS)
        assert len(result["passes"]) >= 10, "axe-core checked next to nothing"
        found = [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result["violations"]]
        if found:
            self.violations[name] = found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browser(console_archive: ConsoleArchive) -> Iterator[Browser]:
    import uvicorn
    from playwright.sync_api import sync_playwright

    app = console_archive.app()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(asgi(app, ConsoleConfig(test_assets=VENDOR)), host="127.0.0.1",
                                           port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            context = chromium.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.set_default_timeout(60_000)  # a loaded 2-core machine
            b = Browser(f"http://127.0.0.1:{port}", page, app)
            page.on("request", lambda r: b.requests.append(r.url))
            def on_dialog(dialog: Any) -> None:
                b.dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            yield b
            chromium.close()
    finally:
        server.should_exit = True
        thread.join(10)
        app.close()


def test_a_records_officer_answers_a_request_in_the_browser(browser: Browser, console_archive: ConsoleArchive,
                                                             tmp_path: Path) -> None:
    b, page, a = browser, browser.page, console_archive
    # sign in
    b.go("/login")
    b.axe("login")
    b.shot("01-login")
    page.get_by_label("User name").fill("pat")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(b.base + "/")
    b.axe("dashboard")

    # open a request
    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_label("Requester", exact=True).fill("Pat Reporter")
    page.get_by_label("What was asked for (in the requester's words)").fill(
        "Every comment about bus route 12 this term")
    page.get_by_role("button", name="Open request").click()
    page.wait_for_url(b.base + "/requests/PRR-*")
    request_url = page.url
    request_id = request_url.rsplit("/", 1)[1]
    assert "Opened " + request_id in page.inner_text("main")

    # search, with highlighted matches and thread context, and attach the results
    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label("Words").fill("bus")
    page.get_by_role("button", name="Search", exact=True).click()
    assert page.locator("mark").count() >= 5 and page.locator(".context").count() == 3
    b.axe("search")
    b.shot("02-search")
    for box in page.locator("input[name=item]").all():
        box.check()
    page.get_by_label("Attach the items ticked below to request").select_option(request_id)
    page.get_by_role("button", name="Attach").click()
    page.wait_for_url(request_url)
    assert "Attached 5 item(s)" in page.inner_text("main")
    b.go("/")  # the dashboard with the request open
    assert request_id in page.locator("section[aria-labelledby=req-h]").inner_text()
    assert "What retention would destroy next" in page.inner_text("main")
    b.shot("07-dashboard")

    # the thread as it looked: the edited post with its word diff, the deleted comment
    b.go(f"/items/{a.post}")
    assert page.locator("ins").first.inner_text() == "Thursday, not "
    assert page.locator(".tag.deleted").count() == 1  # the deleted reply in the thread
    b.axe("item")
    b.shot("03-thread-with-edit")
    b.go(f"/items/{a.deleted_comment}")
    assert "Deleted on the platform" in page.inner_text("main")
    b.shot("04-deleted-comment")
    b.go(f"/items/{a.hostile_comment}")
    assert "<script>alert('x')</script>" in page.inner_text("main") and not b.dialogs
    b.axe("hostile")
    b.go(f"/items/{a.picture_post}")
    assert page.locator("figure.media img").evaluate("img => img.naturalWidth >= 0 && img.complete")

    # review for personal information, redact by selecting, withhold, export, download
    page.goto(request_url)
    page.get_by_role("link", name="Review for personal information").click()
    review = page.locator("section.review")
    assert PHONE in review.inner_text()  # student names need a roster: the CLI only, so far
    b.axe("request-review")
    b.shot("05-request-review")
    article = page.locator("article.responsive", has=page.locator(f"a[href='/items/{a.phone_comment}']"))
    quote = article.locator("blockquote.redactable")
    quote.evaluate("""(el, words) => {
        const node = el.firstChild, at = node.textContent.indexOf(words);
        const range = document.createRange();
        range.setStart(node, at); range.setEnd(node, at + words.length);
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        el.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
    }""", PHONE)
    field = article.get_by_label("Words to redact (select them in the text above)")
    assert field.input_value() == PHONE  # filled by the selection, not by the test
    article.get_by_label("Exemption", exact=True).fill("RCW 42.56.230(1)")
    article.get_by_role("button", name="Redact").click()
    assert "Redacted 12 characters" in page.inner_text("main")
    hostile = page.locator("article.responsive", has=page.locator(f"a[href='/items/{a.deleted_comment}']"))
    hostile.get_by_label("Withhold under").fill("RCW 42.56.290")
    hostile.get_by_role("button", name="Withhold").click()
    assert "withheld: RCW 42.56.290" in page.inner_text("main")
    page.get_by_role("button", name="Export the package").click(timeout=300_000)  # builds WARC, WACZ, PDF
    assert "written and verified" in page.inner_text("main")
    b.axe("request")
    b.shot("06-request-exported")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download package").first.click()
    zipped = tmp_path / "package.zip"
    info.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as zf:
        zf.extractall(tmp_path / "unzipped")
    (folder,) = list((tmp_path / "unzipped").iterdir())
    verdict = verify_export(folder)
    assert verdict.ok, verdict.problems
    log = (folder / "data" / "redaction-log.csv").read_text("utf-8")
    assert a.phone_comment in log and "RCW 42.56.230(1)" in log and "RCW 42.56.290" in log
    assert PHONE not in log  # the log names the redaction, never the words

    # close; the other pages
    page.get_by_label("Outcome").select_option("partially-released")
    page.get_by_role("button", name="Close request").click()
    assert f"Closed {request_id}" in page.inner_text("main")

    # accounts: register one (the name of the variable holding its token, never a token),
    # disable it with a reason, enable it again
    b.go("/accounts")
    page.get_by_label("Platform").select_option("facebook")
    page.get_by_label("Account id, handle or profile URL").fill("1000555")
    page.get_by_label("Display name").fill("Washington Elementary")
    page.get_by_label("Role (for retention").fill("school")
    page.get_by_label("Environment variable that holds the token").fill("FB_WASHINGTON_TOKEN")
    page.get_by_role("button", name="Register").click()
    assert "Registered facebook:1000555 (Washington Elementary)" in page.inner_text("main")
    page.get_by_label("Why disable facebook:1000555").fill("school renamed")
    page.get_by_role("button", name="Disable facebook:1000555").click()
    assert "Disabled facebook:1000555" in page.inner_text("main")
    b.axe("accounts-disabled")
    b.shot("08-accounts")
    page.get_by_role("button", name="Enable facebook:1000555").click()
    assert "Enabled facebook:1000555" in page.inner_text("main")

    # retention: verify a series against the official schedule
    b.go("/retention")
    page.get_by_label("Series", exact=True).select_option("GS2010-001")
    page.get_by_label("Where the official schedule says it").fill("CORE v5.0 p.9")
    page.get_by_role("button", name="Record the verification").click()
    assert "Series GS2010-001 verified against CORE v5.0 p.9" in page.inner_text("main")
    for path, name in (("/holds", "holds"), ("/retention", "retention"), ("/audit?verify=1", "audit"),
                       ("/accounts", "accounts"), ("/", "dashboard-after")):
        b.go(path)
        b.axe(name)
        b.shot(f"07-{name}")
    b.go("/audit?verify=1")
    assert "The hash chain is intact" in page.inner_text("main")

    # what the browser did, and what the audit log says about it
    outside = [u for u in b.requests if not u.startswith(b.base + "/")]
    assert not outside, outside
    assert not b.violations, b.violations
    actions = {(e.action, e.subject) for e in audit_svc.list_entries(b.app, limit=200) if e.actor == "pat"}
    for expected in (("request.open", request_id), ("request.add", request_id), ("request.redact", request_id),
                     ("request.withhold", request_id), ("request.export", request_id),
                     ("console.download", request_id), ("console.view", f"item:facebook:{a.post}"),
                     ("request.close", request_id), ("account.register", "account:facebook:1000555"),
                     ("account.disable", "account:facebook:1000555"), ("account.enable", "account:facebook:1000555"),
                     ("schedule.verify", "series:WA:GS2010-001")):
        assert expected in actions, expected
    if UPDATE_SCREENSHOTS:  # refresh the README's pictures on purpose
        docs = Path(__file__).resolve().parents[2] / "docs" / "console"
        for name in ("02-search", "03-thread-with-edit", "05-request-review", "06-request-exported",
                     "07-dashboard", "07-retention", "08-accounts"):
            shutil.copy(ARTIFACTS / f"{name}.png", docs / f"{name}.png")
