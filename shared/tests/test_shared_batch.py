"""SQS batches fed by an EventBridge rule: partial failures, DLQ-bound records logged with reasons."""

from __future__ import annotations

import json

import pytest

from shared.batch import process_event_batch, process_sqs_batch
from shared.events import new_envelope

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def batch(webhook_data, make_eventbridge_event, make_sqs_record):
    """Three records, as SQS delivers them; the second one is schema-invalid."""
    good = [new_envelope(webhook_data(summary=f"good {i}"), source="webhooks") for i in range(2)]
    bad_detail = new_envelope(webhook_data(), source="webhooks").detail()
    bad_detail["data"]["provider"] = "gitlab"
    del bad_detail["data"]["summary"]
    bodies = [
        make_eventbridge_event("webhooks", "WebhookReceived", good[0].detail()),
        make_eventbridge_event("webhooks", "WebhookReceived", bad_detail),
        make_eventbridge_event("webhooks", "WebhookReceived", good[1].detail()),
    ]
    records = [make_sqs_record(json.dumps(b), message_id=f"msg-{i}") for i, b in enumerate(bodies)]
    return {"Records": records}, good


def test_only_the_invalid_record_is_reported_and_its_reason_logged(batch, lambda_context, log_lines):
    event, good = batch
    handled = []

    def record_handler(envelope, record):
        handled.append((envelope.metadata.event_id, record.message_id))

    response = process_event_batch(event, lambda_context, record_handler)

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert handled == [(good[0].metadata.event_id, "msg-0"), (good[1].metadata.event_id, "msg-2")]
    [error] = [line for line in log_lines() if line["level"] == "ERROR"]
    assert error["message_id"] == "msg-1"
    assert error["detail_type"] == "WebhookReceived"
    assert error["receive_count"] == 1
    assert "data.provider: Input should be 'github' or 'slack'" in error["reason"]
    assert {e["path"] for e in error["errors"]} == {"data.provider", "data.summary"}


def test_handler_exceptions_fail_only_their_record(batch, lambda_context, log_lines):
    event, good = batch
    event["Records"] = [event["Records"][0], event["Records"][2]]

    def record_handler(envelope, record):
        if envelope.metadata.event_id == good[1].metadata.event_id:
            raise RuntimeError("table throttled")

    assert process_event_batch(event, lambda_context, record_handler) == {
        "batchItemFailures": [{"itemIdentifier": "msg-2"}]
    }
    [error] = [line for line in log_lines() if line["level"] == "ERROR"]
    assert error["message"] == "record handler failed" and error["message_id"] == "msg-2"
    assert "RuntimeError: table throttled" in error["exception"]
    assert error["correlation_id"] == good[1].metadata.correlation_id  # set while the record is handled


def test_logs_inside_the_handler_carry_the_correlation_id(batch, lambda_context, log_lines):
    from shared.observability import logger

    event, good = batch
    event["Records"] = [event["Records"][0]]
    process_event_batch(event, lambda_context, lambda envelope, record: logger.info("handling"))
    logger.info("after")

    handling, after = log_lines()
    assert handling["correlation_id"] == good[0].metadata.correlation_id
    assert handling["event_id"] == good[0].metadata.event_id
    assert "correlation_id" not in after and "event_id" not in after


def test_everything_failing_still_returns_the_partial_response(make_sqs_record, lambda_context, log_lines):
    event = {"Records": [make_sqs_record("not json", message_id="a"), make_sqs_record('{"x": 1}', message_id="b")]}
    response = process_event_batch(event, lambda_context, lambda envelope, record: None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}
    reasons = {line["message_id"]: line["reason"] for line in log_lines() if line["level"] == "ERROR"}
    assert reasons["b"].startswith("not an EventBridge event: missing detail-type")
    assert "Expecting value" in reasons["a"]


def test_raw_sqs_bodies_are_handed_over_as_records(make_sqs_record, lambda_context):
    s3_notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": "2026-11-27T08:30:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "uploads"}, "object": {"key": "a.png", "size": 1024}},
            }
        ]
    }
    event = {
        "Records": [
            make_sqs_record(json.dumps(s3_notification), message_id="ok"),
            make_sqs_record('{"Event": "s3:TestEvent"}', message_id="test-event"),
        ]
    }
    keys = []

    def record_handler(record):
        body = json.loads(record.body)
        keys.append(body["Records"][0]["s3"]["object"]["key"])

    assert process_sqs_batch(event, lambda_context, record_handler) == {
        "batchItemFailures": [{"itemIdentifier": "test-event"}]
    }
    assert keys == ["a.png"]


def test_the_lambda_context_reaches_idempotency(batch, lambda_context, monkeypatch):
    import shared.idempotency as idem

    idem.reset()
    event, _ = batch
    process_event_batch({"Records": event["Records"][:1]}, lambda_context, lambda envelope, record: None)
    assert idem.event_idempotency_config().lambda_context is lambda_context
    idem.reset()
