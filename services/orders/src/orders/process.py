"""Reactions of the Order aggregate to other services' events (EventBridge -> SQS -> here).

    inventory StockReservationFailed -> OrderRejected
    payments  PaymentSucceeded       -> PaymentReceived
    payments  PaymentFailed          -> OrderPaymentFailed
    shipping  ShipmentDispatched     -> OrderShipped
    shipping  ShipmentDelivered      -> OrderDelivered

Idempotent by state: a duplicate finds its effect already in the order and appends nothing.
An event that arrives too early (delivered before dispatched, dispatched before paid, or for
an order not yet in the store) raises `OutOfOrder`: the record is reported failed and SQS
redelivers it after the visibility timeout, by which time the earlier event has been applied.
A concurrent append to the same order (`ConcurrencyError`) reloads and decides again.
"""

from __future__ import annotations

from collections.abc import Callable

from orders import adapters
from orders.domain import Order, Outcome
from shared.batch import process_event_batch
from shared.events import Envelope, new_envelope
from shared.eventstore import StreamNotFoundError, retry_on_conflict
from shared.observability import logger

Reaction = Callable[[Order, Envelope], Outcome]


def _reservation_failed(order: Order, env: Envelope) -> Outcome:
    return order.reservation_failed([s.sku for s in env.data.shortages], now=env.metadata.occurred_at)


def _payment_succeeded(order: Order, env: Envelope) -> Outcome:
    return order.payment_succeeded(env.data.payment_id, env.data.amount.money(), now=env.metadata.occurred_at)


def _payment_failed(order: Order, env: Envelope) -> Outcome:
    return order.payment_failed(env.data.payment_id, env.data.reason, now=env.metadata.occurred_at)


def _dispatched(order: Order, env: Envelope) -> Outcome:
    d = env.data
    return order.shipment_dispatched(d.shipment_id, d.carrier, d.tracking_number, d.dispatched_at)


def _delivered(order: Order, env: Envelope) -> Outcome:
    return order.shipment_delivered(env.data.shipment_id, env.data.delivered_at)


REACTIONS: dict[str, Reaction] = {
    "StockReservationFailed": _reservation_failed,
    "PaymentSucceeded": _payment_succeeded,
    "PaymentFailed": _payment_failed,
    "ShipmentDispatched": _dispatched,
    "ShipmentDelivered": _delivered,
}


@retry_on_conflict(attempts=5)
def react(envelope: Envelope, _record=None) -> Outcome:
    """Load the order, apply the reaction, append what it recorded (conditional on the version)."""
    reaction = REACTIONS.get(envelope.detail_type)
    if reaction is None:
        raise ValueError(f"orders does not react to {envelope.detail_type}")
    order_id = envelope.data.order_id
    repo = adapters.repository()
    try:
        order = repo.load(order_id)
    except StreamNotFoundError:
        order = Order(order_id)  # the reaction raises OutOfOrder: retried until the order exists
    outcome = reaction(order, envelope)
    if outcome.recorded:
        repo.save(order, [new_envelope(e, source=adapters.SOURCE, causation=envelope) for e in order.pending])
        logger.info(
            "order updated",
            extra={"order_id": order_id, "status": order.status, "events": [e.detail_type for e in outcome.recorded]},
        )
    else:
        logger.info("event changes nothing", extra={"order_id": order_id, "reason": outcome.ignored})
    return outcome


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_event_batch(event, context, react)
