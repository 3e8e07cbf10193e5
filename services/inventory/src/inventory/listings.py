"""Per-market product listings, projected from InventoryLevelChanged.

For each market (eu, us, uk, jp) a listing holds the SKU's name, its price in the market's
currency (the base price converted through the rates table) and its availability. A listing
is written only if the event's stock version is newer than the one the listing holds, so
duplicates and reordered deliveries leave the newest level in place. Name and base price
come from the stock item (an operator's change bumps the version and emits an event too).
"""

from __future__ import annotations

from typing import Any

from inventory.domain import StockLevel, listings_for
from inventory.store import Store, level_of
from shared.batch import process_event_batch
from shared.events import Envelope
from shared.money import Money
from shared.observability import logger

store = Store()


def project(envelope: Envelope) -> list[str]:
    """Apply one level to every market's listing; returns the markets that changed."""
    data = envelope.data
    stock = store.get_stock(data.sku)
    if stock is None:
        raise LookupError(f"{data.sku}: InventoryLevelChanged for a SKU with no stock item")
    if data.stock_version is None or data.low_stock_threshold is None:
        level = level_of(stock)  # a producer without versions: project the current level instead
    else:
        level = StockLevel(data.sku, data.available, data.reserved, data.low_stock_threshold, data.stock_version)
    price = Money.of(stock["base_price"]["amount"], stock["base_price"]["currency"])
    written = [
        listing.market
        for listing in listings_for(level, stock["name"], price, store.get_rates())
        if store.put_listing(listing)
    ]
    logger.info(
        "listings projected" if written else "stale or duplicate level ignored",
        extra={"sku": data.sku, "stock_version": level.version, "markets": written},
    )
    return written


def handle(envelope: Envelope, _record: Any) -> list[str]:
    return project(envelope)


@logger.inject_lambda_context
def handler(event: dict, context: Any) -> dict:
    return process_event_batch(event, context, handle)
