"""HTTP request bodies: pydantic models that Powertools validates (a 400 names each bad field).

Strict JSON types: a quantity is a JSON integer (not `true`, `"2"` or `2.0`), text is a JSON
string. Reasons name the field and the rule, never the value sent (shared.problems).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from shared.events.commerce import Address, Customer, Sku
from shared.money import MINOR_UNITS


class _Request(BaseModel):
    # defer_build: a model's validator is built by its first request, not at import
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


def _customer_field(name: str) -> Any:
    """A field of shared.events.commerce.Customer, with its constraints (one definition of each)."""
    return Annotated[Customer.model_fields[name].annotation, Customer.model_fields[name]]


class CustomerIn(_Request):
    """Who receives the order's mails and where it ships from the customer's view. Not the
    customer's id: that is the token's `sub` (a `customer_id` here is refused, as any extra field)."""

    email: _customer_field("email")  # type: ignore[valid-type]
    name: _customer_field("name")  # type: ignore[valid-type]
    locale: _customer_field("locale")  # type: ignore[valid-type]
    time_zone: _customer_field("time_zone")  # type: ignore[valid-type]
    region: _customer_field("region")  # type: ignore[valid-type]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a directory
            raise ValueError("must be an IANA time zone name, e.g. Europe/Berlin") from None
        return value


class LineIn(_Request):
    sku: Sku
    quantity: StrictInt = Field(ge=1, le=1000)


class PlaceOrderRequest(_Request):
    customer: CustomerIn
    currency: StrictStr = Field(json_schema_extra={"enum": sorted(MINOR_UNITS)})
    lines: list[LineIn] = Field(min_length=1, max_length=99)
    shipping_address: Address
    payment_method_id: StrictStr = Field(pattern=r"^pm_[0-9a-z]{8,40}$")

    @field_validator("currency")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in MINOR_UNITS:
            raise ValueError(f"unsupported currency; supported: {', '.join(sorted(MINOR_UNITS))}")
        return value

    def __repr_args__(self) -> Iterator[tuple[str, Any]]:
        # Powertools logs a route's arguments at DEBUG: keep the customer and address out of it.
        yield "currency", self.currency
        yield "lines", self.lines

    def fingerprint(self, customer_id: str) -> dict[str, Any]:
        """What identifies the order the client asked for (compared on a key reused after a crash)."""
        quantities: dict[str, int] = {}
        for line in self.lines:
            quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
        return {
            "customer": {"customer_id": customer_id, **self.customer.model_dump(mode="json")},
            "currency": self.currency,
            "lines": sorted(quantities.items()),
            "shipping_address": self.shipping_address.model_dump(mode="json", exclude_none=True),
            "payment_method_id": self.payment_method_id,
        }


class CancelRequest(_Request):
    reason: StrictStr = Field(default="requested by the customer", min_length=1, max_length=200)
