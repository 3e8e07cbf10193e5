"""What payments does with each event it consumes. Pure: storage, card lookup, the
provider and publishing are ports (plain callables/protocols), so this runs without AWS.

    service = PaymentService(store, methods, provider, publish=publisher.publish)
    service.record_intent(order_placed)                    # OrderPlaced
    service.charge(stock_reserved, lease_until=deadline)   # StockReserved
    service.cancel(order_cancelled)                        # OrderCancelled
    service.close(order_rejected)                          # OrderRejected

Every method is safe under duplicate, reordered and concurrent delivery (see payment.py):
it re-reads after a lost conditional write and decides again. It raises when the event
must be retried later (`IntentNotFound`, `ChargeInProgress`), so SQS redelivers it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from payments.cards import PaymentMethod
from payments.payment import Payment, pending_from
from payments.provider import CardRef, Charge, ProviderTimeout, SimulatedProvider
from shared.events import Envelope, new_envelope, parse_detail
from shared.events.commerce import Amount
from shared.events.payments import PaymentFailed, PaymentRefunded, PaymentSucceeded
from shared.observability import logger

SOURCE = "payments"
MAX_CONFLICTS = 8  # re-reads after lost conditional writes before giving up (the record is retried)


class RetryLater(RuntimeError):
    """The event cannot be handled yet; raising makes SQS deliver it again later."""


class IntentNotFound(RetryLater):
    """StockReserved (or a charge) before OrderPlaced: wait for the intent."""


class ChargeInProgress(RetryLater):
    """Another delivery holds the charge lease; its outcome will be there on the next delivery."""


class OutcomeBeingPublished(RetryLater):
    """The invocation that decided the payment is publishing its event; nothing to do unless it dies."""


class TooManyConflicts(RetryLater):
    pass


class PaymentStore(Protocol):
    def get(self, order_id: str) -> Payment | None: ...

    def save(self, payment: Payment, *, expected: Payment | None) -> bool:
        """Write `payment` if the stored record is still `expected` (None: if there is none).
        False when the condition failed (someone else wrote first)."""
        ...


class PaymentMethods(Protocol):
    def get(self, payment_method_id: str) -> PaymentMethod | None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PaymentService:
    store: PaymentStore
    methods: PaymentMethods
    provider: SimulatedProvider
    publish: Callable[[Envelope], Any]
    max_attempts: int = 3
    retry_delay_seconds: float = 0.0  # before the 2nd attempt; doubled for each further one
    clock: Callable[[], datetime] = field(default=_utc_now)
    sleep: Callable[[float], None] = field(default=time.sleep)

    # ------------------------------------------------------------------ OrderPlaced
    def record_intent(self, placed: Envelope) -> str:
        data = placed.data
        intent = Payment.intent(
            data.order_id,
            data.total.money(),
            data.payment_method_id,
            data.customer.customer_id,
            placed_event_id=placed.metadata.event_id,
            now=self._now(),
        )
        if self.store.save(intent, expected=None):
            logger.info("payment intent recorded", extra=intent.summary())
            return "recorded"
        existing = self.store.get(data.order_id)
        state = existing.state if existing else "?"
        logger.info("payment intent exists, ignored", extra={"order_id": data.order_id, "state": state})
        return "duplicate"

    # ------------------------------------------------------------------ StockReserved
    def charge(self, reserved: Envelope, *, lease_until: int) -> str:
        order_id = reserved.data.order_id
        for _ in range(MAX_CONFLICTS):
            payment = self.store.get(order_id)
            if payment is None:
                raise IntentNotFound(f"no payment intent for {order_id} yet (OrderPlaced not processed)")
            if payment.pending_event is not None:
                self._flush(payment, owner=False)
                continue
            if payment.state in ("captured", "failed", "refunding", "refunded"):
                logger.info("charge already decided, ignored", extra=payment.summary())
                return f"already {payment.state}"
            if payment.state == "cancelled":
                logger.info("order cancelled before the charge: not charging", extra=payment.summary())
                return "cancelled"
            if payment.lease_valid(self.clock().timestamp()):
                raise ChargeInProgress(f"charge of {order_id} in progress in another invocation")
            # intent, or charging whose holder died (lease expired): take the lease.
            method = self.methods.get(payment.payment_method_id or "")
            today = self.clock().date()
            if method is None or method.expired(today) or not method.belongs_to(payment.customer_id):
                # Another customer's payment method is refused like an unknown one (no probing).
                reason = "unknown" if method is None else "expired" if method.expired(today) else "not the customer's"
                logger.warning("payment method unusable", extra={**payment.summary(), "why": reason})
                failed = self._decided(
                    payment, reserved, status="failed", reason="invalid_payment_method", lease_until=lease_until
                )
                if self.store.save(failed, expected=payment):
                    return self._flush(failed, owner=True)
                continue
            leased = payment.next(self._now(), state="charging", lease_until=lease_until)
            if not self.store.save(leased, expected=payment):
                continue  # another delivery moved first: look again
            if payment.state == "charging":
                logger.warning("charge lease expired, taking over", extra=leased.summary())
            decided = self._call_provider(leased, method, reserved)
            if self.store.save(decided, expected=leased):
                return self._flush(decided, owner=True)
            # Our lease was taken over (we ran past it); the provider key kept the charge single.
        raise TooManyConflicts(f"payment of {order_id} kept changing under us")

    def _call_provider(self, payment: Payment, method: PaymentMethod, cause: Envelope) -> Payment:
        card = CardRef(method.brand, method.first6, method.last4)
        attempts = payment.attempts
        charge: Charge | None = None
        while attempts < self.max_attempts:
            attempts += 1
            try:
                # The provider idempotency key is the order id: one charge per order, whatever
                # the retries, redeliveries or takeovers.
                charge = self.provider.charge(idempotency_key=payment.order_id, amount=payment.amount, card=card)
                break
            except ProviderTimeout:
                logger.warning("provider timed out", extra={**payment.summary(), "attempt": attempts})
                if attempts < self.max_attempts and self.retry_delay_seconds > 0:
                    self.sleep(self.retry_delay_seconds * 2 ** (attempts - 1))
        payment = payment.next(
            self._now(),
            attempts=attempts,
            card_brand=method.brand,
            card_last4=method.last4,
            charge_id=charge.charge_id if charge else None,
        )
        lease = payment.lease_until
        if charge is None:
            timeout = "provider_timeout"
            return self._decided(payment, cause, status="failed", reason=timeout, lease_until=lease, bump=False)
        if charge.status == "succeeded":
            return self._decided(payment, cause, status="captured", lease_until=lease, bump=False)
        return self._decided(payment, cause, status="failed", reason=charge.failure_code, lease_until=lease, bump=False)

    def _decided(
        self,
        payment: Payment,
        cause: Envelope,
        *,
        status: str,
        lease_until: int | None,
        reason: str | None = None,
        bump: bool = True,
    ) -> Payment:
        amount = Amount.of(payment.amount)
        if status == "captured":
            data = PaymentSucceeded(
                payment_id=payment.payment_id,
                order_id=payment.order_id,
                amount=amount,
                card_brand=payment.card_brand,
                card_last4=payment.card_last4,
            )
        else:
            data = PaymentFailed(payment_id=payment.payment_id, order_id=payment.order_id, amount=amount, reason=reason)
        event = pending_from(new_envelope(data, source=SOURCE, causation=cause), lease_until)
        changes = {"state": status, "lease_until": None, "failure_reason": reason, "pending_event": event}
        if bump:
            return payment.next(self._now(), **changes)
        return replace(payment, **changes)

    # ------------------------------------------------------------------ OrderCancelled
    def cancel(self, cancelled: Envelope, *, lease_until: int) -> str:
        order_id = cancelled.data.order_id
        for _ in range(MAX_CONFLICTS):
            payment = self.store.get(order_id)
            if payment is None:
                if self.store.save(Payment.cancelled_before_intent(order_id, now=self._now()), expected=None):
                    logger.info("order cancelled before its intent: no charge ever", extra={"order_id": order_id})
                    return "cancelled"
                continue
            if payment.pending_event is not None:
                self._flush(payment, owner=False)
                continue
            if payment.state == "intent":
                if self.store.save(payment.next(self._now(), state="cancelled"), expected=payment):
                    logger.info("order cancelled before the charge: nothing will be charged", extra=payment.summary())
                    return "cancelled"
                continue
            if payment.state == "charging":
                raise ChargeInProgress(f"charge of {order_id} in progress; refund after it is decided")
            if payment.state in ("failed", "cancelled", "refunded"):
                logger.info("nothing to refund", extra=payment.summary())
                return f"nothing to refund ({payment.state})"
            if payment.state == "captured":
                refunding = payment.next(self._now(), state="refunding")
                if not self.store.save(refunding, expected=payment):
                    continue
                payment = refunding
            # refunding: ours, or resumed after a crash; the key makes the provider refund once.
            refund = self.provider.refund(
                idempotency_key=f"{order_id}:refund", charge_id=payment.charge_id or "", amount=payment.amount
            )
            data = PaymentRefunded(payment_id=payment.payment_id, order_id=order_id, amount=Amount.of(payment.amount))
            event = pending_from(new_envelope(data, source=SOURCE, causation=cancelled), lease_until)
            refunded = payment.next(self._now(), state="refunded", refund_id=refund.refund_id, pending_event=event)
            if self.store.save(refunded, expected=payment):
                return self._flush(refunded, owner=True)
        raise TooManyConflicts(f"payment of {order_id} kept changing under us")

    # ------------------------------------------------------------------ OrderRejected
    def close(self, rejected: Envelope) -> str:
        """The order was rejected (no stock): its intent is closed (`cancelled`), nothing is ever charged.

        No StockReserved follows a rejection, so without this the intent stayed open forever.
        OrderRejected may overtake OrderPlaced: a tombstone then keeps a late intent from opening.
        """
        order_id = rejected.data.order_id
        for _ in range(MAX_CONFLICTS):
            payment = self.store.get(order_id)
            if payment is None:
                tombstone = replace(
                    Payment.cancelled_before_intent(order_id, now=self._now()), failure_reason="order_rejected"
                )
                if self.store.save(tombstone, expected=None):
                    logger.info("order rejected before its intent: no charge ever", extra={"order_id": order_id})
                    return "closed"
                continue
            if payment.state != "intent":
                logger.info("order rejected; payment not open, nothing to close", extra=payment.summary())
                return f"nothing to close ({payment.state})"
            closed = payment.next(self._now(), state="cancelled", failure_reason="order_rejected")
            if self.store.save(closed, expected=payment):
                logger.info("order rejected: payment intent closed", extra=closed.summary())
                return "closed"
        raise TooManyConflicts(f"payment of {order_id} kept changing under us")

    # ------------------------------------------------------------------ outbox
    def _flush(self, payment: Payment, *, owner: bool) -> str:
        """Publish the record's pending event, then remove it from the record.

        The owner (the invocation that stored it) publishes right away. Another delivery
        publishes it only once the owner's lease has passed (the owner died in between);
        before that it raises, to look again later. If publishing fails, the owner gives
        up its lease, so the next delivery publishes. Either way the event keeps its
        event_id, so a rare second publish is a duplicate consumers drop.
        """
        pending = payment.pending_event
        assert pending is not None
        lease = pending.owner_lease_until
        if not owner and lease is not None and lease > self.clock().timestamp():
            raise OutcomeBeingPublished(f"{pending.detail_type} of {payment.order_id} is being published")
        try:
            self.publish(parse_detail(pending.detail_type, pending.detail, source=SOURCE))
        except Exception:
            if owner:
                released = payment.next(self._now(), pending_event=replace(pending, owner_lease_until=None))
                try:
                    self.store.save(released, expected=payment)
                except Exception:  # best effort: the lease expires anyway
                    logger.warning("could not release the publish lease", extra=payment.summary())
            raise
        self.store.save(payment.next(self._now(), pending_event=None), expected=payment)
        logger.info(
            "payment event published",
            extra={**payment.summary(), "detail_type": pending.detail_type, "published_event_id": pending.event_id},
        )
        return payment.state

    def _now(self) -> str:
        return self.clock().isoformat()
