"""OrderCancelled on moto: a cancelled order is never handed to the carrier, whatever the order
in which PaymentSucceeded, OrderCancelled and ShipmentRequested arrive, and however often."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from shipping.shipments import CANCELLED, REQUESTED, event_id, iso

from devtools import commerce_fixtures as commerce
from devtools.local.events import scheduled_event

PROJECT, REQUEST = "shipping.project_orders", "shipping.request_shipment"
HANDOVER, DELIVERIES = "shipping.carrier_handover", "shipping.carrier_deliveries"
CANCELLED_AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
FAR_FUTURE = datetime.now(UTC) + timedelta(days=30)  # every dispatched shipment is due by then


def order_placed(order_id: str = "ord_c4nc3l0001", country: str = "FR"):
    return commerce.order_placed(
        order_id,
        [("MUG-BLUE", 1)],
        unit_price="12.50",
        name="Léa Martin",
        locale="fr-FR",
        time_zone="Europe/Paris",
        country=country,
        placed_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )


def cancelled(order, *, cancelled_by: str = "customer", at: datetime | None = CANCELLED_AT):
    """The OrderCancelled envelope orders publishes (a new event id each call)."""
    data = commerce.order_cancelled(order.order_id, cancelled_by=cancelled_by)
    return commerce.envelope(data.model_copy(update={"cancelled_at": at}))


def paid(order):
    return commerce.envelope(commerce.payment_succeeded(order))


def tick() -> dict:
    return scheduled_event(
        "arn:aws:events:eu-west-1:123456789012:rule/test-shipping-carrier-deliveries", "123456789012", "eu-west-1"
    )


def failures(response: dict) -> int:
    return len(response["batchItemFailures"])


def shipment(aws, order_id: str) -> dict | None:
    return aws.get_item("shipping:shipments", order_id=order_id)


def types(events: list[dict]) -> list[str]:
    return [e["detail-type"] for e in events]


@pytest.fixture
def shipping(aws, monkeypatch):
    """Every shipping handler loaded; the carrier delivers anything dispatched when it runs."""
    for fn in (PROJECT, REQUEST, HANDOVER):
        aws.load_handler(fn)
    monkeypatch.setattr(aws.load_handler(DELIVERIES), "clock", lambda: FAR_FUTURE)
    return aws


def requested(aws, order):
    """OrderPlaced projected and paid: returns the published ShipmentRequested."""
    assert failures(aws.deliver(PROJECT, commerce.envelope(order))) == 0
    assert failures(aws.deliver(REQUEST, paid(order))) == 0
    [event] = aws.published()
    assert event["detail-type"] == "ShipmentRequested"
    return event


def carrier_does_nothing_for(aws, order, requested_event=None) -> None:
    """The carrier neither picks up nor delivers the order's shipment, now or later."""
    if requested_event is not None:
        assert failures(aws.deliver(HANDOVER, requested_event)) == 0
    assert aws.invoke(DELIVERIES, tick()) == {"delivered": 0, "failed": 0}
    assert aws.published() == [] and aws.scan("shipping:in-transit") == []
    assert shipment(aws, order.order_id)["status"] == CANCELLED


# --------------------------------------------------------------------------- between request and pick-up


def test_cancel_between_request_and_pick_up_cancels_the_shipment_once_and_the_carrier_skips_it(shipping):
    aws, order = shipping, order_placed()
    shipment_requested = requested(aws, order)
    cancel = cancelled(order)

    assert failures(aws.deliver(REQUEST, cancel)) == 0
    [event] = aws.published()
    assert (event["source"], event["detail-type"]) == ("shipping", "ShipmentCancelled")
    meta, data = event["detail"]["metadata"], event["detail"]["data"]
    assert data == {
        "shipment_id": "shp_c4nc3l0001",
        "order_id": order.order_id,
        "warehouse": "wh-eu",
        "cancelled_at": "2026-11-27T09:30:00Z",
    }
    assert meta["event_id"] == event_id("shp_c4nc3l0001", CANCELLED)
    assert meta["causation_id"] == cancel.metadata.event_id  # caused by the order's cancellation
    assert meta["correlation_id"] == shipment_requested["detail"]["metadata"]["correlation_id"]
    assert meta["occurred_at"] == "2026-11-27T09:30:00Z"

    # ShipmentRequested was still on its way to the carrier: the pick-up finds it cancelled.
    carrier_does_nothing_for(aws, order, shipment_requested)
    item = shipment(aws, order.order_id)
    assert item["published"] == {REQUESTED, CANCELLED} and "carrier" not in item


def test_cancel_without_a_cancellation_time_uses_the_events_time(shipping):
    aws, order = shipping, order_placed()
    requested(aws, order)
    cancel = cancelled(order, at=None)
    assert failures(aws.deliver(REQUEST, cancel)) == 0
    [event] = aws.published()
    assert event["detail"]["data"]["cancelled_at"] == event["detail"]["metadata"]["occurred_at"]
    assert datetime.fromisoformat(event["detail"]["data"]["cancelled_at"]) == cancel.metadata.occurred_at


def test_cancel_racing_the_pick_up_wins_or_loses_whole(shipping, monkeypatch):
    """The cancel lands after the carrier read the shipment and before its conditional write."""
    aws, order = shipping, order_placed()
    shipment_requested = requested(aws, order)
    handover = aws.handler_module(HANDOVER)
    real_get, raced = handover.shipments.get, []

    def get_then_cancel(order_id):
        current = real_get(order_id)
        if not raced:
            raced.append(failures(aws.deliver(REQUEST, cancelled(order))))
        return current

    monkeypatch.setattr(handover.shipments, "get", get_then_cancel)
    assert failures(aws.deliver(HANDOVER, shipment_requested)) == 0
    assert raced == [0] and types(aws.published()) == ["ShipmentCancelled"]
    carrier_does_nothing_for(aws, order)


# --------------------------------------------------------------------------- before the shipment exists


def test_cancel_before_payment_leaves_a_tombstone_and_the_later_payment_requests_nothing(shipping):
    aws, order = shipping, order_placed()
    assert failures(aws.deliver(PROJECT, commerce.envelope(order))) == 0
    cancel = cancelled(order)
    assert failures(aws.deliver(REQUEST, cancel)) == 0
    assert aws.published() == []  # no shipment was ever requested: nothing to announce
    assert shipment(aws, order.order_id) == {
        "order_id": order.order_id,
        "status": CANCELLED,
        "cancelled_at": "2026-11-27T09:30:00.000000Z",
        "cancel_event_id": cancel.metadata.event_id,
    }

    payment = paid(order)
    assert failures(aws.deliver(REQUEST, payment, payment)) == 0  # and duplicated
    assert aws.published() == [] and "requested_at" not in shipment(aws, order.order_id)
    assert aws.invoke(DELIVERIES, tick()) == {"delivered": 0, "failed": 0}


def test_cancel_overtaking_order_and_payment_needs_no_retry_and_stops_the_shipment(shipping):
    aws, order = shipping, order_placed()
    assert failures(aws.deliver(REQUEST, cancelled(order))) == 0
    # Without the tombstone this payment would fail (no projection yet) and be retried.
    assert failures(aws.deliver(REQUEST, paid(order))) == 0
    assert failures(aws.deliver(PROJECT, commerce.envelope(order))) == 0
    assert failures(aws.deliver(REQUEST, paid(order))) == 0
    assert aws.published() == []
    assert aws.scan("shipping:shipments")[0]["status"] == CANCELLED


@pytest.mark.parametrize(
    ("first", "expected"),
    [("cancel", []), ("payment", ["ShipmentRequested", "ShipmentCancelled"])],
)
def test_payment_and_cancel_in_one_batch_in_either_order(shipping, first, expected):
    aws, order = shipping, order_placed()
    assert failures(aws.deliver(PROJECT, commerce.envelope(order))) == 0
    batch = [cancelled(order), paid(order)]
    if first == "payment":
        batch.reverse()
    assert failures(aws.deliver(REQUEST, *batch)) == 0
    published = aws.published()
    assert types(published) == expected
    carrier_does_nothing_for(aws, order, *published[:1])


def test_concurrent_payment_and_cancel_never_leave_a_shipment_to_pick_up(shipping):
    aws = shipping
    for n in range(3):
        order = order_placed(f"ord_r4c3{n:06d}")
        assert failures(aws.deliver(PROJECT, commerce.envelope(order))) == 0
        start, outcomes = threading.Barrier(2), []

        def deliver(item, order=order, start=start, outcomes=outcomes):
            start.wait()
            outcomes.append(failures(aws.deliver(REQUEST, item)))

        threads = [threading.Thread(target=deliver, args=(item,)) for item in (paid(order), cancelled(order))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes == [0, 0]
        published = aws.published()
        # Either the cancel came first (a tombstone, nothing announced) or it cancelled the
        # requested shipment; racing publishers may repeat an event, always with its one id.
        assert sorted(set(types(published))) in ([], ["ShipmentCancelled", "ShipmentRequested"])
        assert len({e["detail"]["metadata"]["event_id"] for e in published}) == len(set(types(published)))
        requested_events = [e for e in published if e["detail-type"] == "ShipmentRequested"]
        carrier_does_nothing_for(aws, order, *requested_events[:1])


# --------------------------------------------------------------------------- after pick-up: too late


def test_cancel_after_pick_up_is_too_late_it_is_recorded_and_the_parcel_is_delivered(shipping):
    aws, order = shipping, order_placed()
    assert failures(aws.deliver(HANDOVER, requested(aws, order))) == 0
    assert types(aws.published()) == ["ShipmentDispatched"]

    late, later = cancelled(order), cancelled(order, cancelled_by="operations")
    assert failures(aws.deliver(REQUEST, late, late)) == 0
    assert failures(aws.deliver(REQUEST, later)) == 0
    assert aws.published() == []
    item = shipment(aws, order.order_id)
    assert item["status"] == "dispatched" and "cancelled_at" not in item
    assert (item["late_cancel_event_id"], item["late_cancelled_at"]) == (
        late.metadata.event_id,  # the first late cancel is kept
        "2026-11-27T09:30:00.000000Z",
    )
    assert aws.invoke(DELIVERIES, tick()) == {"delivered": 1, "failed": 0}
    assert types(aws.published()) == ["ShipmentDelivered"]

    assert failures(aws.deliver(REQUEST, cancelled(order))) == 0  # after delivery: the same
    assert aws.published() == [] and shipment(aws, order.order_id)["status"] == "delivered"


# --------------------------------------------------------------------------- duplicates and failures


def test_duplicated_cancels_and_payments_publish_the_cancellation_once(shipping):
    aws, order = shipping, order_placed()
    requested(aws, order)
    first = cancelled(order)
    assert failures(aws.deliver(REQUEST, first, first)) == 0  # delivered twice in one batch
    assert types(aws.published()) == ["ShipmentCancelled"]

    again = aws.sqs_record(REQUEST, first)
    assert failures(aws.deliver(REQUEST, again, cancelled(order, cancelled_by="operations"), paid(order))) == 0
    assert aws.published() == []
    assert shipment(aws, order.order_id)["cancel_event_id"] == first.metadata.event_id  # the first one counts


def test_a_failed_publish_after_the_cancel_is_published_by_the_retry_and_spares_the_rest_of_the_batch(
    shipping, monkeypatch
):
    aws = shipping
    unlucky, other = order_placed("ord_unluck0001"), order_placed("ord_others0002", country="JP")
    requests = [requested(aws, o) for o in (unlucky, other)]
    requester = aws.handler_module(REQUEST)
    real_publish = requester.publisher.publish

    def bus_down_for_unlucky(*envelopes):
        if envelopes[0].data.order_id == unlucky.order_id:
            raise ConnectionError("EventBridge unreachable")
        return real_publish(*envelopes)

    batch = aws.sqs_event(REQUEST, cancelled(unlucky), cancelled(other))
    with monkeypatch.context() as patch:
        patch.setattr(requester.publisher, "publish", bus_down_for_unlucky)
        response = aws.invoke(REQUEST, batch)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    [other_cancelled] = aws.published()
    assert other_cancelled["detail"]["data"]["order_id"] == other.order_id
    assert shipment(aws, unlucky.order_id)["status"] == CANCELLED  # the write stands; its event is owed

    # Meanwhile the carrier hears ShipmentRequested: the write alone already stops the pick-up.
    assert failures(aws.deliver(HANDOVER, *requests)) == 0
    assert aws.published() == []

    retry = {"Records": [batch["Records"][0]]}
    assert failures(aws.invoke(REQUEST, retry)) == 0
    [late] = aws.published()
    assert late["detail"]["metadata"]["event_id"] == event_id("shp_unluck0001", CANCELLED)
    for order in (unlucky, other):
        carrier_does_nothing_for(aws, order)


def test_a_cancel_after_an_unpublished_request_publishes_both_events_in_order(shipping, monkeypatch):
    aws, order = shipping, order_placed()
    assert failures(aws.deliver(PROJECT, commerce.envelope(order))) == 0
    requester = aws.handler_module(REQUEST)
    payment = aws.sqs_event(REQUEST, paid(order))

    def bus_down(*_envelopes):
        raise ConnectionError("EventBridge unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(requester.publisher, "publish", bus_down)
        assert failures(aws.invoke(REQUEST, payment)) == 1
    assert aws.published() == [] and shipment(aws, order.order_id)["status"] == REQUESTED

    assert failures(aws.deliver(REQUEST, cancelled(order))) == 0
    published = aws.published()
    assert types(published) == ["ShipmentRequested", "ShipmentCancelled"]
    assert published[1]["detail"]["metadata"]["event_id"] == event_id("shp_c4nc3l0001", CANCELLED)
    assert failures(aws.invoke(REQUEST, payment)) == 0  # SQS retries the payment: nothing owed any more
    carrier_does_nothing_for(aws, order, published[0])


def test_the_delivery_run_drops_a_cancelled_shipment_found_on_its_schedule(shipping):
    """Cannot happen through the handlers (pick-up and cancel both need `requested`); if a
    hand-made or restored entry puts one there, the carrier must still not deliver it."""
    aws, order = shipping, order_placed()
    requested(aws, order)
    assert failures(aws.deliver(REQUEST, cancelled(order))) == 0
    aws.published()
    table = aws.dynamodb_table("shipping:in-transit")
    due_key = f"{iso(datetime.now(UTC))}#shp_c4nc3l0001"
    table.put_item(Item={"lane": "lane-2", "due_key": due_key, "order_id": order.order_id})
    carrier_does_nothing_for(aws, order)
