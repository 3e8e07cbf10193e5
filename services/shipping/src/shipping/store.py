"""DynamoDB adapters: the orders projection, shipments, the in-transit schedule; publishing stages.

Every state change is a conditional write on the shipment's current status, so concurrent
or repeated deliveries of one step change it once. Publishing follows the write and is
recorded in the shipment's `published` set; a step that finds its stage written but not
published (a crash in between) publishes it then. A re-publish carries the same event id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from shared.events import new_envelope
from shared.lazy import dynamodb_table
from shared.observability import logger
from shipping.shipments import (
    CANCELLED,
    DELIVERED,
    DISPATCHED,
    LANES,
    REQUESTED,
    Cancellation,
    OrderToShip,
    Shipment,
    Tombstone,
    iso,
    reached,
    stage_event,
)

ORDER_RETENTION = timedelta(days=180)  # addresses: kept while a shipment may still need them


def _table(env_var: str) -> Any:
    return dynamodb_table(os.environ[env_var])  # created on first use: a cold start's INIT creates no client


def _key(name: str) -> Any:
    from boto3.dynamodb.conditions import Key

    return Key(name)


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


# --------------------------------------------------------------------------- orders projection


class OrderProjection:
    def __init__(self, table: Any) -> None:
        self.table = table

    def put(self, data: Any) -> bool:
        """Store an OrderPlaced payload once; False if it was already there."""
        address = data.shipping_address.model_dump(mode="json", exclude_none=True)
        item = {
            "order_id": data.order_id,
            "address": address,
            "lines": [{"sku": li.sku, "quantity": li.quantity} for li in data.lines],
            "placed_at": iso(data.placed_at),
            "expires_at": int((data.placed_at + ORDER_RETENTION).timestamp()),
        }
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(order_id)")
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return False
        return True

    def get(self, order_id: str) -> OrderToShip | None:
        item = self.table.get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        lines = tuple((li["sku"], int(li["quantity"])) for li in item["lines"])
        return OrderToShip(order_id=order_id, country=item["address"]["country"], lines=lines)


# --------------------------------------------------------------------------- shipments


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def to_item(s: Shipment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "order_id": s.order_id,
        "shipment_id": s.shipment_id,
        "warehouse": s.warehouse,
        "country": s.country,
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in s.lines],
        "status": s.status,
        "requested_at": iso(s.requested_at),
        "correlation_id": s.correlation_id,
        "cause_event_id": s.cause_event_id,
    }
    for name in ("carrier", "tracking_number", "cancel_event_id"):
        if getattr(s, name) is not None:
            item[name] = getattr(s, name)
    for name in ("dispatched_at", "due_at", "delivered_at", "cancelled_at"):
        if getattr(s, name) is not None:
            item[name] = iso(getattr(s, name))
    if s.published:
        item["published"] = set(s.published)
    return item


def from_item(item: dict[str, Any]) -> Shipment | Tombstone:
    if "requested_at" not in item:  # written by a cancel that found no shipment
        return Tombstone(item["order_id"], _dt(item["cancelled_at"]), item["cancel_event_id"])
    return Shipment(
        shipment_id=item["shipment_id"],
        order_id=item["order_id"],
        warehouse=item["warehouse"],
        country=item["country"],
        lines=tuple((li["sku"], int(li["quantity"])) for li in item["lines"]),
        status=item["status"],
        requested_at=_dt(item["requested_at"]),
        correlation_id=item["correlation_id"],
        cause_event_id=item["cause_event_id"],
        carrier=item.get("carrier"),
        tracking_number=item.get("tracking_number"),
        dispatched_at=_dt(item.get("dispatched_at")),
        due_at=_dt(item.get("due_at")),
        delivered_at=_dt(item.get("delivered_at")),
        cancelled_at=_dt(item.get("cancelled_at")),
        cancel_event_id=item.get("cancel_event_id"),
        published=frozenset(item.get("published") or ()),
    )


@dataclass(frozen=True)
class InTransit:
    lane: str
    due_key: str
    order_id: str


class Shipments:
    def __init__(self, shipments: Any, in_transit: Any = None) -> None:
        self.table = shipments
        self.in_transit = in_transit

    def get(self, order_id: str) -> Shipment | Tombstone | None:
        item = self.table.get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def _current(self, order_id: str) -> Shipment | Tombstone:
        shipment = self.get(order_id)
        if shipment is None:
            raise LookupError(f"no shipment for {order_id}")
        return shipment

    def create(self, shipment: Shipment) -> Shipment | Tombstone:
        """Store a requested shipment; the existing one (or the tombstone) if the order already has one."""
        try:
            self.table.put_item(Item=to_item(shipment), ConditionExpression="attribute_not_exists(order_id)")
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return self._current(shipment.order_id)
        return shipment

    def save_dispatch(self, shipment: Shipment) -> Shipment:
        """requested -> dispatched and on the carrier's schedule, atomically; else the current state."""
        client = self.table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table.name,
                            "Key": {"order_id": shipment.order_id},
                            "UpdateExpression": "SET #status = :dispatched, carrier = :carrier, "
                            "tracking_number = :tracking, dispatched_at = :at, due_at = :due",
                            "ConditionExpression": "#status = :requested",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":dispatched": DISPATCHED,
                                ":requested": REQUESTED,
                                ":carrier": shipment.carrier,
                                ":tracking": shipment.tracking_number,
                                ":at": iso(shipment.dispatched_at),
                                ":due": iso(shipment.due_at),
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.in_transit.name,
                            "Item": {"lane": shipment.lane, "due_key": shipment.due_key, "order_id": shipment.order_id},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return self._current(shipment.order_id)
        return self._current(shipment.order_id)

    def save_delivery(self, shipment: Shipment) -> Shipment:
        """dispatched -> delivered (once); else the current state."""
        try:
            self.table.update_item(
                Key={"order_id": shipment.order_id},
                UpdateExpression="SET #status = :delivered, delivered_at = :at",
                ConditionExpression="#status = :dispatched",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":delivered": DELIVERED,
                    ":dispatched": DISPATCHED,
                    ":at": iso(shipment.delivered_at),
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        return self._current(shipment.order_id)

    def save_cancellation(self, cancellation: Cancellation) -> Shipment | Tombstone:
        """requested -> cancelled, or a tombstone where no shipment exists yet, in one conditional
        write (so a concurrent PaymentSucceeded either finds the tombstone or is cancelled after);
        a dispatched, delivered or already cancelled shipment stays as it is. Returns the state now.
        """
        try:
            self.table.update_item(
                Key={"order_id": cancellation.order_id},
                UpdateExpression="SET #status = :cancelled, cancelled_at = :at, cancel_event_id = :cause",
                ConditionExpression="attribute_not_exists(order_id) OR #status = :requested",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":cancelled": CANCELLED,
                    ":requested": REQUESTED,
                    ":at": iso(cancellation.cancelled_at),
                    ":cause": cancellation.cause_event_id,
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        return self._current(cancellation.order_id)

    def record_late_cancellation(self, cancellation: Cancellation) -> None:
        """Note on the shipment that the order was cancelled after pick-up (the first such cancel)."""
        self.table.update_item(
            Key={"order_id": cancellation.order_id},
            UpdateExpression="SET late_cancel_event_id = if_not_exists(late_cancel_event_id, :cause), "
            "late_cancelled_at = if_not_exists(late_cancelled_at, :at)",
            ConditionExpression="attribute_exists(order_id)",
            ExpressionAttributeValues={":cause": cancellation.cause_event_id, ":at": iso(cancellation.cancelled_at)},
        )

    def mark_published(self, order_id: str, stage: str) -> None:
        self.table.update_item(
            Key={"order_id": order_id},
            UpdateExpression="ADD published :stage",
            ExpressionAttributeValues={":stage": {stage}},
        )

    def due(self, now: datetime, page_size: int = 100) -> Iterator[InTransit]:
        """Scheduled deliveries due at `now`, earliest first per lane."""
        upper = f"{iso(now)}#~"  # '~' sorts after every shipment id character
        for lane in (f"lane-{i}" for i in range(LANES)):
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": _key("lane").eq(lane) & _key("due_key").lte(upper),
                "Limit": page_size,
                "ConsistentRead": True,
            }
            while True:
                page = self.in_transit.query(**kwargs)
                for item in page["Items"]:
                    yield InTransit(item["lane"], item["due_key"], item["order_id"])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def done(self, entry: InTransit) -> None:
        self.in_transit.delete_item(Key={"lane": entry.lane, "due_key": entry.due_key})


# --------------------------------------------------------------------------- publishing


def envelope_for(shipment: Shipment, stage: str):
    """The stage's envelope with its stable event id, time and causation."""
    event = stage_event(shipment, stage)
    envelope = new_envelope(event.data, source="shipping", correlation_id=event.correlation_id)
    metadata = envelope.metadata.model_copy(
        update={"event_id": event.event_id, "occurred_at": event.occurred_at, "causation_id": event.causation_id}
    )
    return envelope.model_copy(update={"metadata": metadata})


def publish_stage(shipments: Shipments, publisher: Any, shipment: Shipment, stage: str) -> bool:
    """Publish the stage's event unless already published; True if it went out now."""
    if stage in shipment.published:
        logger.info("stage already published; duplicate ignored", extra={"order_id": shipment.order_id, "stage": stage})
        return False
    envelope = envelope_for(shipment, stage)
    publisher.publish(envelope)
    shipments.mark_published(shipment.order_id, stage)
    logger.info(
        "shipment stage published",
        extra={"order_id": shipment.order_id, "stage": stage, "published_event_id": envelope.metadata.event_id},
    )
    return True


def publish_owed(shipments: Shipments, publisher: Any, shipment: Shipment, stages: tuple[str, ...]) -> int:
    """Publish, in order, those of `stages` the shipment went through and has not published yet
    (the events a function is the producer of); returns how many went out now."""
    return sum(
        publish_stage(shipments, publisher, shipment, stage)
        for stage in stages
        if reached(shipment, stage) and stage not in shipment.published
    )


def shipments_from_env(in_transit: bool = False) -> Shipments:
    return Shipments(_table("TABLE_SHIPMENTS"), _table("TABLE_IN_TRANSIT") if in_transit else None)


def orders_from_env() -> OrderProjection:
    return OrderProjection(_table("TABLE_ORDERS"))
