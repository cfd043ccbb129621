"""Index-phase CPU of one 1,000-item Facebook sandbox account: a first capture and three
re-captures, in one process (issue 13).

`time.process_time()` around `Outbox.ship` (upload and catalog indexing of each WARC) and
around each whole poll: CPU, so it stays meaningful on a loaded machine where wall time does
not. ROOT (default: this checkout) lets an older checkout be measured the same way.

    python bench/index_cpu.py
    ROOT=/tmp/old-checkout PYTHONPATH=/tmp/old-checkout python bench/index_cpu.py
"""
# ruff: noqa: E401, E402, E702
import json
import os
import sys
import tempfile
import time
from pathlib import Path

root = os.environ.get("ROOT", str(Path(__file__).resolve().parents[1])); sys.path.insert(0, root)
from archiver.app import App
from archiver.core.settings import Settings
from archiver.preservation import outbox as ob
from archiver.sandbox.server import SandboxServer
from archiver.services.accounts import register_account
from archiver.services.archive_home import create_archive
from archiver.services.poll import Poller
from connectors import load_sandbox

tmp = Path(tempfile.mkdtemp())
sb = load_sandbox("facebook"); server = SandboxServer(sb.app).start(); sb.bind(server.url)
seed = sb.seed_bulk(1000)
app = App(Settings(home=tmp / "h", district="B", state="WA", connectors={"facebook": {"api_base": server.url, "page_limit": 100}}))
create_archive(app)
tf = tmp / "tok"; tf.write_text(seed.token); os.chmod(tf, 0o600)
acc = register_account(app, "facebook", seed.raw_id, token_file=str(tf))
spent = []
orig = ob.Outbox.ship
def ship(self, *a, **k):
    c = time.process_time()
    try:
        return orig(self, *a, **k)
    finally:
        spent[-1] += time.process_time() - c
ob.Outbox.ship = ship
p = Poller(app); out = []
for _ in range(4):
    spent.append(0.0); c = time.process_time()
    r = next(iter(p.poll(acc.label)))
    out.append({"poll_cpu": round(time.process_time() - c, 3), "ship_cpu": round(spent[-1], 3), "exchanges": r.exchanges, "new": r.new})
print(json.dumps(out))
server.stop()
