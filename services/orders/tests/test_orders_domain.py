"""The Order aggregate and pricing, pure Python (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from orders.adapters import InMemoryListings, StaticRates, market_for_region
from orders.domain import (
    CANCELLED,
    DELIVERED,
    PAID,
    PAYMENT_FAILED,
    PLACED,
    REJECTED,
    SHIPPED,
    InvalidTransition,
    Order,
    OutOfOrder,
    PricingError,
    RequestedLine,
    price_lines,
)

from devtools import commerce_fixtures as commerce
from shared.eventstore import StoredEvent
from shared.money import Money

T = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CUSTOMER = commerce.customer(customer_id="c-1", region="eu-central-1")
ADDRESS = commerce.address("DE")
LISTINGS = InMemoryListings(
    {
        ("eu", "MUG-01"): Money.of("12.50", "EUR"),
        ("eu", "TEE-02"): Money.of("19.99", "EUR"),
        ("us", "MUG-01"): Money.of("13.00", "USD"),
    }
)
RATES = StaticRates({("EUR", "JPY"): Decimal("161.2345"), ("EUR", "GBP"): Decimal("0.8513")})


def placed(order_id: str = "ord_0000abcd", currency: str = "EUR") -> Order:
    lines = price_lines(
        [RequestedLine("MUG-01", 2), RequestedLine("TEE-02", 1)], currency, "eu-central-1", LISTINGS, RATES
    )
    return Order.place(
        order_id,
        customer=CUSTOMER,
        currency=currency,
        lines=lines,
        shipping_address=ADDRESS,
        payment_method_id="pm_abcdefgh12",
        now=T,
    )


def fold(order: Order) -> Order:
    """Replay the order's recorded events into a fresh aggregate, through the stored form."""
    events = [
        StoredEvent(order.order_id, i, f"e{i}", e.detail_type, e.version, "orders", T, {}, e.model_dump(mode="json"))
        for i, e in enumerate(order.pending, start=1)
    ]
    return Order.replay(order.order_id, None, events)


def test_pricing_uses_the_listing_and_totals_exactly():
    order = placed()
    assert order.status == PLACED
    assert [(line["sku"], line["quantity"], line["unit_price"]["amount"]) for line in order.lines] == [
        ("MUG-01", 2, "12.50"),
        ("TEE-02", 1, "19.99"),
    ]
    assert order.total == {"amount": "44.99", "currency": "EUR"}
    assert order.view()["lines"][0]["line_total"] == {"amount": "25.00", "currency": "EUR"}


def test_prices_are_converted_into_the_order_currency_with_the_rates_table():
    order = placed(currency="JPY")
    # 12.50 EUR * 161.2345 = 2015.43 -> 2015 JPY (no minor units), 19.99 * 161.2345 = 3223.08 -> 3223
    assert [line["unit_price"] for line in order.lines] == [
        {"amount": "2015", "currency": "JPY"},
        {"amount": "3223", "currency": "JPY"},
    ]
    assert order.total == {"amount": str(2015 * 2 + 3223), "currency": "JPY"}
    gbp = placed(currency="GBP")
    assert gbp.lines[0]["unit_price"]["amount"] == "10.64"  # 12.50 * 0.8513 = 10.64125, half-even
    with pytest.raises(PricingError) as no_rate:
        placed(currency="CHF")
    assert no_rate.value.errors == {"currency": "no exchange rate from the market's currency (EUR) to this currency"}


def test_unlisted_skus_are_reported_per_line_and_duplicates_are_merged():
    with pytest.raises(PricingError) as caught:
        price_lines([RequestedLine("MUG-01", 1), RequestedLine("NOPE-9", 1)], "EUR", "eu-west-1", LISTINGS, RATES)
    assert caught.value.errors == {"lines.1.sku": "not sold in the customer's market (yet)"}
    merged = price_lines([RequestedLine("MUG-01", 1), RequestedLine("MUG-01", 2)], "EUR", "eu-west-1", LISTINGS, RATES)
    assert [(line.sku, line.quantity) for line in merged] == [("MUG-01", 3)]
    us = price_lines([RequestedLine("MUG-01", 1)], "USD", "us-east-1", LISTINGS, RATES)
    assert us[0].unit_price.amount == Decimal("13.00")
    assert (market_for_region("eu-west-2"), market_for_region("ap-northeast-1"), market_for_region("eu-north-1")) == (
        "uk",
        "jp",
        "eu",
    )


def test_happy_path_placed_paid_shipped_delivered_and_the_fold_agrees():
    order = placed()
    order.payment_succeeded("pay_0000abcd", Money.of("44.99", "EUR"), now=T)
    assert order.status == PAID
    order.shipment_dispatched("shp_0000abcd", "DHL", "JJD0001", T)
    assert order.status == SHIPPED
    order.shipment_delivered("shp_0000abcd", T)
    assert order.status == DELIVERED
    assert [e.detail_type for e in order.pending] == [
        "OrderPlaced",
        "PaymentReceived",
        "OrderShipped",
        "OrderDelivered",
    ]
    replayed = fold(order)
    assert replayed.to_snapshot() == order.to_snapshot() and replayed.version == 4
    # and a snapshot round trip is the same state
    again = Order.from_snapshot(order.order_id, order.to_snapshot(), order.version)
    assert again.view() == order.view()


def test_duplicated_reactions_record_nothing():
    order = placed()
    order.payment_succeeded("pay_0000abcd", Money.of("44.99", "EUR"), now=T)
    assert order.payment_succeeded("pay_0000abcd", Money.of("44.99", "EUR")).recorded == ()
    order.shipment_dispatched("shp_0000abcd", "DHL", "JJD0001", T)
    assert order.shipment_dispatched("shp_0000abcd", "DHL", "JJD0001", T).ignored == "shipment already recorded"
    order.shipment_delivered("shp_0000abcd", T)
    assert order.shipment_delivered("shp_0000abcd", T).recorded == ()
    assert order.version == 4

    rejected = placed()
    rejected.reservation_failed(["MUG-01"])
    assert rejected.status == REJECTED and rejected.reason == "out_of_stock: MUG-01"
    assert rejected.reservation_failed(["MUG-01"]).recorded == ()
    failed = placed()
    failed.payment_failed("pay_0000abcd", "card_declined")
    assert failed.status == PAYMENT_FAILED and failed.payment_failed("pay_0000abcd", "card_declined").recorded == ()


def test_events_that_arrive_too_early_raise_out_of_order():
    order = placed()
    with pytest.raises(OutOfOrder, match="before dispatch"):
        order.shipment_delivered("shp_0000abcd", T)
    with pytest.raises(OutOfOrder, match="not paid yet"):
        order.shipment_dispatched("shp_0000abcd", "DHL", "JJD0001", T)
    with pytest.raises(OutOfOrder, match="no events"):
        Order("ord_unknown01").payment_succeeded("pay_0000abcd", Money.of("1", "EUR"))
    assert order.version == 1


def test_cancel_before_shipping_only():
    order = placed()
    order.cancel("changed my mind", now=T)
    assert order.status == CANCELLED and order.timestamps[CANCELLED] == "2026-11-27T09:00:00.000000Z"
    with pytest.raises(InvalidTransition, match="is Cancelled: cannot cancel"):
        order.cancel("again")
    # late events for a cancelled order change nothing
    assert order.payment_succeeded("pay_0000abcd", Money.of("44.99", "EUR")).ignored.startswith("order is Cancelled")

    paid = placed()
    paid.payment_succeeded("pay_0000abcd", Money.of("44.99", "EUR"))
    paid.cancel("too slow")
    assert paid.status == CANCELLED

    shipped = placed()
    shipped.payment_succeeded("pay_0000abcd", Money.of("44.99", "EUR"))
    shipped.shipment_dispatched("shp_0000abcd", "DHL", "JJD0001", T)
    with pytest.raises(InvalidTransition) as caught:
        shipped.cancel("too late")
    assert caught.value.status == SHIPPED


def test_the_fold_refuses_an_impossible_history():
    order = placed()
    order.cancel("x")
    events = list(order.pending)
    from shared.events.orders import PaymentReceived

    events.append(PaymentReceived(order_id=order.order_id, payment_id="pay_1", amount=order.pending[0].total))
    fresh = Order(order.order_id)
    fresh.apply(events[0])
    fresh.apply(events[1])
    with pytest.raises(Exception, match="after final status Cancelled"):
        fresh.apply(events[2])
