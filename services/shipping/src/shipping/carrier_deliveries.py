"""Simulated carrier delivery, on a schedule: every shipment whose transit time has passed
becomes delivered (conditional transition, once) and ShipmentDelivered is published (once).

The in-transit entry is removed only after the event is out, so a crash in between is
finished by the next run. One shipment failing does not stop the others; the run then
raises so the error shows in the function's metrics (the next run retries it anyway).

A cancelled shipment is never on the schedule (cancel and pick-up are both conditional on
`requested`, and the schedule entry is written with the pick-up); should one appear anyway,
it is dropped from the schedule and never delivered.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.observability import logger
from shared.publisher import EventPublisher
from shipping.shipments import CANCELLED, DELIVERED, DISPATCHED, deliver, is_due
from shipping.store import publish_stage, shipments_from_env

shipments = shipments_from_env(in_transit=True)
publisher = EventPublisher()
SAFETY_MS = 5_000  # stop taking new shipments this close to the timeout


def clock() -> datetime:
    return datetime.now(UTC)


class DeliveryRunFailed(RuntimeError):
    pass


def deliver_due(now: datetime, context=None) -> dict[str, int]:
    delivered, failed = 0, 0
    for entry in shipments.due(now):
        if context is not None and context.get_remaining_time_in_millis() < SAFETY_MS:
            break  # the next run continues
        try:
            shipment = shipments.get(entry.order_id)
            if shipment is None:
                raise LookupError(f"{entry.order_id}: scheduled delivery of an unknown shipment")
            if shipment.status == CANCELLED:
                logger.error("cancelled shipment on the delivery schedule; dropped", extra={"order_id": entry.order_id})
                shipments.done(entry)
                continue
            if shipment.status == DISPATCHED and is_due(shipment, now):
                shipment = shipments.save_delivery(deliver(shipment))
            if shipment.status == DELIVERED:
                publish_stage(shipments, publisher, shipment, DELIVERED)
                shipments.done(entry)
                delivered += 1
        except Exception:
            failed += 1
            logger.exception("delivery failed; the next run retries it", extra={"order_id": entry.order_id})
    return {"delivered": delivered, "failed": failed}


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    result = deliver_due(clock(), context)
    logger.info("delivery run", extra=result)
    if result["failed"]:
        raise DeliveryRunFailed(f"{result['failed']} shipment(s) failed; see the log")
    return result
