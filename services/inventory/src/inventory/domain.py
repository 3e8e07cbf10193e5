"""Stock, reservations and listings as plain Python: no AWS here.

A SKU's level is (available, reserved, low_stock_threshold, version). Every change of a
SKU bumps its version by one, so the version orders its levels; projections (listings)
apply a level only if its version is newer than the one they hold.

    >>> level = StockLevel("MUG-1", available=10, reserved=0, low_stock_threshold=3, version=4)
    >>> plan = plan_reservation({"MUG-1": 8}, {"MUG-1": level})
    >>> plan.after["MUG-1"].available, plan.after["MUG-1"].version
    (2, 5)
    >>> crossed_below_threshold(level, plan.after["MUG-1"])
    True

Low stock means `available < low_stock_threshold` (a threshold of 0 never alerts);
LowStockDetected fires only on the crossing from not-low to low, not on every change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from shared.events.commerce import Shortage, StockLine
from shared.events.inventory import InventoryLevelChanged, LowStockDetected
from shared.money import Money, convert

# Markets we list products in, and the currency each is priced in.
MARKETS: dict[str, str] = {"eu": "EUR", "us": "USD", "uk": "GBP", "jp": "JPY"}

# TransactWriteItems takes at most 100 actions: one for the reservation, one per SKU.
MAX_SKUS_PER_ORDER = 99

Availability = Literal["in_stock", "low_stock", "out_of_stock"]
LevelReason = Literal["reserved", "released", "restocked"]


class InventoryError(ValueError):
    """A request we cannot apply (bad input, or stock data that contradicts it)."""


@dataclass(frozen=True)
class StockLevel:
    sku: str
    available: int
    reserved: int
    low_stock_threshold: int
    version: int

    @property
    def is_low(self) -> bool:
        return self.available < self.low_stock_threshold

    @property
    def availability(self) -> Availability:
        return availability(self.available, self.low_stock_threshold)


def availability(available: int, low_stock_threshold: int) -> Availability:
    if available <= 0:
        return "out_of_stock"
    return "low_stock" if available < low_stock_threshold else "in_stock"


def crossed_below_threshold(before: StockLevel | None, after: StockLevel) -> bool:
    """True only on the change that makes the SKU low (a new SKU counts as not low before)."""
    return after.is_low and (before is None or not before.is_low)


def aggregate_lines(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Quantity per SKU, sorted by SKU (an order may list one SKU on several lines; a
    transaction may touch an item only once). Raises if the order has too many SKUs."""
    totals: dict[str, int] = {}
    for sku, quantity in lines:
        if quantity < 1:
            raise InventoryError(f"{sku}: quantity must be >= 1, got {quantity}")
        totals[sku] = totals.get(sku, 0) + quantity
    if not totals:
        raise InventoryError("an order needs at least one line")
    if len(totals) > MAX_SKUS_PER_ORDER:
        raise InventoryError(f"{len(totals)} distinct SKUs; at most {MAX_SKUS_PER_ORDER} fit one transaction")
    return dict(sorted(totals.items()))


@dataclass(frozen=True)
class ReservationPlan:
    """What reserving would do: the levels after (per SKU), or why it cannot."""

    quantities: dict[str, int]
    before: dict[str, StockLevel]
    after: dict[str, StockLevel]
    shortages: tuple[Shortage, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.shortages


def plan_reservation(quantities: Mapping[str, int], levels: Mapping[str, StockLevel | None]) -> ReservationPlan:
    """All or nothing: every SKU must have `available >= quantity`; an unknown SKU has 0."""
    shortages = []
    before: dict[str, StockLevel] = {}
    after: dict[str, StockLevel] = {}
    for sku, quantity in quantities.items():
        level = levels.get(sku)
        have = level.available if level is not None else 0
        if have < quantity:
            shortages.append(Shortage(sku=sku, requested=quantity, available=max(have, 0)))
            continue
        assert level is not None
        before[sku] = level
        after[sku] = replace(
            level, available=level.available - quantity, reserved=level.reserved + quantity, version=level.version + 1
        )
    if shortages:
        return ReservationPlan(dict(quantities), {}, {}, tuple(shortages))
    return ReservationPlan(dict(quantities), before, after)


def plan_release(quantities: Mapping[str, int], levels: Mapping[str, StockLevel | None]) -> dict[str, StockLevel]:
    """The levels after giving a reservation's quantities back."""
    after = {}
    for sku, quantity in quantities.items():
        level = levels.get(sku)
        if level is None or level.reserved < quantity:
            held = level.reserved if level is not None else "no stock item"
            raise InventoryError(f"{sku}: cannot release {quantity}, reserved is {held}")
        after[sku] = replace(
            level, available=level.available + quantity, reserved=level.reserved - quantity, version=level.version + 1
        )
    return after


def plan_set(current: StockLevel | None, sku: str, available: int, low_stock_threshold: int) -> StockLevel:
    """An operator sets what is available for sale (a restock or a count); reserved is kept."""
    if available < 0 or low_stock_threshold < 0:
        raise InventoryError("available and low_stock_threshold must be >= 0")
    if current is None:
        return StockLevel(sku, available, 0, low_stock_threshold, 1)
    return replace(current, available=available, low_stock_threshold=low_stock_threshold, version=current.version + 1)


def level_events(
    before: StockLevel | None, after: StockLevel, reason: LevelReason
) -> list[InventoryLevelChanged | LowStockDetected]:
    """InventoryLevelChanged for the change, plus LowStockDetected on the crossing."""
    events: list[InventoryLevelChanged | LowStockDetected] = [
        InventoryLevelChanged(
            sku=after.sku,
            available=after.available,
            reserved=after.reserved,
            change=after.available - (before.available if before is not None else 0),
            reason=reason,
            stock_version=after.version,
            low_stock_threshold=after.low_stock_threshold,
        )
    ]
    if crossed_below_threshold(before, after):
        events.append(LowStockDetected(sku=after.sku, available=after.available, threshold=after.low_stock_threshold))
    return events


def stock_lines(quantities: Mapping[str, int]) -> list[StockLine]:
    return [StockLine(sku=sku, quantity=q) for sku, q in quantities.items()]


# --------------------------------------------------------------------------- listings


@dataclass(frozen=True)
class Listing:
    market: str
    sku: str
    name: str
    price: Money
    availability: Availability
    available: int
    stock_version: int


def listing_price(base_price: Money, market: str, rates: Mapping[tuple[str, str], Decimal]) -> Money:
    """The base price in the market's currency, through the rates table (exact Decimal,
    rounded half-even to the currency's minor units: JPY has none)."""
    try:
        currency = MARKETS[market]
    except KeyError:
        raise InventoryError(f"unknown market {market!r}; markets: {sorted(MARKETS)}") from None
    return convert(base_price, currency, dict(rates))


def listings_for(
    level: StockLevel, name: str, base_price: Money, rates: Mapping[tuple[str, str], Decimal]
) -> list[Listing]:
    """One listing per market for a SKU at `level`."""
    return [
        Listing(
            market=market,
            sku=level.sku,
            name=name,
            price=listing_price(base_price, market, rates),
            availability=level.availability,
            available=level.available,
            stock_version=level.version,
        )
        for market in MARKETS
    ]


def missing_rates(base_currency: str, rates: Mapping[tuple[str, str], Decimal]) -> list[str]:
    """Market currencies a base price in `base_currency` cannot be converted to."""
    return sorted(
        currency
        for currency in set(MARKETS.values())
        if currency != base_currency
        and (base_currency, currency) not in rates
        and (currency, base_currency) not in rates
    )
