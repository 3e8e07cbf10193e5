"""A simulated card payment provider: deterministic, in memory, no network, no AWS.

It behaves like Stripe for what matters here:

- The outcome depends on the card, identified by its first 6 and last 4 digits (what we
  keep). Stripe's test cards: 4242424242424242 succeeds, 4000000000000002 is declined
  (card_declined), 4000000000009995 has insufficient funds, 4000000000000119 makes every
  attempt time out. Any other card succeeds.
- Idempotency keys (Stripe's `Idempotency-Key` header): a request with a key seen before
  returns the first outcome (a success or a decline) without charging again; the same key
  with other parameters is an error. A timed-out request saves nothing (it never finished),
  so a retry with the same key runs again.
- Concurrent requests with one key are serialised, so they cannot charge twice.

    >>> provider = SimulatedProvider()
    >>> card = CardRef("visa", "424242", "4242")
    >>> first = provider.charge(idempotency_key="ord_1", amount=Money.of("10", "EUR"), card=card)
    >>> provider.charge(idempotency_key="ord_1", amount=Money.of("10", "EUR"), card=card) == first
    True
    >>> provider.charges_created
    1

Charge ids derive from the idempotency key, so the same key names the same charge even
in another process (Lambda execution environments do not share this memory).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Literal

from shared.money import Money

Outcome = Literal["succeeded", "card_declined", "insufficient_funds", "provider_timeout"]

# (first6, last4) -> outcome. Stripe's documented test card numbers.
TEST_CARDS: dict[tuple[str, str], Outcome] = {
    ("424242", "4242"): "succeeded",  # 4242424242424242
    ("400000", "0002"): "card_declined",  # 4000000000000002
    ("400000", "9995"): "insufficient_funds",  # 4000000000009995
    ("400000", "0119"): "provider_timeout",  # 4000000000000119
}


class ProviderError(Exception):
    """The provider refused the request itself (not a card decline)."""


class ProviderTimeout(ProviderError):
    """No answer in time: the outcome is unknown, retry with the same idempotency key."""


class IdempotencyKeyReused(ProviderError):
    """The key was used before with other parameters (Stripe: idempotency_error)."""


class UnknownCharge(ProviderError):
    """A refund for a charge this provider did not capture."""


@dataclass(frozen=True)
class CardRef:
    """The card as we know it: brand, first 6 and last 4 digits (the provider's token)."""

    brand: str
    first6: str
    last4: str


@dataclass(frozen=True)
class Charge:
    charge_id: str
    idempotency_key: str
    amount: Money
    status: Literal["succeeded", "failed"]
    failure_code: Literal["card_declined", "insufficient_funds"] | None = None


@dataclass(frozen=True)
class Refund:
    refund_id: str
    charge_id: str
    idempotency_key: str
    amount: Money


def outcome_for(card: CardRef) -> Outcome:
    return TEST_CARDS.get((card.first6, card.last4), "succeeded")


def _derived_id(prefix: str, key: str) -> str:
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass
class SimulatedProvider:
    """In-memory provider. `requests` counts every call (retries too); `charges_created`
    counts charges actually executed (what a customer would see on a statement)."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    _charges: dict[str, tuple[tuple, Charge]] = field(default_factory=dict)
    _refunds: dict[str, tuple[tuple, Refund]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def charge(self, *, idempotency_key: str, amount: Money, card: CardRef) -> Charge:
        """Charge `amount` to `card` once per key; raises ProviderTimeout for the timeout card."""
        params = (amount, card.first6, card.last4)
        with self._lock:
            self.requests.append(("charge", idempotency_key))
            seen = self._charges.get(idempotency_key)
            if seen is not None:
                if seen[0] != params:
                    raise IdempotencyKeyReused(f"key {idempotency_key!r} was used with other parameters")
                return seen[1]
            outcome = outcome_for(card)
            if outcome == "provider_timeout":
                raise ProviderTimeout(f"no answer from the card network for key {idempotency_key!r}")
            charge_id = _derived_id("ch_", idempotency_key)
            if outcome == "succeeded":
                charge = Charge(charge_id, idempotency_key, amount, "succeeded")
            else:
                charge = Charge(charge_id, idempotency_key, amount, "failed", failure_code=outcome)
            self._charges[idempotency_key] = (params, charge)
            return charge

    def refund(self, *, idempotency_key: str, charge_id: str, amount: Money) -> Refund:
        """Refund a captured charge once per key.

        A charge id this instance has not seen is accepted if it is well formed: the
        simulated ledger lives in one process's memory, a real provider's does not.
        """
        params = (charge_id, amount)
        with self._lock:
            self.requests.append(("refund", idempotency_key))
            seen = self._refunds.get(idempotency_key)
            if seen is not None:
                if seen[0] != params:
                    raise IdempotencyKeyReused(f"key {idempotency_key!r} was used with other parameters")
                return seen[1]
            known = [c for _, c in self._charges.values() if c.charge_id == charge_id]
            if not charge_id.startswith("ch_") or (known and known[0].status != "succeeded"):
                raise UnknownCharge(f"no captured charge {charge_id!r}")
            if known and amount > known[0].amount:
                raise ProviderError("refund exceeds the captured amount")
            refund = Refund(_derived_id("re_", idempotency_key), charge_id, idempotency_key, amount)
            self._refunds[idempotency_key] = (params, refund)
            return refund

    @property
    def charges_created(self) -> int:
        return len(self._charges)

    @property
    def refunds_created(self) -> int:
        return len(self._refunds)

    def request_count(self, operation: str, idempotency_key: str) -> int:
        return self.requests.count((operation, idempotency_key))
