"""Edges of the orders service: the event store, the order view table, inventory's listings and
the rates table (read-only, owned by inventory), plus in-memory stand-ins for tests.

Table names come from the environment the manifest produces (TABLE_EVENTS, TABLE_VIEWS,
TABLE_LISTINGS, TABLE_RATES). boto3 clients are created on first use.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from orders.domain import Order
from shared.events.base import dumps
from shared.eventstore import EventStore, Repository, from_item
from shared.money import Money

SOURCE = "orders"
RATES_MAX_AGE_SECONDS = 300

# Inventory's markets (services/inventory/src/inventory/domain.py MARKETS) by AWS region of the customer.
_MARKET_BY_REGION = {"eu-west-2": "uk", "ap-northeast-1": "jp", "ap-northeast-3": "jp"}


def market_for_region(region: str) -> str:
    """The inventory market a customer of `region` buys in: eu-west-2 -> uk, ap-northeast-1 -> jp,
    eu-* -> eu, anything else -> us."""
    if region in _MARKET_BY_REGION:
        return _MARKET_BY_REGION[region]
    return "eu" if region.startswith("eu-") else "us"


_client: Any = None


def dynamodb() -> Any:
    global _client  # noqa: PLW0603 - one client per execution environment
    if _client is None:
        import boto3

        _client = boto3.client("dynamodb")
    return _client


def reset() -> None:
    """Forget cached clients (tests that start a new moto mock)."""
    global _client  # noqa: PLW0603
    _client = None
    _rates_cache.clear()


def event_store(client: Any = None) -> EventStore:
    return EventStore(os.environ["TABLE_EVENTS"], client or dynamodb(), source=SOURCE)


def repository(store: EventStore | None = None) -> Repository:
    return Repository(store or event_store(), Order)


# --------------------------------------------------------------------------- order views


class ViewTable:
    """The read model: one item per order, `stream_version` = the last event folded into it.

    Item: order_id, status, customer_id, stream_version, updated_at, state (the Order snapshot
    as JSON, from which `Order.view()` renders the API representation).
    """

    def __init__(self, table_name: str | None = None, client: Any = None) -> None:
        self.table_name = table_name or os.environ["TABLE_VIEWS"]
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb()

    def get(self, order_id: str) -> Order | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"order_id": {"S": order_id}}, ConsistentRead=True
        ).get("Item")
        return _order_from_view(item) if item else None

    def put_if_newer(self, order: Order, *, allow_equal: bool = False) -> bool:
        """Write the order's view unless the table holds the same or a newer version
        (`allow_equal`: also overwrite the same version, for rebuilds). Returns whether it wrote."""
        from botocore.exceptions import ClientError

        view = order.view()
        item = {
            "order_id": {"S": order.order_id},
            "status": {"S": order.status or ""},
            "customer_id": {"S": str(order.customer.get("customer_id", ""))},
            "stream_version": {"N": str(order.version)},
            "updated_at": {"S": view["updated_at"] or ""},
            "state": {"S": dumps(order.to_snapshot())},
        }
        operator = "<=" if allow_equal else "<"
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=f"attribute_not_exists(order_id) OR stream_version {operator} :v",
                ExpressionAttributeValues={":v": {"N": str(order.version)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def items(self) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        while True:
            page = self.client.scan(**request)
            yield from (from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _order_from_view(item: Mapping[str, Any]) -> Order:
    plain = from_item(dict(item))
    return Order.from_snapshot(plain["order_id"], json.loads(plain["state"]), int(plain["stream_version"]))


# --------------------------------------------------------------------------- inventory's tables


class DynamoListings:
    """`Listings` on inventory's listings table: key (market, sku), `price` = {amount, currency}."""

    def __init__(self, table_name: str | None = None, client: Any = None) -> None:
        self.table_name = table_name or os.environ["TABLE_LISTINGS"]
        self._client = client

    def unit_prices(self, skus: list[str], region: str) -> dict[str, Money]:
        market = market_for_region(region)
        client = self._client or dynamodb()
        keys = [{"market": {"S": market}, "sku": {"S": sku}} for sku in dict.fromkeys(skus)]
        prices: dict[str, Money] = {}
        for start in range(0, len(keys), 100):  # BatchGetItem: at most 100 keys
            request = {self.table_name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            for attempt in range(6):
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    plain = from_item(item)
                    price = plain.get("price")
                    if isinstance(price, dict) and "amount" in price and "currency" in price:
                        prices[plain["sku"]] = Money.of(str(price["amount"]), price["currency"])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
            if request:
                raise RuntimeError("listings: keys still unprocessed after retries")
        return prices


_rates_cache: dict[str, tuple[float, dict[tuple[str, str], Decimal]]] = {}


class DynamoRates:
    """`Rates` on inventory's rates table (items base, quote, rate), cached for a few minutes."""

    def __init__(self, table_name: str | None = None, client: Any = None) -> None:
        self.table_name = table_name or os.environ["TABLE_RATES"]
        self._client = client

    def rates(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
        cached = _rates_cache.get(self.table_name)
        table = cached[1] if cached and time.monotonic() - cached[0] < RATES_MAX_AGE_SECONDS else None
        if table is None or not all(p in table or (p[1], p[0]) in table for p in pairs):
            table = self._scan()
            _rates_cache[self.table_name] = (time.monotonic(), table)
        return table

    def _scan(self) -> dict[tuple[str, str], Decimal]:
        client = self._client or dynamodb()
        rates: dict[tuple[str, str], Decimal] = {}
        request: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        while True:
            page = client.scan(**request)
            for item in page.get("Items", []):
                plain = from_item(item)
                rates[(plain["base"], plain["quote"])] = Decimal(str(plain["rate"]))
            if "LastEvaluatedKey" not in page:
                return rates
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class InMemoryListings:
    """`Listings` for tests and demos: {(market, sku): Money}."""

    def __init__(self, prices: Mapping[tuple[str, str], Money]) -> None:
        self.prices = dict(prices)

    def unit_prices(self, skus: list[str], region: str) -> dict[str, Money]:
        market = market_for_region(region)
        return {sku: self.prices[(market, sku)] for sku in skus if (market, sku) in self.prices}


class StaticRates:
    def __init__(self, rates: Mapping[tuple[str, str], Decimal]) -> None:
        self.table = dict(rates)

    def rates(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
        return self.table
