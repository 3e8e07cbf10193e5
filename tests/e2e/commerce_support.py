"""Helpers for the e-commerce end-to-end tests (test_e2e_commerce.py): drive the five services of
the order saga through the local runtime's HTTP gateway, and observe what they did.

Not a test module (no `test_` prefix); loaded by file path, like other non-package helpers:

    support = load_support()      # in the test module (see test_e2e_commerce.py)
    rt = support.start_runtime(tmp_path)
    shop = support.Shop(rt)
    shop.seed_rates(); shop.put_stock("LAMP-1", 10, "19.99")       # as staff (group staff)
    who = support.customer("de-DE")                                # a user of the local pool
    status, order = shop.place(who, "EUR", [("LAMP-1", 1)], support.CARD_OK)  # the card tokenised for them
    shop.wait_status([order["order_id"]], {"Delivered"})

Everything goes through the services' public surfaces (HTTP APIs with real tokens of the local
user pool, the SES outbox, the bus) or, for invariants nothing else exposes (one payment record
per order, its provider attempts), the owning service's table, read only. Each customer is a user
of the pool: their orders and cards are theirs (the token's sub), so the shop tokenises a card for
each customer who pays with it and reads each order with its owner's token.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from devtools import manifest as mf
from devtools.local.identity import Tokens, Users
from devtools.local.runtime import Runtime, RuntimeConfig

SAGA_SERVICES = ("orders", "payments", "inventory", "notifications", "shipping")

# The simulated provider's test cards (services/payments/README.md).
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_NO_FUNDS = "4000000000009995"

# What the e2e deployment changes in the manifests (everything else is as written):
# - the carrier's transit: 90 s in the manifest; the delivery run compares due times with the
#   wall clock (not the runtime's schedule clock), so --schedule-speed cannot shorten it;
# - batching windows: 1 s per queue hop in the manifests; 0 lets each hop take what is there.
E2E_TUNING: dict[str, Any] = {
    "batching_window": 0,
    "environment": {"shipping.carrier_handover": {"CARRIER_TRANSIT_SECONDS": "2"}},
}

FINAL = frozenset({"Delivered", "Rejected", "PaymentFailed", "Cancelled"})
PAID_OR_LATER = frozenset({"Paid", "Shipped", "Delivered"})
WAIT = 60.0  # generous: the machine is shared; no assertion is about time

CUSTOMERS = {
    # locale -> (name, time zone, data region, country, address line, city, postal code)
    "de-DE": ("Jonas Becker", "Europe/Berlin", "eu-central-1", "DE", "Hauptstr. 1", "Berlin", "10115"),
    "ja-JP": ("山田 花子", "Asia/Tokyo", "ap-northeast-1", "JP", "1-1 Chiyoda", "Tokyo", "100-0001"),
    "fr-FR": ("Camille Martin", "Europe/Paris", "eu-west-3", "FR", "1 rue de Rivoli", "Paris", "75001"),
    "en-GB": ("Amelia Jones", "Europe/London", "eu-west-2", "GB", "1 High Street", "London", "SW1A 1AA"),
}


# --------------------------------------------------------------------------- runtime


def saga_services_root(
    where: Path, *, batching_window: int | None = None, environment: dict[str, dict[str, str]] | None = None
) -> Path:
    """A services folder holding only the saga's five services, as a deployment of them would.

    Code, README and everything else are symlinks to the real service folders; only service.yaml
    is written, from the real one with deployment-time knobs changed: `batching_window` (every
    queue trigger's batching_window_seconds) and `environment` ({"service.function": {VAR: value}}).
    """
    root = Path(where) / "services"
    environment = environment or {}
    for name in SAGA_SERVICES:
        real, folder = mf.SERVICES_DIR / name, root / name
        folder.mkdir(parents=True, exist_ok=True)
        for child in real.iterdir():
            if child.name != "service.yaml" and not (folder / child.name).exists():
                (folder / child.name).symlink_to(child, target_is_directory=child.is_dir())
        manifest = yaml.safe_load((real / "service.yaml").read_text())
        for fn_name, fn in manifest["functions"].items():
            trigger = fn["trigger"]
            if (
                batching_window is not None
                and "batching_window_seconds" in trigger
                and trigger["type"] != "dynamodb_stream"
            ):
                trigger["batching_window_seconds"] = batching_window
            fn.setdefault("environment", {}).update(environment.get(f"{name}.{fn_name}", {}))
            if not fn["environment"]:
                del fn["environment"]
        (folder / "service.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    return root


def start_runtime(state_dir: Path, **overrides: Any) -> Runtime:
    """The five saga services on free ports, tuned for tests: quick retries, schedules 60x faster,
    no batching windows and a 2 s carrier transit (see E2E_TUNING)."""
    config = RuntimeConfig(
        services_roots=[saga_services_root(state_dir, **E2E_TUNING)],
        state_dir=Path(state_dir) / "state",
        retry_after=0,  # failed SQS records come back at once (receive counts and DLQs still count)
        schedule_speed=60,  # carrier_deliveries' rate(1 minute) runs about every second
        **overrides,
    )
    return Runtime(config).start()


# --------------------------------------------------------------------------- the bus, tapped


class Tap:
    """Every event the saga's services put on the bus, through a test-owned rule and queue.

    The runtime's journal knows ids and types only; this keeps each event's detail, so tests can
    check every stock level ever announced, or which orders a PaymentSucceeded was ever sent for.
    """

    SOURCES = ("orders", "payments", "inventory", "shipping")

    def __init__(self, runtime: Runtime, name: str = "e2e-commerce-tap") -> None:
        self._sqs = runtime.client("sqs")
        events = runtime.client("events")
        self.url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = runtime.topology.bus
        events.put_rule(
            Name=name, EventBusName=bus, EventPattern=json.dumps({"source": list(self.SOURCES)}), State="ENABLED"
        )
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def drain(self) -> list[dict[str, Any]]:
        """Everything published so far (EventBridge events: source, detail-type, detail), oldest first."""
        with self._lock:
            while True:
                got = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                    "Messages", []
                )
                if not got:
                    break
                self._events.extend(json.loads(m["Body"]) for m in got)
                self._sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
                )
            return list(self._events)

    def events(self, detail_type: str, where: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """The `data` of every published `detail_type` (repeats of one event_id included)."""
        out = []
        for event in self.drain():
            if event["detail-type"] != detail_type:
                continue
            data = event["detail"]["data"]
            if where is None or where(data):
                out.append({**data, "_event_id": event["detail"]["metadata"]["event_id"]})
        return out


# --------------------------------------------------------------------------- the shop, over HTTP


CUSTOMER_FIELDS = ("email", "name", "locale", "time_zone", "region")  # the body's customer (no id)
OPERATOR = "e2e-ops"  # the staff user the shop's operations requests use


def customer(locale: str, customer_id: str | None = None) -> dict[str, str]:
    """A customer: `user` (their sign-in name in the local pool) and the order's contact fields."""
    name, zone, region, *_ = CUSTOMERS[locale]
    cid = customer_id or f"cus_{uuid.uuid4().hex[:12]}"
    return {
        "user": cid,
        "email": f"{cid}@customer.example",
        "name": name,
        "locale": locale,
        "time_zone": zone,
        "region": region,
    }


def address(locale: str) -> dict[str, str]:
    name, _, _, country, line1, city, postal_code = CUSTOMERS[locale]
    return {"name": name, "line1": line1, "city": city, "postal_code": postal_code, "country": country}


class Shop:
    """A client of the saga: the HTTP routes of orders, payments and inventory, plus reads."""

    def __init__(self, runtime: Runtime, continuing: Shop | None = None) -> None:
        """`continuing`: the shop of this state before a restart (its customers, cards and orders)."""
        assert runtime.gateway is not None and runtime.topology.user_pool is not None
        self.runtime = runtime
        self.base = runtime.gateway.url
        self.ddb = runtime.client("dynamodb")
        self.users = Users(runtime.client("cognito-idp"), runtime.topology.user_pool)
        self.resent = 0  # requests sent again after a connection error (see `request`)
        self._lock = threading.Lock()
        self._tokens: dict[str, Tokens] = {}
        self._cards: dict[tuple[str, str], str] = {}  # (user, card number) -> their payment method id
        self._owners: dict[str, str] = {}  # order id -> the user who placed it
        if continuing is not None:
            self._cards, self._owners = dict(continuing._cards), dict(continuing._owners)

    # -- identity
    def token(self, user: str, *, staff: bool = False) -> Tokens:
        """The user's tokens (signed up in the local pool the first time), cached for the module."""
        with self._lock:
            tokens = self._tokens.get(user)
        if tokens is None:
            tokens = self.users.token(user, staff=staff)
            with self._lock:
                self._tokens[user] = tokens
        return tokens

    def as_user(self, user: str | None, *, staff: bool = False) -> dict[str, str]:
        return self.token(user, staff=staff).headers if user else {}

    # -- HTTP
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        attempts: int = 1,
        user: str | None = None,
        staff: bool = False,
    ) -> tuple[int, Any]:
        """One HTTP call as `user` (their access token; None: no token); `attempts` > 1 resends after a
        connection error (only for idempotent calls: GETs, or a POST carrying an Idempotency-Key, as a
        mobile client would)."""
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"content-type": "application/json", **self.as_user(user, staff=staff), **(headers or {})}
        for attempt in range(1, attempts + 1):
            req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    status, raw = resp.status, resp.read()
                break
            except urllib.error.HTTPError as err:
                status, raw = err.code, err.read()
                break
            except (ConnectionError, urllib.error.URLError, http.client.HTTPException):
                if attempt == attempts:
                    raise
                with self._lock:
                    self.resent += 1
                time.sleep(0.2 * attempt)
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    def ok(
        self, method: str, path: str, body: Any = None, expect: Iterable[int] = (200, 201), *, user: str = OPERATOR
    ) -> Any:
        """A request that must succeed, as `user` (the staff operator by default)."""
        status, answer = self.request(method, path, body, user=user, staff=user == OPERATOR)
        assert status in tuple(expect), f"{method} {path} -> {status}: {answer}"
        return answer

    # -- inventory (operations API: staff)
    def seed_rates(self) -> None:
        self.ok("PUT", "/rates/EUR", {"rates": {"USD": "1.0850", "GBP": "0.8500", "JPY": "161.20"}})

    def put_stock(self, sku: str, quantity: int, price_eur: str, threshold: int = 0) -> dict[str, Any]:
        body = {
            "name": f"E2E {sku}",
            "quantity": quantity,
            "base_price": {"amount": price_eur, "currency": "EUR"},
            "low_stock_threshold": threshold,
        }
        return self.ok("PUT", f"/inventory/{sku}", body)

    def stock(self, sku: str) -> dict[str, Any]:
        return self.ok("GET", f"/inventory/{sku}", expect=(200,))

    def wait_listed(self, skus: Iterable[str], markets: Iterable[str] = ("eu", "jp")) -> None:
        """Orders price lines from inventory's listings: wait until the PUTs are projected."""
        for sku in skus:
            for market in markets:
                path = f"/listings/{market}/{sku}"
                eventually(lambda p=path: self.request("GET", p, user=OPERATOR)[0] == 200, f"listing {path}")

    # -- payments (the customer's own cards)
    def tokenise(self, card_number: str, user: str) -> str:
        """The user's payment method for this card (registered by them, once)."""
        key = (user, card_number)
        with self._lock:
            known = self._cards.get(key)
        if known is None:
            body = {"card_number": card_number, "expiry_month": 12, "expiry_year": 2031, "cvc": "123"}
            known = self.ok("POST", "/payment-methods", body, expect=(201,), user=user)["payment_method_id"]
            with self._lock:
                self._cards[key] = known
        return known

    # -- orders (the customer's own)
    def place(
        self,
        who: dict[str, str],
        currency: str,
        lines: Iterable[tuple[str, int]],
        card: str,
        key: str | None = None,
    ) -> tuple[int, Any]:
        """POST /orders as `who` (signed in), paying with `card`: a card number (tokenised for them
        first) or a payment method id."""
        user = who["user"]
        payment_method_id = card if card.startswith("pm_") else self.tokenise(card, user)
        body = {
            "customer": {k: who[k] for k in CUSTOMER_FIELDS},
            "currency": currency,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
            "shipping_address": address(who["locale"]),
            "payment_method_id": payment_method_id,
        }
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        status, answer = self.request("POST", "/orders", body, headers, attempts=3, user=user)
        if status == 201:
            with self._lock:
                self._owners[answer["order_id"]] = user
        return status, answer

    def owner(self, order_id: str) -> str:
        with self._lock:
            return self._owners[order_id]

    def order(self, order_id: str, as_of: str | None = None, *, user: str | None = None) -> tuple[int, Any]:
        """GET the order as its owner (or as `user`)."""
        path = f"/orders/{order_id}" + (f"?as_of={as_of}" if as_of else "")
        return self.request("GET", path, attempts=3, user=user or self.owner(order_id))

    def history(self, order_id: str) -> list[dict[str, Any]]:
        return self.ok("GET", f"/orders/{order_id}/events", expect=(200,), user=self.owner(order_id))["events"]

    def statuses(self, order_ids: Iterable[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for order_id in order_ids:
            status, body = self.order(order_id)
            out[order_id] = body["status"] if status == 200 else None
        return out

    def wait_status(self, order_ids: Iterable[str], wanted: Iterable[str], timeout: float = WAIT) -> dict[str, str]:
        """Wait until every order's view has one of the `wanted` statuses; returns the statuses."""
        ids, wanted = list(order_ids), set(wanted)
        last: dict[str, Any] = {}
        pending = list(ids)

        def check() -> bool:
            nonlocal pending
            last.update(self.statuses(pending))
            pending = [i for i in pending if last[i] not in wanted]
            return not pending

        eventually(check, f"orders reach {sorted(wanted)}", timeout, lambda: {i: last.get(i) for i in pending})
        return {i: last[i] for i in ids}

    # -- reads of the services' own records (invariants with no public read)
    def payment(self, order_id: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(
            TableName=self.runtime.topology.tables["payments:payments"],
            Key={"order_id": {"S": order_id}},
            ConsistentRead=True,
        ).get("Item")
        return {k: next(iter(v.values())) for k, v in item.items()} if item else None

    def scan(self, ref: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"TableName": self.runtime.topology.tables[ref], "ConsistentRead": True}
        items: list[dict[str, Any]] = []
        while True:
            page = self.ddb.scan(**request)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def emails_to(self, address_: str) -> list[dict[str, Any]]:
        return [m for m in self.runtime.emails() if address_ in (m.get("to") or [])]


# --------------------------------------------------------------------------- waiting


def eventually(
    check: Callable[[], Any], what: str, timeout: float = WAIT, detail: Callable[[], Any] | None = None
) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` (and `detail()`) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not observed within {timeout:.0f} s: {what}" + (f" ({detail()})" if detail else ""))
        time.sleep(0.25)


def quiet(runtime: Runtime, seconds: float = 2.0, timeout: float = WAIT) -> None:
    """Wait until the saga is at rest: every function queue empty (nothing in flight either) and no
    invocation for `seconds`, the carrier's delivery schedule aside (it runs every second).

    Final statuses can be reached while duplicates and slower consumers (a release, an email)
    are still on their way; outcomes are compared only once nothing moves.
    """
    sqs = runtime.client("sqs")
    urls = [w.queue_url for w in runtime.topology.functions.values() if w.queue_url]
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    busy: list[str] = []

    def check() -> bool:
        busy.clear()
        cutoff = time.time() - seconds
        busy.extend(
            {
                e.function
                for e in runtime.journal.entries()
                if e.invocation.ended > cutoff and e.function != "shipping.carrier_deliveries"
            }
        )
        for url in urls:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
            if any(int(attrs.get(c, 0)) for c in counts):
                busy.append(url.rsplit("/", 1)[-1])
        return not busy

    eventually(check, "the saga at rest", timeout, lambda: sorted(busy))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
