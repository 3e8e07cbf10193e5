"""Events of the payments service (source "payments")."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventData
from shared.events.commerce import Amount, OrderId
from shared.events.registry import register_event

FailureReason = Literal["card_declined", "insufficient_funds", "provider_timeout", "invalid_payment_method"]


@register_event
class PaymentSucceeded(EventData):
    """The order's amount was captured. At most the first 6 and last 4 card digits travel."""

    detail_type: ClassVar[str] = "PaymentSucceeded"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = True  # card fragments tie to a person

    payment_id: str = Field(pattern=r"^pay_[0-9a-z]{8,40}$")
    order_id: OrderId
    amount: Amount
    card_brand: str = Field(min_length=1, max_length=20)
    card_last4: str = Field(pattern=r"^\d{4}$")


@register_event
class PaymentFailed(EventData):
    detail_type: ClassVar[str] = "PaymentFailed"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    payment_id: str = Field(pattern=r"^pay_[0-9a-z]{8,40}$")
    order_id: OrderId
    amount: Amount
    reason: FailureReason


@register_event
class PaymentRefunded(EventData):
    detail_type: ClassVar[str] = "PaymentRefunded"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    payment_id: str = Field(pattern=r"^pay_[0-9a-z]{8,40}$")
    order_id: OrderId
    amount: Amount
