"""The handlers on moto, fed SQS batches of EventBridge events exactly as Lambda receives them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from devtools import commerce_fixtures as commerce

NBSP = "\u00a0"
PROJECT, CONFIRM, ALERT = (
    "notifications.project_orders",
    "notifications.send_confirmation",
    "notifications.alert_operations",
)


def failures(response: dict) -> int:
    return len(response["batchItemFailures"])


def test_payment_succeeded_sends_one_confirmation_in_the_customers_language(aws):
    aws.load_handler(PROJECT)
    aws.load_handler(CONFIRM)
    order = commerce.order_placed(locale="de-AT", time_zone="Europe/Vienna")
    assert aws.deliver(PROJECT, commerce.envelope(order)) == {"batchItemFailures": []}
    response = aws.deliver(CONFIRM, commerce.envelope(commerce.payment_succeeded(order)))
    assert response == {"batchItemFailures": []}

    [mail] = aws.sent_emails()
    assert mail.source == "orders@shop.example"
    assert mail.destinations["ToAddresses"] == ["ord_1a2b3c4d5e@customer.example"]
    assert mail.subject == "Ihre Bestellung ord_1a2b3c4d5e ist bestätigt"
    assert f"Gesamtbetrag: 1.234,50{NBSP}€" in mail.body  # moto keeps the HTML part
    assert "27. November 2026, 15:30 (CET)" in mail.body  # 14:30 UTC in Vienna
    [entry] = aws.scan("notifications:emails")
    assert entry["email_key"] == "ord_1a2b3c4d5e#order_confirmation"
    assert entry["state"] == "sent" and entry["message_id"] == mail.id and entry["language"] == "de"


def test_duplicates_in_a_batch_and_later_redeliveries_send_one_email(aws):
    aws.load_handler(PROJECT)
    aws.load_handler(CONFIRM)
    order = commerce.order_placed(locale="ja-JP", time_zone="Asia/Tokyo", currency="JPY", unit_price="1235")
    placed = commerce.envelope(order)
    aws.deliver(PROJECT, placed, placed)  # duplicate OrderPlaced: one projection
    paid = commerce.envelope(commerce.payment_succeeded(order))
    other_delivery = commerce.envelope(commerce.payment_succeeded(order))  # a second event id, same payment

    assert failures(aws.deliver(CONFIRM, paid, paid, other_delivery)) == 0
    assert failures(aws.deliver(CONFIRM, paid, receive_count=2)) == 0
    [mail] = aws.sent_emails()
    assert mail.subject == "ご注文 ord_1a2b3c4d5e を承りました"
    assert "合計: ￥2,470" in mail.body and "2026年11月27日 23:30 (JST)" in mail.body


def test_payment_before_order_fails_alone_and_sends_once_the_order_arrives(aws):
    aws.load_handler(PROJECT)
    aws.load_handler(CONFIRM)
    early, ready = commerce.order_placed("ord_early0001"), commerce.order_placed("ord_ready0001", locale="fr-FR")
    aws.deliver(PROJECT, commerce.envelope(ready))
    early_paid = aws.sqs_event(CONFIRM, commerce.envelope(commerce.payment_succeeded(early)))
    ready_paid = aws.sqs_event(CONFIRM, commerce.envelope(commerce.payment_succeeded(ready)))
    mixed = {"Records": [ready_paid["Records"][0], early_paid["Records"][0]]}
    response = aws.invoke(CONFIRM, mixed)
    assert response == {"batchItemFailures": [{"itemIdentifier": early_paid["Records"][0]["messageId"]}]}
    assert [m.subject for m in aws.sent_emails()] == ["Votre commande ord_ready0001 est confirmée"]

    aws.deliver(PROJECT, commerce.envelope(early))  # the order catches up
    assert failures(aws.invoke(CONFIRM, early_paid)) == 0  # SQS redelivers the failed record
    assert sorted(m.subject for m in aws.sent_emails()) == [
        "Ihre Bestellung ord_early0001 ist bestätigt",
        "Votre commande ord_ready0001 est confirmée",
    ]


def test_an_ses_error_releases_the_claim_and_the_retry_sends_exactly_one(aws):
    aws.load_handler(PROJECT)
    aws.load_handler(CONFIRM)
    order = commerce.order_placed()
    aws.deliver(PROJECT, commerce.envelope(order))
    ses = boto3.client("ses")
    ses.delete_identity(Identity="orders@shop.example")  # SES now rejects the sender (MessageRejected)
    paid = aws.sqs_event(CONFIRM, commerce.envelope(commerce.payment_succeeded(order)))
    assert failures(aws.invoke(CONFIRM, paid)) == 1
    assert aws.sent_emails() == [] and aws.scan("notifications:emails") == []  # released: nothing went out

    ses.verify_email_identity(EmailAddress="orders@shop.example")
    assert failures(aws.invoke(CONFIRM, paid)) == 0
    assert failures(aws.invoke(CONFIRM, paid)) == 0
    assert len(aws.sent_emails()) == 1


def test_a_crash_between_send_and_record_resends_only_after_the_lease_expired(aws, monkeypatch):
    """The documented at-least-once choice: never no email; a duplicate only in this window."""
    aws.load_handler(PROJECT)
    confirm = aws.load_handler(CONFIRM)
    order = commerce.order_placed()
    aws.deliver(PROJECT, commerce.envelope(order))
    paid = aws.sqs_event(CONFIRM, commerce.envelope(commerce.payment_succeeded(order)))

    def crash(*_args, **_kwargs):
        raise ConnectionError("execution environment died after SES accepted the email")

    with monkeypatch.context() as patch:
        patch.setattr(confirm.ledger, "confirm", crash)
        assert failures(aws.invoke(CONFIRM, paid)) == 1
    assert len(aws.sent_emails()) == 1 and aws.scan("notifications:emails")[0]["state"] == "sending"

    # Redelivered while the claim's lease runs (a concurrent duplicate looks the same): no send.
    assert failures(aws.invoke(CONFIRM, paid)) == 1
    assert len(aws.sent_emails()) == 1

    later = datetime.now(UTC) + timedelta(minutes=5)  # past the 30 s invocation + 30 s margin
    confirm.ledger.clock = lambda: later
    assert failures(aws.invoke(CONFIRM, paid)) == 0
    assert len(aws.sent_emails()) == 2 and aws.scan("notifications:emails")[0]["state"] == "sent"
    assert failures(aws.invoke(CONFIRM, paid)) == 0
    assert len(aws.sent_emails()) == 2


def test_at_most_once_mode_reports_an_expired_claim_instead_of_resending(aws):
    ledger_mod = aws.load_handler(CONFIRM).ledger.__class__.__module__
    import importlib

    ledger = importlib.import_module(ledger_mod)
    table = aws.dynamodb_table("notifications:emails")
    now = datetime.now(UTC)
    book = ledger.SendLedger(table, clock=lambda: now)
    assert book.claim("k", lease_seconds=10, details={}, resend_after_lease=False) is not None
    with pytest.raises(ledger.SendInProgress):
        book.claim("k", lease_seconds=10, details={}, resend_after_lease=False)
    book.clock = lambda: now + timedelta(seconds=11)
    with pytest.raises(ledger.SendOutcomeUnknown):
        book.claim("k", lease_seconds=10, details={}, resend_after_lease=False)


def test_concurrent_deliveries_of_one_payment_send_one_email(aws):
    aws.load_handler(PROJECT)
    aws.load_handler(CONFIRM)
    order = commerce.order_placed()
    aws.deliver(PROJECT, commerce.envelope(order))
    deliveries = [aws.sqs_event(CONFIRM, commerce.envelope(commerce.payment_succeeded(order))) for _ in range(6)]
    start = threading.Barrier(len(deliveries))
    outcomes: list[int] = []

    def deliver(event):
        start.wait()
        outcomes.append(failures(aws.invoke(CONFIRM, event)))

    threads = [threading.Thread(target=deliver, args=(d,)) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(aws.sent_emails()) == 1
    # Losers either saw "sent" (ok) or a live claim (failed, retried by SQS): a retry now is a no-op.
    for d, failed in zip(deliveries, outcomes, strict=True):
        if failed:
            assert failures(aws.invoke(CONFIRM, d)) == 0
    assert len(aws.sent_emails()) == 1


def test_low_stock_emails_operations_once_per_crossing(aws):
    aws.load_handler(ALERT)
    first = commerce.envelope(commerce.low_stock_detected(available=3))
    assert failures(aws.deliver(ALERT, first, first)) == 0
    assert failures(aws.deliver(ALERT, first, receive_count=2)) == 0
    [mail] = aws.sent_emails()
    assert mail.destinations["ToAddresses"] == ["ops@example.com"]
    assert mail.subject == "Low stock: MUG-BLUE has 3 left (threshold 5)"

    second_crossing = commerce.envelope(commerce.low_stock_detected(available=4))  # restocked, then low again
    assert failures(aws.deliver(ALERT, second_crossing)) == 0
    assert len(aws.sent_emails()) == 2


def test_an_unreadable_event_fails_alone(aws):
    aws.load_handler(CONFIRM)
    bad = commerce.bus_event(commerce.payment_succeeded(commerce.order_placed()))
    bad["detail"]["data"]["card_last4"] = "42"
    response = aws.deliver(CONFIRM, bad)
    assert failures(response) == 1 and aws.sent_emails() == []
