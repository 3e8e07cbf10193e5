"""The e-commerce saga end to end on the local runtime: orders, payments, inventory,
notifications and shipping, as deployed (their manifests, handlers and queues), on one runtime
for the module.

The acceptance points of the issue, one test each:
1. an order is paid, confirmed by email in the customer's language (de-DE/EUR, ja-JP/JPY),
   shipped and delivered;
2. a declined card releases the stock and the order ends PaymentFailed;
3. 50 concurrent orders for 10 units: exactly 10 paid, 40 rejected, stock never negative,
   no rejected order charged;
4. every message delivered twice and 20% of invocations failing: the same final orders, stock,
   payments and emails as a fault-free run of the same scenario;
5. as_of gives the state at a past moment; the view rebuilt from the store equals the live one.

The manifests are deployed as written except two knobs (commerce_support.E2E_TUNING): a 2 s
carrier transit instead of 90 s, and no batching windows. Nothing asserts on time: every wait
is a generous poll. Every request carries a real token of the local user pool: operations as a
staff user, each order as its own customer.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools import manifest as mf

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-commerce")]


def _load_support():
    """tests/e2e is not a package (importlib mode): load the helper module by its path."""
    name = "e2e_commerce_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("commerce_support.py"))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()
NBSP = "\u00a0"  # what CLDR puts between a German amount and its currency sign
TIMES = "\u00d7"  # the multiplication sign of the email lines ("2 x SKU")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except (ProcessLookupError, OSError):
        return False


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    rt = support.start_runtime(tmp_path_factory.mktemp("e2e-commerce"))
    children: list[int] = []
    try:
        yield rt
    finally:
        children = rt.child_pids()
        rt.stop()
    leftovers = [pid for pid in children if _alive(pid)]
    assert not leftovers, f"processes left behind: {leftovers}"


@pytest.fixture(scope="module")
def tap(runtime):
    return support.Tap(runtime)


@pytest.fixture(scope="module")
def shop(runtime, tap):
    shop = support.Shop(runtime)
    shop.seed_rates()
    return shop


@pytest.fixture(scope="module")
def cards():
    """Card numbers: each customer's order pays with their own payment method for the card (the shop
    tokenises it for them: a payment method belongs to the customer who registered it)."""
    return {"ok": support.CARD_OK, "declined": support.CARD_DECLINED, "no_funds": support.CARD_NO_FUNDS}


@pytest.fixture(scope="module")
def journey(shop, cards):
    """Two customers order one lamp SKU: de-DE in EUR (2 x 1,234.50) and ja-JP in JPY (1 x)."""
    sku = "LAMP-" + uuid.uuid4().hex[:6].upper()
    shop.put_stock(sku, 10, "1234.50")
    shop.wait_listed([sku])
    placed = {}
    for locale, currency, quantity in (("de-DE", "EUR", 2), ("ja-JP", "JPY", 1)):
        who = support.customer(locale)
        key = str(uuid.uuid4())
        status, order = shop.place(who, currency, [(sku, quantity)], cards["ok"], key=key)
        assert status == 201, order
        placed[locale] = {"customer": who, "key": key, "response": order, "currency": currency, "qty": quantity}
    ids = [p["response"]["order_id"] for p in placed.values()]
    final = shop.wait_status(ids, support.FINAL)
    return {"sku": sku, "placed": placed, "final": final}


# --------------------------------------------------------------------------- 1. the happy path


def test_order_is_paid_confirmed_in_the_customers_language_shipped_and_delivered(shop, journey, cards):
    de, ja = journey["placed"]["de-DE"], journey["placed"]["ja-JP"]
    # priced from inventory's listings: EUR as listed; JPY converted at 161.20, no minor unit
    assert de["response"]["total"] == {"amount": "2469.00", "currency": "EUR"}
    assert ja["response"]["total"] == {"amount": "199001", "currency": "JPY"}  # 1234.50 x 161.20 = 199001.4
    assert de["response"]["status"] == "Placed"

    for p in (de, ja):
        order_id = p["response"]["order_id"]
        assert journey["final"][order_id] == "Delivered"
        status, view = shop.order(order_id)
        assert status == 200 and view["status"] == "Delivered"
        assert view["payment"] and view["shipment"], view
        history = shop.history(order_id)
        assert [e["detail_type"] for e in history] == [
            "OrderPlaced",
            "PaymentReceived",
            "OrderShipped",
            "OrderDelivered",
        ]
        assert [e["version"] for e in history] == [1, 2, 3, 4]
        moments = [support.parse_iso(e["occurred_at"]) for e in history]
        assert moments == sorted(moments)

    # the same Idempotency-Key and body: the same order, nothing new in its stream
    status, again = shop.place(de["customer"], "EUR", [(journey["sku"], 2)], cards["ok"], key=de["key"])
    assert status == 201 and again["order_id"] == de["response"]["order_id"]
    assert len(shop.history(de["response"]["order_id"])) == 4
    # the same key with another body is refused
    status, _ = shop.place(de["customer"], "EUR", [(journey["sku"], 1)], cards["ok"], key=de["key"])
    assert status == 422

    # exactly one confirmation each, in the customer's language, money formatted for the locale
    [de_mail] = shop.emails_to(de["customer"]["email"])
    assert de_mail["subject"] == f"Ihre Bestellung {de['response']['order_id']} ist bestätigt"
    assert f"Gesamtbetrag: 2.469,00{NBSP}€" in de_mail["text"]
    assert f"2 {TIMES} {journey['sku']} zu je 1.234,50{NBSP}€" in de_mail["text"]
    assert "(CET)" in de_mail["text"]  # placed-at time in Europe/Berlin
    [ja_mail] = shop.emails_to(ja["customer"]["email"])
    assert ja_mail["subject"] == f"ご注文 {ja['response']['order_id']} を承りました"
    assert "合計: ￥199,001" in ja_mail["text"]
    assert "(JST)" in ja_mail["text"]
    assert "Your order" not in de_mail["subject"] + ja_mail["subject"]

    stock = shop.stock(journey["sku"])
    assert (stock["available"], stock["reserved"]) == (7, 3)


# --------------------------------------------------------------------------- 2. declined card


def test_declined_card_releases_the_stock_and_the_order_ends_payment_failed(shop, tap, cards):
    sku = "KETTLE-" + uuid.uuid4().hex[:6].upper()
    shop.put_stock(sku, 5, "49.90")
    shop.wait_listed([sku], ["eu"])
    who = support.customer("fr-FR")
    status, order = shop.place(who, "EUR", [(sku, 2)], cards["declined"])
    assert status == 201, order
    order_id = order["order_id"]

    assert shop.wait_status([order_id], support.FINAL)[order_id] == "PaymentFailed"
    assert [e["detail_type"] for e in shop.history(order_id)] == ["OrderPlaced", "OrderPaymentFailed"]
    # the reservation happened (payment is only taken for reserved stock) and was released
    assert tap.events("StockReserved", lambda d: d["order_id"] == order_id)
    support.eventually(lambda: shop.stock(sku)["available"] == 5, "stock released", detail=lambda: shop.stock(sku))
    assert shop.stock(sku)["reserved"] == 0
    [released] = {e["_event_id"]: e for e in tap.events("StockReleased", lambda d: d["order_id"] == order_id)}.values()
    assert released["reason"] == "payment_failed"
    payment = shop.payment(order_id)
    assert (payment["state"], payment["failure_reason"]) == ("failed", "card_declined")
    assert not tap.events("PaymentSucceeded", lambda d: d["order_id"] == order_id)
    assert shop.emails_to(who["email"]) == []


# --------------------------------------------------------------------------- 3. concurrency


def test_fifty_concurrent_orders_for_ten_units_sell_exactly_ten(shop, tap, cards, runtime):
    sku = "PHONE-" + uuid.uuid4().hex[:6].upper()
    shop.put_stock(sku, 10, "699.00")
    shop.wait_listed([sku], ["eu"])
    barrier = threading.Barrier(50)
    answers: list[tuple[int, Any]] = [None] * 50  # type: ignore[list-item]

    def place(i: int) -> None:
        barrier.wait()
        answers[i] = shop.place(support.customer("de-DE"), "EUR", [(sku, 1)], cards["ok"])

    resent_before = shop.resent
    threads = [threading.Thread(target=place, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [s for s, _ in answers] == [201] * 50, [a for a in answers if a[0] != 201][:3]
    ids = [body["order_id"] for _, body in answers]
    assert len(set(ids)) == 50  # a request resent with its Idempotency-Key made no second order
    # the local gateway's listen backlog resets some of 50 simultaneous connections: clients resend
    print(f"50 concurrent POST /orders: {shop.resent - resent_before} resent after a connection error")

    final = shop.wait_status(ids, support.FINAL)
    support.quiet(runtime)
    by_status = Counter(final.values())
    assert by_status == {"Delivered": 10, "Rejected": 40}, by_status
    sold = {i for i, s in final.items() if s == "Delivered"}
    rejected = set(ids) - sold

    stock = shop.stock(sku)
    assert (stock["available"], stock["reserved"]) == (0, 10)
    # every level inventory ever announced for the SKU: never negative, never more than 10 out
    levels = tap.events("InventoryLevelChanged", lambda d: d["sku"] == sku)
    assert levels and all(lv["available"] >= 0 and lv["available"] + lv["reserved"] == 10 for lv in levels)
    assert min(lv["available"] for lv in levels) == 0
    assert {e["order_id"] for e in tap.events("StockReserved", lambda d: d["order_id"] in ids)} == sold
    assert {e["order_id"] for e in tap.events("StockReservationFailed", lambda d: d["order_id"] in ids)} == rejected

    # no rejected order charged: no PaymentSucceeded for it, and its payment intent is closed
    succeeded = tap.events("PaymentSucceeded", lambda d: d["order_id"] in ids)
    assert {e["order_id"] for e in succeeded} == sold
    assert len({e["_event_id"] for e in succeeded}) == 10  # one charge event per sold order
    payments = {i: shop.payment(i) for i in ids}
    assert {i for i, p in payments.items() if p and p["state"] == "captured"} == sold
    assert all(payments[i]["attempts"] == "1" for i in sold)
    support.eventually(
        lambda: all((shop.payment(i) or {}).get("state") == "cancelled" for i in rejected),
        "every rejected order's payment intent closed",
        detail=lambda: Counter((shop.payment(i) or {}).get("state") for i in rejected),
    )
    # one confirmation per sold order, none for a rejected one
    mails = Counter(to for m in runtime.emails() for to in m["to"])
    emails = {body["customer"]["email"]: body["order_id"] for _, body in answers}
    assert {emails[a] for a, n in mails.items() if a in emails} == sold
    assert all(mails[a] == 1 for a in emails if emails[a] in sold)


# --------------------------------------------------------------------------- 4. duplicates and failures


def _scenario(shop, cards, ns: str) -> dict[str, Any]:
    """Six orders whose outcomes do not depend on processing order; returns their normalised outcome."""
    a, b = f"{ns}-A", f"{ns}-B"
    shop.put_stock(a, 10, "19.99")
    shop.put_stock(b, 1, "5.00", threshold=1)  # the one reservation of B makes it low: one ops alert
    shop.wait_listed([a, b])
    plan = [
        ("de-DE", "EUR", [(a, 2)], "ok"),  # Delivered
        ("ja-JP", "JPY", [(a, 1)], "ok"),  # Delivered
        ("fr-FR", "EUR", [(a, 3)], "declined"),  # PaymentFailed, stock released
        ("en-GB", "GBP", [(b, 2)], "ok"),  # Rejected: 1 unit of B
        ("de-DE", "EUR", [(a, 1), (b, 1)], "ok"),  # Delivered: takes the last B
        ("de-DE", "EUR", [(a, 1)], "no_funds"),  # PaymentFailed, stock released
    ]
    ids = []
    for i, (locale, currency, lines, card) in enumerate(plan):
        who = support.customer(locale, customer_id=f"cus_{ns}_{i}".lower())
        status, order = shop.place(who, currency, lines, cards[card], key=f"{ns}-order-{i}")
        assert status == 201, order
        ids.append(order["order_id"])
    final = shop.wait_status(ids, support.FINAL)
    support.quiet(shop.runtime)  # duplicates and late consumers (releases, emails) done too
    return _outcome(shop, ns, ids, final, [a, b])


def _outcome(shop, ns: str, ids: list[str], final: dict[str, str], skus: list[str]) -> dict[str, Any]:
    def norm(text: str) -> str:
        for i, order_id in enumerate(ids):
            text = text.replace(order_id, f"<order {i}>")
        return text.replace(ns, "<ns>")

    def payment(order_id: str) -> tuple | None:
        p = shop.payment(order_id)
        if not p:
            return None
        fields = ("state", "amount", "currency", "attempts", "failure_reason", "card_last4")
        return tuple(p.get(f) for f in fields)

    emails = shop.runtime.emails()
    confirmations = []
    for order_id in ids:
        mails = [m for m in emails if order_id in m["subject"]]
        # the placed-at line holds a clock time: compare subject and item lines (language, amounts)
        kept = [(norm(m["subject"]), [norm(ln) for ln in m["text"].splitlines() if TIMES in ln]) for m in mails]
        confirmations.append(kept)
    alerts = [norm(m["subject"]) for m in emails if f"{ns}-" in m["subject"] and "Low stock" in m["subject"]]
    return {
        "statuses": [final[i] for i in ids],
        "histories": [[e["detail_type"] for e in shop.history(i)] for i in ids],
        "stock": {norm(s): (shop.stock(s)["available"], shop.stock(s)["reserved"]) for s in skus},
        "payments": [payment(i) for i in ids],
        "confirmation_emails": confirmations,
        "low_stock_alerts": alerts,
    }


def test_duplicates_and_failures_change_nothing_in_the_outcome(shop, cards, runtime, tap):
    clean = _scenario(shop, cards, "CLEAN" + uuid.uuid4().hex[:4].upper())
    # the scenario is not vacuous: every path of the saga is in it
    assert clean["statuses"] == ["Delivered", "Delivered", "PaymentFailed", "Rejected", "Delivered", "PaymentFailed"]
    assert [len(c) for c in clean["confirmation_emails"]] == [1, 1, 0, 0, 1, 0]
    assert len(clean["low_stock_alerts"]) == 1

    since = len(runtime.journal.entries())
    runtime.set_faults(duplicate_rate=1.0, failure_rate=0.2, seed=20261127)
    try:
        faulty = _scenario(shop, cards, "FAULT" + uuid.uuid4().hex[:4].upper())
    finally:
        runtime.set_faults(duplicate_rate=0.0, failure_rate=0.0)
    entries = runtime.journal.entries()[since:]
    # the faults did happen: every consumer of the saga got records twice; invocations failed
    duplicated = {e.function for e in entries if "duplicate delivery" in e.note}
    failed = Counter(e.function for e in entries if "fault injection" in e.invocation.error_text)
    consumers = {"inventory.reservations", "payments.process", "orders.process", "notifications.send_confirmation"}
    assert consumers <= duplicated, duplicated
    assert sum(failed.values()) >= 5, failed
    print(f"fault run: duplicate deliveries to {len(duplicated)} functions; injected failures {dict(failed)}")

    assert faulty == clean
    assert runtime.dlq_list() == []  # nothing was given up on


# --------------------------------------------------------------------------- 5. as_of and rebuild


def test_as_of_replays_the_past_and_the_rebuilt_view_equals_the_live_one(shop, journey, runtime):
    order_id = journey["placed"]["de-DE"]["response"]["order_id"]
    history = shop.history(order_id)
    placed_at, paid_at = (support.parse_iso(history[i]["occurred_at"]) for i in (0, 1))
    assert paid_at > placed_at
    between = placed_at + (paid_at - placed_at) / 2

    status, then = shop.order(order_id, as_of=support.iso(between))
    assert status == 200, then
    assert (then["status"], then["version"], then["payment"]) == ("Placed", 1, None)
    status, _ = shop.order(order_id, as_of=support.iso(placed_at - timedelta(seconds=1)))
    assert status == 404
    status, now = shop.order(order_id, as_of=support.iso(datetime.now(UTC)))
    _, live = shop.order(order_id)
    assert status == 200 and {k: v for k, v in now.items() if k != "as_of"} == live

    # rebuild every order's view from the store into an empty table, with the real command
    views = runtime.topology.tables["orders:views"]
    rebuilt = f"{views}-rebuilt-{uuid.uuid4().hex[:6]}"
    ddb = runtime.client("dynamodb")
    ddb.create_table(
        TableName=rebuilt,
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": runtime.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "PYTHONPATH": os.pathsep.join(str(mf.REPO_ROOT / p) for p in (".", "scripts", "services/orders/src")),
    }
    events_table = runtime.topology.tables["orders:events"]
    command = ["orders.rebuild_view", "--events-table", events_table, "--views-table", rebuilt]
    done = subprocess.run(
        [sys.executable, "-m", *command, "--region", runtime.config.region],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    written = int(re.search(r"written=(\d+)", done.stdout).group(1))

    def items(table: str) -> dict[str, dict]:
        pages = ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        return {i["order_id"]["S"]: i for page in pages for i in page["Items"]}

    live_items, rebuilt_items = items(views), items(rebuilt)
    assert written == len(rebuilt_items) == len(live_items) >= 2
    # orders still moving (a test before this one may leave some) may differ by the last event
    settled = {i for i, item in live_items.items() if item["status"]["S"] in support.FINAL}
    assert {o["response"]["order_id"] for o in journey["placed"].values()} <= settled
    differing = {i for i in settled if live_items[i] != rebuilt_items.get(i)}
    assert not differing, [(live_items[i], rebuilt_items.get(i)) for i in sorted(differing)[:1]]
