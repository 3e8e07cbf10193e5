"""Reserve stock on OrderPlaced; release it on PaymentFailed or OrderCancelled.

Exactly once per order, whatever the redeliveries: the reservation item is created with
`attribute_not_exists(order_id)` in the same transaction as the stock updates, and a
release moves it `reserved -> released` conditionally. Every outcome (reserved, failed,
released, tombstone) is stored with the events announcing it (see `inventory.outbox`); a
duplicate delivery finds the item and at most re-publishes those same events.

Concurrency: a SKU's update is conditional on the version read and on
`available >= quantity`; when another change wins, the levels the database returned are
planned again (bounded attempts, jittered backoff; then the record is retried by SQS).
"""

from __future__ import annotations

import random
import time
from typing import Any

from inventory import outbox
from inventory.domain import StockLevel, aggregate_lines, level_events, plan_release, plan_reservation, stock_lines
from inventory.store import ReservationChanged, ReservationExists, StockChanged, Store
from shared.batch import process_event_batch
from shared.events import Envelope
from shared.events.inventory import StockReleased, StockReservationFailed, StockReserved
from shared.observability import logger
from shared.publisher import EventPublisher

MAX_ATTEMPTS = 25
RELEASE_REASONS = {"PaymentFailed": "payment_failed", "OrderCancelled": "order_cancelled"}

store = Store()
publisher = EventPublisher()


class ContentionError(RuntimeError):
    """Other changes kept winning; the queue retries the record later."""


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.1, 0.002 * 2**attempt)))  # full jitter


def _merge(levels: dict[str, StockLevel | None], conflict: StockChanged) -> dict[str, StockLevel | None]:
    if not conflict.current:  # no item images (a transaction conflict): read everything again
        return store.get_levels(levels)
    return {**levels, **conflict.current}


def _publish(order_id: str, envelopes: list[Envelope], outbox_id: str) -> None:
    publisher.publish(*envelopes)
    store.mark_reservation_published(order_id, outbox_id)


def _finish_existing(item: dict[str, Any], envelope: Envelope) -> None:
    """The order already has an outcome: publish it if a crash left it unpublished, else nothing."""
    events = outbox.pending(item)
    if events:
        publisher.publish(*events)
        store.mark_reservation_published(item["order_id"], item["outbox_id"])
    logger.info(
        "order already handled",
        extra={
            "order_id": item["order_id"],
            "state": item["state"],
            "detail_type": envelope.detail_type,
            "republished": [e.metadata.event_id for e in events],
        },
    )


def reserve(envelope: Envelope) -> str:
    """Reserve every line of an OrderPlaced, all or nothing. Returns the reservation's state."""
    order = envelope.data
    quantities = aggregate_lines((line.sku, line.quantity) for line in order.lines)
    existing = store.get_reservation(order.order_id)
    if existing is not None:
        _finish_existing(existing, envelope)
        return existing["state"]
    levels = store.get_levels(quantities)
    for attempt in range(MAX_ATTEMPTS):
        plan = plan_reservation(quantities, levels)
        try:
            if not plan.ok:
                events = outbox.build(
                    [StockReservationFailed(order_id=order.order_id, shortages=list(plan.shortages))],
                    causation=envelope,
                )
                outbox_id = store.record_finished(
                    order.order_id,
                    "failed",
                    outbox.serialize(events),
                    lines=[{"sku": s, "quantity": q} for s, q in quantities.items()],
                    shortages=[s.model_dump() for s in plan.shortages],
                    order_event_id=envelope.metadata.event_id,
                )
                _publish(order.order_id, events, outbox_id)
                logger.info(
                    "stock reservation failed",
                    extra={"order_id": order.order_id, "shortages": [s.model_dump() for s in plan.shortages]},
                )
                return "failed"
            data: list[Any] = [StockReserved(order_id=order.order_id, lines=stock_lines(quantities))]
            for sku in quantities:
                data += level_events(plan.before[sku], plan.after[sku], "reserved")
            events = outbox.build(data, causation=envelope)
            outbox_id = store.reserve(
                order.order_id, plan, outbox.serialize(events), order_event_id=envelope.metadata.event_id
            )
            _publish(order.order_id, events, outbox_id)
            logger.info("stock reserved", extra={"order_id": order.order_id, "lines": quantities})
            return "reserved"
        except ReservationExists:
            # A concurrent delivery of this order (or its cancellation) wrote first.
            _finish_existing(store.get_reservation(order.order_id) or {}, envelope)
            return "duplicate"
        except StockChanged as conflict:
            levels = _merge(levels, conflict)
            _backoff(attempt)
    raise ContentionError(f"{order.order_id}: stock kept changing for {MAX_ATTEMPTS} attempts")


def release(envelope: Envelope) -> str:
    """Give back an order's reserved stock, once. Returns what happened."""
    order_id = envelope.data.order_id
    reason = RELEASE_REASONS[envelope.detail_type]
    for attempt in range(MAX_ATTEMPTS):
        item = store.get_reservation(order_id)
        if item is None:
            # Released before it was reserved (out of order): a tombstone makes the later
            # OrderPlaced a no-op, since this order must not hold stock any more.
            try:
                store.record_finished(
                    order_id, "tombstone", [], release_reason=reason, released_by_event_id=envelope.metadata.event_id
                )
            except ReservationExists:
                continue  # the OrderPlaced was handled meanwhile: release that reservation
            logger.info("release before reservation: tombstone written", extra={"order_id": order_id, "reason": reason})
            return "tombstone"
        if item["state"] != "reserved":
            _finish_existing(item, envelope)
            return item["state"]
        quantities = {line["sku"]: int(line["quantity"]) for line in item["lines"]}
        levels = store.get_levels(quantities)
        after = plan_release(quantities, levels)
        data: list[Any] = [StockReleased(order_id=order_id, lines=stock_lines(quantities), reason=reason)]
        for sku in quantities:
            data += level_events(levels[sku], after[sku], "released")
        events = outbox.build(data, causation=envelope)
        try:
            outbox_id = store.release(
                order_id,
                quantities,
                {sku: levels[sku] for sku in quantities},
                after,
                outbox.serialize(events),
                reason=reason,
                event_id=envelope.metadata.event_id,
            )
        except StockChanged:
            _backoff(attempt)
            continue
        except ReservationChanged:
            continue  # released concurrently (the other release event): read it again
        _publish(order_id, events, outbox_id)
        logger.info("stock released", extra={"order_id": order_id, "reason": reason, "lines": quantities})
        return "released"
    raise ContentionError(f"{order_id}: could not release after {MAX_ATTEMPTS} attempts")


def handle(envelope: Envelope, _record: Any) -> str:
    if envelope.detail_type == "OrderPlaced":
        return reserve(envelope)
    return release(envelope)


@logger.inject_lambda_context
def handler(event: dict, context: Any) -> dict:
    return process_event_batch(event, context, handle)
