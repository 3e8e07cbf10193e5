"""A rejected order (no stock) closes its payment intent; nothing is ever charged for it."""

from __future__ import annotations

from datetime import UTC, datetime

from devtools import commerce_fixtures as commerce
from devtools.testing import customer
from shared.events.orders import OrderRejected

CUSTOMER = customer("anna")  # conftest's customer (the same name gives the same sub)
PROCESS = "payments.process"
VISA_OK = "4242424242424242"


def register(aws) -> str:
    aws.load_handler("payments.api")
    body = {"card_number": VISA_OK, "expiry_month": 12, "expiry_year": 2031, "cvc": "987"}
    status, answer = aws.http(
        "POST", "/payment-methods", body, headers={"content-type": "application/json"}, user=CUSTOMER
    )
    assert status == 201, answer
    return answer["payment_method_id"]


def rejected(order_id: str):
    data = OrderRejected(order_id=order_id, reason="out_of_stock", skus=["SKU-1"], rejected_at=datetime.now(UTC))
    return commerce.envelope(data)


def deliver(aws, *records) -> list[str]:
    return [f["itemIdentifier"] for f in aws.deliver(PROCESS, *records)["batchItemFailures"]]


def payment(aws, order_id: str) -> dict | None:
    return aws.get_item("payments:payments", order_id=order_id)


def test_order_rejected_closes_the_intent_once_and_a_late_reservation_charges_nothing(aws, saga):
    token = register(aws)
    process = aws.load_handler(PROCESS)
    order_id = "ord_00000601"
    assert deliver(aws, saga.order_placed(order_id, token)) == []
    assert payment(aws, order_id)["state"] == "intent"

    closing = rejected(order_id)
    assert deliver(aws, closing, closing) == []  # a duplicate changes nothing
    record = payment(aws, order_id)
    assert (record["state"], record["failure_reason"]) == ("cancelled", "order_rejected")

    # Should a reservation ever arrive (it does not after a rejection), it charges nothing.
    assert deliver(aws, saga.stock_reserved(order_id)) == []
    assert payment(aws, order_id)["state"] == "cancelled"
    assert aws.published() == [] and process.provider.charges_created == 0


def test_order_rejected_before_order_placed_leaves_a_tombstone_the_intent_cannot_reopen(aws, saga):
    token = register(aws)
    order_id = "ord_00000602"
    assert deliver(aws, rejected(order_id)) == []
    assert deliver(aws, saga.order_placed(order_id, token)) == []
    record = payment(aws, order_id)
    assert (record["state"], record["failure_reason"]) == ("cancelled", "order_rejected")


def test_order_rejected_leaves_a_decided_payment_as_it_is(aws, saga):
    token = register(aws)
    order_id = "ord_00000603"
    deliver(aws, saga.order_placed(order_id, token))
    assert deliver(aws, saga.stock_reserved(order_id)) == []
    assert deliver(aws, rejected(order_id)) == []
    assert payment(aws, order_id)["state"] == "captured"
