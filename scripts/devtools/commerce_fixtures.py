"""E-commerce events for tests, built with the real models in shared/events (so always valid).

One factory per event of the saga, with defaults that make a plausible order; every argument a
test cares about is a keyword. Factories return the payload model; `envelope()` wraps it as its
producer publishes it, `bus_event()` as an EventBridge rule delivers it. No moto, no boto3:
domain tests use it too.

    from devtools import commerce_fixtures as commerce

    order = commerce.order_placed("ord_0000abcd", [("MUG-BLUE", 2)], locale="ja-JP", currency="JPY")
    placed = commerce.envelope(order)                              # source "orders"
    paid = commerce.envelope(commerce.payment_succeeded(order), causation=placed)
    aws.deliver("notifications.send_confirmation", paid)          # devtools.testing

The default order: Anna Huber (de-AT, Europe/Vienna, data in eu-central-1), two MUG-BLUE at
617.25 EUR (total 1,234.50 EUR), shipped to Vienna, placed 2026-11-27 14:30 UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from devtools.aws_events import eventbridge_event
from shared.events import Envelope, EventData, new_envelope
from shared.events.commerce import Address, Amount, Customer, OrderLine, Shortage, StockLine
from shared.events.inventory import (
    InventoryLevelChanged,
    LowStockDetected,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from shared.events.orders import OrderCancelled, OrderPlaced
from shared.events.payments import PaymentFailed, PaymentRefunded, PaymentSucceeded
from shared.events.shipping import ShipmentDelivered, ShipmentDispatched, ShipmentRequested
from shared.money import Money

REGION = "eu-west-1"  # where the producers run (the test kit's region)
PLACED_AT = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)

# One plausible street address per country (shipping picks the warehouse by country).
ADDRESSES = {
    "AT": ("Ring 1", "Wien", "1010"),
    "DE": ("Hauptstr. 1", "Berlin", "10115"),
    "FR": ("1 rue de Rivoli", "Paris", "75001"),
    "ES": ("Calle Mayor 1", "Madrid", "28013"),
    "GB": ("1 High Street", "London", "SW1A 1AA"),
    "US": ("1 Main Street", "Springfield", "62701"),
    "JP": ("1-1 Chiyoda", "Tokyo", "100-0001"),
}

Lines = Sequence[tuple[str, int] | tuple[str, int, str]]  # (sku, quantity[, unit price])


# --------------------------------------------------------------------------- parts


def customer(
    *,
    customer_id: str = "cus_42",
    name: str = "Anna Huber",
    email: str = "anna.huber@customer.example",
    locale: str = "de-AT",
    time_zone: str = "Europe/Vienna",
    region: str = "eu-central-1",
) -> Customer:
    return Customer(customer_id=customer_id, email=email, name=name, locale=locale, time_zone=time_zone, region=region)


def address(country: str = "AT", *, name: str = "Anna Huber") -> Address:
    line1, city, postal_code = ADDRESSES[country]
    return Address(name=name, line1=line1, city=city, postal_code=postal_code, country=country)


def amount(value: str | Money | Amount, currency: str = "EUR") -> Amount:
    if isinstance(value, Amount):
        return value
    return Amount.of(value if isinstance(value, Money) else Money.of(value, currency))


def _id_suffix(order_id: str) -> str:
    return order_id.removeprefix("ord_")


# --------------------------------------------------------------------------- orders


def order_placed(
    order_id: str = "ord_1a2b3c4d5e",
    lines: Lines | None = None,
    *,
    quantity: int = 2,
    unit_price: str = "617.25",
    currency: str = "EUR",
    locale: str = "de-AT",
    time_zone: str = "Europe/Vienna",
    name: str = "Anna Huber",
    email: str | None = None,
    customer_id: str = "cus_42",
    region: str = "eu-central-1",
    country: str | None = None,
    payment_method_id: str = "pm_abcdefgh12",
    placed_at: datetime = PLACED_AT,
) -> OrderPlaced:
    """An OrderPlaced; `lines` default to one MUG-BLUE line of `quantity`, priced `unit_price`.

    The contact email is `<order_id>@customer.example` unless given; the address is in
    `country`, else the locale's country (de-AT -> AT), else DE.
    """
    if lines is None:
        lines = [("MUG-BLUE", quantity)]
    order_lines = [
        OrderLine(sku=line[0], quantity=line[1], unit_price=amount(line[2] if len(line) > 2 else unit_price, currency))
        for line in lines
    ]
    total = sum((line.unit_price.money() * line.quantity for line in order_lines), Money.zero(currency))
    if country is None:
        country = locale.split("-")[1] if "-" in locale and locale.split("-")[1] in ADDRESSES else "DE"
    return OrderPlaced(
        order_id=order_id,
        customer=customer(
            customer_id=customer_id,
            name=name,
            email=email or f"{order_id}@customer.example",
            locale=locale,
            time_zone=time_zone,
            region=region,
        ),
        currency=currency,
        lines=order_lines,
        total=Amount.of(total),
        shipping_address=address(country, name=name),
        payment_method_id=payment_method_id,
        placed_at=placed_at,
    )


def order_cancelled(
    order_id: str, *, reason: str = "changed my mind", cancelled_by: str = "customer"
) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, reason=reason, cancelled_by=cancelled_by)


# --------------------------------------------------------------------------- inventory


def _stock_lines(order: OrderPlaced | str, lines: Iterable[tuple[str, int]] | None) -> list[StockLine]:
    if lines is None:
        if isinstance(order, str):
            lines = [("MUG-BLUE", 1)]
        else:  # one line per SKU, as inventory reserves them
            merged: dict[str, int] = {}
            for line in order.lines:
                merged[line.sku] = merged.get(line.sku, 0) + line.quantity
            lines = sorted(merged.items())
    return [StockLine(sku=sku, quantity=qty) for sku, qty in lines]


def _order_id(order: OrderPlaced | str) -> str:
    return order if isinstance(order, str) else order.order_id


def stock_reserved(order: OrderPlaced | str, lines: Iterable[tuple[str, int]] | None = None) -> StockReserved:
    """Lines default to the order's (per SKU), or one MUG-BLUE for an order id."""
    return StockReserved(order_id=_order_id(order), lines=_stock_lines(order, lines))


def stock_reservation_failed(
    order: OrderPlaced | str, shortages: Iterable[tuple[str, int, int]] = (("MUG-BLUE", 2, 1),)
) -> StockReservationFailed:
    """shortages: (sku, requested, available)."""
    return StockReservationFailed(
        order_id=_order_id(order),
        shortages=[Shortage(sku=sku, requested=req, available=avail) for sku, req, avail in shortages],
    )


def stock_released(
    order: OrderPlaced | str, lines: Iterable[tuple[str, int]] | None = None, *, reason: str = "payment_failed"
) -> StockReleased:
    return StockReleased(order_id=_order_id(order), lines=_stock_lines(order, lines), reason=reason)


def inventory_level_changed(
    sku: str = "MUG-BLUE",
    *,
    available: int = 8,
    reserved: int = 2,
    change: int = -2,
    reason: str = "reserved",
    stock_version: int | None = 2,
    low_stock_threshold: int | None = 5,
) -> InventoryLevelChanged:
    return InventoryLevelChanged(
        sku=sku,
        available=available,
        reserved=reserved,
        change=change,
        reason=reason,
        stock_version=stock_version,
        low_stock_threshold=low_stock_threshold,
    )


def low_stock_detected(sku: str = "MUG-BLUE", *, available: int = 3, threshold: int = 5) -> LowStockDetected:
    return LowStockDetected(sku=sku, available=available, threshold=threshold)


# --------------------------------------------------------------------------- payments


def _charged(order: OrderPlaced | str, value: str | None, currency: str) -> Amount:
    if value is None and not isinstance(order, str):
        return order.total
    return amount(value or "44.99", currency)


def payment_succeeded(
    order: OrderPlaced | str,
    *,
    payment_id: str | None = None,
    amount: str | None = None,
    currency: str = "EUR",
    card_brand: str = "visa",
    card_last4: str = "4242",
) -> PaymentSucceeded:
    """For an OrderPlaced the order's total, for an order id `amount` (default 44.99) in `currency`.
    The payment id defaults to pay_<order id suffix>."""
    return PaymentSucceeded(
        payment_id=payment_id or "pay_" + _id_suffix(_order_id(order)),
        order_id=_order_id(order),
        amount=_charged(order, amount, currency),
        card_brand=card_brand,
        card_last4=card_last4,
    )


def payment_failed(
    order: OrderPlaced | str,
    *,
    reason: str = "card_declined",
    payment_id: str | None = None,
    amount: str | None = None,
    currency: str = "EUR",
) -> PaymentFailed:
    return PaymentFailed(
        payment_id=payment_id or "pay_" + _id_suffix(_order_id(order)),
        order_id=_order_id(order),
        amount=_charged(order, amount, currency),
        reason=reason,
    )


def payment_refunded(
    order: OrderPlaced | str, *, payment_id: str | None = None, amount: str | None = None, currency: str = "EUR"
) -> PaymentRefunded:
    return PaymentRefunded(
        payment_id=payment_id or "pay_" + _id_suffix(_order_id(order)),
        order_id=_order_id(order),
        amount=_charged(order, amount, currency),
    )


# --------------------------------------------------------------------------- shipping


def shipment_requested(
    order: OrderPlaced | str, *, shipment_id: str | None = None, warehouse: str = "wh-eu", lines=None
) -> ShipmentRequested:
    return ShipmentRequested(
        shipment_id=shipment_id or "shp_" + _id_suffix(_order_id(order)),
        order_id=_order_id(order),
        warehouse=warehouse,
        lines=_stock_lines(order, lines),
    )


def shipment_dispatched(
    order: OrderPlaced | str,
    *,
    shipment_id: str | None = None,
    carrier: str = "DHL",
    tracking_number: str = "JJD0001",
    dispatched_at: datetime | None = None,
) -> ShipmentDispatched:
    return ShipmentDispatched(
        shipment_id=shipment_id or "shp_" + _id_suffix(_order_id(order)),
        order_id=_order_id(order),
        carrier=carrier,
        tracking_number=tracking_number,
        dispatched_at=dispatched_at or datetime.now(UTC),
    )


def shipment_delivered(
    order: OrderPlaced | str, *, shipment_id: str | None = None, delivered_at: datetime | None = None
) -> ShipmentDelivered:
    return ShipmentDelivered(
        shipment_id=shipment_id or "shp_" + _id_suffix(_order_id(order)),
        order_id=_order_id(order),
        delivered_at=delivered_at or datetime.now(UTC),
    )


# --------------------------------------------------------------------------- on the bus


def producer(data: Any) -> str:
    """The service that publishes an event (payload or its class): each service owns
    shared/events/<service>.py, and its manifest lists the event under `publishes`."""
    cls = data if isinstance(data, type) else type(data)
    return cls.__module__.rsplit(".", 1)[-1]


def envelope(
    data: EventData, *, causation: Envelope | None = None, correlation_id: str | None = None, region: str = REGION
) -> Envelope:
    """The envelope the producing service publishes for the payload (a new event id each call)."""
    return new_envelope(data, source=producer(data), causation=causation, correlation_id=correlation_id, region=region)


def bus_event(item: Any, *, region: str = REGION) -> dict[str, Any]:
    """The EventBridge event a rule target receives, for an Envelope or a payload (published now).

    The detail goes through JSON as on the wire; an EventBridge event passes through unchanged.
    """
    if isinstance(item, EventData):
        item = envelope(item, region=region)
    if isinstance(item, Envelope):
        entry = item.to_put_events_entry("eda-test")  # the bus name does not reach the target
        return eventbridge_event(entry["Source"], entry["DetailType"], json.loads(entry["Detail"]), region=region)
    if isinstance(item, dict) and "detail-type" in item:
        return item
    raise TypeError(f"cannot deliver {type(item).__name__}: pass an Envelope, an EventData or an EventBridge event")


__all__ = [
    "address",
    "amount",
    "bus_event",
    "customer",
    "envelope",
    "inventory_level_changed",
    "low_stock_detected",
    "order_cancelled",
    "order_placed",
    "payment_failed",
    "payment_refunded",
    "payment_succeeded",
    "producer",
    "shipment_delivered",
    "shipment_dispatched",
    "shipment_requested",
    "stock_released",
    "stock_reservation_failed",
    "stock_reserved",
]
