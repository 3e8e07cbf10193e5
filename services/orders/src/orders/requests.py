"""HTTP request bodies, validated with pydantic: a 400 names every bad field with its reason."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.events.commerce import Address, Customer, Sku
from shared.money import MINOR_UNITS

M = TypeVar("M", bound=BaseModel)


class RequestError(ValueError):
    """The body is not acceptable; `errors` maps a field path (e.g. `lines.0.quantity`) to a reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerIn(Customer):
    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class LineIn(_Request):
    sku: Sku
    quantity: int = Field(ge=1, le=1000, strict=True)


class PlaceOrderRequest(_Request):
    customer: CustomerIn
    currency: str = Field(json_schema_extra={"enum": sorted(MINOR_UNITS)})
    lines: list[LineIn] = Field(min_length=1, max_length=99)
    shipping_address: Address
    payment_method_id: str = Field(pattern=r"^pm_[0-9a-z]{8,40}$")

    @field_validator("currency")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in MINOR_UNITS:
            raise ValueError(f"unsupported currency; supported: {', '.join(sorted(MINOR_UNITS))}")
        return value

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the order the client asked for (compared on a key reused after a crash)."""
        quantities: dict[str, int] = {}
        for line in self.lines:
            quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
        return {
            "customer": self.customer.model_dump(mode="json"),
            "currency": self.currency,
            "lines": sorted(quantities.items()),
            "shipping_address": self.shipping_address.model_dump(mode="json", exclude_none=True),
            "payment_method_id": self.payment_method_id,
        }


class CancelRequest(_Request):
    reason: str = Field(default="requested by the customer", min_length=1, max_length=200)


def parse_body(model: type[M], body: str | None, *, allow_empty: bool = False) -> M:
    """Validate a JSON body; raises `RequestError` with one reason per field (values left out)."""
    if not body or not body.strip():
        if allow_empty:
            return model()
        raise RequestError({"body": "a JSON object is required"})
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise RequestError({"body": f"not JSON: {exc.args[0]}"}) from None
    if not isinstance(data, dict):
        raise RequestError({"body": "must be a JSON object"})
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors(include_input=False, include_url=False):
            path = ".".join(str(p) for p in error["loc"]) or "body"
            errors.setdefault(path, error["msg"])
        raise RequestError(errors) from None
