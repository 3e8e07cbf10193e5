"""Events of the orders service (source "orders"), published from its event store through
the transactional outbox. They are the Order aggregate's own events."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventData, UtcDatetime
from shared.events.commerce import Address, Amount, Currency, Customer, OrderId, OrderLine
from shared.events.registry import register_event


@register_event
class OrderPlaced(EventData):
    """A customer placed an order; stock and payment follow."""

    detail_type: ClassVar[str] = "OrderPlaced"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = True

    order_id: OrderId
    customer: Customer
    currency: Currency
    lines: list[OrderLine] = Field(min_length=1, max_length=100)
    total: Amount
    shipping_address: Address
    payment_method_id: str = Field(pattern=r"^pm_[0-9a-z]{8,40}$", description="token from payments; never a card")
    placed_at: UtcDatetime


@register_event
class OrderRejected(EventData):
    """The order cannot be fulfilled (e.g. out of stock); nothing was charged."""

    detail_type: ClassVar[str] = "OrderRejected"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    reason: Literal["out_of_stock"]
    skus: list[str] = Field(default_factory=list)
    rejected_at: UtcDatetime | None = None


@register_event
class PaymentReceived(EventData):
    """The order is paid (the order's view of payments' PaymentSucceeded)."""

    detail_type: ClassVar[str] = "PaymentReceived"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    payment_id: str = Field(min_length=1)
    amount: Amount
    paid_at: UtcDatetime | None = None


@register_event
class OrderPaymentFailed(EventData):
    """Payment failed; the order ends in status PaymentFailed and its stock is released."""

    detail_type: ClassVar[str] = "OrderPaymentFailed"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    payment_id: str = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=100)
    failed_at: UtcDatetime | None = None


@register_event
class OrderShipped(EventData):
    detail_type: ClassVar[str] = "OrderShipped"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    shipment_id: str = Field(min_length=1)
    carrier: str = Field(min_length=1)
    tracking_number: str = Field(min_length=1)
    shipped_at: UtcDatetime


@register_event
class OrderDelivered(EventData):
    detail_type: ClassVar[str] = "OrderDelivered"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    shipment_id: str = Field(min_length=1)
    delivered_at: UtcDatetime


@register_event
class OrderCancelled(EventData):
    """Cancelled before shipping; stock is released and a captured payment refunded."""

    detail_type: ClassVar[str] = "OrderCancelled"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    reason: str = Field(min_length=1, max_length=200)
    cancelled_by: Literal["customer", "operations", "system"]
    cancelled_at: UtcDatetime | None = None
