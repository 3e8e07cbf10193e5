"""DynamoDB adapter: the stock, reservations, rates and listings tables.

Stock changes are conditional writes on the SKU's version (optimistic concurrency) and on
the quantities themselves (`available >= :qty` when reserving, `reserved >= :qty` when
releasing), so no interleaving can oversell. A reservation is one TransactWriteItems: the
reservation item (`attribute_not_exists(order_id)`: once per order) and every SKU of the
order, all or nothing.

Each item that changes stock carries an outbox: the events of its latest change, serialized
with their event ids, and `outbox_published`. The handler publishes after the write and then
marks the outbox; a retry after a crash in between publishes the same event ids again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from inventory.domain import Listing, ReservationPlan, StockLevel
from shared.lazy import aws_client, deferred
from shared.money import Money

# Finished reservations (failed, released, tombstones) are kept this long for deduplication:
# far longer than any queue retains a message (SQS: 14 days at most).
FINISHED_RETENTION = timedelta(days=90)


def _boto3_types() -> Any:
    import boto3.dynamodb.types  # boto3 on first use, not at import

    return boto3.dynamodb.types


_ser = deferred(lambda: _boto3_types().TypeSerializer())
_de = deferred(lambda: _boto3_types().TypeDeserializer())


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_de.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: quantities are ints, rates stay Decimal."""
    if isinstance(value, Decimal) and value == value.to_integral_value() and value.as_tuple().exponent >= 0:
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def level_of(item: Mapping[str, Any] | None) -> StockLevel | None:
    if not item:
        return None
    return StockLevel(
        sku=item["sku"],
        available=int(item["available"]),
        reserved=int(item["reserved"]),
        low_stock_threshold=int(item["low_stock_threshold"]),
        version=int(item["version"]),
    )


class ReservationExists(Exception):
    """The order already has a reservation item (a duplicate, or a concurrent delivery won)."""


class ReservationChanged(Exception):
    """The reservation's state is no longer what the write expected."""


class StockChanged(Exception):
    """A SKU changed since it was read; `current` holds the levels the database returned."""

    def __init__(self, current: dict[str, StockLevel | None]) -> None:
        super().__init__(f"stock changed concurrently: {sorted(current)}")
        self.current = current


class Store:
    def __init__(
        self,
        *,
        stock: str | None = None,
        reservations: str | None = None,
        rates: str | None = None,
        listings: str | None = None,
        client: Any = None,
    ) -> None:
        self.stock = stock or os.environ.get("TABLE_STOCK")
        self.reservations = reservations or os.environ.get("TABLE_RESERVATIONS")
        self.rates = rates or os.environ.get("TABLE_RATES")
        self.listings = listings or os.environ.get("TABLE_LISTINGS")
        self.client = client or aws_client("dynamodb")

    # ------------------------------------------------------------------ stock

    def get_stock(self, sku: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.stock, Key=to_item({"sku": sku}), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def get_levels(self, skus: Iterable[str]) -> dict[str, StockLevel | None]:
        """Current levels (strongly consistent); None for a SKU that does not exist."""
        wanted = sorted(set(skus))
        found: dict[str, StockLevel | None] = dict.fromkeys(wanted)
        for start in range(0, len(wanted), 100):
            request = {
                self.stock: {
                    "Keys": [to_item({"sku": s}) for s in wanted[start : start + 100]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "sku, available, reserved, low_stock_threshold, version",
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.stock, []):
                    level = level_of(from_item(item))
                    found[level.sku] = level
                request = response.get("UnprocessedKeys") or {}
        return found

    def put_stock(
        self,
        before: StockLevel | None,
        after: StockLevel,
        *,
        name: str,
        base_price: Money,
        outbox: list[dict[str, str]],
    ) -> str:
        """Write an operator's change, conditional on the version read; returns the outbox id."""
        outbox_id = str(uuid.uuid4())
        values = {
            ":name": name,
            ":price": base_price.to_json(),
            ":available": after.available,
            ":threshold": after.low_stock_threshold,
            ":version": after.version,
            ":now": _now(),
            ":outbox": outbox,
            ":outbox_id": outbox_id,
            ":false": False,
        }
        if before is None:
            condition = "attribute_not_exists(sku)"
            update = "SET reserved = :zero, "
            values[":zero"] = 0
        else:
            condition = "version = :expected"
            update = "SET "
            values[":expected"] = before.version
        update += (
            "#name = :name, base_price = :price, available = :available, low_stock_threshold = :threshold, "
            "version = :version, updated_at = :now, outbox = :outbox, outbox_id = :outbox_id, "
            "outbox_published = :false"
        )
        try:
            self.client.update_item(
                TableName=self.stock,
                Key=to_item({"sku": after.sku}),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues=to_item(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = exc.response.get("Item")
            raise StockChanged({after.sku: level_of(from_item(item)) if item else None}) from None
        return outbox_id

    def mark_stock_published(self, sku: str, outbox_id: str) -> None:
        self._mark(self.stock, {"sku": sku}, outbox_id)

    # ------------------------------------------------------------------ reservations

    def get_reservation(self, order_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.reservations, Key=to_item({"order_id": order_id}), ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None

    def reserve(
        self, order_id: str, plan: ReservationPlan, outbox: list[dict[str, str]], *, order_event_id: str
    ) -> str:
        """One transaction: the reservation (once per order) and every SKU (all or nothing)."""
        outbox_id = str(uuid.uuid4())
        now = _now()
        reservation = {
            "order_id": order_id,
            "state": "reserved",
            "lines": [{"sku": s, "quantity": q} for s, q in plan.quantities.items()],
            "order_event_id": order_event_id,
            "outbox": outbox,
            "outbox_id": outbox_id,
            "outbox_published": False,
            "created_at": now,
            "updated_at": now,
        }
        actions = [
            {
                "Put": {
                    "TableName": self.reservations,
                    "Item": to_item(reservation),
                    "ConditionExpression": "attribute_not_exists(order_id)",
                }
            }
        ]
        for sku, quantity in plan.quantities.items():
            actions.append(
                self._stock_update(
                    plan.before[sku],
                    plan.after[sku],
                    update="SET available = available - :qty, reserved = reserved + :qty",
                    guard="available >= :qty",
                    quantity=quantity,
                    now=now,
                )
            )
        self._transact(actions, list(plan.quantities), first_is_reservation="exists")
        return outbox_id

    def release(
        self,
        order_id: str,
        quantities: Mapping[str, int],
        before: Mapping[str, StockLevel],
        after: Mapping[str, StockLevel],
        outbox: list[dict[str, str]],
        *,
        reason: str,
        event_id: str,
    ) -> str:
        """One transaction: reservation reserved -> released, and every SKU given back."""
        outbox_id = str(uuid.uuid4())
        now = _now()
        actions = [
            {
                "Update": {
                    "TableName": self.reservations,
                    "Key": to_item({"order_id": order_id}),
                    "UpdateExpression": (
                        "SET #state = :released, release_reason = :reason, released_by_event_id = :event_id, "
                        "outbox = :outbox, outbox_id = :outbox_id, outbox_published = :false, "
                        "updated_at = :now, expires_at = :expires"
                    ),
                    "ConditionExpression": "#state = :reserved",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": to_item(
                        {
                            ":released": "released",
                            ":reserved": "reserved",
                            ":reason": reason,
                            ":event_id": event_id,
                            ":outbox": outbox,
                            ":outbox_id": outbox_id,
                            ":false": False,
                            ":now": now,
                            ":expires": _expiry(),
                        }
                    ),
                }
            }
        ]
        for sku, quantity in quantities.items():
            actions.append(
                self._stock_update(
                    before[sku],
                    after[sku],
                    update="SET available = available + :qty, reserved = reserved - :qty",
                    guard="reserved >= :qty",
                    quantity=quantity,
                    now=now,
                )
            )
        self._transact(actions, list(quantities), first_is_reservation="changed")
        return outbox_id

    def record_finished(self, order_id: str, state: str, outbox: list[dict[str, str]], **attributes: Any) -> str:
        """A reservation that holds no stock: `failed` (with shortages) or a `tombstone`
        (released before it was reserved). Conditional: the first answer for an order stays."""
        outbox_id = str(uuid.uuid4())
        now = _now()
        item = {
            "order_id": order_id,
            "state": state,
            "outbox": outbox,
            "outbox_id": outbox_id,
            "outbox_published": not outbox,
            "created_at": now,
            "updated_at": now,
            "expires_at": _expiry(),
            **attributes,
        }
        try:
            self.client.put_item(
                TableName=self.reservations, Item=to_item(item), ConditionExpression="attribute_not_exists(order_id)"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ReservationExists(order_id) from None
            raise
        return outbox_id

    def mark_reservation_published(self, order_id: str, outbox_id: str) -> None:
        self._mark(self.reservations, {"order_id": order_id}, outbox_id)

    # ------------------------------------------------------------------ rates and listings

    def get_rates(self) -> dict[tuple[str, str], Decimal]:
        """The whole rates table as `shared.money.convert` takes it: (base, quote) -> rate."""
        rates: dict[tuple[str, str], Decimal] = {}
        kwargs: dict[str, Any] = {"TableName": self.rates, "ConsistentRead": True}
        while True:
            response = self.client.scan(**kwargs)
            for item in response["Items"]:
                values = {k: _de.deserialize(v) for k, v in item.items()}
                rates[(values["base"], values["quote"])] = Decimal(values["rate"])
            if "LastEvaluatedKey" not in response:
                return rates
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def put_rates(self, base: str, rates: Mapping[str, Decimal]) -> None:
        now = _now()
        for quote, rate in sorted(rates.items()):
            self.client.put_item(
                TableName=self.rates, Item=to_item({"base": base, "quote": quote, "rate": rate, "updated_at": now})
            )

    def put_listing(self, listing: Listing) -> bool:
        """Write a listing unless the table already holds one at this or a newer stock version."""
        item = {
            "market": listing.market,
            "sku": listing.sku,
            "name": listing.name,
            "price": listing.price.to_json(),
            "availability": listing.availability,
            "available": listing.available,
            "stock_version": listing.stock_version,
            "updated_at": _now(),
        }
        try:
            self.client.put_item(
                TableName=self.listings,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(sku) OR stock_version < :version",
                ExpressionAttributeValues=to_item({":version": listing.stock_version}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_listing(self, market: str, sku: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.listings, Key=to_item({"market": market, "sku": sku})).get("Item")
        return from_item(item) if item else None

    # ------------------------------------------------------------------ internals

    def _stock_update(
        self, before: StockLevel, after: StockLevel, *, update: str, guard: str, quantity: int, now: str
    ) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.stock,
                "Key": to_item({"sku": before.sku}),
                "UpdateExpression": f"{update}, version = :next, updated_at = :now",
                # The version makes the events we publish exact; the guard alone already
                # forbids overselling (and a negative reserved) whatever the version says.
                "ConditionExpression": f"version = :version AND {guard}",
                "ExpressionAttributeValues": to_item(
                    {":qty": quantity, ":version": before.version, ":next": after.version, ":now": now}
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _transact(self, actions: list[dict[str, Any]], skus: list[str], *, first_is_reservation: str) -> None:
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            codes = {r.get("Code") for r in reasons}
            if "TransactionConflict" in codes and reasons[0].get("Code") != "ConditionalCheckFailed":
                raise StockChanged({}) from None  # another transaction holds an item: read again, retry
            if not reasons or codes - {"None", "ConditionalCheckFailed"}:
                raise  # throttling, validation, ...: the record is retried by the queue
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                raise (ReservationExists if first_is_reservation == "exists" else ReservationChanged)() from None
            current = {}
            for sku, reason in zip(skus, reasons[1:], strict=True):
                if reason.get("Code") == "ConditionalCheckFailed":
                    item = reason.get("Item")
                    current[sku] = level_of(from_item(item)) if item else None
            raise StockChanged(current) from None

    def _mark(self, table: str, key: dict[str, str], outbox_id: str) -> None:
        try:
            self.client.update_item(
                TableName=table,
                Key=to_item(key),
                UpdateExpression="SET outbox_published = :true",
                ConditionExpression="outbox_id = :outbox_id",
                ExpressionAttributeValues=to_item({":true": True, ":outbox_id": outbox_id}),
            )
        except ClientError as exc:
            # A newer change replaced the outbox in the meantime: it is published with that change.
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _expiry() -> int:
    return int((datetime.now(UTC) + FINISHED_RETENTION).timestamp())
