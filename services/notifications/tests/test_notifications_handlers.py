"""The handlers on moto, fed SQS batches of EventBridge events exactly as Lambda receives them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from devtools.aws_events import LambdaContext

NBSP = "\u00a0"


def ctx(name: str) -> LambdaContext:
    return LambdaContext(function_name=f"test-notifications-{name}", timeout_seconds=30)


def failures(response: dict) -> int:
    return len(response["batchItemFailures"])


def test_payment_succeeded_sends_one_confirmation_in_the_customers_language(aws, make):
    project, confirm = aws.load_handler("project_orders"), aws.load_handler("send_confirmation")
    order = make.order_placed(locale="de-AT", time_zone="Europe/Vienna")
    assert project.handler(make.batch(make.bus_event(order, "orders")), ctx("project")) == {"batchItemFailures": []}
    response = confirm.handler(make.batch(make.bus_event(make.payment_succeeded(order), "payments")), ctx("confirm"))
    assert response == {"batchItemFailures": []}

    [mail] = aws.sent()
    assert mail.source == "orders@shop.example"
    assert mail.destinations["ToAddresses"] == ["ord_1a2b3c4d5e@customer.example"]
    assert mail.subject == "Ihre Bestellung ord_1a2b3c4d5e ist bestätigt"
    assert f"Gesamtbetrag: 1.234,50{NBSP}€" in mail.body  # moto keeps the HTML part
    assert "27. November 2026, 15:30 (CET)" in mail.body  # 14:30 UTC in Vienna
    [entry] = aws.ledger()
    assert entry["email_key"] == "ord_1a2b3c4d5e#order_confirmation"
    assert entry["state"] == "sent" and entry["message_id"] == mail.id and entry["language"] == "de"


def test_duplicates_in_a_batch_and_later_redeliveries_send_one_email(aws, make):
    project, confirm = aws.load_handler("project_orders"), aws.load_handler("send_confirmation")
    order = make.order_placed(locale="ja-JP", time_zone="Asia/Tokyo", currency="JPY", unit_price="1235")
    placed = make.bus_event(order, "orders")
    project.handler(make.batch(placed, placed), ctx("project"))  # duplicate OrderPlaced: one projection
    paid = make.bus_event(make.payment_succeeded(order), "payments")
    other_delivery = make.bus_event(make.payment_succeeded(order), "payments")  # a second event id, same payment

    assert failures(confirm.handler(make.batch(paid, paid, other_delivery), ctx("confirm"))) == 0
    assert failures(confirm.handler(make.batch(paid, receive_count=2), ctx("confirm"))) == 0
    [mail] = aws.sent()
    assert mail.subject == "ご注文 ord_1a2b3c4d5e を承りました"
    assert "合計: ￥2,470" in mail.body and "2026年11月27日 23:30 (JST)" in mail.body


def test_payment_before_order_fails_alone_and_sends_once_the_order_arrives(aws, make):
    project, confirm = aws.load_handler("project_orders"), aws.load_handler("send_confirmation")
    early, ready = make.order_placed("ord_early0001"), make.order_placed("ord_ready0001", locale="fr-FR")
    project.handler(make.batch(make.bus_event(ready, "orders")), ctx("project"))
    early_paid = make.batch(make.bus_event(make.payment_succeeded(early), "payments"))
    ready_paid = make.batch(make.bus_event(make.payment_succeeded(ready), "payments"))
    mixed = {"Records": [ready_paid["Records"][0], early_paid["Records"][0]]}
    response = confirm.handler(mixed, ctx("confirm"))
    assert response == {"batchItemFailures": [{"itemIdentifier": early_paid["Records"][0]["messageId"]}]}
    assert [m.subject for m in aws.sent()] == ["Votre commande ord_ready0001 est confirmée"]

    project.handler(make.batch(make.bus_event(early, "orders")), ctx("project"))  # the order catches up
    assert failures(confirm.handler(early_paid, ctx("confirm"))) == 0  # SQS redelivers the failed record
    assert sorted(m.subject for m in aws.sent()) == [
        "Ihre Bestellung ord_early0001 ist bestätigt",
        "Votre commande ord_ready0001 est confirmée",
    ]


def test_an_ses_error_releases_the_claim_and_the_retry_sends_exactly_one(aws, make):
    project, confirm = aws.load_handler("project_orders"), aws.load_handler("send_confirmation")
    order = make.order_placed()
    project.handler(make.batch(make.bus_event(order, "orders")), ctx("project"))
    ses = boto3.client("ses")
    ses.delete_identity(Identity="orders@shop.example")  # SES now rejects the sender (MessageRejected)
    paid = make.batch(make.bus_event(make.payment_succeeded(order), "payments"))
    assert failures(confirm.handler(paid, ctx("confirm"))) == 1
    assert aws.sent() == [] and aws.ledger() == []  # released: nothing went out

    ses.verify_email_identity(EmailAddress="orders@shop.example")
    assert failures(confirm.handler(paid, ctx("confirm"))) == 0
    assert failures(confirm.handler(paid, ctx("confirm"))) == 0
    assert len(aws.sent()) == 1


def test_a_crash_between_send_and_record_resends_only_after_the_lease_expired(aws, make, monkeypatch):
    """The documented at-least-once choice: never no email; a duplicate only in this window."""
    project, confirm = aws.load_handler("project_orders"), aws.load_handler("send_confirmation")
    order = make.order_placed()
    project.handler(make.batch(make.bus_event(order, "orders")), ctx("confirm"))
    paid = make.batch(make.bus_event(make.payment_succeeded(order), "payments"))

    def crash(*_args, **_kwargs):
        raise ConnectionError("execution environment died after SES accepted the email")

    with monkeypatch.context() as patch:
        patch.setattr(confirm.ledger, "confirm", crash)
        assert failures(confirm.handler(paid, ctx("confirm"))) == 1
    assert len(aws.sent()) == 1 and aws.ledger()[0]["state"] == "sending"

    # Redelivered while the claim's lease runs (a concurrent duplicate looks the same): no send.
    assert failures(confirm.handler(paid, ctx("confirm"))) == 1
    assert len(aws.sent()) == 1

    later = datetime.now(UTC) + timedelta(minutes=5)  # past the 30 s invocation + 30 s margin
    confirm.ledger.clock = lambda: later
    assert failures(confirm.handler(paid, ctx("confirm"))) == 0
    assert len(aws.sent()) == 2 and aws.ledger()[0]["state"] == "sent"
    assert failures(confirm.handler(paid, ctx("confirm"))) == 0
    assert len(aws.sent()) == 2


def test_at_most_once_mode_reports_an_expired_claim_instead_of_resending(aws):
    ledger_mod = aws.load_handler("send_confirmation").ledger.__class__.__module__
    import importlib

    ledger = importlib.import_module(ledger_mod)
    table = boto3.resource("dynamodb").Table("test-notifications-emails")
    now = datetime.now(UTC)
    book = ledger.SendLedger(table, clock=lambda: now)
    assert book.claim("k", lease_seconds=10, details={}, resend_after_lease=False) is not None
    with pytest.raises(ledger.SendInProgress):
        book.claim("k", lease_seconds=10, details={}, resend_after_lease=False)
    book.clock = lambda: now + timedelta(seconds=11)
    with pytest.raises(ledger.SendOutcomeUnknown):
        book.claim("k", lease_seconds=10, details={}, resend_after_lease=False)


def test_concurrent_deliveries_of_one_payment_send_one_email(aws, make):
    project, confirm = aws.load_handler("project_orders"), aws.load_handler("send_confirmation")
    order = make.order_placed()
    project.handler(make.batch(make.bus_event(order, "orders")), ctx("project"))
    deliveries = [make.batch(make.bus_event(make.payment_succeeded(order), "payments")) for _ in range(6)]
    start = threading.Barrier(len(deliveries))
    outcomes: list[int] = []

    def deliver(event):
        start.wait()
        outcomes.append(failures(confirm.handler(event, ctx("confirm"))))

    threads = [threading.Thread(target=deliver, args=(d,)) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(aws.sent()) == 1
    # Losers either saw "sent" (ok) or a live claim (failed, retried by SQS): a retry now is a no-op.
    for d, failed in zip(deliveries, outcomes, strict=True):
        if failed:
            assert failures(confirm.handler(d, ctx("confirm"))) == 0
    assert len(aws.sent()) == 1


def test_low_stock_emails_operations_once_per_crossing(aws, make):
    alert = aws.load_handler("alert_operations")
    first = make.bus_event(make.low_stock(available=3), "inventory")
    assert failures(alert.handler(make.batch(first, first), ctx("alert"))) == 0
    assert failures(alert.handler(make.batch(first, receive_count=2), ctx("alert"))) == 0
    [mail] = aws.sent()
    assert mail.destinations["ToAddresses"] == ["ops@example.com"]
    assert mail.subject == "Low stock: MUG-BLUE has 3 left (threshold 5)"

    second_crossing = make.bus_event(make.low_stock(available=4), "inventory")  # restocked, then low again
    assert failures(alert.handler(make.batch(second_crossing), ctx("alert"))) == 0
    assert len(aws.sent()) == 2


def test_an_unreadable_event_fails_alone(aws, make):
    confirm = aws.load_handler("send_confirmation")
    bad = make.bus_event(make.payment_succeeded(make.order_placed()), "payments")
    bad["detail"]["data"]["card_last4"] = "42"
    response = confirm.handler(make.batch(bad), ctx("confirm"))
    assert failures(response) == 1 and aws.sent() == []
