"""`make demo` scenario for inventory (see scripts/devtools/local/README.md). Not in the zip.

Seeds rates and a SKU over HTTP as staff (a customer's token is refused: 403), waits for its
listings in four currencies (read with a customer's token), then invokes
`reservations` directly with one SQS batch (a cancellation overtaking its order, then the
order twice), which publishes nothing, so that other services see no orders they never took.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from devtools.aws_events import eventbridge_event, sqs_event, sqs_record
from shared.events import new_envelope
from shared.events.commerce import Address, Amount, Customer, OrderLine
from shared.events.orders import OrderCancelled, OrderPlaced
from shared.money import Money


def _placed(order_id: str, sku: str, quantity: int, region: str) -> dict:
    price = Amount.of(Money.of("24.00", "EUR"))
    data = OrderPlaced(
        order_id=order_id,
        customer=Customer(
            customer_id="cus_demo",
            email="demo@example.com",
            name="Demo",
            locale="en-GB",
            time_zone="Europe/London",
            region=region,
        ),
        currency="EUR",
        lines=[OrderLine(sku=sku, quantity=quantity, unit_price=price)],
        total=Amount.of(price.money() * quantity),
        shipping_address=Address(name="Demo", line1="1 High St", city="London", postal_code="N1 9GU", country="GB"),
        payment_method_id="pm_demo0000001",
        placed_at=datetime.now(UTC),
    )
    return eventbridge_event("orders", "OrderPlaced", new_envelope(data, source="orders", region=region).detail())


def scenario(demo) -> None:
    region = demo.runtime.config.region
    sku = "DEMO-" + uuid.uuid4().hex[:8].upper()
    ops = {"user": "demo-ops", "staff": True}
    rates = {"rates": {"USD": "1.0850", "GBP": "0.8500", "JPY": "161.20"}}
    refused = demo.http("PUT", "/rates/EUR", json=rates, user="mia")
    demo.expect(
        refused.status == 403 and refused.json().get("type", "").endswith("/forbidden"),
        "a customer's token on a staff route: 403 problem (the function checks group staff)",
        refused.body.decode(),
    )
    resp = demo.http("PUT", "/rates/EUR", json=rates, **ops)
    demo.expect(resp.status == 200, "rates seeded by staff (200)", resp.body.decode())
    body = {"name": "Demo mug", "quantity": 3, "base_price": {"amount": "24.00", "currency": "EUR"}}
    resp = demo.http("PUT", f"/inventory/{sku}", json={**body, "low_stock_threshold": 2}, **ops)
    demo.expect(resp.status == 201, f"{sku} created with 3 units (201)", resp.body.decode())

    def listing(market: str):
        got = demo.http("GET", f"/listings/{market}/{sku}", user="mia")
        return got.json() if got.status == 200 else None

    jp = demo.eventually(lambda: listing("jp"), "listing projected (jp)")
    jpy = {"amount": "3869", "currency": "JPY"}  # 24.00 EUR x 161.20 = 3868.8
    demo.expect(jp and jp["price"] == jpy, "JPY price, no minor unit", json.dumps(jp))

    # Reserving for a real order publishes StockReserved, which payments and orders act on:
    # the end-to-end tests drive that flow. Here, a cancellation that overtakes its order,
    # then the order delivered twice: a tombstone, nothing reserved, nothing published.
    order_id = f"ord_demo{uuid.uuid4().hex[:12]}"
    cancelled = OrderCancelled(order_id=order_id, reason="demo", cancelled_by="customer")
    placed = _placed(order_id, sku, 2, region)
    batch = sqs_event(
        sqs_record(
            eventbridge_event(
                "orders", "OrderCancelled", new_envelope(cancelled, source="orders", region=region).detail()
            )
        ),
        sqs_record(placed),
        sqs_record(placed),
    )
    invocation = demo.invoke("reservations", batch)
    demo.expect(
        invocation.ok and invocation.result == {"batchItemFailures": []},
        "reservations handled OrderCancelled, then its OrderPlaced twice",
        json.dumps(invocation.result or invocation.error),
    )
    item = demo.get_item("reservations", {"order_id": {"S": order_id}}) or {}
    demo.expect(item.get("state", {}).get("S") == "tombstone", "cancel before order: tombstone", str(item.get("state")))
    stock = demo.http("GET", f"/inventory/{sku}", **ops).json()
    demo.expect((stock["available"], stock["reserved"]) == (3, 0), "nothing reserved for it", json.dumps(stock))
