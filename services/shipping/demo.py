"""`make demo` scenario: the warehouse and carrier side of an order.

With orders in the demo, its journey (services/orders/demo.py, run before this one) already
paid an order: this checks the shipment it caused went requested -> dispatched -> delivered.
Run alone (`demo --services` with only shipping), it feeds the events itself.
"""

from __future__ import annotations

from devtools.commerce_fixtures import order_placed, payment_succeeded


def _published(demo, detail_type: str) -> list[dict]:
    return [p for p in list(demo.runtime.journal.publishes.values()) if p["detail_type"] == detail_type]


def scenario(demo) -> None:
    if not any(s.name == "orders" for s in demo.runtime.services):
        order = order_placed()
        demo.publish("OrderPlaced", order.model_dump(mode="json"), source="orders")
        demo.publish("PaymentSucceeded", payment_succeeded(order).model_dump(mode="json"), source="payments")
    demo.eventually(lambda: _published(demo, "ShipmentRequested"), "a paid order's shipment was requested")
    demo.eventually(lambda: _published(demo, "ShipmentDispatched"), "the carrier picked it up (tracking number)")
    demo.tick("carrier_deliveries")  # the carrier's rate(1 minute) run, now
    demo.eventually(lambda: _published(demo, "ShipmentDelivered"), "the carrier delivered it", timeout=60)
