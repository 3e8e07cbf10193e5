"""The shipment and the simulated carrier: plain Python, no AWS.

One shipment per order; its id is derived from the order id (`ord_x` -> `shp_x`), so any
retry of any step names the same shipment. States only move forward:

    requested --dispatch (carrier pick-up)--> dispatched --deliver (due_at passed)--> delivered
        |
        +--cancel (OrderCancelled before pick-up)--> cancelled

An OrderCancelled heard before any shipment exists leaves a `Tombstone` in the shipment's
place, so a later (or reordered) PaymentSucceeded requests nothing. Once dispatched, a cancel
is too late: the parcel is with the carrier.

The carrier is simulated and deterministic: the carrier follows the destination country,
the tracking number is a hash of the shipment id, delivery happens `transit` after pick-up
and `delivered_at` is that due time (not when a sweep noticed it), so a retried step
computes exactly the same facts.

Each state has one event. Its event id is derived from (shipment id, stage) and its
occurred_at is the stage's time, so an event re-published after a crash is the same event
(consumers deduplicate on event_id).

    >>> s = request(order, warehouse="wh-eu", now=t0, correlation_id="c", cause_event_id="e")
    >>> s = dispatch(s, now=t1, transit=timedelta(minutes=2))
    >>> deliver(s).delivered_at == s.due_at
    True
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events.commerce import StockLine
from shared.events.shipping import ShipmentCancelled, ShipmentDelivered, ShipmentDispatched, ShipmentRequested

REQUESTED, DISPATCHED, DELIVERED, CANCELLED = "requested", "dispatched", "delivered", "cancelled"
# The stages a shipment in each status went through, in order (each stage has one event).
PATHS: dict[str, tuple[str, ...]] = {
    REQUESTED: (REQUESTED,),
    DISPATCHED: (REQUESTED, DISPATCHED),
    DELIVERED: (REQUESTED, DISPATCHED, DELIVERED),
    CANCELLED: (REQUESTED, CANCELLED),
}
LANES = 4  # in-transit partitions: spreads the delivery schedule over several DynamoDB partitions

# Simulated carriers by destination country: (name, tracking prefix).
CARRIERS: dict[str, tuple[str, str]] = {
    "DE": ("DHL", "JJD"),
    "AT": ("Österreichische Post", "AT"),
    "FR": ("La Poste Colissimo", "6A"),
    "ES": ("Correos", "PQ"),
    "JP": ("Yamato Transport", "YT"),
    "US": ("UPS", "1Z"),
    "GB": ("Royal Mail", "RM"),
}
DEFAULT_CARRIER = ("UPS", "1Z")
_EVENT_NAMESPACE = uuid.UUID("7d5c8a4e-6a0f-4c53-9d0e-1f2a3b4c5d6e")


class InvalidTransition(ValueError):
    """A step that does not follow from the shipment's state (e.g. delivering a requested one)."""


@dataclass(frozen=True)
class OrderToShip:
    """What the warehouse needs from OrderPlaced."""

    order_id: str
    country: str
    lines: tuple[tuple[str, int], ...]  # (sku, quantity)


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    order_id: str
    warehouse: str
    country: str
    lines: tuple[tuple[str, int], ...]
    status: str
    requested_at: datetime
    correlation_id: str
    cause_event_id: str  # the PaymentSucceeded that caused it
    carrier: str | None = None
    tracking_number: str | None = None
    dispatched_at: datetime | None = None
    due_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_event_id: str | None = None  # the OrderCancelled that cancelled it
    published: frozenset[str] = field(default_factory=frozenset)

    @property
    def lane(self) -> str:
        return f"lane-{int(hashlib.sha256(self.shipment_id.encode()).hexdigest(), 16) % LANES}"

    @property
    def due_key(self) -> str:
        """Sorts by due time (fixed-width UTC ISO), unique per shipment."""
        if self.due_at is None:
            raise InvalidTransition(f"{self.shipment_id} has no due time before dispatch")
        return f"{iso(self.due_at)}#{self.shipment_id}"


@dataclass(frozen=True)
class Cancellation:
    """An OrderCancelled as the warehouse sees it. It cancels a requested shipment, leaves a
    tombstone where there is none yet, and is too late for a dispatched or delivered one
    (the store applies this rule in one conditional write; see Shipments.save_cancellation)."""

    order_id: str
    cancelled_at: datetime
    cause_event_id: str  # the OrderCancelled event


@dataclass(frozen=True)
class Tombstone:
    """The order was cancelled before any shipment was requested: none ever will be."""

    order_id: str
    cancelled_at: datetime
    cancel_event_id: str
    status: str = CANCELLED


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shipment_id_for(order_id: str) -> str:
    if not order_id.startswith("ord_"):
        raise ValueError(f"not an order id: {order_id!r}")
    return "shp_" + order_id[4:]


def request(order: OrderToShip, *, warehouse: str, now: datetime, correlation_id: str, cause_event_id: str) -> Shipment:
    return Shipment(
        shipment_id=shipment_id_for(order.order_id),
        order_id=order.order_id,
        warehouse=warehouse,
        country=order.country,
        lines=order.lines,
        status=REQUESTED,
        requested_at=now,
        correlation_id=correlation_id,
        cause_event_id=cause_event_id,
    )


def carrier_for(country: str) -> tuple[str, str]:
    return CARRIERS.get(country, DEFAULT_CARRIER)


def tracking_number(shipment_id: str, prefix: str) -> str:
    digits = int(hashlib.sha256(f"tracking:{shipment_id}".encode()).hexdigest(), 16) % 10**10
    return f"{prefix}{digits:010d}"


def dispatch(shipment: Shipment, *, now: datetime, transit: timedelta) -> Shipment:
    """The carrier picks the parcel up now; it will be delivered `transit` later."""
    if shipment.status != REQUESTED:
        raise InvalidTransition(f"{shipment.shipment_id} is {shipment.status}, cannot be dispatched")
    if transit < timedelta(0):
        raise ValueError("transit time cannot be negative")
    name, prefix = carrier_for(shipment.country)
    return replace(
        shipment,
        status=DISPATCHED,
        carrier=name,
        tracking_number=tracking_number(shipment.shipment_id, prefix),
        dispatched_at=now,
        due_at=now + transit,
    )


def is_due(shipment: Shipment, now: datetime) -> bool:
    return shipment.status == DISPATCHED and shipment.due_at is not None and shipment.due_at <= now


def deliver(shipment: Shipment) -> Shipment:
    if shipment.status != DISPATCHED or shipment.due_at is None:
        raise InvalidTransition(f"{shipment.shipment_id} is {shipment.status}, cannot be delivered")
    return replace(shipment, status=DELIVERED, delivered_at=shipment.due_at)


def reached(shipment: Shipment, stage: str) -> bool:
    return stage in PATHS[shipment.status]


def event_id(shipment_id: str, stage: str) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{shipment_id}:{stage}"))


@dataclass(frozen=True)
class StageEvent:
    data: Any  # the EventData payload
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str


def stage_event(shipment: Shipment, stage: str) -> StageEvent:
    """The event of `stage`, the same every time it is built."""
    if not reached(shipment, stage):
        raise InvalidTransition(f"{shipment.shipment_id} has not reached {stage}")
    sid, oid = shipment.shipment_id, shipment.order_id
    if stage == REQUESTED:
        lines = [StockLine(sku=sku, quantity=qty) for sku, qty in shipment.lines]
        data: Any = ShipmentRequested(shipment_id=sid, order_id=oid, warehouse=shipment.warehouse, lines=lines)
        at, cause = shipment.requested_at, shipment.cause_event_id
    elif stage == DISPATCHED:
        data = ShipmentDispatched(
            shipment_id=sid,
            order_id=oid,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            dispatched_at=shipment.dispatched_at,
        )
        at, cause = shipment.dispatched_at, event_id(sid, REQUESTED)
    elif stage == DELIVERED:
        data = ShipmentDelivered(shipment_id=sid, order_id=oid, delivered_at=shipment.delivered_at)
        at, cause = shipment.delivered_at, event_id(sid, DISPATCHED)
    else:  # CANCELLED: caused by the OrderCancelled, not by the previous stage
        data = ShipmentCancelled(
            shipment_id=sid, order_id=oid, warehouse=shipment.warehouse, cancelled_at=shipment.cancelled_at
        )
        at, cause = shipment.cancelled_at, shipment.cancel_event_id
    return StageEvent(data, event_id(sid, stage), at, shipment.correlation_id, cause)
