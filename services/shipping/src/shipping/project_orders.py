"""OrderPlaced -> the warehouse's projection (address, lines), once per order id."""

from __future__ import annotations

from shared.batch import process_event_batch
from shared.observability import logger
from shipping.store import orders_from_env

orders = orders_from_env()


def project(envelope, _record) -> None:
    if orders.put(envelope.data):
        logger.info("order projected", extra={"order_id": envelope.data.order_id})
    else:
        logger.info("order already projected; duplicate ignored", extra={"order_id": envelope.data.order_id})


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_event_batch(event, context, project)
