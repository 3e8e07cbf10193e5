"""The Order aggregate: pure Python, no AWS. Its events are the models in shared.events.orders.

    Placed ──StockReservationFailed──► Rejected
      │  ──PaymentFailed──────────────► PaymentFailed
      │  ──PaymentSucceeded──► Paid ──ShipmentDispatched──► Shipped ──ShipmentDelivered──► Delivered
      └──cancel (Placed or Paid)──► Cancelled

Commands (`place`, `cancel`) raise `InvalidTransition` when the state forbids them. Reactions
to other services' events are idempotent by state: a reaction already reflected in the
order records nothing, and one that arrives too early (delivered before dispatched, shipped
before paid) raises `OutOfOrder`, so the message is retried later. Events that come after
the order reached an end state (e.g. a payment for a cancelled order) record nothing and
say why in `Outcome.ignored`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from shared.events.base import EventData, utc_now
from shared.events.commerce import Address, Amount, Customer, OrderLine
from shared.events.orders import (
    OrderCancelled,
    OrderDelivered,
    OrderPaymentFailed,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    PaymentReceived,
)
from shared.eventstore import Aggregate
from shared.money import Money, MoneyError, convert

PLACED, REJECTED, PAYMENT_FAILED, PAID, SHIPPED, DELIVERED, CANCELLED = (
    "Placed",
    "Rejected",
    "PaymentFailed",
    "Paid",
    "Shipped",
    "Delivered",
    "Cancelled",
)
STATUSES = (PLACED, REJECTED, PAYMENT_FAILED, PAID, SHIPPED, DELIVERED, CANCELLED)
FINAL = frozenset({REJECTED, PAYMENT_FAILED, DELIVERED, CANCELLED})
CANCELLABLE = frozenset({PLACED, PAID})


class OrderError(Exception):
    """Base of the domain's errors."""


class InvalidTransition(OrderError):
    """A command the order's state does not allow (HTTP 409)."""

    def __init__(self, order_id: str, status: str, action: str) -> None:
        self.order_id, self.status, self.action = order_id, status, action
        super().__init__(f"order {order_id} is {status}: cannot {action}")


class OutOfOrder(OrderError):
    """An event arrived before the one it follows; retry it later (the queue redelivers)."""


class PricingError(OrderError):
    """A line cannot be priced; `errors` maps a field path to its reason (HTTP 400)."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


# --------------------------------------------------------------------------- pricing


class Listings(Protocol):
    """Port: a SKU's unit price where the customer buys it (inventory's per-region listings)."""

    def unit_prices(self, skus: list[str], region: str) -> dict[str, Money]:
        """Prices of the SKUs listed in `region`, in that region's currency; unlisted SKUs are absent."""
        ...


class Rates(Protocol):
    """Port: the exchange rates table."""

    def rates(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Decimal]: ...


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


def price_lines(
    lines: list[RequestedLine], currency: str, region: str, listings: Listings, rates: Rates
) -> list[OrderLine]:
    """Unit prices from the listings, converted into the order currency when they differ.

    A SKU listed twice is one line with the quantities added (one reservation per SKU)."""
    merged: dict[str, int] = {}
    first_index: dict[str, int] = {}
    for i, line in enumerate(lines):
        merged[line.sku] = merged.get(line.sku, 0) + line.quantity
        first_index.setdefault(line.sku, i)
    prices = listings.unit_prices(list(merged), region)
    # Reasons name the field and the rule, never the caller's values (SKU, region, currency).
    errors = {
        f"lines.{first_index[sku]}.sku": "not sold in the customer's market (yet)"
        for sku in merged
        if sku not in prices
    }
    errors.update(
        {
            f"lines.{first_index[sku]}.quantity": "at most 1000 per SKU (lines of one SKU are added up)"
            for sku, qty in merged.items()
            if qty > 1000
        }
    )
    if errors:
        raise PricingError(errors)
    pairs = {(p.currency, currency) for p in prices.values() if p.currency != currency}
    table = rates.rates(pairs) if pairs else {}
    priced = []
    for sku, quantity in merged.items():
        try:
            unit = convert(prices[sku], currency, table)
        except MoneyError:  # no rate: the order currency is what cannot be served
            raise PricingError(
                {"currency": f"no exchange rate from the market's currency ({prices[sku].currency}) to this currency"}
            ) from None
        if unit.amount <= 0:
            raise PricingError({f"lines.{first_index[sku]}.sku": "its price rounds to zero in this currency"})
        priced.append(OrderLine(sku=sku, quantity=quantity, unit_price=Amount.of(unit)))
    return priced


def order_total(lines: list[OrderLine], currency: str) -> Money:
    total = Money.zero(currency)
    for line in lines:
        total = total + line.unit_price.money() * line.quantity
    return total


def new_order_id() -> str:
    return "ord_" + uuid.uuid4().hex


# --------------------------------------------------------------------------- the aggregate


@dataclass(frozen=True)
class Outcome:
    """What a reaction did: the events it recorded, or why it recorded none."""

    recorded: tuple[EventData, ...] = ()
    ignored: str | None = None


class Order(Aggregate):
    """An order's state, folded from its events. `to_snapshot()` is also the read model's shape."""

    snapshot_schema = 1

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.status: str | None = None
        self.customer: dict[str, Any] = {}
        self.currency = ""
        self.lines: list[dict[str, Any]] = []
        self.total: dict[str, str] = {}
        self.shipping_address: dict[str, Any] = {}
        self.payment_method_id = ""
        self.payment: dict[str, Any] = {}
        self.shipment: dict[str, Any] = {}
        self.reason: str | None = None
        self.timestamps: dict[str, str] = {}  # status -> ISO time it was reached

    @property
    def order_id(self) -> str:
        return self.stream_id

    @property
    def exists(self) -> bool:
        return self.status is not None

    # ------------------------------------------------------------------ commands

    @classmethod
    def place(
        cls,
        order_id: str,
        *,
        customer: Customer,
        currency: str,
        lines: list[OrderLine],
        shipping_address: Address,
        payment_method_id: str,
        now: datetime | None = None,
    ) -> Order:
        if not lines:
            raise OrderError("an order needs at least one line")
        for line in lines:
            if line.unit_price.currency != currency:
                raise OrderError(f"line {line.sku} is priced in {line.unit_price.currency}, not {currency}")
        order = cls(order_id)
        order.record(
            OrderPlaced(
                order_id=order_id,
                customer=customer,
                currency=currency,
                lines=lines,
                total=Amount.of(order_total(lines, currency)),
                shipping_address=shipping_address,
                payment_method_id=payment_method_id,
                placed_at=now or utc_now(),
            )
        )
        return order

    def cancel(self, reason: str, cancelled_by: str = "customer", now: datetime | None = None) -> OrderCancelled:
        self._require_exists()
        if self.status not in CANCELLABLE:
            raise InvalidTransition(self.order_id, self.status or "unknown", "cancel")
        event = OrderCancelled(
            order_id=self.order_id, reason=reason, cancelled_by=cancelled_by, cancelled_at=now or utc_now()
        )
        self.record(event)
        return event

    # ------------------------------------------------------------------ reactions

    def reservation_failed(self, skus: list[str], now: datetime | None = None) -> Outcome:
        self._require_exists()
        if self.status == REJECTED:
            return Outcome(ignored="already rejected")
        if self.status != PLACED:
            return Outcome(ignored=f"order is {self.status}; a failed reservation changes nothing")
        return self._record(
            OrderRejected(order_id=self.order_id, reason="out_of_stock", skus=skus, rejected_at=now or utc_now())
        )

    def payment_succeeded(self, payment_id: str, amount: Money, now: datetime | None = None) -> Outcome:
        self._require_exists()
        if self.payment.get("payment_id") == payment_id and self.status in (PAID, SHIPPED, DELIVERED):
            return Outcome(ignored="payment already received")
        if self.status != PLACED:
            return Outcome(ignored=f"order is {self.status}; payment {payment_id} not applied")
        return self._record(
            PaymentReceived(
                order_id=self.order_id, payment_id=payment_id, amount=Amount.of(amount), paid_at=now or utc_now()
            )
        )

    def payment_failed(self, payment_id: str, reason: str, now: datetime | None = None) -> Outcome:
        self._require_exists()
        if self.status == PAYMENT_FAILED:
            return Outcome(ignored="payment failure already recorded")
        if self.status != PLACED:
            return Outcome(ignored=f"order is {self.status}; payment failure {payment_id} not applied")
        return self._record(
            OrderPaymentFailed(order_id=self.order_id, payment_id=payment_id, reason=reason, failed_at=now or utc_now())
        )

    def shipment_dispatched(
        self, shipment_id: str, carrier: str, tracking_number: str, shipped_at: datetime
    ) -> Outcome:
        self._require_exists()
        if self.status in (SHIPPED, DELIVERED) and self.shipment.get("shipment_id") == shipment_id:
            return Outcome(ignored="shipment already recorded")
        if self.status == PLACED:
            raise OutOfOrder(f"order {self.order_id} is not paid yet; shipment {shipment_id} waits for the payment")
        if self.status != PAID:
            return Outcome(ignored=f"order is {self.status}; shipment {shipment_id} not applied")
        return self._record(
            OrderShipped(
                order_id=self.order_id,
                shipment_id=shipment_id,
                carrier=carrier,
                tracking_number=tracking_number,
                shipped_at=shipped_at,
            )
        )

    def shipment_delivered(self, shipment_id: str, delivered_at: datetime) -> Outcome:
        self._require_exists()
        if self.status == DELIVERED:
            return Outcome(ignored="delivery already recorded")
        if self.status in (PLACED, PAID):
            raise OutOfOrder(f"order {self.order_id} is {self.status}: delivery of {shipment_id} before dispatch")
        if self.status != SHIPPED:
            return Outcome(ignored=f"order is {self.status}; delivery {shipment_id} not applied")
        return self._record(OrderDelivered(order_id=self.order_id, shipment_id=shipment_id, delivered_at=delivered_at))

    def _record(self, event: EventData) -> Outcome:
        self.record(event)
        return Outcome(recorded=(event,))

    def _require_exists(self) -> None:
        if not self.exists:
            raise OutOfOrder(f"order {self.order_id} has no events yet")

    # ------------------------------------------------------------------ the fold

    def _reach(self, status: str, at: datetime | None) -> None:
        if self.status is not None and status != PLACED and self.status in FINAL:
            raise OrderError(f"order {self.order_id}: {status} after final status {self.status}")
        self.status = status
        if at is not None:
            self.timestamps[status] = _iso(at)

    def on_OrderPlaced(self, e: OrderPlaced) -> None:
        if self.status is not None:
            raise OrderError(f"order {self.order_id} placed twice")
        self.customer = e.customer.model_dump(mode="json")
        self.currency = e.currency
        self.lines = [line.model_dump(mode="json") for line in e.lines]
        self.total = e.total.model_dump(mode="json")
        self.shipping_address = e.shipping_address.model_dump(mode="json", exclude_none=True)
        self.payment_method_id = e.payment_method_id
        self._reach(PLACED, e.placed_at)

    def on_OrderRejected(self, e: OrderRejected) -> None:
        self.reason = f"{e.reason}: {', '.join(e.skus)}" if e.skus else e.reason
        self._reach(REJECTED, e.rejected_at)

    def on_PaymentReceived(self, e: PaymentReceived) -> None:
        self.payment = {"payment_id": e.payment_id, "amount": e.amount.model_dump(mode="json")}
        self._reach(PAID, e.paid_at)

    def on_OrderPaymentFailed(self, e: OrderPaymentFailed) -> None:
        self.payment = {"payment_id": e.payment_id}
        self.reason = e.reason
        self._reach(PAYMENT_FAILED, e.failed_at)

    def on_OrderShipped(self, e: OrderShipped) -> None:
        self.shipment = {"shipment_id": e.shipment_id, "carrier": e.carrier, "tracking_number": e.tracking_number}
        self._reach(SHIPPED, e.shipped_at)

    def on_OrderDelivered(self, e: OrderDelivered) -> None:
        self._reach(DELIVERED, e.delivered_at)

    def on_OrderCancelled(self, e: OrderCancelled) -> None:
        self.reason = e.reason
        self._reach(CANCELLED, e.cancelled_at)

    # ------------------------------------------------------------------ snapshots / views

    _FIELDS = (
        "status",
        "customer",
        "currency",
        "lines",
        "total",
        "shipping_address",
        "payment_method_id",
        "payment",
        "shipment",
        "reason",
        "timestamps",
    )

    def to_snapshot(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._FIELDS}

    @classmethod
    def from_snapshot(cls, stream_id: str, state: Mapping[str, Any], version: int) -> Order:
        order = cls(stream_id)
        for name in cls._FIELDS:
            if name in state:
                setattr(order, name, state[name])
        order.version = version
        return order

    def view(self) -> dict[str, Any]:
        """The read model / API representation (no payment method token)."""
        times = self.timestamps
        return {
            "order_id": self.order_id,
            "status": self.status,
            "customer": self.customer,
            "currency": self.currency,
            "lines": [
                {
                    **line,
                    "line_total": (Money.of(line["unit_price"]["amount"], self.currency) * line["quantity"]).to_json(),
                }
                for line in self.lines
            ],
            "total": self.total,
            "shipping_address": self.shipping_address,
            "payment": self.payment or None,
            "shipment": self.shipment or None,
            "reason": self.reason,
            "timestamps": times,
            "placed_at": times.get(PLACED),
            "updated_at": max(times.values()) if times else None,
            "version": self.version,
        }


def _iso(value: datetime) -> str:
    from shared.eventstore import parse_time

    return parse_time(value).isoformat(timespec="microseconds").replace("+00:00", "Z")
