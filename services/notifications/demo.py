"""`make demo` scenario: a low-stock alert reaches operations by email, once.

The order confirmation (PaymentSucceeded -> email in the customer's language) is shown by the
orders journey (services/orders/demo.py), which drives the real events end to end.
"""

from __future__ import annotations

import uuid

from devtools.commerce_fixtures import low_stock_detected


def scenario(demo) -> None:
    sku = f"DEMO-{uuid.uuid4().hex[:8].upper()}"
    data = low_stock_detected(sku, available=2, threshold=5).model_dump(mode="json")
    event_id = demo.publish("LowStockDetected", data, source="inventory")
    demo.expect_invoked("alert_operations", key=event_id, what="LowStockDetected reached alert_operations")

    def alert() -> list[dict]:
        return [m for m in demo.emails() if sku in m.get("subject", "") + m.get("text", "")]

    [mail] = demo.eventually(alert, f"operations emailed about {sku}")
    demo.expect("ops@" in str(mail.get("to")), "sent to the operations address", str(mail.get("to")))
