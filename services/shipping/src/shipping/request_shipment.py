"""PaymentSucceeded -> one shipment per order -> ShipmentRequested.

The shipment id comes from the order id and the item is written with a conditional put, so
duplicated or concurrent PaymentSucceeded deliveries request one shipment. If the payment
overtook OrderPlaced, the record fails and SQS retries it until the projection exists.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from shared.batch import process_event_batch
from shared.observability import logger
from shared.publisher import EventPublisher
from shipping.shipments import REQUESTED, request
from shipping.store import orders_from_env, publish_stage, shipments_from_env

orders = orders_from_env()
shipments = shipments_from_env()
publisher = EventPublisher()
WAREHOUSE = os.environ.get("WAREHOUSE") or f"wh-{os.environ.get('DATA_RESIDENCY', 'eu')}"


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
    publish_stage(shipments, publisher, shipment, REQUESTED)


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_event_batch(event, context, request_shipment)
