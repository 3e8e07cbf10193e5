"""The pure domain: reservations, releases, low-stock crossings, listings and prices. No AWS."""

from __future__ import annotations

from decimal import Decimal

import pytest
from inventory import outbox
from inventory.domain import (
    MAX_SKUS_PER_ORDER,
    InventoryError,
    StockLevel,
    aggregate_lines,
    availability,
    level_events,
    listing_price,
    listings_for,
    missing_rates,
    plan_release,
    plan_reservation,
    plan_set,
)

from shared.events.inventory import InventoryLevelChanged, LowStockDetected
from shared.money import Money, MoneyError

RATES = {("EUR", "USD"): Decimal("1.0850"), ("EUR", "GBP"): Decimal("0.8500"), ("EUR", "JPY"): Decimal("161.20")}


def level(sku="MUG-1", available=10, reserved=0, threshold=3, version=1):
    return StockLevel(sku, available, reserved, threshold, version)


def test_lines_of_one_sku_are_added_up_and_sorted():
    assert aggregate_lines([("TEE-2", 1), ("MUG-1", 2), ("TEE-2", 3)]) == {"MUG-1": 2, "TEE-2": 4}
    assert list(aggregate_lines([("B-1", 1), ("A-1", 1)])) == ["A-1", "B-1"]


def test_an_order_too_big_for_one_transaction_is_refused():
    lines = [(f"SKU-{i}", 1) for i in range(MAX_SKUS_PER_ORDER + 1)]
    with pytest.raises(InventoryError, match="at most 99"):
        aggregate_lines(lines)
    assert len(aggregate_lines(lines[:-1])) == MAX_SKUS_PER_ORDER


def test_reserving_takes_from_available_into_reserved_and_bumps_the_version():
    plan = plan_reservation({"MUG-1": 4}, {"MUG-1": level(available=10, reserved=2, version=7)})
    assert plan.ok
    assert plan.after["MUG-1"] == level(available=6, reserved=6, version=8)
    assert plan.before["MUG-1"].version == 7


def test_reserving_is_all_or_nothing_and_names_every_shortage():
    levels = {"MUG-1": level(available=10), "TEE-2": level("TEE-2", available=1), "CAP-3": None}
    plan = plan_reservation({"CAP-3": 1, "MUG-1": 2, "TEE-2": 2}, levels)
    assert not plan.ok
    assert plan.after == {}  # MUG-1 had enough, but nothing is reserved
    assert [(s.sku, s.requested, s.available) for s in plan.shortages] == [("CAP-3", 1, 0), ("TEE-2", 2, 1)]


def test_exactly_the_available_quantity_can_be_reserved():
    assert plan_reservation({"MUG-1": 10}, {"MUG-1": level(available=10)}).ok
    assert not plan_reservation({"MUG-1": 11}, {"MUG-1": level(available=10)}).ok


def test_releasing_gives_the_quantity_back_and_refuses_more_than_is_reserved():
    after = plan_release({"MUG-1": 3}, {"MUG-1": level(available=1, reserved=5, version=4)})
    assert after["MUG-1"] == level(available=4, reserved=2, version=5)
    with pytest.raises(InventoryError, match="reserved is 2"):
        plan_release({"MUG-1": 3}, {"MUG-1": level(reserved=2)})
    with pytest.raises(InventoryError, match="no stock item"):
        plan_release({"MUG-1": 1}, {"MUG-1": None})


def test_setting_stock_keeps_what_is_reserved():
    assert plan_set(None, "MUG-1", 25, 5) == level(available=25, reserved=0, threshold=5, version=1)
    assert plan_set(level(available=2, reserved=8, version=3), "MUG-1", 20, 3) == level(
        available=20, reserved=8, threshold=3, version=4
    )
    with pytest.raises(InventoryError):
        plan_set(None, "MUG-1", -1, 0)


def test_availability_is_out_low_or_in_stock():
    assert availability(0, 5) == "out_of_stock"
    assert availability(4, 5) == "low_stock"
    assert availability(5, 5) == "in_stock"  # low means strictly below the threshold
    assert availability(1, 0) == "in_stock"  # threshold 0: never low


def test_low_stock_is_announced_only_when_the_threshold_is_crossed():
    def low_events(before, after):
        return [e for e in level_events(before, after, "reserved") if isinstance(e, LowStockDetected)]

    assert low_events(level(available=3, threshold=3), level(available=2, threshold=3, version=2)) != []
    assert low_events(level(available=2, threshold=3), level(available=1, threshold=3, version=2)) == []
    assert low_events(level(available=9, threshold=3), level(available=4, threshold=3, version=2)) == []
    # restocked above the threshold, then below again: a new crossing
    assert low_events(level(available=10, threshold=3), level(available=0, threshold=3, version=2)) != []
    # a new SKU created below its threshold is announced once
    assert low_events(None, level(available=1, threshold=3)) != []


def test_level_event_carries_the_change_the_version_and_the_threshold():
    [changed] = level_events(level(available=10, version=4), level(available=7, reserved=3, version=5), "reserved")
    assert isinstance(changed, InventoryLevelChanged)
    assert (changed.available, changed.reserved, changed.change) == (7, 3, -3)
    assert (changed.stock_version, changed.low_stock_threshold, changed.reason) == (5, 3, "reserved")


def test_listing_prices_are_converted_exactly_and_rounded_to_the_currency():
    base = Money.of("19.99", "EUR")
    assert listing_price(base, "eu", RATES) == Money.of("19.99", "EUR")
    assert listing_price(base, "us", RATES) == Money.of("21.69", "USD")  # 21.68915
    assert listing_price(base, "uk", RATES) == Money.of("16.99", "GBP")  # 16.9915
    assert listing_price(base, "jp", RATES) == Money.of("3222", "JPY")  # 3222.388: yen have no minor unit
    # a base price in another currency goes through the inverse rate
    assert listing_price(Money.of("10.00", "USD"), "eu", RATES) == Money.of("9.22", "EUR")  # 10 / 1.085
    with pytest.raises(InventoryError, match="unknown market"):
        listing_price(base, "mars", RATES)
    with pytest.raises(MoneyError, match="floats"):
        listing_price(base, "us", {("EUR", "USD"): 1.085})


def test_one_listing_per_market_with_availability():
    listings = listings_for(level(available=2, threshold=3, version=9), "Mug", Money.of("19.99", "EUR"), RATES)
    assert [(x.market, x.price.currency, x.availability, x.stock_version) for x in listings] == [
        ("eu", "EUR", "low_stock", 9),
        ("us", "USD", "low_stock", 9),
        ("uk", "GBP", "low_stock", 9),
        ("jp", "JPY", "low_stock", 9),
    ]


def test_missing_rates_are_named():
    assert missing_rates("EUR", RATES) == []
    assert missing_rates("EUR", {("EUR", "USD"): Decimal(1)}) == ["GBP", "JPY"]
    assert missing_rates("USD", RATES) == ["GBP", "JPY"]  # USD->EUR exists as the inverse of EUR->USD


def test_the_outbox_keeps_event_ids_and_content(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    events = outbox.build(
        level_events(level(available=4, threshold=5), level(available=3, threshold=5, version=2), "reserved")
    )
    stored = outbox.serialize(events)
    again = outbox.deserialize(stored)
    assert [e.metadata.event_id for e in again] == [e.metadata.event_id for e in events]
    assert [e.detail() for e in again] == [e.detail() for e in events]
    assert outbox.pending({"outbox": stored, "outbox_published": False})[0].metadata == events[0].metadata
    assert outbox.pending({"outbox": stored, "outbox_published": True}) == []
