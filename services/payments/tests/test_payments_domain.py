"""Cards, the simulated provider and the payment saga: pure Python, no AWS.

The saga runs against an in-memory store with DynamoDB's conditional-write semantics
(the condition and the write are one atomic step), so the race handling is exercised here
too; test_payments_handlers.py runs the same paths on moto.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from payments.cards import CardIn, InvalidCard, PaymentMethod, brand_of, register_card
from payments.payment import Payment
from payments.provider import (
    CardRef,
    IdempotencyKeyReused,
    ProviderTimeout,
    SimulatedProvider,
    UnknownCharge,
    outcome_for,
)
from payments.service import ChargeInProgress, IntentNotFound, PaymentService, RetryLater
from pydantic import ValidationError

from devtools.testing import customer
from shared.money import Money

TODAY = date(2026, 11, 27)
VISA_OK, DECLINED, NO_FUNDS, TIMEOUT = "4242424242424242", "4000000000000002", "4000000000009995", "4000000000000119"


OWNER = customer("anna")["sub"]  # the customer of conftest's saga orders


def card(number: str, month=12, year=2030, cvc="123", **extra) -> dict:
    return {"card_number": number, "expiry_month": month, "expiry_year": year, "cvc": cvc, **extra}


# --------------------------------------------------------------------------- cards


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("4242 4242 4242 4242", "visa"),
        ("5555-5555-5555-4444", "mastercard"),
        ("2223003122003222", "mastercard"),  # 2-series BIN
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3566002020360505", "jcb"),
        ("36227206271667", "diners"),
        ("6200000000000005", "unionpay"),
    ],
)
def test_stripe_test_numbers_register_with_brand_first6_last4(number, brand):
    method = register_card(card(number, cvc="1234" if brand == "amex" else "123"), today=TODAY)
    digits = number.replace(" ", "").replace("-", "")
    assert (method.brand, method.first6, method.last4) == (brand, digits[:6], digits[-4:])
    assert method.payment_method_id.startswith("pm_")
    assert digits not in repr(method)  # the record has no field for the rest of the number


def test_every_invalid_field_gets_its_own_reason_and_none_echoes_the_input():
    number = "4242424242424241"  # Luhn fails
    with pytest.raises(InvalidCard) as err:
        register_card({"card_number": number, "expiry_month": 13, "expiry_year": "20x6", "cvc": "12"}, today=TODAY)
    errors = err.value.errors
    assert errors == {
        "card_number": "fails the Luhn check (mistyped?)",
        "expiry_month": "must be a month number 1..12",
        "expiry_year": "must be a four-digit year",
        "cvc": "must be a string of 3 or 4 digits",
    }
    assert number not in str(err.value) and "12" not in errors["cvc"]


def test_expiry_is_checked_against_today_and_the_current_month_is_still_valid():
    assert register_card(card(VISA_OK, month=11, year=2026), today=TODAY).expiry_month == 11
    with pytest.raises(InvalidCard) as err:
        register_card(card(VISA_OK, month=10, year=2026), today=TODAY)
    assert err.value.errors == {"expiry_month": "the card has expired"}
    with pytest.raises(InvalidCard) as err:
        register_card(card(VISA_OK, month=12, year=2025), today=TODAY)
    assert err.value.errors == {"expiry_year": "the card has expired"}
    method = PaymentMethod("pm_12345678", "visa", "424242", "4242", 11, 2026)
    assert not method.expired(TODAY) and method.expired(date(2026, 12, 1))


def test_a_payment_method_pays_only_for_its_owner():
    mine = register_card(card(VISA_OK), today=TODAY, owner="sub-anna")
    assert mine.belongs_to("sub-anna") and not mine.belongs_to("sub-ben") and not mine.belongs_to(None)
    unowned = PaymentMethod("pm_12345678", "visa", "424242", "4242", 11, 2030)  # stored before owners
    assert not unowned.belongs_to("sub-anna") and not unowned.belongs_to(None)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"expiry_month": 1, "expiry_year": 2030, "cvc": "123"}, "card_number", "Field required"),
        (card(VISA_OK, month="12"), "expiry_month", "must be a month number 1..12"),
        (card(VISA_OK, month=True), "expiry_month", "must be a month number 1..12"),
        (card(VISA_OK, year=2031.0), "expiry_year", "must be a four-digit year"),
        (["4242424242424242"], "", "must be a JSON object"),
        (card(4242424242424242), "card_number", "must be a string of digits"),
        (card("4242abcd42424242"), "card_number", "must contain only digits"),
        (card("424242424242"), "card_number", "must have 13 to 19 digits"),
        (card("1234567812345670"), "card_number", "card network not accepted"),
        (card("4242424242424243"), "card_number", "fails the Luhn check"),
        (card("378282246310006"), "card_number", "fails the Luhn check"),
        (card(VISA_OK, cvc=123), "cvc", "must be a string of 3 or 4 digits"),
        (card(VISA_OK, cvc="12345"), "cvc", "must be a string of 3 or 4 digits"),
        (card(VISA_OK, year=2099), "expiry_year", "more than 20 years ahead"),
        (card(VISA_OK, holder_name=""), "holder_name", "must be a non-empty string"),
    ],
)
def test_invalid_inputs(body, field, reason):
    with pytest.raises(InvalidCard) as err:
        register_card(body, today=TODAY)
    assert err.value.errors[field].startswith(reason)


def test_a_visa_with_the_wrong_length_and_unknown_fields_are_refused_without_echoing_them():
    with pytest.raises(InvalidCard) as err:
        register_card(card("400000000000006", **{"4242424242424242": "x", "nickname": "y"}), today=TODAY)
    errors = err.value.errors
    assert errors["card_number"] == "a visa card number has 13 or 16 or 19 digits"
    assert errors[""] == "unexpected field (only the documented fields are accepted)"  # on the body, unnamed
    assert "4242424242424242" not in str(err.value) and "nickname" not in str(err.value)
    assert brand_of("4000") == "visa" and brand_of("9999") is None


# --------------------------------------------------------------------------- provider

EUR10 = Money.of("10.00", "EUR")


def ref(number: str) -> CardRef:
    return CardRef("visa", number[:6], number[-4:])


def test_test_cards_map_to_their_outcomes_and_other_cards_succeed():
    assert outcome_for(ref(VISA_OK)) == "succeeded"
    assert outcome_for(ref(DECLINED)) == "card_declined"
    assert outcome_for(ref(NO_FUNDS)) == "insufficient_funds"
    assert outcome_for(ref(TIMEOUT)) == "provider_timeout"
    assert outcome_for(ref("5555555555554444")) == "succeeded"


def test_the_same_idempotency_key_returns_the_first_outcome_without_charging_again():
    provider = SimulatedProvider()
    first = provider.charge(idempotency_key="ord_a", amount=EUR10, card=ref(VISA_OK))
    assert first.status == "succeeded" and first.charge_id.startswith("ch_")
    assert provider.charge(idempotency_key="ord_a", amount=EUR10, card=ref(VISA_OK)) == first
    declined = provider.charge(idempotency_key="ord_b", amount=EUR10, card=ref(DECLINED))
    assert (declined.status, declined.failure_code) == ("failed", "card_declined")
    assert provider.charge(idempotency_key="ord_b", amount=EUR10, card=ref(DECLINED)) == declined  # a decline is kept
    assert provider.charges_created == 2 and len(provider.requests) == 4
    with pytest.raises(IdempotencyKeyReused):
        provider.charge(idempotency_key="ord_a", amount=Money.of("11", "EUR"), card=ref(VISA_OK))


def test_a_timeout_saves_nothing_so_a_retry_with_the_same_key_runs_again():
    provider = SimulatedProvider()
    for _ in range(3):
        with pytest.raises(ProviderTimeout):
            provider.charge(idempotency_key="ord_t", amount=EUR10, card=ref(TIMEOUT))
    assert provider.charges_created == 0 and provider.request_count("charge", "ord_t") == 3


def test_concurrent_requests_with_one_key_charge_once():
    provider, barrier = SimulatedProvider(), threading.Barrier(8)
    results = []

    def pay():
        barrier.wait()
        results.append(provider.charge(idempotency_key="ord_c", amount=EUR10, card=ref(VISA_OK)))

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert provider.charges_created == 1 and len({r.charge_id for r in results}) == 1


def test_refunds_are_idempotent_and_only_for_captured_charges():
    provider = SimulatedProvider()
    charge = provider.charge(idempotency_key="ord_r", amount=EUR10, card=ref(VISA_OK))
    refund = provider.refund(idempotency_key="ord_r:refund", charge_id=charge.charge_id, amount=EUR10)
    assert provider.refund(idempotency_key="ord_r:refund", charge_id=charge.charge_id, amount=EUR10) == refund
    assert provider.refunds_created == 1
    declined = provider.charge(idempotency_key="ord_d", amount=EUR10, card=ref(DECLINED))
    with pytest.raises(UnknownCharge):
        provider.refund(idempotency_key="ord_d:refund", charge_id=declined.charge_id, amount=EUR10)


# --------------------------------------------------------------------------- the saga


@pytest.fixture(autouse=True)
def lambda_region(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # the Lambda runtime sets it; envelopes carry it


class MemoryStore:
    """The payments table: conditional writes are atomic, like DynamoDB's."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.fail_next_save: Exception | None = None

    def get(self, order_id: str) -> Payment | None:
        item = self.items.get(order_id)
        return Payment.from_item(dict(item)) if item else None

    def save(self, payment: Payment, *, expected: Payment | None) -> bool:
        with self.lock:
            if self.fail_next_save is not None:
                exc, self.fail_next_save = self.fail_next_save, None
                raise exc
            current = self.items.get(payment.order_id)
            if expected is None and current is not None:
                return False
            if expected is not None and (
                current is None or (current["version"], current["state"]) != (expected.version, expected.state)
            ):
                return False
            self.items[payment.order_id] = payment.to_item()
            return True


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, max_attempts: int = 3) -> None:
        self.store, self.provider, self.clock, self.published = MemoryStore(), SimulatedProvider(), Clock(), []
        self.methods: dict[str, PaymentMethod] = {}
        self.publish_error: Exception | None = None
        self.sleeps: list[float] = []
        self.service = PaymentService(
            store=self.store,
            methods=self,
            provider=self.provider,
            publish=self._publish,
            max_attempts=max_attempts,
            retry_delay_seconds=0.1,
            clock=self.clock,
            sleep=self.sleeps.append,
        )

    def get(self, payment_method_id: str) -> PaymentMethod | None:  # the PaymentMethods port
        return self.methods.get(payment_method_id)

    def _publish(self, envelope) -> None:
        if self.publish_error is not None:
            exc, self.publish_error = self.publish_error, None
            raise exc
        self.published.append(envelope)

    def add_card(self, number: str, pm: str = "pm_card0001", year: int = 2030, owner: str = OWNER) -> str:
        self.methods[pm] = register_card(card(number, year=year), today=TODAY, payment_method_id=pm, owner=owner)
        return pm

    @property
    def lease(self) -> int:
        return int(self.clock.now.timestamp()) + 30

    def kinds(self) -> list[str]:
        return [e.detail_type for e in self.published]


def test_happy_path_charges_once_and_publishes_payment_succeeded(saga):
    world = World()
    placed = saga.order_placed("ord_00000001", world.add_card(VISA_OK), total="59.97")
    assert world.service.record_intent(placed) == "recorded"
    reserved = saga.stock_reserved("ord_00000001", causation=placed)
    assert world.service.charge(reserved, lease_until=world.lease) == "captured"
    [event] = world.published
    assert event.detail_type == "PaymentSucceeded"
    assert (event.data.order_id, str(event.data.amount.amount), event.data.amount.currency) == (
        "ord_00000001",
        "59.97",
        "EUR",
    )
    assert (event.data.card_brand, event.data.card_last4) == ("visa", "4242")
    assert event.metadata.causation_id == reserved.metadata.event_id
    assert event.metadata.correlation_id == placed.metadata.correlation_id
    stored = world.store.get("ord_00000001")
    assert (stored.state, stored.pending_event, stored.attempts) == ("captured", None, 1)
    assert stored.payment_id == event.data.payment_id


def test_duplicates_of_every_event_change_nothing(saga):
    world = World()
    placed = saga.order_placed("ord_00000002", world.add_card(VISA_OK))
    reserved = saga.stock_reserved("ord_00000002")
    for _ in range(3):
        world.service.record_intent(placed)
        world.service.charge(reserved, lease_until=world.lease)
    world.service.record_intent(saga.order_placed("ord_00000002", "pm_other0001"))  # another event, same order
    assert world.kinds() == ["PaymentSucceeded"]
    assert world.provider.charges_created == 1 and world.provider.request_count("charge", "ord_00000002") == 1
    assert world.store.get("ord_00000002").payment_method_id == "pm_card0001"


def test_stock_reserved_before_order_placed_raises_until_the_intent_exists(saga):
    world = World()
    reserved = saga.stock_reserved("ord_00000003")
    with pytest.raises(IntentNotFound):
        world.service.charge(reserved, lease_until=world.lease)
    assert world.provider.requests == [] and world.published == []
    world.service.record_intent(saga.order_placed("ord_00000003", world.add_card(VISA_OK)))
    assert world.service.charge(reserved, lease_until=world.lease) == "captured"


@pytest.mark.parametrize(("number", "reason"), [(DECLINED, "card_declined"), (NO_FUNDS, "insufficient_funds")])
def test_declines_publish_payment_failed_with_the_reason(saga, number, reason):
    world = World()
    world.service.record_intent(saga.order_placed("ord_00000004", world.add_card(number)))
    assert world.service.charge(saga.stock_reserved("ord_00000004"), lease_until=world.lease) == "failed"
    [event] = world.published
    assert (event.detail_type, event.data.reason) == ("PaymentFailed", reason)
    cancelled = saga.order_cancelled("ord_00000004")
    assert world.service.cancel(cancelled, lease_until=world.lease) == "nothing to refund (failed)"
    assert world.provider.refunds_created == 0 and len(world.published) == 1


def test_the_timeout_card_is_retried_with_the_same_key_then_fails_with_provider_timeout(saga):
    world = World(max_attempts=4)
    world.service.record_intent(saga.order_placed("ord_00000005", world.add_card(TIMEOUT)))
    assert world.service.charge(saga.stock_reserved("ord_00000005"), lease_until=world.lease) == "failed"
    assert world.provider.requests == [("charge", "ord_00000005")] * 4
    assert world.sleeps == [0.1, 0.2, 0.4]  # exponential backoff between attempts
    [event] = world.published
    assert (event.detail_type, event.data.reason) == ("PaymentFailed", "provider_timeout")
    assert world.store.get("ord_00000005").attempts == 4


@pytest.mark.parametrize("problem", ["unknown", "expired"])
def test_an_unusable_payment_method_fails_without_calling_the_provider(saga, problem):
    world = World()
    pm = "pm_missing01" if problem == "unknown" else world.add_card(VISA_OK, year=2026)
    world.clock.now += timedelta(days=40)  # 2027-01: the card (12/2026) expired meanwhile
    world.service.record_intent(saga.order_placed("ord_00000006", pm))
    assert world.service.charge(saga.stock_reserved("ord_00000006"), lease_until=world.lease) == "failed"
    assert world.published[0].data.reason == "invalid_payment_method"
    assert world.provider.requests == []


def test_cancel_after_capture_refunds_once(saga):
    world = World()
    world.service.record_intent(saga.order_placed("ord_00000007", world.add_card(VISA_OK)))
    world.service.charge(saga.stock_reserved("ord_00000007"), lease_until=world.lease)
    cancelled = saga.order_cancelled("ord_00000007")
    assert world.service.cancel(cancelled, lease_until=world.lease) == "refunded"
    assert world.service.cancel(cancelled, lease_until=world.lease) == "nothing to refund (refunded)"
    assert world.service.charge(saga.stock_reserved("ord_00000007"), lease_until=world.lease) == "already refunded"
    assert world.kinds() == ["PaymentSucceeded", "PaymentRefunded"]
    assert world.provider.refunds_created == 1 and world.provider.charges_created == 1
    assert world.published[1].data.amount == world.published[0].data.amount


def test_cancel_before_the_charge_means_no_charge_ever(saga):
    world = World()
    pm = world.add_card(VISA_OK)
    world.service.record_intent(saga.order_placed("ord_00000008", pm))
    assert world.service.cancel(saga.order_cancelled("ord_00000008"), lease_until=world.lease) == "cancelled"
    assert world.service.charge(saga.stock_reserved("ord_00000008"), lease_until=world.lease) == "cancelled"
    # Cancelled even before OrderPlaced arrived: the tombstone wins over the late intent.
    assert world.service.cancel(saga.order_cancelled("ord_00000009"), lease_until=world.lease) == "cancelled"
    assert world.service.record_intent(saga.order_placed("ord_00000009", pm)) == "duplicate"
    assert world.service.charge(saga.stock_reserved("ord_00000009"), lease_until=world.lease) == "cancelled"
    assert world.provider.requests == [] and world.published == []


def test_cancel_during_a_charge_waits_for_the_outcome_then_refunds(saga):
    world = World()
    world.service.record_intent(saga.order_placed("ord_00000010", world.add_card(VISA_OK)))
    intent = world.store.get("ord_00000010")
    world.store.save(intent.next("t", state="charging", lease_until=world.lease), expected=intent)  # another invocation
    with pytest.raises(ChargeInProgress):
        world.service.cancel(saga.order_cancelled("ord_00000010"), lease_until=world.lease)
    with pytest.raises(ChargeInProgress):
        world.service.charge(saga.stock_reserved("ord_00000010"), lease_until=world.lease)
    assert world.provider.requests == []


def test_a_crash_after_the_provider_charged_is_resumed_with_the_same_key_after_the_lease(saga):
    world = World()
    world.service.record_intent(saga.order_placed("ord_00000011", world.add_card(VISA_OK)))
    reserved = saga.stock_reserved("ord_00000011")
    original_save = world.store.save

    def crash_after_charge(payment, *, expected):
        if payment.state == "captured":
            raise RuntimeError("Task timed out")  # the invocation dies after the provider charged
        return original_save(payment, expected=expected)

    world.store.save = crash_after_charge
    with pytest.raises(RuntimeError):
        world.service.charge(reserved, lease_until=world.lease)
    world.store.save = original_save
    assert world.store.get("ord_00000011").state == "charging"
    with pytest.raises(ChargeInProgress):  # redelivered while the dead invocation's lease still runs
        world.service.charge(reserved, lease_until=world.lease)
    world.clock.now += timedelta(minutes=5)
    assert world.service.charge(reserved, lease_until=world.lease) == "captured"
    assert world.provider.request_count("charge", "ord_00000011") == 2  # asked twice, with one key...
    assert world.provider.charges_created == 1  # ...charged once
    assert world.kinds() == ["PaymentSucceeded"]


def test_a_failed_publish_is_retried_with_the_same_event_id(saga):
    world = World()
    world.service.record_intent(saga.order_placed("ord_00000012", world.add_card(VISA_OK)))
    reserved = saga.stock_reserved("ord_00000012")
    world.publish_error = ConnectionError("EventBridge unreachable")
    with pytest.raises(ConnectionError):
        world.service.charge(reserved, lease_until=world.lease)
    pending = world.store.get("ord_00000012").pending_event
    assert (world.store.get("ord_00000012").state, pending.detail_type) == ("captured", "PaymentSucceeded")
    assert world.service.charge(reserved, lease_until=world.lease) == "already captured"
    [event] = world.published
    assert event.metadata.event_id == pending.event_id
    assert world.store.get("ord_00000012").pending_event is None and world.provider.charges_created == 1


def test_concurrent_deliveries_charge_once(saga):
    world = World()
    world.service.record_intent(saga.order_placed("ord_00000013", world.add_card(VISA_OK)))
    reserved, barrier, outcomes = saga.stock_reserved("ord_00000013"), threading.Barrier(2), []
    original_get = world.store.get

    def get_then_wait(order_id):  # both read "intent" before either writes
        payment = original_get(order_id)
        if payment.state == "intent":
            barrier.wait(timeout=5)
        return payment

    world.store.get = get_then_wait

    def deliver():
        try:
            outcomes.append(world.service.charge(reserved, lease_until=world.lease))
        except RetryLater:  # lease held, or the winner's event not yet published
            outcomes.append("retry later")

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) in (["captured", "retry later"], ["already captured", "captured"])
    assert world.provider.requests == [("charge", "ord_00000013")]
    assert world.kinds() == ["PaymentSucceeded"]


def test_a_card_body_never_shows_the_number_or_cvc_in_its_repr_or_validation_errors():
    body = card(VISA_OK)
    parsed = CardIn.model_validate(body)
    assert VISA_OK not in repr(parsed) and "cvc='" not in repr(parsed)
    with pytest.raises(ValidationError) as err:
        CardIn.model_validate({**body, "cvc": 123, "extra": VISA_OK})
    assert VISA_OK not in str(err.value)
