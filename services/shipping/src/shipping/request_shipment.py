"""The shipment request: PaymentSucceeded -> one shipment per order -> ShipmentRequested;
OrderCancelled before pick-up -> the shipment is cancelled -> ShipmentCancelled.

The shipment id comes from the order id and the item is written with a conditional put, so
duplicated or concurrent PaymentSucceeded deliveries request one shipment. If the payment
overtook OrderPlaced, the record fails and SQS retries it until the projection exists.

OrderCancelled moves a requested shipment to cancelled with one conditional write (the
carrier's pick-up is conditional on `requested` too, so exactly one of them wins). With no
shipment yet (the cancel overtook the payment, or the order was cancelled before it was
paid) the same write leaves a tombstone, and a later PaymentSucceeded requests nothing.
After pick-up the cancel is too late: it is noted on the shipment and logged, nothing else.
Both events are consumed here because both decide the fate of the same item.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from shared.batch import process_event_batch
from shared.observability import logger
from shared.publisher import EventPublisher
from shipping.shipments import CANCELLED, REQUESTED, Cancellation, Tombstone, request
from shipping.store import orders_from_env, publish_owed, shipments_from_env

orders = orders_from_env()
shipments = shipments_from_env()
publisher = EventPublisher()
WAREHOUSE = os.environ.get("WAREHOUSE") or f"wh-{os.environ.get('DATA_RESIDENCY', 'eu')}"
OWN_STAGES = (REQUESTED, CANCELLED)  # the stages whose events this function publishes


def clock() -> datetime:
    return datetime.now(UTC)


class OrderNotProjectedYet(RuntimeError):
    """PaymentSucceeded arrived before OrderPlaced was projected: retried by SQS."""


def request_shipment(envelope, _record) -> None:
    order_id = envelope.data.order_id
    shipment = shipments.get(order_id)
    if shipment is None:
        order = orders.get(order_id)
        if order is None:
            raise OrderNotProjectedYet(f"{order_id}: no OrderPlaced projected yet; retrying")
        shipment = shipments.create(
            request(
                order,
                warehouse=WAREHOUSE,
                now=clock(),
                correlation_id=envelope.metadata.correlation_id,
                cause_event_id=envelope.metadata.event_id,
            )
        )
    if isinstance(shipment, Tombstone):
        logger.info("order was cancelled before any shipment was requested; none is", extra={"order_id": order_id})
        return
    publish_owed(shipments, publisher, shipment, OWN_STAGES)


def cancel_shipment(envelope, _record) -> None:
    data = envelope.data
    cancellation = Cancellation(
        order_id=data.order_id,
        cancelled_at=data.cancelled_at or envelope.metadata.occurred_at,
        cause_event_id=envelope.metadata.event_id,
    )
    shipment = shipments.save_cancellation(cancellation)
    extra = {"order_id": data.order_id, "status": shipment.status, "cancelled_by": data.cancelled_by}
    if isinstance(shipment, Tombstone):
        logger.info("order cancelled before any shipment was requested; tombstone kept", extra=extra)
    elif shipment.status == CANCELLED:
        publish_owed(shipments, publisher, shipment, OWN_STAGES)
        logger.info("shipment cancelled before pick-up", extra=extra)
    else:
        # Orders accepted the cancel while our ShipmentDispatched was still on its way to it:
        # the parcel is with the carrier. Keep the fact for operations; publish nothing.
        shipments.record_late_cancellation(cancellation)
        logger.warning("order cancelled after the shipment was dispatched; too late to stop it", extra=extra)


def handle(envelope, record) -> None:
    if envelope.detail_type == "OrderCancelled":
        cancel_shipment(envelope, record)
    else:
        request_shipment(envelope, record)


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_event_batch(event, context, handle)
