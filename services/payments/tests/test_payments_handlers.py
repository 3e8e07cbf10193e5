"""The handlers on moto, fed events exactly as API Gateway and SQS deliver them."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from devtools.aws_events import LambdaContext, api_gateway_http
from devtools.testing import customer
from shared.observability import logger

CUSTOMER = customer("anna")  # conftest's customer (the same name gives the same sub)

VISA_OK, DECLINED, TIMEOUT = "4242424242424242", "4000000000000002", "4000000000000119"
CVC = "987"


PROCESS = "payments.process"


def post_card(aws, body: dict | str, user=CUSTOMER) -> tuple[int, dict, dict]:
    text = body if isinstance(body, str) else json.dumps(body)
    response = aws.http_response(
        "POST", "/payment-methods", text, headers={"content-type": "application/json"}, user=user
    )
    return response["statusCode"], json.loads(response["body"]), response.get("headers", {})


def register(aws, number: str, user=CUSTOMER) -> str:
    aws.load_handler("payments.api")
    status, body, _ = post_card(aws, card(number), user=user)
    assert status == 201, body
    return body["payment_method_id"]


def card(number: str, **changes) -> dict:
    return {"card_number": number, "expiry_month": 12, "expiry_year": 2031, "cvc": CVC, **changes}


def deliver(aws, *records) -> list[str]:
    """One Lambda invocation with an SQS batch; returns the messageIds reported as failed."""
    response = aws.deliver(PROCESS, *records)
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def payment(aws, order_id: str) -> dict | None:
    return aws.get_item("payments:payments", order_id=order_id)


def kinds(published: list[dict]) -> list[str]:
    return sorted(e["detail-type"] for e in published)


# --------------------------------------------------------------------------- api


def test_a_card_becomes_a_token_and_only_brand_first6_last4_expiry_are_stored(aws):
    aws.load_handler("payments.api")
    status, body, headers = post_card(aws, card("4242 4242 4242 4242", holder_name="E. M."))
    assert status == 201
    assert body["brand"] == "visa" and body["last4"] == "4242" and body["payment_method_id"].startswith("pm_")
    assert set(body) == {"payment_method_id", "brand", "last4"}
    assert headers.get("Cache-Control") == "no-store"
    [item] = aws.scan("payments:payment-methods")
    assert item["payment_method_id"] == body["payment_method_id"]
    assert {k: item[k] for k in ("brand", "first6", "last4", "expiry_month", "expiry_year")} == {
        "brand": "visa",
        "first6": "424242",
        "last4": "4242",
        "expiry_month": 12,
        "expiry_year": 2031,
    }
    assert item["owner"] == CUSTOMER["sub"]  # the token's customer, never a field of the body
    assert set(item) == {
        "payment_method_id",
        "brand",
        "first6",
        "last4",
        "expiry_month",
        "expiry_year",
        "owner",
        "created_at",
    }


def test_registering_a_card_needs_a_signed_in_customer(aws):
    aws.load_handler("payments.api")
    status, body, _ = post_card(aws, card(VISA_OK), user=None)
    assert (status, body) == (401, {"message": "Unauthorized"})  # API Gateway's answer: no function ran
    assert aws.scan("payments:payment-methods") == []


def test_invalid_cards_are_400_with_a_reason_per_field_and_store_nothing(aws):
    aws.load_handler("payments.api")
    status, body, _ = post_card(aws, card("4242424242424241", expiry_month=0, cvc="12"))
    assert status == 400
    assert body | {"instance": None} == {
        "type": "https://eda.example/problems/validation",
        "title": "Invalid request",
        "status": 400,
        "detail": "3 invalid fields: see errors",
        "instance": None,
        "errors": [
            {"in": "body", "field": "card_number", "reason": "fails the Luhn check (mistyped?)"},
            {"in": "body", "field": "expiry_month", "reason": "must be a month number 1..12"},
            {"in": "body", "field": "cvc", "reason": "must be a string of 3 or 4 digits"},
        ],
    }
    status, body, _ = post_card(aws, card(VISA_OK, expiry_year=2020))
    assert (status, body["errors"]) == (400, [{"in": "body", "field": "expiry_year", "reason": "the card has expired"}])
    assert VISA_OK not in json.dumps(body)
    status, body, _ = post_card(aws, '{"card_number": "4242424242424242", ')
    assert (status, [e["field"] for e in body["errors"]]) == (400, [""])
    assert body["errors"][0]["reason"].startswith("not valid JSON") and "4242" not in json.dumps(body)
    assert post_card(aws, "[1, 2]")[1]["errors"] == [{"in": "body", "field": "", "reason": "must be a JSON object"}]
    assert aws.scan("payments:payment-methods") == []


def test_unknown_routes_are_404(aws):
    api = aws.load_handler("payments.api")
    event = api_gateway_http("GET", "/payment-methods/pm_123", body=None)
    assert api.handler(event, LambdaContext())["statusCode"] == 404


def test_the_full_card_number_and_cvc_appear_in_no_log_line_table_item_or_event(aws, saga, caplog, capsys):
    """PCI: run everything a card goes through (valid, invalid, expired, charge, refund) while
    capturing every log record unformatted (before the masking formatter: a PAN handed to the
    logger would be caught here even though the formatter would mask it), the formatted
    output, every table item and every published event."""
    caplog.set_level(logging.DEBUG)  # every logger, botocore's wire logs included...
    caplog.set_level(logging.DEBUG, logger=logger.name)  # ...and ours, below its deployed INFO level
    numbers = [VISA_OK, DECLINED, "5555555555554444"]
    aws.load_handler("payments.api")
    tokens = [post_card(aws, card(n))[1]["payment_method_id"] for n in numbers]
    post_card(aws, card(VISA_OK, expiry_year=2020))  # expired
    post_card(aws, card("4242 4242 4242 4242", cvc="98"))  # bad cvc
    aws.load_handler(PROCESS)
    for i, token in enumerate(tokens):
        order_id = f"ord_pci0000{i}"
        placed = saga.order_placed(order_id, token)
        assert deliver(aws, placed, saga.stock_reserved(order_id)) == []
        assert deliver(aws, saga.order_cancelled(order_id)) == []
    published = aws.published()
    assert kinds(published) == ["PaymentFailed"] + ["PaymentRefunded"] * 2 + ["PaymentSucceeded"] * 2

    raw = []
    for rec in caplog.records:
        raw.append(rec.getMessage())
        raw += [repr(v) for v in vars(rec).values()]  # extra keys, args, exc_info
    haystacks = {
        "log records": "\n".join(raw),
        "log output": "".join(capsys.readouterr()),
        "tables": json.dumps([aws.scan(f"payments:{t}") for t in ("payment-methods", "payments")], default=str),
        "events": json.dumps(published),
    }
    assert len(caplog.records) > 20 and "payment method stored" in haystacks["log records"]
    assert "424242" in haystacks["tables"]  # the fragments we may keep are there, so the scan sees items
    for where, text in haystacks.items():
        compact = text.replace(" ", "").replace("-", "")
        for number in numbers:
            assert number not in compact, f"a full card number leaked into {where}"
    items = aws.scan("payments:payment-methods") + aws.scan("payments:payments")
    assert not any("cvc" in key.lower() or "cvv" in key.lower() for item in items for key in item)
    assert not any(value == CVC for item in items for value in item.values())


# --------------------------------------------------------------------------- process


def test_order_placed_then_stock_reserved_charges_once_and_publishes_payment_succeeded(aws, saga):
    token = register(aws, VISA_OK)
    process = aws.load_handler(PROCESS)
    placed = saga.order_placed("ord_00000101", token, total="1234", currency="JPY")
    assert deliver(aws, placed) == []
    item = payment(aws, "ord_00000101")
    assert (item["state"], item["amount"], item["currency"], item["customer_id"]) == (
        "intent",
        "1234",
        "JPY",
        CUSTOMER["sub"],
    )
    assert deliver(aws, saga.stock_reserved("ord_00000101", causation=placed)) == []
    [event] = aws.published()
    assert (event["source"], event["detail-type"]) == ("payments", "PaymentSucceeded")
    data = event["detail"]["data"]
    assert data["amount"] == {"amount": "1234", "currency": "JPY"}
    assert (data["card_brand"], data["card_last4"], data["order_id"]) == ("visa", "4242", "ord_00000101")
    assert event["detail"]["metadata"]["correlation_id"] == placed.metadata.correlation_id
    item = payment(aws, "ord_00000101")
    assert (item["state"], item["payment_id"], "pending_event" in item) == ("captured", data["payment_id"], False)
    assert process.provider.charges_created == 1


def test_an_order_paying_with_another_customers_card_fails_without_a_charge(aws, saga):
    annas_card = register(aws, VISA_OK)
    process = aws.load_handler(PROCESS)
    ben = customer("ben")["sub"]
    placed = saga.order_placed("ord_00000109", annas_card, customer_id=ben)
    assert deliver(aws, placed, saga.stock_reserved("ord_00000109", causation=placed)) == []
    [event] = aws.published()
    assert event["detail-type"] == "PaymentFailed"
    assert event["detail"]["data"]["reason"] == "invalid_payment_method"  # as for an unknown card: no probing
    assert process.provider.charges_created == 0 and payment(aws, "ord_00000109")["state"] == "failed"


def test_duplicated_and_reordered_deliveries(aws, saga):
    token = register(aws, VISA_OK)
    process = aws.load_handler(PROCESS)
    placed, reserved = saga.order_placed("ord_00000102", token), saga.stock_reserved("ord_00000102")
    early = aws.sqs_record(PROCESS, reserved)
    # StockReserved overtook OrderPlaced in the same batch: it fails alone, the intent is recorded.
    assert deliver(aws, early, placed) == [early["messageId"]]
    assert payment(aws, "ord_00000102")["state"] == "intent" and aws.published() == []
    # SQS redelivers it, and everything else comes twice.
    redelivered = aws.sqs_record(PROCESS, reserved, receive_count=2, message_id=early["messageId"])
    assert deliver(aws, redelivered, placed, reserved) == []
    assert deliver(aws, aws.sqs_record(PROCESS, reserved, receive_count=3)) == []
    assert kinds(aws.published()) == ["PaymentSucceeded"]
    assert process.provider.charges_created == 1 and process.provider.request_count("charge", "ord_00000102") == 1


def test_a_failure_mid_batch_fails_only_that_record_and_its_retry_publishes_once(aws, saga, monkeypatch):
    token = register(aws, VISA_OK)
    process = aws.load_handler(PROCESS)
    orders = [f"ord_0000020{i}" for i in range(3)]
    assert deliver(aws, *(saga.order_placed(o, token) for o in orders)) == []
    real_publish, calls = process.publisher.publish, []

    def flaky_publish(*envelopes):
        calls.append(envelopes[0].data.order_id)
        if len(calls) == 2:
            raise ConnectionError("EventBridge endpoint unreachable")
        return real_publish(*envelopes)

    monkeypatch.setattr(process.service, "publish", flaky_publish)
    records = [aws.sqs_record(PROCESS, saga.stock_reserved(o)) for o in orders]
    assert deliver(aws, *records) == [records[1]["messageId"]]
    first = aws.published()
    assert sorted(e["detail"]["data"]["order_id"] for e in first) == [orders[0], orders[2]]
    assert payment(aws, orders[1])["state"] == "captured"  # decided, its event kept on the record
    pending_id = payment(aws, orders[1])["pending_event"]["event_id"]

    retry = aws.sqs_record(PROCESS, saga.stock_reserved(orders[1]), receive_count=2, message_id=records[1]["messageId"])
    assert deliver(aws, retry) == []
    [late] = aws.published()
    assert late["detail"]["data"]["order_id"] == orders[1] and late["detail"]["metadata"]["event_id"] == pending_id
    assert process.provider.charges_created == 3 and len(process.provider.requests) == 3
    assert deliver(aws, retry) == [] and aws.published() == []


def test_two_concurrent_deliveries_of_one_stock_reserved_charge_once(aws, saga, monkeypatch):
    token = register(aws, VISA_OK)
    process = aws.load_handler(PROCESS)
    assert deliver(aws, saga.order_placed("ord_00000301", token)) == []
    reserved = saga.stock_reserved("ord_00000301")
    store, barrier = process.service.store, threading.Barrier(2)
    real_get = store.get

    def get_then_wait(order_id):  # both deliveries read "intent" before either writes
        payment = real_get(order_id)
        if payment is not None and payment.state == "intent":
            barrier.wait(timeout=10)
        return payment

    monkeypatch.setattr(store, "get", get_then_wait)
    records = [aws.sqs_record(PROCESS, reserved), aws.sqs_record(PROCESS, reserved)]  # SQS delivered the message twice
    failed: list[list[str]] = []
    threads = [threading.Thread(target=lambda r=r: failed.append(deliver(aws, r))) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(failed) == 2 and barrier.broken is False
    assert process.provider.charges_created == 1
    assert process.provider.request_count("charge", "ord_00000301") == 1
    # The loser either saw the outcome or was told to retry (lease held); its retry changes nothing.
    retries = [r for r in records if [r["messageId"]] in failed]
    assert len(retries) <= 1
    for r in retries:
        assert deliver(aws, aws.sqs_record(PROCESS, reserved, receive_count=2, message_id=r["messageId"])) == []
    assert kinds(aws.published()) == ["PaymentSucceeded"]
    assert process.provider.charges_created == 1 and payment(aws, "ord_00000301")["state"] == "captured"


@pytest.mark.parametrize(
    ("number", "reason", "requests"), [(DECLINED, "card_declined", 1), (TIMEOUT, "provider_timeout", 3)]
)
def test_declines_and_timeouts_publish_payment_failed(aws, saga, number, reason, requests):
    token = register(aws, number)
    process = aws.load_handler(PROCESS)
    order_id = "ord_00000401"
    assert deliver(aws, saga.order_placed(order_id, token)) == []
    assert deliver(aws, saga.stock_reserved(order_id)) == []
    [event] = aws.published()
    assert (event["detail-type"], event["detail"]["data"]["reason"]) == ("PaymentFailed", reason)
    assert process.provider.requests == [("charge", order_id)] * requests  # PROVIDER_MAX_ATTEMPTS from the manifest
    assert payment(aws, order_id)["attempts"] == requests


def test_cancellation_refunds_a_captured_payment_once_and_prevents_a_later_charge(aws, saga):
    token = register(aws, VISA_OK)
    process = aws.load_handler(PROCESS)
    paid, unpaid = "ord_00000501", "ord_00000502"
    deliver(aws, saga.order_placed(paid, token), saga.order_placed(unpaid, token))
    assert deliver(aws, saga.stock_reserved(paid)) == []
    cancel_paid, cancel_unpaid = saga.order_cancelled(paid), saga.order_cancelled(unpaid)
    assert deliver(aws, cancel_paid, cancel_unpaid, cancel_paid) == []
    # The reservation of the cancelled order arrives late: it must not be charged.
    assert deliver(aws, saga.stock_reserved(unpaid)) == []
    published = aws.published()
    assert kinds(published) == ["PaymentRefunded", "PaymentSucceeded"]
    refund = next(e for e in published if e["detail-type"] == "PaymentRefunded")["detail"]["data"]
    assert (refund["order_id"], refund["amount"]) == (paid, {"amount": "59.97", "currency": "EUR"})
    assert (payment(aws, paid)["state"], payment(aws, unpaid)["state"]) == ("refunded", "cancelled")
    assert process.provider.charges_created == 1 and process.provider.refunds_created == 1


# --------------------------------------------------------------------------- bad input: a clear 4xx


def raw_post(aws, raw, content_type: str = "application/json") -> tuple[int, dict, dict]:
    response = aws.http_response("POST", "/payment-methods", raw, headers={"content-type": content_type}, user=CUSTOMER)
    return response["statusCode"], json.loads(response["body"]), response.get("headers", {})


def fields(body: dict) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expiry_month": "12"}, "expiry_month"),
        ({"expiry_month": True}, "expiry_month"),
        ({"expiry_month": 12.0}, "expiry_month"),
        ({"expiry_year": "2031"}, "expiry_year"),
        ({"expiry_year": 2031.0}, "expiry_year"),
        ({"expiry_year": 10**40}, "expiry_year"),
        ({"cvc": 987}, "cvc"),
        ({"card_number": 4242424242424242}, "card_number"),
        ({"card_number": "4242\u0664242424242424"}, "card_number"),  # an Arabic-Indic digit
        ({"holder_name": ["E."]}, "holder_name"),
        ({"4242424242424242": "x"}, ""),
    ],
)
def test_card_fields_have_strict_json_types_and_no_reason_echoes_the_input(aws, change, field):
    aws.load_handler("payments.api")
    status, body, headers = post_card(aws, card(VISA_OK, **change))
    assert (status, fields(body)) == (400, {field}), body
    assert headers["Content-Type"] == "application/problem+json" and headers["Cache-Control"] == "no-store"
    assert VISA_OK not in json.dumps(body) and "4242" not in json.dumps(body)
    assert aws.scan("payments:payment-methods") == []


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ("", "application/json"),
        ('{"card_number": "4242424242424242", ', "application/json"),
        ("[1, 2]", "application/json"),
        ("null", "application/json"),
        ("[" * 100_000, "application/json"),
        ('{"expiry_year": 2' + "0" * 5000 + "}", "application/json"),
        ('{"card_number": "\\ud800"}', "application/json"),
        ("card_number=4242424242424242&cvc=987", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00", "application/json"),
    ],
)
def test_unreadable_bodies_are_4xx_problems_that_quote_nothing(aws, raw, content_type):
    aws.load_handler("payments.api")
    status, body, headers = raw_post(aws, raw, content_type)
    assert status in (400, 415), body
    assert headers["Content-Type"] == "application/problem+json" and headers["Cache-Control"] == "no-store"
    assert "4242" not in json.dumps(body) and body["status"] == status
