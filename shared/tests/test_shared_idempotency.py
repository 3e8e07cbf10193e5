"""Idempotency on moto's DynamoDB, with the table schema Powertools expects (hash key "id")."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

import shared.idempotency as idem
from shared.events import new_envelope

TABLE = "dev-idempotency"


@pytest.fixture
def table(aws_env, monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "dev-webhooks-record-delivery")
    idem.reset()
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
        yield ddb
    idem.reset()


def items(ddb) -> list[dict]:
    return ddb.scan(TableName=TABLE)["Items"]


def test_importing_is_cheap_and_needs_no_table():
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, shared.idempotency; print('aws_lambda_powertools' in sys.modules, 'boto3' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.split() == ["False", "False"]


def test_an_event_id_is_processed_once(table, webhook_data, lambda_context):
    calls = []

    @idem.idempotent_event
    def record_delivery(envelope, record):
        calls.append((envelope.metadata.event_id, record))
        return {"stored": envelope.data.delivery_id}

    idem.register_context(lambda_context)
    envelope = new_envelope(webhook_data(), source="webhooks")
    first = record_delivery(envelope, "record-1")
    again = record_delivery(envelope, "record-2")  # a redelivery of the same event

    assert first == again == {"stored": envelope.data.delivery_id}
    assert calls == [(envelope.metadata.event_id, "record-1")]

    other = new_envelope(webhook_data(), source="webhooks")
    record_delivery(other, "record-3")
    assert len(calls) == 2

    stored = items(table)
    assert len(stored) == 2 and {i["status"]["S"] for i in stored} == {"COMPLETED"}
    assert all(i["id"]["S"].startswith("dev-webhooks-record-delivery.") for i in stored)
    assert json.loads(stored[0]["data"]["S"]) in (
        {"stored": envelope.data.delivery_id},
        {"stored": other.data.delivery_id},
    )


def test_a_failure_is_not_stored_so_the_retry_runs(table, webhook_data, lambda_context):
    idem.register_context(lambda_context)
    attempts = []

    @idem.idempotent_event
    def flaky(envelope):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("downstream timeout")
        return "ok"

    envelope = new_envelope(webhook_data(), source="webhooks")
    with pytest.raises(RuntimeError):
        flaky(envelope)
    assert flaky(envelope) == "ok"
    assert flaky(envelope) == "ok"
    assert len(attempts) == 2


def test_two_handlers_keep_separate_records_for_one_event(table, webhook_data, lambda_context):
    idem.register_context(lambda_context)

    @idem.idempotent_event
    def project(envelope):
        return "projected"

    @idem.idempotent_event
    def notify(envelope):
        return "notified"

    envelope = new_envelope(webhook_data(), source="webhooks")
    assert (project(envelope), notify(envelope)) == ("projected", "notified")
    assert len(items(table)) == 2


def test_the_in_progress_record_carries_the_invocation_deadline(table, webhook_data, lambda_context):
    """With the context registered, a crashed invocation's INPROGRESS record expires with it."""
    lambda_context.remaining_ms = 5_000
    idem.register_context(lambda_context)
    seen = []

    @idem.idempotent_event
    def handler(envelope):
        [item] = items(table)
        seen.append(item)

    import time

    before_ms = int(time.time() * 1000)
    handler(new_envelope(webhook_data(), source="webhooks"))
    [item] = seen
    assert item["status"]["S"] == "INPROGRESS"
    deadline = int(item["in_progress_expiration"]["N"])
    assert before_ms + 4_000 <= deadline <= before_ms + 5_000 + 60_000


def test_missing_table_setting_is_explicit(aws_env, webhook_data):
    idem.reset()

    @idem.idempotent_event
    def handler(envelope):
        return 1

    with pytest.raises(RuntimeError, match="IDEMPOTENCY_TABLE is not set"):
        handler(new_envelope(webhook_data(), source="webhooks"))


# ------------------------------------------------------------------ HTTP


def http_event(body: str, headers: dict[str, str], path: str = "/orders") -> dict:
    """An API Gateway HTTP API (payload 2.0) event; header names are lowercase as AWS sends them."""
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example.com", **headers},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "api.example.com",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8",
            },
            "requestId": "req-1",
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": "27/Nov/2026:08:30:00 +0000",
            "timeEpoch": 1795768200000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.fixture
def create_order():
    calls = []

    @idem.idempotent_http_command
    def handler(event, context):
        calls.append(json.loads(event["body"]))
        return {"statusCode": 201, "body": json.dumps({"order": len(calls)})}

    handler.calls = calls
    return handler


def test_same_key_same_body_replays_the_first_response(table, create_order, lambda_context):
    first = create_order(http_event('{"sku": "A", "qty": 1}', {"idempotency-key": "k-1"}), lambda_context)
    # Same JSON, other formatting, header in another case (REST API v1 keeps the client's case).
    again = create_order(http_event('{"qty":1,"sku":"A"}', {"Idempotency-Key": "k-1"}), lambda_context)

    assert first == again == {"statusCode": 201, "body": '{"order": 1}'}
    assert create_order.calls == [{"sku": "A", "qty": 1}]

    create_order(http_event('{"sku": "A", "qty": 1}', {"idempotency-key": "k-2"}), lambda_context)
    assert len(create_order.calls) == 2


def test_same_key_different_body_is_a_validation_error(table, create_order, lambda_context):
    create_order(http_event('{"sku": "A", "qty": 1}', {"idempotency-key": "k-1"}), lambda_context)
    with pytest.raises(idem.IdempotencyValidationError):
        create_order(http_event('{"sku": "A", "qty": 2}', {"idempotency-key": "k-1"}), lambda_context)
    assert len(create_order.calls) == 1


def test_the_key_is_scoped_to_the_route(table, create_order, lambda_context):
    create_order(http_event('{"sku": "A"}', {"idempotency-key": "k-1"}, path="/orders"), lambda_context)
    create_order(http_event('{"sku": "A"}', {"idempotency-key": "k-1"}, path="/carts"), lambda_context)
    assert len(create_order.calls) == 2


def test_missing_or_oversized_key(table, create_order, lambda_context):
    with pytest.raises(idem.InvalidIdempotencyKeyError, match="required"):
        create_order(http_event("{}", {}), lambda_context)
    with pytest.raises(idem.InvalidIdempotencyKeyError, match="longer than 255"):
        create_order(http_event("{}", {"idempotency-key": "k" * 256}), lambda_context)
    assert create_order.calls == []

    @idem.idempotent_http_command(required=False)
    def optional(event, context):
        return {"statusCode": 200}

    assert optional(http_event("{}", {}), lambda_context) == {"statusCode": 200}
    assert items(table) == []


def test_http_config_keys_on_route_and_header_and_validates_the_body(table):
    import jmespath

    config = idem.http_idempotency_config()
    request = idem.http_request_key(http_event('{"a": 1}', {"Idempotency-Key": " k-9 "}))
    assert jmespath.search(config.event_key_jmespath, request) == ["POST", "/orders", None, "k-9"]
    assert jmespath.search(config.payload_validation_jmespath, request) == {"a": 1}


def _signed_in(event: dict, sub: str) -> dict:
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub, "token_use": "access"}, "scopes": None}}
    return event


def test_the_key_is_scoped_to_the_caller(table, create_order, lambda_context):
    """Another customer sending the same key and body is another request: never a replay of the
    first customer's stored response (it would hand them someone else's order)."""
    body = '{"sku": "A", "qty": 1}'
    anna = create_order(_signed_in(http_event(body, {"idempotency-key": "k-1"}), "sub-anna"), lambda_context)
    ben = create_order(_signed_in(http_event(body, {"idempotency-key": "k-1"}), "sub-ben"), lambda_context)
    assert anna != ben and len(create_order.calls) == 2
    again = create_order(_signed_in(http_event(body, {"idempotency-key": "k-1"}), "sub-anna"), lambda_context)
    assert again == anna and len(create_order.calls) == 2


def test_idempotent_on_a_natural_key_runs_once_per_key(table, lambda_context):
    calls = []

    @idem.idempotent_on("[bucket, key, version_id || etag]", expires_after_seconds=3600)
    def thumbnail_once(source: dict) -> dict:
        calls.append(source["key"])
        return {"outcome": "created", "n": len(calls)}

    idem.register_context(lambda_context)
    upload = {"bucket": "uploads", "key": "a.jpg", "version_id": "v1", "etag": "e1"}
    first = thumbnail_once(upload)
    assert thumbnail_once(source=dict(upload)) == first  # keyword or positional, same key
    assert thumbnail_once({**upload, "version_id": "v2"}) == {"outcome": "created", "n": 2}
    unversioned = {"bucket": "uploads", "key": "a.jpg", "version_id": None, "etag": "e9"}
    assert thumbnail_once(unversioned)["n"] == 3 and thumbnail_once(unversioned)["n"] == 3  # falls back to ETag
    assert calls == ["a.jpg", "a.jpg", "a.jpg"]
    assert len(items(table)) == 3
