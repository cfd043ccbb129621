"""The sandbox kit's own promises: routes (stacked, shadowed by an instance attribute),
fault switches, token states, gate headers, the item store's cascading delete, the CDN route,
and the generic contract adapter's demo script."""

from __future__ import annotations

import json
from dataclasses import dataclass

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import PlatformSandbox, Store, route
from archiver.sandbox.server import Request, Response


@dataclass
class Row:
    id: str
    parent: str | None = None
    deleted: bool = False


class Fake(PlatformSandbox):
    def __init__(self) -> None:
        super().__init__()
        self.tokens = {"good"}
        self.items: Store[Row] = Store()

    def gate(self, req: Request) -> Response | None:
        if self.token_state(req.query.get("token", "")) != "ok":
            return Response.json({"error": "token"}, 401)
        if self.take("throttle_next"):
            return Response.json({"error": "slow down"}, 429)
        req.reply_headers.append(("X-Left", "9"))
        return None

    @route("/items")
    @route("/items/")
    def items_list(self, req: Request) -> Response:
        return Response.json([r.id for r in self.items.live()])

    @route("/items/{item_id}")
    def items(self, req: Request, item_id: str) -> Response:  # the same name as the store
        row = self.items.get(item_id)
        return Response.json({"id": item_id}) if row and not row.deleted else Response.json({}, 404)


def _get(app: Fake, path: str, token: str = "good") -> Response:
    return app(Request("GET", path, {"token": token}, {}))


def test_routes_faults_tokens_and_gate_headers() -> None:
    app = Fake()
    app.items["1"] = Row("1")
    assert json.loads(_get(app, "/items/").body) == ["1"] and json.loads(_get(app, "/items").body) == ["1"]
    ok = _get(app, "/items/1")
    assert ok.status == 200 and ("X-Left", "9") in ok.headers
    missing = _get(app, "/items/2")
    assert missing.status == 404 and ("X-Left", "9") not in missing.headers  # headers_on_errors is off
    assert _get(app, "/nowhere").status == 404
    app.throttle_next = 1
    assert [_get(app, "/items").status for _ in range(2)] == [429, 200]
    app.expire_token("good")
    assert app.token_state("good") == "expired" and _get(app, "/items").status == 401
    assert app.token_state("") == "missing" and app.token_state("other") == "unknown"


def test_mutate_rewrites_only_successful_json_and_cdn_serves_media() -> None:
    app = Fake()
    app.items["1"] = Row("1")
    app.mutate = lambda path, body: {"changed": path}
    assert json.loads(_get(app, "/items/1").body) == {"changed": "/items/1"}
    assert _get(app, "/items/2").body == b"{}"
    image, video = _get(app, "/cdn/a/b.jpg"), _get(app, "/cdn/c.mp4")
    assert image.body.startswith(b"\xff\xd8") and ("Content-Type", "image/jpeg") in image.headers
    assert ("Content-Type", "video/mp4") in video.headers


def test_store_delete_cascades_and_live_leaves_tombstones_out() -> None:
    store: Store[Row] = Store()
    for row in (Row("p"), Row("c1", "p"), Row("c2", "p"), Row("r", "c1"), Row("q")):
        store[row.id] = row
    store.delete("p", store.live(lambda r: r.parent == "p"), store.live(lambda r: r.parent == "c1"))
    assert [r.id for r in store.live()] == ["q"]
    assert store["c2"].deleted and "p" in store  # deleted rows stay, marked


class FakeContract(ContractAdapter):
    platform = "fake"
    token = "good"
    sandbox: Fake

    def __init__(self) -> None:
        super().__init__(Fake())
        self.calls: list[str] = []

    def seed_account(self) -> SeededAccount:
        for n in range(3):
            self.sandbox.items[str(n)] = Row(str(n))
        return SeededAccount("acct", "acct", self.token, "Fake")

    def live_item_ids(self, account_id: str) -> set[str]:
        return {r.id for r in self.sandbox.items.live()}

    def publish(self, account_id: str) -> str:
        self.sandbox.items["9"] = Row("9")
        return "9"

    def edit(self, item_id: str) -> None:
        self.calls.append(f"edit {item_id} #{self.next_edit()}")

    def delete(self, item_id: str) -> None:
        self.sandbox.items.delete(item_id)


def test_generic_adapter_runs_the_demo_script_once_seeded() -> None:
    contract = FakeContract()
    assert contract.demo_accounts() == contract.demo_accounts()  # seeded once
    assert contract.before_cycle(2) == 1
    assert contract.calls == ["edit 0 #1"] and contract.sandbox.throttle_next == 1 and "9" in contract.sandbox.items
    assert contract.before_cycle(3) == 0 and contract.sandbox.items["9"].deleted
    contract.expire_token("good")
    assert contract.sandbox.token_state("good") == "expired"
