"""`make demo` scenario for orders: the whole order journey (scripts/devtools/local/README.md). Not in the zip.

Through the public HTTP routes only, with real tokens of the local user pool, as a shop front
end and an operator would: an operator (group staff) seeds exchange rates and stock (inventory),
a signed-in customer tokenises cards (payments), places an order with an Idempotency-Key (and
replays it), then watches it get paid, confirmed by email in their language, shipped and
delivered; another customer cannot see it (404), nobody without a token can (401); a second order
with a declined card ends PaymentFailed and its stock comes back.

The simulated carrier takes CARRIER_TRANSIT_SECONDS (90 in the manifest, against the wall
clock, so --schedule-speed does not shorten it). The scenario sets it to a few seconds on
this runtime before the carrier's first pick-up, as `aws lambda update-function-configuration`
would; if the carrier already ran, it waits the full transit.
"""

from __future__ import annotations

import time
import uuid

DEMO_TRANSIT_SECONDS = "3"
PAID = ("Paid", "Shipped", "Delivered")


def _every(seconds: float, check):
    """demo.eventually polls every 0.1 s; each poll of an order is an invocation: poll less often."""

    def slower():
        time.sleep(seconds)
        return check()

    return slower


def _shorten_carrier_transit(demo) -> bool:
    """Only while the carrier has no execution environment: a warm one keeps its environment."""
    host = demo.runtime.hosts.get("shipping.carrier_handover")
    if host is None or host.environments:
        return False
    host.spec.environment["CARRIER_TRANSIT_SECONDS"] = DEMO_TRANSIT_SECONDS
    return True


def scenario(demo) -> None:
    sku = "DEMO-LAMP-" + uuid.uuid4().hex[:6].upper()

    ops = {"user": "demo-ops", "staff": True}  # an operator: a user of the pool in group staff
    shopper = "jonas-" + uuid.uuid4().hex[:6]  # a customer signed in through the app

    # -- operator: rates and stock (inventory's API); orders prices lines from the listings
    resp = demo.http("PUT", "/rates/EUR", json={"rates": {"USD": "1.0850", "GBP": "0.8500", "JPY": "161.20"}}, **ops)
    demo.expect(resp.status == 200, "rates seeded by staff: EUR -> USD, GBP, JPY", resp.body.decode())
    stock = {"name": "Desk lamp", "quantity": 5, "base_price": {"amount": "89.90", "currency": "EUR"}}
    resp = demo.http("PUT", f"/inventory/{sku}", json=stock, **ops)
    demo.expect(resp.status == 201, f"{sku}: 5 in stock at 89.90 EUR", resp.body.decode())
    listed = _every(0.3, lambda: demo.http("GET", f"/listings/eu/{sku}", user=shopper).status == 200)
    demo.eventually(listed, "listed in the eu market", 30)

    # -- customer: cards become tokens (payments' API); only the token goes into the order
    def tokenise(number: str) -> str:
        card = {"card_number": number, "expiry_month": 12, "expiry_year": 2031, "cvc": "123"}
        resp = demo.http("POST", "/payment-methods", json=card, user=shopper)
        demo.expect(resp.status == 201, f"card ending {number[-4:]} tokenised", resp.body.decode())
        return resp.json()["payment_method_id"]

    card_ok, card_declined = tokenise("4242424242424242"), tokenise("4000000000000002")
    short = _shorten_carrier_transit(demo)

    body = {
        "customer": {  # contact and locale; the customer id is the token's sub, never sent
            "email": f"{shopper}@customer.example",
            "name": "Jonas Becker",
            "locale": "de-DE",
            "time_zone": "Europe/Berlin",
            "region": "eu-central-1",
        },
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 2}],
        "shipping_address": {
            "name": "Jonas Becker",
            "line1": "Hauptstr. 1",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "payment_method_id": card_ok,
    }
    key = str(uuid.uuid4())
    resp = demo.http("POST", "/orders", json=body, headers={"Idempotency-Key": key}, user=shopper)
    order = resp.json() if resp.status == 201 else {}
    demo.expect(
        resp.status == 201 and order.get("status") == "Placed",
        f"order placed (201): {order.get('order_id')}, total {order.get('total', {}).get('amount')} EUR",
        resp.body.decode()[:300],
    )
    order_id = order["order_id"]
    again = demo.http("POST", "/orders", json=body, headers={"Idempotency-Key": key}, user=shopper)
    demo.expect(
        again.status == 201 and again.json()["order_id"] == order_id,
        "same Idempotency-Key again: the same order, nothing new",
        again.body.decode()[:300],
    )
    other = demo.http("GET", f"/orders/{order_id}", user="lea-" + uuid.uuid4().hex[:6])
    demo.expect(
        other.status == 404, "another customer's token: 404, as for an order that does not exist", str(other.status)
    )
    anonymous = demo.http("GET", f"/orders/{order_id}")
    demo.expect(
        anonymous.status == 401 and anonymous.json() == {"message": "Unauthorized"},
        "no token: API Gateway's 401, the function never runs",
        anonymous.body.decode(),
    )

    def status_in(wanted: tuple[str, ...], oid: str = order_id):
        resp = demo.http("GET", f"/orders/{oid}", user=shopper)
        view = resp.json() if resp.status == 200 else {}
        return view if view.get("status") in wanted else None

    view = demo.eventually(_every(0.4, lambda: status_in(PAID)), "paid (PaymentReceived)", 60)
    demo.expect(view["payment"], f"payment {view['payment'] and view['payment'].get('payment_id')}", str(view))

    def confirmation():
        return next((m for m in demo.emails() if body["customer"]["email"] in (m.get("to") or [])), None)

    email = demo.eventually(_every(0.3, confirmation), "confirmation email sent (SES)", 60)
    demo.expect(
        email["subject"] == f"Ihre Bestellung {order_id} ist bestätigt" and "179,80\u00a0€" in email["text"],
        f"in German, amounts as de-DE writes them: {email['subject']!r}",
        email.get("text", "")[:300],
    )

    view = demo.eventually(_every(0.4, lambda: status_in(("Shipped", "Delivered"))), "shipped (OrderShipped)", 60)
    shipment = view.get("shipment") or {}
    carrier = f"carrier {shipment.get('carrier')}, tracking number {shipment.get('tracking_number')}"
    demo.expect(shipment.get("tracking_number"), carrier, str(view))
    transit = f"{DEMO_TRANSIT_SECONDS} s" if short else "90 s (the carrier was already warm)"

    def delivered():
        # carrier_deliveries runs on rate(1 minute); run it now (`python -m devtools.local tick`),
        # as often as the schedule would at --schedule-speed 60: it delivers what is due, once
        time.sleep(1.0)
        demo.tick("shipping.carrier_deliveries")
        return status_in(("Delivered",))

    demo.eventually(delivered, f"delivered (OrderDelivered) after a {transit} transit", 150)
    history = demo.http("GET", f"/orders/{order_id}/events", user=shopper).json()
    events = [e["detail_type"] for e in history["events"]]
    demo.expect(
        events == ["OrderPlaced", "PaymentReceived", "OrderShipped", "OrderDelivered"],
        "history: " + " -> ".join(events),
    )

    # -- a declined card: the reservation is released, the order ends PaymentFailed
    declined = {**body, "lines": [{"sku": sku, "quantity": 1}], "payment_method_id": card_declined}
    resp = demo.http("POST", "/orders", json=declined, headers={"Idempotency-Key": str(uuid.uuid4())}, user=shopper)
    demo.expect(resp.status == 201, "order with a declined card placed (201)", resp.body.decode()[:300])
    failed_id = resp.json()["order_id"]
    failed = _every(0.4, lambda: status_in(("PaymentFailed",), failed_id))
    view = demo.eventually(failed, "declined card: PaymentFailed", 60)
    demo.expect(view.get("reason"), f"reason: {view.get('reason')}", str(view))

    def stock_back():
        level = demo.http("GET", f"/inventory/{sku}", **ops).json()
        return level if (level["available"], level["reserved"]) == (3, 2) else None

    demo.eventually(_every(0.4, stock_back), "its stock released: 3 available, 2 reserved (the delivered order)", 60)
