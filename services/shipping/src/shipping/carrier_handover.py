"""Simulated carrier pick-up: ShipmentRequested -> carrier + tracking number -> ShipmentDispatched.

The state change (requested -> dispatched, plus the entry on the carrier's delivery
schedule) is one conditional transaction: ShipmentRequested twice dispatches once. A shipment
cancelled before pick-up (ShipmentRequested may still be on its way here) is left alone: the
transaction's `status = requested` condition also settles a cancel racing the pick-up.
CARRIER_TRANSIT_SECONDS is the simulated time until delivery: 90 in the manifest; seconds, decimals
allowed (a demo or test speed: the local runtime's `up --function-env
shipping.carrier_handover:CARRIER_TRANSIT_SECONDS=3`, or the manifest's environment).
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta

from shared.batch import process_event_batch
from shared.observability import logger
from shared.publisher import EventPublisher
from shipping.shipments import CANCELLED, DISPATCHED, REQUESTED, dispatch
from shipping.store import publish_stage, shipments_from_env

shipments = shipments_from_env(in_transit=True)
publisher = EventPublisher()
DEFAULT_TRANSIT_SECONDS = 90


def transit_time(value: str | None) -> timedelta:
    """CARRIER_TRANSIT_SECONDS as a duration; unset or empty: the default. A bad value stops the
    cold start with a message naming the variable (never a silent default)."""
    if value is None or not value.strip():
        return timedelta(seconds=DEFAULT_TRANSIT_SECONDS)
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"CARRIER_TRANSIT_SECONDS must be a number of seconds >= 0, not {value!r}")
    return timedelta(seconds=seconds)


TRANSIT = transit_time(os.environ.get("CARRIER_TRANSIT_SECONDS"))


def clock() -> datetime:
    return datetime.now(UTC)


def hand_over(envelope, _record) -> None:
    order_id = envelope.data.order_id
    shipment = shipments.get(order_id)
    if shipment is None:  # ShipmentRequested is published after the write: should not happen
        raise LookupError(f"{order_id}: ShipmentRequested for an unknown shipment")
    if shipment.status == REQUESTED:
        shipment = shipments.save_dispatch(dispatch(shipment, now=clock(), transit=TRANSIT))
    if shipment.status == CANCELLED:
        logger.info("shipment was cancelled before pick-up; not dispatched", extra={"order_id": order_id})
        return
    publish_stage(shipments, publisher, shipment, DISPATCHED)


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_event_batch(event, context, hand_over)
