"""The local runtime survives a restart without losing work (issue 20): `up` in its own process,
stopped with SIGTERM (what Ctrl-C and a service manager do) or killed with SIGKILL, then started
again on the same state directory.

1. SIGTERM in the middle of the saga (confirmation emails in flight, shipments queued behind a
   paused carrier): after the restart every order reaches exactly one terminal state, stock is
   conserved, each paid order gets one email, an order resent with its Idempotency-Key is the same
   order (and paid once), and `--fresh` starts empty.
2. A stop when everything is done: the restarted stream pollers resume from their checkpoints
   (nothing is published or projected again).
3. kill -9 of moto and the runtime together: what the last periodic snapshot held is back, and the
   snapshot was at most one interval old.

The saga's five services as commerce_support deploys them (2 s carrier transit, no batching
windows), with the CLI's own switches for the rest (--retry-after 0, --schedule-speed 60).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from devtools import manifest as mf
from devtools.local.identity import find_user_pool
from devtools.local.soak import RuntimeProcess, children, cmdline

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-restart")]


def _load_support():
    name = "e2e_commerce_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("commerce_support.py"))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()
SNAPSHOT_SECONDS = 2.0  # test 3's interval (the default is state.DEFAULT_SNAPSHOT_SECONDS)


class Remote:
    """What commerce_support.Shop and Tap use of a Runtime, for one running in another process."""

    def __init__(self, process: RuntimeProcess) -> None:
        ep = process.endpoints
        self.endpoints = ep
        self.gateway = SimpleNamespace(url=ep["gateway"])
        tables = {
            f"{svc}:{table}": mf.table_name(ep["env"], svc, table)
            for svc, table in [
                ("payments", "payments"),
                ("orders", "views"),
                ("orders", "events"),
                ("inventory", "stock"),
                ("shipping", "shipments"),
            ]
        }
        pool = find_user_pool(self.client("cognito-idp"), ep["env"], ep["region"])
        self.topology = SimpleNamespace(tables=tables, bus=mf.bus_name(ep["env"]), user_pool=pool)

    def client(self, name: str) -> Any:
        return boto3.client(
            name,
            endpoint_url=self.endpoints["moto"],
            region_name=self.endpoints["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def emails(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.endpoints["moto"] + "/_local/ses/sent-messages", timeout=30) as resp:
            return json.loads(resp.read())

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoints["control"] + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def invocations(self, function: str) -> list[dict[str, Any]]:
        return self.control("GET", f"/invocations?function={function}&limit=100000")


def _process(where: Path, *extra: str) -> RuntimeProcess:
    services = support.saga_services_root(where, **{k: v for k, v in support.E2E_TUNING.items() if k != "environment"})
    args = ["--services", str(services), "--retry-after", "0", "--schedule-speed", "60", *extra]
    args += ["--function-env", "shipping.carrier_handover:CARRIER_TRANSIT_SECONDS=2"]
    return RuntimeProcess(where / "state", args)


@pytest.fixture
def runtime_process(tmp_path):
    process = _process(tmp_path)
    process.state_dir.mkdir(parents=True)
    yield process
    process.stop()


def _seed(shop, sku: str, quantity: int) -> None:
    shop.seed_rates()
    shop.put_stock(sku, quantity, "19.99")
    shop.wait_listed([sku], markets=("eu",))


def _terminal_events(shop, order_id: str) -> list[str]:
    final = {"OrderDelivered", "OrderRejected", "OrderPaymentFailed", "OrderCancelled"}
    return [e["detail_type"] for e in shop.history(order_id) if e["detail_type"] in final]


# --------------------------------------------------------------------------- 1. SIGTERM mid-saga


def test_sigterm_mid_saga_then_restart_loses_nothing(runtime_process, tmp_path):
    process = runtime_process
    process.start(fresh=True)
    rt = Remote(process)
    shop = support.Shop(rt)
    sku = "RESTART-" + uuid.uuid4().hex[:6].upper()
    stock = 6
    _seed(shop, sku, stock)
    ok, declined = support.CARD_OK, support.CARD_DECLINED  # each customer's own payment method for them

    # Mid-saga: the confirmation emails take 4 s each (in flight when we stop) and the carrier is
    # paused (shipments wait in its queue).
    rt.control("POST", "/faults", {"latency_ms": 4000, "functions": ["notifications.send_confirmation"]})
    rt.control("POST", "/mappings", {"function": "shipping.carrier_handover", "enabled": False})
    placed: dict[str, tuple[str, int, str, dict[str, str]]] = {}  # order id -> (kind, quantity, key, customer)
    plan = [("paid", 1), ("paid", 2), ("declined", 1), ("paid", 1), ("rejected", 5), ("paid", 1)]
    for kind, quantity in plan:
        key, who = str(uuid.uuid4()), support.customer("de-DE")
        status, order = shop.place(who, "EUR", [(sku, quantity)], declined if kind == "declined" else ok, key)
        assert status == 201, order
        placed[order["order_id"]] = (kind, quantity, key, who)
    paid = [o for o, (kind, *_) in placed.items() if kind == "paid"]
    # Every paid order's confirmation is being written (4 s each) and its shipment waits: stop now.
    shop.wait_status(paid, support.PAID_OR_LATER)
    stop_seconds = process.stop()
    assert process.proc is not None and process.proc.returncode == 0
    saved = (process.state_dir / "up.log").read_text()
    assert "state saved in" in saved, saved[-2000:]

    # -- start again on the same state directory (no --fresh); the faults and the paused mapping
    # were settings of the old process: the new one runs with the command line's.
    process.start(fresh=False)
    log = (process.state_dir / "up.log").read_text()
    assert "restored " in log
    rt = Remote(process)
    shop = support.Shop(rt, continuing=shop)  # the same customers: their tokens verify after the restart
    statuses = shop.wait_status(list(placed), support.FINAL, timeout=120)
    expected = {"paid": "Delivered", "declined": "PaymentFailed", "rejected": "Rejected"}
    assert statuses == {o: expected[kind] for o, (kind, *_) in placed.items()}, statuses
    for order_id in placed:
        assert len(_terminal_events(shop, order_id)) == 1, (order_id, shop.history(order_id))

    # Stock conserved: what the delivered orders reserved is gone, the rest is available.
    sold = sum(q for kind, q, *_ in placed.values() if kind == "paid")
    support.eventually(lambda: shop.stock(sku)["reserved"] == sold, "reservations settled")
    level = shop.stock(sku)
    assert (level["available"], level["reserved"]) == (stock - sold, sold)

    # One email per paid order, none for the others.
    def mails() -> Counter:
        return Counter(to for m in rt.emails() for to in m.get("to") or [] if to.endswith("@customer.example"))

    emails_by_order = {o: who["email"] for o, (*_, who) in placed.items()}
    support.eventually(lambda: all(mails()[emails_by_order[o]] >= 1 for o in paid), "every confirmation sent")
    time.sleep(2)  # a duplicate would come right behind
    counts = mails()
    assert {o: counts[emails_by_order[o]] for o in placed} == {
        o: 1 if kind == "paid" else 0 for o, (kind, *_) in placed.items()
    }

    # The report: an order resent with its old Idempotency-Key is the same order, paid once.
    first = paid[0]
    kind, quantity, key, who = placed[first]
    status, again = shop.place(who, "EUR", [(sku, quantity)], ok, key)
    assert status in (200, 201, 409) and (status == 409 or again["order_id"] == first), again
    payment = shop.payment(first)
    assert payment and payment["state"] == "captured" and int(payment["attempts"]) == 1
    assert shop.statuses([first]) == {first: "Delivered"}
    print(f"SIGTERM stop took {stop_seconds:.1f} s")

    # -- --fresh starts empty
    process.stop()
    process.start(fresh=True)
    rt = Remote(process)
    assert support.Shop(rt, continuing=shop).order(first)[0] == 404  # the order, its customer: all gone
    assert not (process.state_dir / "up.log").read_text().rsplit("local runtime ready", 1)[1].count("restored ")


# --------------------------------------------------------------------------- 2. checkpoints


def test_stream_pollers_resume_from_their_checkpoint(runtime_process):
    process = runtime_process
    process.start(fresh=True)
    rt = Remote(process)
    shop = support.Shop(rt)
    sku = "CKPT-" + uuid.uuid4().hex[:6].upper()
    _seed(shop, sku, 10)
    card = support.CARD_OK  # tokenised for each customer who pays with it
    orders = [shop.place(support.customer("en-GB"), "EUR", [(sku, 1)], card)[1]["order_id"] for _ in range(3)]
    shop.wait_status(orders, {"Delivered"})
    records = {fn: sum(len(i["records"]) for i in rt.invocations(fn)) for fn in ("orders.relay", "orders.projection")}
    assert all(records.values()), records
    process.stop()

    process.start(fresh=False)
    rt = Remote(process)
    # The journal came back (trace works for what happened before the restart) ...
    assert {fn: sum(len(i["records"]) for i in rt.invocations(fn)) for fn in records} == records
    time.sleep(3)  # the pollers have polled their shards several times
    # ... and nothing was delivered again: no new relay or projection invocation.
    assert {fn: sum(len(i["records"]) for i in rt.invocations(fn)) for fn in records} == records
    # A new order goes through: the pollers read on from where they were.
    shop = support.Shop(rt, continuing=shop)
    new = shop.place(support.customer("en-GB"), "EUR", [(sku, 1)], card)[1]["order_id"]
    shop.wait_status([new], {"Delivered"})
    after = {fn: sum(len(i["records"]) for i in rt.invocations(fn)) for fn in records}
    assert all(after[fn] > records[fn] for fn in records)


# --------------------------------------------------------------------------- 3. kill -9


def test_kill_9_loses_at_most_the_last_snapshot_interval(tmp_path):
    process = _process(tmp_path, "--snapshot-seconds", str(SNAPSHOT_SECONDS))
    process.state_dir.mkdir(parents=True)
    try:
        process.start(fresh=True)
        rt = Remote(process)
        shop = support.Shop(rt)
        sku = "KILL-" + uuid.uuid4().hex[:6].upper()
        _seed(shop, sku, 10)
        card = support.CARD_OK  # tokenised for each customer who pays with it
        early = [shop.place(support.customer("fr-FR"), "EUR", [(sku, 1)], card)[1]["order_id"] for _ in range(2)]
        shop.wait_status(early, {"Delivered"})
        done_at = time.time()
        time.sleep(SNAPSHOT_SECONDS * 2.5)  # at least two periodic snapshots since
        late = shop.place(support.customer("fr-FR"), "EUR", [(sku, 1)], card)[1]["order_id"]

        state = json.loads(urllib.request.urlopen(rt.endpoints["moto"] + "/_local/state", timeout=30).read())
        runtime_pid = rt.endpoints["pid"]
        moto = [p for p in children(runtime_pid) if "motoserver" in cmdline(p)]
        workers = [p for p in children(runtime_pid) if p not in moto]
        killed_at = time.time()
        for pid in [*moto, runtime_pid, *workers]:  # moto first: it must not save at its exit
            os.kill(pid, signal.SIGKILL)
        process.proc.wait()  # type: ignore[union-attr]
        last = state["last"]["at"]
        assert last >= done_at and killed_at - last <= SNAPSHOT_SECONDS + 1.5, (done_at, last, killed_at)

        process.start(fresh=False)
        rt = Remote(process)
        shop = support.Shop(rt, continuing=shop)
        # Everything that was done before the last snapshot is back.
        assert shop.statuses(early) == {o: "Delivered" for o in early}
        # The late order may or may not have made the last snapshot: if it did, it completes.
        status, _ = shop.order(late)
        if status == 200:
            shop.wait_status([late], {"Delivered"})
        # The restored runtime takes new work.
        new = shop.place(support.customer("fr-FR"), "EUR", [(sku, 1)], card)[1]["order_id"]
        shop.wait_status([new], {"Delivered"})
    finally:
        process.stop()
