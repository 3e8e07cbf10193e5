"""Fixtures for the shared library's tests: AWS-shaped events and a clean AWS environment."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

REGION = "eu-west-1"
ACCOUNT = "123456789012"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Region and fake credentials, so boto3/moto never look for a real account."""
    for name, value in {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("DATA_RESIDENCY", "EVENT_BUS_NAME", "AWS_PROFILE", "IDEMPOTENCY_TABLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def webhook_data() -> Callable[..., Any]:
    from shared.events.webhooks import WebhookReceived

    def make(**overrides: Any) -> WebhookReceived:
        fields: dict[str, Any] = {
            "provider": "github",
            "delivery_id": str(uuid.uuid4()),
            "event_type": "push",
            "received_at": datetime(2026, 11, 27, 8, 30, tzinfo=UTC),
            "repository": "acme/shop",
            "sender": "octocat",
            "summary": "push to main: 3 commits",
        }
        fields.update(overrides)
        return WebhookReceived(**fields)

    return make


def eventbridge_event(source: str, detail_type: str, detail: dict[str, Any] | str) -> dict[str, Any]:
    """An event exactly as EventBridge delivers it to a target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": "2026-11-27T08:30:01Z",
        "region": REGION,
        "resources": [],
        "detail": json.loads(detail) if isinstance(detail, str) else detail,
    }


def sqs_record(body: str, *, message_id: str | None = None, queue: str = "dev-webhooks-record-delivery") -> dict:
    """One SQS record as Lambda's SQS event source mapping delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795768201000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1795768201012",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


class FakeLambdaContext:
    """The attributes Powertools reads from a LambdaContext."""

    function_name = "dev-webhooks-record-delivery"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dev-webhooks-record-delivery"
    memory_limit_in_mb = 256
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/dev-webhooks-record-delivery"
    log_stream_name = "2026/11/27/[$LATEST]abcdef"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def make_eventbridge_event() -> Callable[..., dict[str, Any]]:
    return eventbridge_event


@pytest.fixture
def make_sqs_record() -> Callable[..., dict[str, Any]]:
    return sqs_record


@pytest.fixture
def log_lines():
    """What `shared.observability.logger` writes, as parsed JSON lines (the raw text is `.text`)."""
    import io

    from shared.observability import logger

    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    class Lines:
        @property
        def text(self) -> str:
            return buffer.getvalue()

        def __call__(self) -> list[dict]:
            return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield Lines()
    handler.setStream(previous)
