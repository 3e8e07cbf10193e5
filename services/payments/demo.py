"""`make demo` scenario for payments (see scripts/devtools/local/README.md). Not in the zip.

Registers a card over HTTP as a signed-in customer (the card is theirs), shows a refused one,
checks that no full card number was
stored, then invokes `process` directly with an SQS batch (OrderPlaced, then OrderCancelled
twice) so that the saga record is visible without side effects on other services.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from devtools.aws_events import eventbridge_event, sqs_event, sqs_record
from shared.events import new_envelope
from shared.events.commerce import Address, Amount, Customer, OrderLine
from shared.events.orders import OrderCancelled, OrderPlaced
from shared.money import Money

CARD = "4242424242424242"


def scenario(demo) -> None:
    region = demo.runtime.config.region
    card = {"card_number": CARD, "expiry_month": 12, "expiry_year": 2031, "cvc": "123"}
    who = demo.token("noah")
    resp = demo.http("POST", "/payment-methods", json=card, user="noah")
    demo.expect(resp.status == 201, "card registered by a signed-in customer (201)", resp.body.decode())
    token = resp.json()["payment_method_id"]
    demo.expect(resp.json()["last4"] == "4242", "response carries brand and last 4 only", resp.body.decode())

    bad = demo.http(
        "POST", "/payment-methods", json={**card, "card_number": "4242424242424241", "cvc": "1"}, user="noah"
    )
    demo.expect(
        bad.status == 400 and {e["field"] for e in bad.json()["errors"]} == {"card_number", "cvc"},
        "bad card: 400, reason per field",
    )

    items = demo.client("dynamodb").scan(TableName=demo.table("payment-methods"))["Items"]
    demo.expect(items and CARD not in json.dumps(items), "no full card number in the table", f"{len(items)} item(s)")
    mine = [i for i in items if i["payment_method_id"]["S"] == token]
    demo.expect(
        mine and mine[0].get("owner", {}).get("S") == who.sub, "the card belongs to the token's customer", str(mine)
    )

    order_id = "ord_demo" + token[3:15]
    price = Amount.of(Money.of("19.99", "EUR"))
    placed = OrderPlaced(
        order_id=order_id,
        customer=Customer(
            customer_id=who.sub,
            email="demo@example.com",
            name="Demo",
            locale="en-GB",
            time_zone="Europe/London",
            region=region,
        ),
        currency="EUR",
        lines=[OrderLine(sku="DEMO-1", quantity=1, unit_price=price)],
        total=price,
        shipping_address=Address(name="Demo", line1="1 Demo St", city="London", postal_code="N1 1AA", country="GB"),
        payment_method_id=token,
        placed_at=datetime.now(UTC),
    )
    cancelled = OrderCancelled(order_id=order_id, reason="demo", cancelled_by="customer")
    envelopes = [new_envelope(placed, source="orders", region=region)]
    envelopes += [new_envelope(cancelled, source="orders", region=region)] * 2  # delivered twice
    batch = sqs_event(
        *(sqs_record(eventbridge_event(e.source, e.detail_type, e.detail(), region=region)) for e in envelopes)
    )
    invocation = demo.invoke("process", batch)
    demo.expect(
        invocation.ok and invocation.result == {"batchItemFailures": []},
        "process handled OrderPlaced + OrderCancelled x2",
        json.dumps(invocation.result or invocation.error),
    )
    item = demo.get_item("payments", {"order_id": {"S": order_id}})
    state = item and item["state"]["S"]
    demo.expect(state == "cancelled", "cancelled before the charge: nothing will ever be charged", f"state={state}")
