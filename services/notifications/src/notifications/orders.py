"""What notifications remembers of an order: plain Python, no AWS.

The projection keeps only what the emails need (contact, language, time zone, lines, total),
built from OrderPlaced. Amounts stay strings in the item (DynamoDB numbers would come back
as Decimal too, but strings keep the currency's exact scale, e.g. "12.50").

    >>> contact = OrderContact.from_order_placed(envelope.data)
    >>> OrderContact.from_item(contact.to_item()) == contact
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.money import Money

RETENTION = timedelta(days=90)  # personal data: kept while an order can still trigger emails


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    unit_price: Money

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class OrderContact:
    order_id: str
    email: str
    name: str
    locale: str
    time_zone: str
    lines: tuple[Line, ...]
    total: Money
    placed_at: datetime

    @classmethod
    def from_order_placed(cls, data: Any) -> OrderContact:
        """From an OrderPlaced payload (shared.events.orders.OrderPlaced)."""
        return cls(
            order_id=data.order_id,
            email=data.customer.email,
            name=data.customer.name,
            locale=data.customer.locale,
            time_zone=data.customer.time_zone,
            lines=tuple(Line(li.sku, li.quantity, li.unit_price.money()) for li in data.lines),
            total=data.total.money(),
            placed_at=data.placed_at,
        )

    def to_item(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "email": self.email,
            "name": self.name,
            "locale": self.locale,
            "time_zone": self.time_zone,
            "currency": self.total.currency,
            "lines": [
                {"sku": li.sku, "quantity": li.quantity, "unit_price": str(li.unit_price.amount)} for li in self.lines
            ],
            "total": str(self.total.amount),
            "placed_at": self.placed_at.isoformat(),
            "expires_at": int((self.placed_at + RETENTION).timestamp()),
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> OrderContact:
        currency = item["currency"]
        return cls(
            order_id=item["order_id"],
            email=item["email"],
            name=item["name"],
            locale=item["locale"],
            time_zone=item["time_zone"],
            lines=tuple(
                Line(li["sku"], int(li["quantity"]), Money.of(li["unit_price"], currency)) for li in item["lines"]
            ),
            total=Money.of(item["total"], currency),
            placed_at=datetime.fromisoformat(item["placed_at"]),
        )
