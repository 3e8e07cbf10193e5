"""Value types shared by the e-commerce events (orders, payments, inventory, shipping).

Models only: nested parts of event payloads, strict when producing like every EventModel.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from shared.events.base import EventModel
from shared.money import MINOR_UNITS, DecimalAmount, Money

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,39}$", description="stock keeping unit")]
OrderId = Annotated[str, Field(pattern=r"^ord_[0-9a-z]{8,40}$")]


class Amount(EventModel):
    """Money on the wire: a decimal string and its currency, never a float."""

    amount: DecimalAmount
    currency: Currency = Field(json_schema_extra={"enum": sorted(MINOR_UNITS)})

    @model_validator(mode="after")
    def _exact_in_currency(self) -> Amount:
        if self.money().amount != self.amount:
            raise ValueError(f"{self.amount} has more decimals than {self.currency} allows")
        return self

    @classmethod
    def of(cls, money: Money) -> Amount:
        return cls(amount=money.amount, currency=money.currency)

    def money(self) -> Money:
        return Money(self.amount, self.currency)


class Customer(EventModel):
    customer_id: str = Field(min_length=1, max_length=64)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    name: str = Field(min_length=1, max_length=200)
    locale: str = Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$", description="BCP 47, e.g. de-DE, ja-JP")
    time_zone: str = Field(min_length=1, max_length=64, description="IANA zone, e.g. Europe/Berlin")
    region: str = Field(pattern=r"^[a-z]{2}-[a-z]+-\d$", description="AWS region the customer's data lives in")


class Address(EventModel):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class OrderLine(EventModel):
    sku: Sku
    quantity: int = Field(ge=1, le=1000)
    unit_price: Amount


class StockLine(EventModel):
    sku: Sku
    quantity: int = Field(ge=1, le=1000)


class Shortage(EventModel):
    sku: Sku
    requested: int = Field(ge=1)
    available: int = Field(ge=0)
