"""The console's routes: each one checks the role, calls archiver/services, renders a template.

No SQL and no records logic here: what a page shows comes from the same use cases the CLI
calls. Every page that shows record content and every download is an audit event naming the
signed-in user (FERPA, 34 CFR 99.32, asks districts to record disclosures).
"""

from __future__ import annotations

import difflib
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archiver.app import App
from archiver.catalog.search import KINDS, SearchFilters
from archiver.core.errors import ArchiverError
from archiver.services import accounts as accounts_svc
from archiver.services import alerts, approvals, holds, items, retention, search, users
from archiver.services import audit as audit_svc
from archiver.services import requests as requests_svc
from archiver.services import schedules as schedules_svc
from archiver.services.exports import verify_export
from archiver.web.security import (
    COOKIE,
    ProxyConfig,
    ProxyHeaders,
    SecurityHeaders,
    Sessions,
    SourceThrottle,
    load_secret,
)

HERE = Path(__file__).parent
Handler = Callable[..., Awaitable[Response]]
SEARCH_LIMIT = 50
ACCOUNTS_PER_PAGE = 100  # with its forms, an account's row is about 1 KB of HTML


@dataclass
class ConsoleConfig:
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    session_minutes: int = 480  # a working day; then sign in again
    test_assets: Path | None = None  # the browser tests' vendored axe-core, never in production


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, capability: str) -> bool:
        return users.allowed(self.role, capability)


# --- platform text, made inert and visible --------------------------------------------------

_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C}


def visible(text: object) -> str:
    """Control characters and bidi overrides shown as symbols (escaping is Jinja's job): a
    comment cannot reorder or hide what the officer reads."""
    s = "" if text is None else str(text)
    if s.isprintable():
        return s
    out = []
    for ch in s:
        code = ord(ch)
        if ch in "\n\t":
            out.append(ch)
        elif code < 0x20:
            out.append(chr(0x2400 + code))
        elif code == 0x7F:
            out.append("\u2421")
        elif 0x80 <= code < 0xA0 or code in _BIDI:
            out.append(f"<U+{code:04X}>")
        else:
            out.append(ch)
    return "".join(out)


def marked(text: str, spans: tuple[tuple[int, int], ...]) -> Markup:
    """`text` with the search highlights wrapped in <mark>, every piece escaped."""
    out, pos = [], 0
    for start, end in spans:
        out.append(escape(visible(text[pos:start])))
        out.append(Markup("<mark>") + escape(visible(text[start:end])) + Markup("</mark>"))
        pos = end
    out.append(escape(visible(text[pos:])))
    return Markup("").join(out)


_WORDS = re.compile(r"\s+|\S+")


def word_diff(old: str, new: str) -> Markup:
    """A word-level diff: removed words in <del>, added in <ins>, the rest as they were."""
    a, b = _WORDS.findall(old or ""), _WORDS.findall(new or "")
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape(visible("".join(a[i1:i2]))))
            continue
        if op in ("delete", "replace"):
            out.append(Markup("<del>") + escape(visible("".join(a[i1:i2]))) + Markup("</del>"))
        if op in ("insert", "replace"):
            out.append(Markup("<ins>") + escape(visible("".join(b[j1:j2]))) + Markup("</ins>"))
    return Markup("").join(out)


def _when(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = str(value)
    return text[:16].replace("T", " ") + (" UTC" if "T" in text else "")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["visible"] = visible
    env.filters["when"] = _when
    env.globals["marked"] = marked
    env.globals["word_diff"] = word_diff
    return env


# --- the console ----------------------------------------------------------------------------


class Console:
    def __init__(self, app: App, config: ConsoleConfig | None = None) -> None:
        self.app = app
        self.config = config or ConsoleConfig()
        self.env = _environment()
        self.sessions = Sessions(load_secret(app.settings.home), self.config.session_minutes,
                                 lambda: app.clock.now().timestamp())
        self.throttle = SourceThrottle()

    # the plumbing ------------------------------------------------------------------------------

    def session(self, request: Request) -> dict[str, Any]:
        if "session" not in request.state._state:
            request.state.session = self.sessions.read(request.cookies.get(COOKIE))
        return request.state.session

    def user(self, request: Request) -> User | None:
        proxied = request.scope.get("proxied_user")
        if proxied and self.config.proxy.user_header:
            found = users.get_user(self.app, proxied)
            return User(found.name, found.role) if found else None
        name = self.session(request).get("u")
        if not name:
            return None
        found = users.get_user(self.app, name)  # disabled or removed: signed out at once
        return User(found.name, found.role) if found else None

    def finish(self, request: Request, response: Response) -> Response:
        response.headers.append("set-cookie", self.sessions.write(
            self.session(request), secure=request.url.scheme == "https"))
        return response

    def render(self, request: Request, template: str, user: User | None, status: int = 200,
               **context: Any) -> Response:
        session = self.session(request)
        flash = session.pop("flash", None)
        html = self.env.get_template(template).render(
            user=user, csrf=session["c"], flash=flash, path=request.url.path,
            test_assets=self.config.test_assets is not None, **context)
        return self.finish(request, HTMLResponse(html, status_code=status))

    def redirect(self, request: Request, url: str, flash: str | None = None) -> Response:
        if flash:
            self.session(request)["flash"] = flash
        return self.finish(request, RedirectResponse(url, status_code=303))

    def refuse(self, request: Request, user: User | None, status: int, message: str) -> Response:
        return self.render(request, "error.html", user, status=status, message=message)

    def page(self, capability: str | None = None) -> Callable[[Handler], Handler]:
        """A GET page: signed in, and allowed `capability` (None: any signed-in user)."""
        def wrap(handler: Handler) -> Handler:
            @wraps(handler)
            async def run(request: Request) -> Response:
                user = self.user(request)
                if user is None:
                    expired = self.session(request).get("expired")
                    return self.redirect(request, "/login", "Your session expired; sign in again"
                                         if expired else None)
                if capability and not user.can(capability):
                    return self.refuse(request, user, 403, "Your role does not allow this page.")
                try:
                    return await handler(request, user)
                except ArchiverError as exc:
                    return self.refuse(request, user, 400, exc.message)
            return run
        return wrap

    def action(self, capability: str | None = None, back: str | None = None) -> Callable[[Handler], Handler]:
        """A POST: signed in, allowed, and carrying this session's CSRF token. Every form of
        the console posts through here, so none can be forged from another site. A refused
        change goes back to `back` (formatted with the path parameters) with the reason."""
        def wrap(handler: Handler) -> Handler:
            @wraps(handler)
            async def run(request: Request) -> Response:
                form = await request.form()
                if not self.sessions.csrf_ok(self.session(request), _field(form, "csrf")):
                    return self.refuse(request, self.user(request), 403,
                                       "The form was stale or forged (no valid CSRF token); reload the "
                                       "page and try again.")
                user = self.user(request)
                if user is None:
                    return self.redirect(request, "/login", "Sign in first")
                if capability and not user.can(capability):
                    return self.refuse(request, user, 403, "Your role does not allow this change.")
                try:
                    return await handler(request, user, form)
                except ArchiverError as exc:
                    if back:
                        return self.redirect(request, back.format(**request.path_params), exc.message)
                    return self.refuse(request, user, 400, exc.message)
            return run
        return wrap

    def record_view(self, user: User, subject: str, **details: Any) -> None:
        audit_svc.record(self.app, "console.view", subject=subject, details=details, actor=user.name)

    def exports_dir(self, request_id: str) -> Path:
        return self.app.settings.home / "exports" / _safe_name(request_id)


def _field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def _safe_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}", value):
        raise ArchiverError(f"{value!r} is not a valid name here")
    return value


def _date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ArchiverError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def filters_from(params: Any) -> SearchFilters:
    """The CLI's search filters, from a query string or a form."""
    def get(name: str) -> str:
        value = params.get(name)
        return value.strip() if isinstance(value, str) else ""

    kind = get("kind")
    if kind and kind not in KINDS:
        raise ArchiverError(f"Unknown kind {kind!r}")
    return SearchFilters(account=get("account") or None, platform=get("platform") or None,
                         since=_date(get("since")), until=_date(get("until")), kind=kind or None,
                         deleted=True if get("deleted") else None, edited=True if get("edited") else None,
                         author=get("author") or None)


def build(app: App, config: ConsoleConfig | None = None) -> Starlette:
    """The ASGI application (uvicorn serves it; tests drive it in process or in a browser)."""
    c = Console(app, config)
    routes: list[Any] = []

    def route(path: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[Handler], Handler]:
        def add(handler: Handler) -> Handler:
            routes.append(Route(path, handler, methods=list(methods)))
            return handler
        return add

    # --- sign in and out -------------------------------------------------------------------

    @route("/login")
    async def login_page(request: Request) -> Response:
        user = c.user(request)
        if user is not None:
            return c.redirect(request, "/")
        return c.render(request, "login.html", None)

    @route("/login", ("POST",))
    async def login(request: Request) -> Response:
        form = await request.form()
        session = c.session(request)
        if not c.sessions.csrf_ok(session, _field(form, "csrf")):
            return c.refuse(request, None, 403, "The sign-in form was stale or forged; reload it and try again.")
        source = request.client.host if request.client else ""
        if c.throttle.blocked(source):
            return c.render(request, "login.html", None, status=429,
                            error="Too many failed sign-ins from this address; wait a few minutes.")
        try:
            found = users.authenticate(app, _field(form, "name"), str(form.get("password") or ""),
                                       source=source)
        except users.LoginRefused as exc:
            c.throttle.failed(source)
            return c.render(request, "login.html", None, status=401, error=exc.message,
                            name=_field(form, "name"))
        # A new session (and CSRF token) at sign-in: a planted cookie is worth nothing.
        request.state.session = {"u": found.name, "c": c.sessions.read(None)["c"],
                                 "t": app.clock.now().timestamp()}
        return c.redirect(request, "/")

    @route("/logout", ("POST",))
    @c.action()
    async def logout(request: Request, user: User, form: FormData) -> Response:
        audit_svc.record(app, "logout", subject=f"user:{user.name}", actor=user.name)
        request.state.session = c.sessions.read(None)
        return c.redirect(request, "/login", "Signed out")

    # --- dashboard -------------------------------------------------------------------------

    @route("/")
    @c.page()
    async def dashboard(request: Request, user: User) -> Response:
        """What needs a person today: open alerts, accounts with their last capture and any
        problem, open requests by due date, holds, and what retention would destroy next.
        A fixed number of queries whatever the number of accounts, requests or items."""
        accts = accounts_svc.list_accounts(app)
        open_alerts = alerts.open_alerts(app)
        alerted = {a.subject: a for a in open_alerts}
        open_requests = requests_svc.list_requests(app) if user.can("content.read") else []
        active_holds = retention.holds_in_force(app) if user.can("retention.read") else []
        pending = [a for a in approvals.list_approvals(app) if a.status == "proposed"] if user.can(
            "retention.read") else []
        due = retention.coming_due(app, limit=10) if user.can("retention.read") else []
        return c.render(request, "dashboard.html", user, accounts=accts, alerts=open_alerts, alerted=alerted,
                        requests=open_requests, holds=active_holds, pending=pending, due=due,
                        today=app.clock.now())

    # --- search ----------------------------------------------------------------------------

    @route("/search")
    @c.page("content.read")
    async def search_page(request: Request, user: User) -> Response:
        q = (request.query_params.get("q") or "").strip()
        filters = filters_from(request.query_params)
        result = search.search_items(app, q, filters, limit=SEARCH_LIMIT, actor=user.name) if q else None
        requests_open = requests_svc.list_requests(app) if (q and user.can("requests.change")) else []
        return c.render(request, "search.html", user, q=q, f=filters, result=result, kinds=KINDS,
                        open_requests=requests_open)

    @route("/search/attach", ("POST",))
    @c.action("requests.change", back="/search")
    async def search_attach(request: Request, user: User, form: FormData) -> Response:
        rid = _field(form, "request")
        ids = [v for v in form.getlist("item") if isinstance(v, str) and v.strip()]
        if not ids:
            raise ArchiverError("Tick at least one item to attach")
        result = requests_svc.add_items(app, rid, items=ids, actor=user.name)
        return c.redirect(request, f"/requests/{rid}", f"Attached {len(result.added)} item(s)")

    # --- one item --------------------------------------------------------------------------

    @route("/items/{item_id:path}/media/{n:int}")
    @c.page("content.read")
    async def item_media(request: Request, user: User) -> Response:
        item_id, n = request.path_params["item_id"], request.path_params["n"]
        media = items.media_content(app, item_id, n)
        audit_svc.record(app, "console.download", subject=f"item:{item_id}",
                         details={"media": n, "url": media.url, "bytes": len(media.body)}, actor=user.name)
        headers = {"content-security-policy": "default-src 'none'; sandbox",
                   "cache-control": "private, no-store"}
        if not media.inline:
            headers["content-disposition"] = f'attachment; filename="media-{n}.bin"'
        return Response(media.body, media_type=media.content_type, headers=headers)

    # Bluesky ids are at:// URIs: the id may hold slashes
    @route("/items/{item_id:path}")
    @c.page("content.read")
    async def item_page(request: Request, user: User) -> Response:
        item_id = request.path_params["item_id"]
        detail = items.show_item(app, item_id)
        c.record_view(user, f"item:{detail.summary.platform}:{detail.summary.id}")
        diffs = [word_diff(a.text, b.text) for a, b in zip(detail.versions, detail.versions[1:], strict=False)]
        return c.render(request, "item.html", user, d=detail, diffs=diffs)

    @route("/warcs/{name}")
    @c.page("content.read")
    async def warc_download(request: Request, user: User) -> Response:
        from archiver.services import warcs

        name = _safe_name(request.path_params["name"])
        chunks = warcs.warc_bytes(app, name)
        first = next(chunks, b"")  # fail here (a page with the reason), not mid-download
        audit_svc.record(app, "console.download", subject=f"warc:{name}", actor=user.name)

        def body() -> Iterator[bytes]:
            yield first
            yield from chunks

        return StreamingResponse(body(), media_type="application/warc", headers={
            "content-disposition": f'attachment; filename="{name}"'})

    # --- requests --------------------------------------------------------------------------

    @route("/requests")
    @c.page("content.read")
    async def requests_page(request: Request, user: User) -> Response:
        everything = request.query_params.get("all") == "1"
        return c.render(request, "requests.html", user, requests=requests_svc.list_requests(
            app, include_closed=everything), everything=everything, today=app.clock.now().date())

    @route("/requests", ("POST",))
    @c.action("requests.change", back="/requests")
    async def request_open(request: Request, user: User, form: FormData) -> Response:
        received = _date(_field(form, "received")) or app.clock.now().date()
        view = requests_svc.open_request(app, requester=_field(form, "requester"), received=received,
                                         description=_field(form, "description"),
                                         via=_field(form, "via"), actor=user.name)
        return c.redirect(request, f"/requests/{view.id}", f"Opened {view.id}; due {view.due}")

    @route("/requests/{rid}")
    @c.page("content.read")
    async def request_page(request: Request, user: User) -> Response:
        rid = request.path_params["rid"]
        detail = requests_svc.show_request(app, rid)
        responsive = requests_svc.request_items(app, rid)
        c.record_view(user, rid, items=len(responsive))
        findings = None
        if request.query_params.get("review") == "1":
            findings = requests_svc.review(app, rid, actor=user.name)
        return c.render(request, "request.html", user, r=detail.request, detail=detail,
                        items=responsive, findings=findings, exports=_exports(c.exports_dir(rid)),
                        outcomes=requests_svc.OUTCOMES,
                        kinds=KINDS)

    @route("/requests/{rid}/review", ("POST",))
    @c.action("requests.change", back="/requests/{rid}")
    async def request_review(request: Request, user: User, form: FormData) -> Response:
        """The review with the district's student roster: the upload lives in a private
        temporary file only while the scan runs (the names are never stored or logged)."""
        rid = request.path_params["rid"]
        upload = form.get("roster")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        if not data:
            raise ArchiverError("Choose the roster CSV to upload (or use the review without one)")
        with tempfile.TemporaryDirectory(prefix="archiver-roster-") as tmp:
            path = Path(tmp) / "roster.csv"
            path.write_bytes(data)
            findings = requests_svc.review(app, rid, roster=path, actor=user.name)
        detail = requests_svc.show_request(app, rid)
        responsive = requests_svc.request_items(app, rid)
        c.record_view(user, rid, items=len(responsive))
        return c.render(request, "request.html", user, r=detail.request, detail=detail, items=responsive,
                        findings=findings, exports=_exports(c.exports_dir(rid)),
                        outcomes=requests_svc.OUTCOMES, kinds=KINDS)

    @route("/requests/{rid}/extend", ("POST",))
    @c.action("requests.change", back="/requests/{rid}")
    async def request_extend(request: Request, user: User, form: FormData) -> Response:
        rid = request.path_params["rid"]
        until = _date(_field(form, "until"))
        if until is None:
            raise ArchiverError("Give the new due date")
        view = requests_svc.extend_request(app, rid, until=until, reason=_field(form, "reason"), actor=user.name)
        return c.redirect(request, f"/requests/{rid}", f"Due date extended to {view.due}")

    @route("/requests/{rid}/add", ("POST",))
    @c.action("requests.change", back="/requests/{rid}")
    async def request_add(request: Request, user: User, form: FormData) -> Response:
        rid = request.path_params["rid"]
        ids = [v for v in form.getlist("item") if isinstance(v, str) and v.strip()]
        q = _field(form, "q")
        if ids:
            result = requests_svc.add_items(app, rid, items=ids, actor=user.name)
        else:
            result = requests_svc.add_items(app, rid, query=q, filters=filters_from(form), actor=user.name)
        return c.redirect(request, f"/requests/{rid}", f"Added {len(result.added)} item(s)"
                          + (f"; {len(result.already)} were already responsive" if result.already else ""))

    @route("/requests/{rid}/redact", ("POST",))
    @c.action("requests.change", back="/requests/{rid}")
    async def request_redact(request: Request, user: User, form: FormData) -> Response:
        rid = request.path_params["rid"]
        text = str(form.get("text") or "")  # exactly as selected: spaces matter
        requests_svc.redact(app, rid, item=_field(form, "item"), text=text,
                            exemption=_field(form, "exemption"), actor=user.name)
        return c.redirect(request, f"/requests/{rid}", f"Redacted {len(text)} characters")

    @route("/requests/{rid}/withhold", ("POST",))
    @c.action("requests.change", back="/requests/{rid}")
    async def request_withhold(request: Request, user: User, form: FormData) -> Response:
        rid = request.path_params["rid"]
        requests_svc.withhold(app, rid, item=_field(form, "item"), exemption=_field(form, "exemption"),
                              actor=user.name)
        return c.redirect(request, f"/requests/{rid}", "Withheld")

    @route("/requests/{rid}/release", ("POST",))
    @c.action("requests.change", back="/requests/{rid}")
    async def request_release(request: Request, user: User, form: FormData) -> Response:
        rid = request.path_params["rid"]
        text = form.get("text")
        requests_svc.release(app, rid, item=_field(form, "item"),
                             text=str(text) if isinstance(text, str) and text else None, actor=user.name)
        return c.redirect(request, f"/requests/{rid}", "Released")

    @route("/requests/{rid}/export", ("POST",))
    @c.action("requests.change", back="/requests/{rid}")
    async def request_export(request: Request, user: User, form: FormData) -> Response:
        rid = request.path_params["rid"]
        folder = c.exports_dir(rid) / app.clock.now().strftime("%Y%m%dT%H%M%S")
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        requests_svc.export_request(app, rid, folder, actor=user.name)
        verdict = verify_export(folder)
        return c.redirect(request, f"/requests/{rid}", f"Package {folder.name} written"
                          + (" and verified" if verdict.ok else f"; verification FAILED: {verdict.problems}"))

    @route("/requests/{rid}/exports/{name}.zip")
    @c.page("content.read")
    async def request_download(request: Request, user: User) -> Response:
        rid = request.path_params["rid"]
        folder = c.exports_dir(rid) / _safe_name(request.path_params["name"])
        if not folder.is_dir():
            raise ArchiverError(f"No package {folder.name} for {rid}; export it first")
        data = _zip(folder)
        audit_svc.record(app, "console.download", subject=rid,
                         details={"package": folder.name, "bytes": len(data)}, actor=user.name)
        return Response(data, media_type="application/zip", headers={
            "content-disposition": f'attachment; filename="{_safe_name(rid)}-{folder.name}.zip"'})

    @route("/requests/{rid}/close", ("POST",))
    @c.action("requests.change", back="/requests/{rid}")
    async def request_close(request: Request, user: User, form: FormData) -> Response:
        rid = request.path_params["rid"]
        requests_svc.close_request(app, rid, outcome=_field(form, "outcome"), actor=user.name)
        return c.redirect(request, f"/requests/{rid}", f"Closed {rid}")

    # --- holds -----------------------------------------------------------------------------

    @route("/holds")
    @c.page("retention.read")
    async def holds_page(request: Request, user: User) -> Response:
        everything = request.query_params.get("all") == "1"
        return c.render(request, "holds.html", user, holds=holds.list_holds(app, include_released=everything, objects=False),
                        everything=everything)

    @route("/holds", ("POST",))
    @c.action("holds.change", back="/holds")
    async def hold_add(request: Request, user: User, form: FormData) -> Response:
        since, until = _date(_field(form, "since")), _date(_field(form, "until"))
        hold = holds.add_hold(
            app, reason=_field(form, "reason"), actor=user.name, account=_field(form, "account") or None,
            since=datetime.combine(since, datetime.min.time(), UTC) if since else None,
            until=datetime.combine(until, datetime.max.time(), UTC) if until else None,
            query=_field(form, "query") or None)
        return c.redirect(request, "/holds", f"Hold {hold.id} placed on {hold.items} item(s)")

    @route("/holds/{hid:int}/release", ("POST",))
    @c.action("holds.change", back="/holds")
    async def hold_release(request: Request, user: User, form: FormData) -> Response:
        hid = request.path_params["hid"]
        holds.release_hold(app, hid, reason=_field(form, "reason"), actor=user.name)
        return c.redirect(request, "/holds", f"Hold {hid} released")

    # --- retention -------------------------------------------------------------------------

    @route("/retention")
    @c.page("retention.read")
    async def retention_page(request: Request, user: User) -> Response:
        the_plan = retention.plan(app, actor=user.name)
        eligible = the_plan.eligible_objects("destroy")
        soon = sorted((v for v in the_plan.items if v.retain_until is not None),
                      key=lambda v: v.retain_until)[:25]  # type: ignore[arg-type, return-value]
        return c.render(request, "retention.html", user, plan=the_plan, by_status=the_plan.by_status(),
                        eligible=eligible, soon=soon, approvals=approvals.list_approvals(app),
                        certificates=retention.list_certificates(app),
                        schedule=schedules_svc.show_schedule(app, the_plan.state))

    @route("/retention/adopt", ("POST",))
    @c.action("retention.approve", back="/retention")
    async def retention_adopt(request: Request, user: User, form: FormData) -> Response:
        """Adopt the district's own schedule file (as `archiver schedules adopt FILE`): it is
        validated, checked against the state's, recorded with its approval, and every item is
        re-classified. The upload lives in a private temporary folder only while it is read."""
        upload = form.get("schedule")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        if not data:
            raise ArchiverError("Choose the district's schedule file (YAML) to adopt")
        filename = upload.filename if isinstance(upload, UploadFile) and upload.filename else "district.yaml"
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename).name)[:100] or "district.yaml"
        with tempfile.TemporaryDirectory(prefix="archiver-schedule-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            result = schedules_svc.adopt_schedule(app, path, actor=user.name)
        return c.redirect(request, "/retention", f"Adopted {result.file_name} ({result.district}, {result.series} "
                          f"series) for {result.state}; {result.reclassified} item(s) re-classified")

    @route("/retention/verify", ("POST",))
    @c.action("retention.approve", back="/retention")
    async def retention_verify(request: Request, user: User, form: FormData) -> Response:
        """Record that a records officer checked one series against the official schedule (as
        `archiver schedules verify`): only then may that series dispose automatically."""
        state = (app.settings.state or "").upper()
        result = schedules_svc.verify_series(app, state, _field(form, "series"), citation=_field(form, "citation"),
                                             by=_field(form, "by") or user.name, actor=user.name)
        still = f"; still held back: {'; '.join(result.still_blocked)}" if result.still_blocked else \
            "; it may now dispose automatically"
        return c.redirect(request, "/retention", f"Series {result.series} verified against {result.citation}{still}")

    @route("/retention/propose", ("POST",))
    @c.action("retention.approve", back="/retention")
    async def retention_propose(request: Request, user: User, form: FormData) -> Response:
        proposal = approvals.propose(app, actor=user.name)
        return c.redirect(request, "/retention", f"Proposal {proposal.id} waits for a second records officer")

    @route("/retention/{aid:int}/confirm", ("POST",))
    @c.action("retention.approve", back="/retention")
    async def retention_confirm(request: Request, user: User, form: FormData) -> Response:
        result = approvals.confirm(app, request.path_params["aid"], actor=user.name)
        return c.redirect(request, "/retention", f"Destroyed {len(result.destroyed_objects)} object(s); "
                          f"certificate {result.certificate_id or 'none'}")

    @route("/retention/{aid:int}/cancel", ("POST",))
    @c.action("retention.approve", back="/retention")
    async def retention_cancel(request: Request, user: User, form: FormData) -> Response:
        approvals.cancel(app, request.path_params["aid"], actor=user.name)
        return c.redirect(request, "/retention", "Proposal cancelled")

    @route("/retention/certificates/{cid}.json")
    @c.page("retention.read")
    async def certificate_download(request: Request, user: User) -> Response:
        cid = _safe_name(request.path_params["cid"])
        doc = retention.certificate_document(app, cid)
        audit_svc.record(app, "console.download", subject=f"certificate:{cid}", actor=user.name)
        return Response(json.dumps(doc, indent=2, default=str), media_type="application/json", headers={
            "content-disposition": f'attachment; filename="certificate-{cid}.json"'})

    # --- audit -----------------------------------------------------------------------------

    @route("/audit")
    @c.page("audit.read")
    async def audit_page(request: Request, user: User) -> Response:
        subject = (request.query_params.get("subject") or "").strip() or None
        action = (request.query_params.get("action") or "").strip() or None
        verdict = audit_svc.verify(app) if request.query_params.get("verify") == "1" else None
        entries = audit_svc.list_entries(app, subject=subject, action_prefix=action, limit=200)
        return c.render(request, "audit.html", user, entries=entries, verdict=verdict, subject=subject or "",
                        action=action or "")

    # --- accounts --------------------------------------------------------------------------

    def accounts_listing(request: Request) -> dict[str, Any]:
        """The page of accounts asked for (?page=N, ?q=text), 1,000 accounts or 10."""
        text = (request.query_params.get("q") or "").strip()
        raw = request.query_params.get("page") or "1"
        number = int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1
        listing = accounts_svc.page_accounts(app, offset=(number - 1) * ACCOUNTS_PER_PAGE,
                                             limit=ACCOUNTS_PER_PAGE, text=text or None)
        pages = max(1, -(-listing.total // ACCOUNTS_PER_PAGE))
        return {"accounts": listing.accounts, "listing": listing, "page": number, "pages": pages, "q": text,
                "platforms": _platforms()}

    @route("/accounts")
    @c.page("accounts.read")
    async def accounts_page(request: Request, user: User) -> Response:
        return c.render(request, "accounts.html", user, outcomes=None, **accounts_listing(request))

    @route("/accounts", ("POST",))
    @c.action("accounts.change", back="/accounts")
    async def accounts_add(request: Request, user: User, form: FormData) -> Response:
        """Register an account. The form takes the NAME of the environment variable that holds
        the token on the server, never a token: a token typed into a browser would pass
        through the proxy, the form and the logs."""
        token_env = _field(form, "token_env")
        if token_env and not re.fullmatch(r"[A-Z_][A-Z0-9_]{0,127}", token_env):
            raise ArchiverError("Give the name of the environment variable that holds the token "
                                "(capitals, digits and _, e.g. FB_LINCOLN_TOKEN), never the token itself")
        row = accounts_svc.register_account(
            app, _field(form, "platform"), _field(form, "account_id"), name=_field(form, "name"),
            role=_field(form, "role"), api_base=_field(form, "api_base") or None, token_env=token_env or None,
            replace=bool(_field(form, "replace")), actor=user.name)
        return c.redirect(request, "/accounts", f"Registered {row.label} ({row.name}); check it to prove "
                          "its token works")

    @route("/accounts/check", ("POST",))
    @c.action("accounts.change", back="/accounts")
    async def accounts_check(request: Request, user: User, form: FormData) -> Response:
        selector = _field(form, "account") or None
        outcomes = accounts_svc.check_accounts(app, selector)
        audit_svc.record(app, "account.check", subject=f"account:{selector}" if selector else "accounts",
                         details={"ok": sum(o.ok for o in outcomes), "failed": [o.account for o in outcomes if not o.ok]},
                         actor=user.name)
        return c.render(request, "accounts.html", user, outcomes=outcomes, **accounts_listing(request))

    @route("/accounts/disable", ("POST",))
    @c.action("accounts.change", back="/accounts")
    async def accounts_disable(request: Request, user: User, form: FormData) -> Response:
        row = accounts_svc.disable_account(app, _field(form, "account"), reason=_field(form, "reason"),
                                           actor=user.name)
        return c.redirect(request, "/accounts", f"Disabled {row.label}: it is no longer captured")

    @route("/accounts/enable", ("POST",))
    @c.action("accounts.change", back="/accounts")
    async def accounts_enable(request: Request, user: User, form: FormData) -> Response:
        row = accounts_svc.enable_account(app, _field(form, "account"), actor=user.name)
        return c.redirect(request, "/accounts", f"Enabled {row.label}: it is captured from the next cycle")

    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    if c.config.test_assets is not None:
        routes.append(Mount("/_test", StaticFiles(directory=c.config.test_assets), name="test_assets"))

    async def not_found(request: Request, exc: Exception) -> Response:
        return c.refuse(request, c.user(request), 404, "There is no such page.")

    starlette = Starlette(routes=routes, exception_handlers={404: not_found})
    starlette.state.console = c
    return starlette  # wrapped by `asgi` below


def asgi(app: App, config: ConsoleConfig | None = None) -> Any:
    config = config or ConsoleConfig()
    return ProxyHeaders(SecurityHeaders(build(app, config)), config.proxy)


def _platforms() -> list[str]:
    from connectors import platforms

    return platforms()


def _exports(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted((p.name for p in folder.iterdir() if p.is_dir()), reverse=True)


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()
