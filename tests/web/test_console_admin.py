"""The console's administrative pages over HTTP (issue 15): the dashboard (alerts, accounts and
their problems, requests by due date, holds, what retention destroys next), registering,
checking, disabling and enabling accounts, adopting and verifying retention schedules; who may
do each, CSRF, the audit events, and the dashboard's query count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import event, select

from archiver.app import App
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.daemon.leases import due_filter
from archiver.services import accounts as accounts_svc
from archiver.services import alerts, holds
from archiver.services import audit as audit_svc
from archiver.services import requests as requests_svc
from archiver.services.poll import Poller
from tests.web.conftest import ConsoleArchive
from tests.web.test_console import _csrf, signed_in

KS_DISTRICT = Path(__file__).parents[1] / "retention" / "fixtures" / "KS_district.yaml"


@pytest.fixture(scope="module")
def app(console_archive: ConsoleArchive) -> Iterator[App]:
    app = console_archive.app()
    yield app
    app.close()


def _entries(app: App, action: str) -> list[Any]:
    return audit_svc.list_entries(app, action_prefix=action)


def _account(app: App, label: str) -> accounts_svc.AccountInfo:
    return accounts_svc.select_accounts(app, label)[0]


# --- accounts -------------------------------------------------------------------------------


def test_an_operator_registers_disables_and_enables_an_account(app: App) -> None:
    client = signed_in(app, "olive")
    page = client.get("/accounts")
    assert page.status_code == 200 and "Register an account" in page.text
    token = _csrf(page.text)
    added = client.post("/accounts", data={"csrf": token, "platform": "facebook", "account_id": "1000777",
                                           "name": "Roosevelt Middle School", "role": "school",
                                           "token_env": "FB_ROOSEVELT_TOKEN"})
    assert added.status_code == 303
    assert "Registered facebook:1000777" in client.get("/accounts").text
    row = _account(app, "facebook:1000777")
    assert (row.name, row.role, row.token_ref) == ("Roosevelt Middle School", "school", "env:FB_ROOSEVELT_TOKEN")
    entry = _entries(app, "account.register")[0]
    assert (entry.actor, entry.subject, entry.details["token"]) == ("olive", "account:facebook:1000777", "env")

    # disabling needs a reason, and then the account is skipped by the daemon and by `poll`
    assert client.post("/accounts/disable", data={"csrf": token, "account": "facebook:1000777"}).status_code == 303
    assert "Say why" in client.get("/accounts").text and _account(app, "facebook:1000777").status == "new"
    client.post("/accounts/disable", data={"csrf": token, "account": "facebook:1000777", "reason": "school merged"})
    page = client.get("/accounts")
    assert "Disabled facebook:1000777" in page.text and "Enable facebook:1000777" in page.text
    assert _account(app, "facebook:1000777").status == "disabled"
    entry = _entries(app, "account.disable")[0]
    assert (entry.actor, entry.subject, entry.details) == ("olive", "account:facebook:1000777",
                                                           {"reason": "school merged"})
    now = app.clock.now() + timedelta(days=3650)  # whatever the sandbox's clock said
    with app.catalog.session() as s:
        due = set(s.scalars(select(t.Account.account_id).where(*due_filter(now, timedelta(minutes=1)))))
    assert "1000777" not in due and due  # the archive's own accounts are still due
    with pytest.raises(Exception, match="is disabled"):
        Poller(app).poll("facebook:1000777")

    client.post("/accounts/enable", data={"csrf": token, "account": "facebook:1000777"})
    assert _account(app, "facebook:1000777").status == "new"
    assert _entries(app, "account.enable")[0].actor == "olive"
    with app.catalog.session() as s:
        assert s.scalar(select(t.Account.id).where(t.Account.account_id == "1000777",
                                                   *due_filter(now, timedelta(minutes=1)))) is not None


def test_the_account_form_takes_a_variable_name_never_a_token(app: App) -> None:
    client = signed_in(app, "pat")
    token = _csrf(client.get("/accounts").text)
    before = len(accounts_svc.list_accounts(app))
    for value in ("EAAGm0PX4ZCpsBAKZC7ZBlongsecret", "fb token", "$(reboot)"):
        response = client.post("/accounts", data={"csrf": token, "platform": "facebook", "account_id": "1000778",
                                                  "token_env": value})
        assert response.status_code == 303
        page = client.get("/accounts").text
        assert "never the token itself" in page and value not in page
    assert len(accounts_svc.list_accounts(app)) == before
    assert not any("1000778" in e.subject for e in audit_svc.list_entries(app))


@pytest.mark.parametrize("name", ["chris", "alex"])
def test_a_clerk_or_an_auditor_cannot_change_accounts(app: App, name: str) -> None:
    client = signed_in(app, name)
    page = client.get("/accounts")
    assert page.status_code == 200
    assert "Register an account" not in page.text and "Disable" not in page.text
    token = _csrf(page.text)
    label = accounts_svc.list_accounts(app)[0].label
    before = [(a.label, a.status) for a in accounts_svc.list_accounts(app)]
    events = len(audit_svc.list_entries(app))
    for path, data in (("/accounts", {"platform": "facebook", "account_id": "1000779", "token_env": "X"}),
                       ("/accounts/disable", {"account": label, "reason": "r"}),
                       ("/accounts/enable", {"account": label}), ("/accounts/check", {"account": label})):
        response = client.post(path, data={"csrf": token, **data})
        assert response.status_code == 403, path
    assert [(a.label, a.status) for a in accounts_svc.list_accounts(app)] == before
    assert len(audit_svc.list_entries(app)) == events


def test_the_new_forms_refuse_a_post_without_the_csrf_token(app: App) -> None:
    client = signed_in(app, "pat")
    label = accounts_svc.list_accounts(app)[0].label
    before = [(a.label, a.status) for a in accounts_svc.list_accounts(app)]
    events = len(audit_svc.list_entries(app))
    for path, data in (("/accounts", {"platform": "facebook", "account_id": "1000780", "token_env": "X"}),
                       ("/accounts/disable", {"account": label, "reason": "r"}), ("/accounts/enable", {"account": label}),
                       ("/retention/verify", {"series": "GS2010-001", "citation": "c", "by": "b"})):
        for forged in ({}, {"csrf": "forged"}):
            response = client.post(path, data={**data, **forged})
            assert response.status_code == 403 and "CSRF" in response.text, path
    assert [(a.label, a.status) for a in accounts_svc.list_accounts(app)] == before
    assert len(audit_svc.list_entries(app)) == events


def test_the_cli_disables_and_enables_through_the_same_service(console_archive: ConsoleArchive,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVER_HOME", str(console_archive.home))
    monkeypatch.setenv("ARCHIVER_ACTOR", "cli-officer")
    runner = CliRunner()
    label = "facebook:1000779"  # its own account: xdist may run the registering test elsewhere
    app = console_archive.app()
    try:
        accounts_svc.register_account(app, "facebook", "1000779", token_env="X", replace=True)
        result = runner.invoke(cli, ["accounts", "disable", label, "--reason", "closed"])
        assert result.exit_code == 0, result.output
        assert _account(app, label).status == "disabled"
        assert _entries(app, "account.disable")[0].actor == "cli-officer"
        assert runner.invoke(cli, ["accounts", "enable", label]).exit_code == 0
        assert _account(app, label).status == "new"
        again = runner.invoke(cli, ["accounts", "enable", label])
        assert again.exit_code != 0 and "already enabled" in again.output
    finally:
        app.close()


# --- retention schedules ---------------------------------------------------------------------


def test_a_records_officer_verifies_a_series_and_a_clerk_cannot(app: App) -> None:
    clerk = signed_in(app, "chris")
    page = clerk.get("/retention")
    assert "Schedule in force" in page.text and "Record the verification" not in page.text
    refused = clerk.post("/retention/verify", data={"csrf": _csrf(page.text), "series": "GS2010-001",
                                                    "citation": "CORE v5.0 p.9", "by": "Chris"})
    assert refused.status_code == 403 and not _entries(app, "schedule.verify")

    client = signed_in(app, "pat")
    page = client.get("/retention")
    assert "Record the verification" in page.text and "GS2010-001" in page.text
    done = client.post("/retention/verify", data={"csrf": _csrf(page.text), "series": "GS2010-001",
                                                  "citation": "CORE v5.0 p.9", "by": "Pat Officer"})
    assert done.status_code == 303
    assert "Series GS2010-001 verified against CORE v5.0 p.9" in client.get("/retention").text
    entry = _entries(app, "schedule.verify")[0]
    assert (entry.actor, entry.subject, entry.details["verified_by"]) == ("pat", "series:WA:GS2010-001", "Pat Officer")
    assert "verified by Pat Officer: CORE v5.0 p.9" in client.get("/retention").text


def test_a_records_officer_adopts_the_district_schedule_from_the_browser(app: App) -> None:
    client = signed_in(app, "pat")
    token = _csrf(client.get("/retention").text)
    wrong = client.post("/retention/adopt", data={"csrf": token},
                        files={"schedule": ("usd999.yaml", KS_DISTRICT.read_bytes(), "application/yaml")})
    assert wrong.status_code == 303
    assert "state: KS is not this archive&#39;s state WA" in client.get("/retention").text
    assert not _entries(app, "schedule.adopt")

    data = yaml.safe_load(KS_DISTRICT.read_text())
    data.update(state="WA", district="Test School District")
    clerk = signed_in(app, "chris")
    upload = {"schedule": ("../../tsd schedule.yaml", yaml.safe_dump(data).encode(), "application/yaml")}
    assert clerk.post("/retention/adopt", data={"csrf": _csrf(clerk.get("/retention").text)},
                      files=upload).status_code == 403
    adopted = client.post("/retention/adopt", data={"csrf": token}, files=upload)
    assert adopted.status_code == 303
    page = client.get("/retention").text
    assert "Adopted tsd_schedule.yaml (Test School District, 1 series) for WA" in page
    assert "with the district schedule of Test School District" in page and "USD999-SM-1" in page
    entry = _entries(app, "schedule.adopt")[0]
    assert (entry.actor, entry.subject, entry.details["file"]) == ("pat", "schedule:WA", "tsd_schedule.yaml")


# --- the dashboard ---------------------------------------------------------------------------


def _problem_account(app: App) -> str:
    label = accounts_svc.list_accounts(app)[0].label
    with app.catalog.session() as s:
        row = s.scalar(select(t.Account).where(t.Account.id == _account(app, label).id))
        assert row is not None
        row.status, row.status_message = "needs-attention", "The token was revoked; issue a new one"
    alerts.reconcile(app, kinds=["credential"])
    return label


def test_the_dashboard_shows_alerts_requests_holds_and_what_comes_due(app: App) -> None:
    label = _problem_account(app)
    late = requests_svc.open_request(app, requester="Late Requester", received=date(2020, 1, 6),
                                     description="old bus records", actor="pat")
    hold = holds.add_hold(app, reason="Board litigation 2026", actor="pat", account=label)
    try:
        page = signed_in(app, "pat").get("/").text
        assert "Open alerts (1)" in page and "The token was revoked; issue a new one" in page
        assert f"<td>{late.id}</td>" in page or f">{late.id}</a>" in page
        assert "overdue" in page
        assert "Holds in force (1)" in page and "Board litigation 2026" in page
        assert "What retention would destroy next" in page
        due = page.split("What retention would destroy next", 1)[1]
        assert "Kept until" in due and "no: under a hold" in due  # every item is that account's

        operator = signed_in(app, "olive").get("/").text
        assert "The token was revoked" in operator and label in operator
        assert "Late Requester" not in operator and "What retention would destroy next" not in operator
        assert "Board litigation" not in operator
    finally:
        holds.release_hold(app, hold.id, reason="test over", actor="pat")
        requests_svc.close_request(app, late.id, outcome="withdrawn", actor="pat")


def test_the_dashboard_costs_the_same_queries_for_one_account_or_many(app: App) -> None:
    client = signed_in(app, "pat")
    count = {"n": 0}

    def counter(*args: Any) -> None:
        count["n"] += 1

    def queries() -> int:
        count["n"] = 0
        assert client.get("/").status_code == 200
        return count["n"]

    _problem_account(app)  # one of each first: an empty list may skip a query, which is no N+1
    first = requests_svc.open_request(app, requester="First", received=date(2026, 1, 5), description="bus",
                                      actor="pat")
    requests_svc.add_items(app, first.id, query="bus", actor="pat")
    event.listen(app.catalog.engine, "before_cursor_execute", counter)
    try:
        before = queries()
        for n in range(5):
            accounts_svc.register_account(app, "facebook", f"20000{n}", name=f"School {n}",
                                          token_env="NO_SUCH_TOKEN_VARIABLE", actor="pat")
            opened = requests_svc.open_request(app, requester=f"Requester {n}", received=date(2026, 1, 5),
                                      description="bus", actor="pat")
            requests_svc.add_items(app, opened.id, query="bus", actor="pat")
        with app.catalog.session() as s:
            for row in s.scalars(select(t.Account).where(t.Account.account_id.like("20000%"))):
                row.status, row.status_message = "needs-attention", "revoked"
        alerts.reconcile(app, kinds=["credential"])
        after = queries()
    finally:
        event.remove(app.catalog.engine, "before_cursor_execute", counter)
    assert len(alerts.open_alerts(app)) >= 5
    assert after == before, (before, after)  # five more accounts, alerts and requests: no query each


def test_what_comes_due_is_the_soonest_retention_dates(app: App) -> None:
    from archiver.services.retention import coming_due

    with app.catalog.session() as s:
        dates = sorted(d for d in s.scalars(select(rt.ItemRetention.retain_until)) if d is not None)
    shown = coming_due(app, limit=3)
    assert [d.retain_until for d in shown] == dates[:3]
    assert all(d.account.startswith("facebook:") for d in shown)


def test_a_disabled_account_raises_no_gap_alert_and_is_not_token_checked(app: App,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from archiver.daemon.jobs import run_token_sweep

    def check(app: App, account: accounts_svc.AccountInfo) -> accounts_svc.CheckOutcome:
        return accounts_svc.CheckOutcome(account.label, False, "checked")  # no call to any platform

    monkeypatch.setattr(accounts_svc, "check_account", check)
    label = "facebook:1000888"
    accounts_svc.register_account(app, "facebook", "1000888", token_env="NO_SUCH_TOKEN_VARIABLE", actor="pat")
    with app.catalog.session() as s:
        row = s.scalar(select(t.Account).where(t.Account.account_id == "1000888"))
        assert row is not None
        row.created_at = app.clock.now() - timedelta(days=30)  # never captured, for a month
    accounts_svc.disable_account(app, label, reason="closed", actor="pat")
    alerts.reconcile(app, kinds=["gap"])
    assert label not in {a.subject for a in alerts.open_alerts(app)}
    assert label not in json.loads(run_token_sweep(app)[1])["failed"]

    accounts_svc.enable_account(app, label, actor="pat")  # the same account, enabled: both see it
    alerts.reconcile(app, kinds=["gap"])
    assert label in {a.subject for a in alerts.open_alerts(app)}
    assert label in json.loads(run_token_sweep(app)[1])["failed"]
    accounts_svc.disable_account(app, label, reason="closed", actor="pat")


def test_what_comes_due_says_held_exactly_when_the_plan_would(app: App, console_archive: ConsoleArchive) -> None:
    """`coming_due` decides "under a hold" per shown item without listing each hold's items;
    it must agree with `held_items`, the rule the plan uses, for every kind of hold."""
    from datetime import UTC, datetime

    from archiver.retention.holds import held_items
    from archiver.services.retention import coming_due, holds_in_force

    for r in requests_svc.list_requests(app):  # earlier tests' requests hold what they found
        requests_svc.close_request(app, r.id, outcome="withdrawn", actor="pat")
    for h in holds_in_force(app):
        holds.release_hold(app, h.id, reason="test isolation", actor="pat")
    due = coming_due(app, limit=50)
    assert due, "the archive has an item with a retention date"
    label = due[0].account
    other = console_archive.post if due[0].item_id != console_archive.post else console_archive.phone_comment
    far = datetime(2100, 1, 1, tzinfo=UTC)
    cases = [dict(account=label), dict(account=label, since=far), dict(until=datetime(2000, 1, 1, tzinfo=UTC)),
             dict(item_ids=[due[0].item_id]), dict(item_ids=[other]), dict(account=label, item_ids=[other]),
             dict(query="anger"), dict(query="Thursday"), {}]
    seen = set()
    for scope in cases:
        hold = holds.add_hold(app, reason="consistency", actor="pat", **scope)  # type: ignore[arg-type]
        try:
            with app.catalog.session() as s:
                held = held_items(s)
                pk = {(p, i): k for k, p, i in s.execute(select(t.Item.id, t.Item.platform, t.Item.item_id))}
            for d in coming_due(app, limit=50):
                expected = pk[(d.platform, d.item_id)] in held
                assert d.held == expected, (scope, d.item_id, d.held)
                seen.add(expected)
        finally:
            holds.release_hold(app, hold.id, reason="done", actor="pat")
    assert seen == {True, False}  # both answers were put to the test
