"""The payment of one order: a record with a small state machine. Plain Python, no AWS.

    (none) ──OrderPlaced──► intent ──StockReserved──► charging ──► captured ──OrderCancelled──► refunding ──► refunded
                              │                           └──────► failed
                              └──OrderCancelled──► cancelled ◄──OrderCancelled── (none)   (no charge ever after)

One record per order (key: order_id). Every write is conditional on the `version` (and
state) it was computed from, so two deliveries racing for the same transition cannot both
win: the loser re-reads and sees what the winner did. `charging` carries a lease (the
deadline of the invocation that holds it): a concurrent delivery backs off while it is
valid, a redelivery after a crash takes over once it has expired and retries the provider
with the same idempotency key, which returns the first outcome instead of charging again.

An outcome event is stored on the record in the same write as the transition
(`pending_event`) and removed after it was published: a crash between the two republishes
the same event (same event_id) on the next delivery instead of losing it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from shared.money import Money

State = Literal["intent", "charging", "captured", "failed", "cancelled", "refunding", "refunded"]
FINAL_STATES: frozenset[str] = frozenset({"failed", "cancelled", "refunded"})


def new_payment_id() -> str:
    return "pay_" + uuid.uuid4().hex[:24]


@dataclass(frozen=True)
class PendingEvent:
    """An outcome event stored with the transition that caused it, not yet published."""

    detail_type: str
    event_id: str
    detail: str  # the EventBridge detail JSON, exactly as it will be published
    # The deciding invocation publishes it; others leave it alone until this (epoch seconds)
    # has passed, so a concurrent duplicate does not publish it a second time.
    owner_lease_until: int | None = None


@dataclass(frozen=True)
class Payment:
    order_id: str
    payment_id: str
    state: State
    version: int = 0  # 0: not stored yet; each stored change increments it
    amount: Money | None = None
    payment_method_id: str | None = None
    customer_id: str | None = None
    attempts: int = 0  # provider attempts of the charge (timeouts are retried with the same key)
    lease_until: int | None = None  # epoch seconds; only while charging
    charge_id: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    failure_reason: str | None = None
    refund_id: str | None = None
    pending_event: PendingEvent | None = None
    placed_event_id: str | None = None
    updated_at: str | None = None

    @classmethod
    def intent(
        cls, order_id: str, amount: Money, payment_method_id: str, customer_id: str, *, placed_event_id: str, now: str
    ) -> Payment:
        return cls(
            order_id=order_id,
            payment_id=new_payment_id(),
            state="intent",
            version=1,
            amount=amount,
            payment_method_id=payment_method_id,
            customer_id=customer_id,
            placed_event_id=placed_event_id,
            updated_at=now,
        )

    @classmethod
    def cancelled_before_intent(cls, order_id: str, *, now: str) -> Payment:
        """OrderCancelled overtook OrderPlaced: a tombstone so that nothing is ever charged."""
        return cls(order_id=order_id, payment_id=new_payment_id(), state="cancelled", version=1, updated_at=now)

    def next(self, now: str, **changes: Any) -> Payment:
        """The next stored version of this record."""
        return replace(self, version=self.version + 1, updated_at=now, **changes)

    def lease_valid(self, now_epoch: float) -> bool:
        return self.state == "charging" and self.lease_until is not None and self.lease_until > now_epoch

    # ------------------------------------------------------------------ storage form
    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (plain str/int values; money as a decimal string, never a float)."""
        item: dict[str, Any] = {
            "order_id": self.order_id,
            "payment_id": self.payment_id,
            "state": self.state,
            "version": self.version,
            "attempts": self.attempts,
        }
        if self.amount is not None:
            item["amount"] = str(self.amount.amount)
            item["currency"] = self.amount.currency
        for name in (
            "payment_method_id",
            "customer_id",
            "lease_until",
            "charge_id",
            "card_brand",
            "card_last4",
            "failure_reason",
            "refund_id",
            "placed_event_id",
            "updated_at",
        ):
            value = getattr(self, name)
            if value is not None:
                item[name] = value
        if self.pending_event is not None:
            item["pending_event"] = {
                "detail_type": self.pending_event.detail_type,
                "event_id": self.pending_event.event_id,
                "detail": self.pending_event.detail,
            }
            if self.pending_event.owner_lease_until is not None:
                item["pending_event"]["owner_lease_until"] = self.pending_event.owner_lease_until
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Payment:
        def num(value: Any) -> int | None:
            return None if value is None else int(Decimal(str(value)))

        pending = item.get("pending_event")
        return cls(
            order_id=item["order_id"],
            payment_id=item["payment_id"],
            state=item["state"],
            version=num(item["version"]) or 0,
            amount=Money.of(item["amount"], item["currency"]) if "amount" in item else None,
            payment_method_id=item.get("payment_method_id"),
            customer_id=item.get("customer_id"),
            attempts=num(item.get("attempts")) or 0,
            lease_until=num(item.get("lease_until")),
            charge_id=item.get("charge_id"),
            card_brand=item.get("card_brand"),
            card_last4=item.get("card_last4"),
            failure_reason=item.get("failure_reason"),
            refund_id=item.get("refund_id"),
            pending_event=PendingEvent(
                pending["detail_type"],
                pending["event_id"],
                pending["detail"],
                num(pending.get("owner_lease_until")),
            )
            if pending
            else None,
            placed_event_id=item.get("placed_event_id"),
            updated_at=item.get("updated_at"),
        )

    def summary(self) -> dict[str, Any]:
        """For logs: identifiers and state only (no customer data, no card digits beyond last 4)."""
        out = {"order_id": self.order_id, "payment_id": self.payment_id, "state": self.state, "version": self.version}
        if self.failure_reason:
            out["failure_reason"] = self.failure_reason
        return out


def pending_from(envelope: Any, owner_lease_until: int | None) -> PendingEvent:
    """Freeze an outcome envelope for the record (published by its owner, or later by a redelivery)."""
    return PendingEvent(envelope.detail_type, envelope.metadata.event_id, envelope.detail_json(), owner_lease_until)
