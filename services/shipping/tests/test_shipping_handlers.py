"""The handlers on moto: SQS batches of EventBridge events and scheduled events as Lambda gets them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from devtools import commerce_fixtures as commerce
from devtools.local.events import scheduled_event

PROJECT, REQUEST = "shipping.project_orders", "shipping.request_shipment"
HANDOVER, DELIVERIES = "shipping.carrier_handover", "shipping.carrier_deliveries"


def order_placed(order_id: str = "ord_9z8y7x6w5v", country: str = "DE"):
    """Two mugs and a tee for Kim Berg, shipped to `country`."""
    return commerce.order_placed(
        order_id,
        [("MUG-BLUE", 2), ("TEE-M", 1)],
        unit_price="19.99",
        name="Kim Berg",
        locale="de-DE",
        time_zone="Europe/Berlin",
        country=country,
        placed_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )


def tick() -> dict:
    return scheduled_event(
        "arn:aws:events:eu-west-1:123456789012:rule/test-shipping-carrier-deliveries", "123456789012", "eu-west-1"
    )


def shipment(aws, order_id: str) -> dict | None:
    return aws.get_item("shipping:shipments", order_id=order_id)


def failures(response: dict) -> int:
    return len(response["batchItemFailures"])


def paid_order(aws, order_id="ord_9z8y7x6w5v", country="DE"):
    """OrderPlaced projected, PaymentSucceeded handled; returns (order, the published ShipmentRequested)."""
    aws.load_handler(PROJECT)
    aws.load_handler(REQUEST)
    order = order_placed(order_id, country=country)
    assert failures(aws.deliver(PROJECT, commerce.envelope(order))) == 0
    assert failures(aws.deliver(REQUEST, commerce.envelope(commerce.payment_succeeded(order)))) == 0
    [requested] = aws.published()
    return order, requested


def test_paid_order_is_requested_dispatched_and_delivered_once_its_transit_time_passed(aws, monkeypatch):
    order, requested = paid_order(aws)
    assert (requested["source"], requested["detail-type"]) == ("shipping", "ShipmentRequested")
    data = requested["detail"]["data"]
    assert data["shipment_id"] == "shp_9z8y7x6w5v" and data["warehouse"] == "wh-eu"
    assert data["lines"] == [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "TEE-M", "quantity": 1}]

    handover = aws.load_handler(HANDOVER)
    picked_up = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    monkeypatch.setattr(handover, "clock", lambda: picked_up)
    assert failures(aws.deliver(HANDOVER, requested)) == 0
    [dispatched] = aws.published()
    assert dispatched["detail-type"] == "ShipmentDispatched"
    d = dispatched["detail"]
    assert d["data"]["carrier"] == "DHL" and d["data"]["tracking_number"].startswith("JJD")
    assert d["data"]["dispatched_at"] == "2026-11-27T10:00:00Z"
    assert d["metadata"]["causation_id"] == requested["detail"]["metadata"]["event_id"]
    assert d["metadata"]["correlation_id"] == requested["detail"]["metadata"]["correlation_id"]

    deliveries = aws.load_handler(DELIVERIES)
    transit = timedelta(seconds=90)  # CARRIER_TRANSIT_SECONDS in the manifest
    monkeypatch.setattr(deliveries, "clock", lambda: picked_up + transit - timedelta(seconds=1))
    assert aws.invoke(DELIVERIES, tick()) == {"delivered": 0, "failed": 0}
    assert aws.published() == [] and shipment(aws, order.order_id)["status"] == "dispatched"

    monkeypatch.setattr(deliveries, "clock", lambda: picked_up + transit + timedelta(minutes=3))
    assert aws.invoke(DELIVERIES, tick()) == {"delivered": 1, "failed": 0}
    [delivered] = aws.published()
    assert delivered["detail-type"] == "ShipmentDelivered"
    assert delivered["detail"]["data"]["delivered_at"] == "2026-11-27T10:01:30Z"  # due time, not the sweep's
    assert aws.scan("shipping:in-transit") == []
    assert aws.invoke(DELIVERIES, tick()) == {"delivered": 0, "failed": 0}
    assert aws.published() == []
    item = shipment(aws, order.order_id)
    assert item["status"] == "delivered" and item["published"] == {"requested", "dispatched", "delivered"}


def test_duplicate_payments_request_one_shipment(aws):
    order, _ = paid_order(aws)
    aws.load_handler(REQUEST)
    again = commerce.envelope(commerce.payment_succeeded(order))  # another event id, same order
    assert failures(aws.deliver(REQUEST, again, again)) == 0
    assert aws.published() == []


def test_shipment_requested_twice_dispatches_once_even_concurrently(aws):
    _, requested = paid_order(aws)
    aws.load_handler(HANDOVER)
    start = threading.Barrier(4)
    outcomes = []

    def deliver():
        start.wait()
        outcomes.append(failures(aws.deliver(HANDOVER, requested)))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    published = aws.published()
    # Racing deliveries may both see "not yet published" after the one transition: the same
    # event (same event id) then goes out twice, which consumers deduplicate. Never two dispatches.
    assert {e["detail"]["metadata"]["event_id"] for e in published} == {published[0]["detail"]["metadata"]["event_id"]}
    assert len({e["detail"]["data"]["tracking_number"] for e in published}) == 1
    assert len(aws.scan("shipping:in-transit")) == 1
    assert failures(aws.deliver(HANDOVER, requested, requested)) == 0
    assert aws.published() == []


def test_payment_before_the_order_fails_alone_until_the_order_is_projected(aws):
    aws.load_handler(PROJECT)
    aws.load_handler(REQUEST)
    order = order_placed("ord_late00001")
    paid = aws.sqs_event(REQUEST, commerce.envelope(commerce.payment_succeeded(order)))
    response = aws.invoke(REQUEST, paid)
    assert response == {"batchItemFailures": [{"itemIdentifier": paid["Records"][0]["messageId"]}]}
    assert aws.published() == [] and shipment(aws, order.order_id) is None
    aws.deliver(PROJECT, commerce.envelope(order))
    assert failures(aws.invoke(REQUEST, paid)) == 0
    assert [e["detail-type"] for e in aws.published()] == ["ShipmentRequested"]


def test_a_failed_publish_after_the_write_is_published_by_the_retry_with_the_same_event_id(aws, monkeypatch):
    aws.load_handler(PROJECT)
    requester = aws.load_handler(REQUEST)
    order = order_placed()
    aws.deliver(PROJECT, commerce.envelope(order))
    paid = aws.sqs_event(REQUEST, commerce.envelope(commerce.payment_succeeded(order)))

    def bus_down(*_envelopes):
        raise ConnectionError("EventBridge unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(requester.publisher, "publish", bus_down)
        assert failures(aws.invoke(REQUEST, paid)) == 1
    assert shipment(aws, order.order_id)["status"] == "requested" and aws.published() == []

    assert failures(aws.invoke(REQUEST, paid)) == 0
    [requested] = aws.published()
    from shipping.shipments import REQUESTED, event_id

    assert requested["detail"]["metadata"]["event_id"] == event_id("shp_9z8y7x6w5v", REQUESTED)


def test_a_delivery_run_that_fails_to_publish_is_finished_by_the_next_run(aws, monkeypatch):
    requests = [paid_order(aws, oid, country=c)[1] for oid, c in (("ord_aaaa00001", "DE"), ("ord_bbbb00002", "FR"))]
    aws.load_handler(HANDOVER)
    assert failures(aws.deliver(HANDOVER, *requests)) == 0
    assert len(aws.published()) == 2 and len(aws.scan("shipping:in-transit")) == 2

    deliveries = aws.load_handler(DELIVERIES)
    monkeypatch.setattr(deliveries, "clock", lambda: datetime.now(UTC) + timedelta(hours=1))
    real_publish, calls = deliveries.publisher.publish, []

    def first_fails(*envelopes):
        calls.append(envelopes[0].data.order_id)
        if len(calls) == 1:
            raise ConnectionError("EventBridge unreachable")
        return real_publish(*envelopes)

    monkeypatch.setattr(deliveries.publisher, "publish", first_fails)
    with pytest.raises(deliveries.DeliveryRunFailed):
        aws.invoke(DELIVERIES, tick())
    unlucky = calls[0]
    [delivered] = aws.published()  # the other shipment was not held up
    assert delivered["detail"]["data"]["order_id"] != unlucky
    assert shipment(aws, unlucky)["status"] == "delivered"  # transition kept; its event still owed
    assert [i["order_id"] for i in aws.scan("shipping:in-transit")] == [unlucky]

    assert aws.invoke(DELIVERIES, tick()) == {"delivered": 1, "failed": 0}
    [late] = aws.published()
    assert late["detail"]["data"]["order_id"] == unlucky and aws.scan("shipping:in-transit") == []
