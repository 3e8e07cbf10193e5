"""Events exactly as AWS delivers them to Lambda, for tests and the local runtime.

Shapes follow the AWS documentation samples (field names, casing and types); values that
AWS fills in (ids, ARNs, timestamps) are generated. Use these instead of hand-written
dicts so that every test feeds a handler what Lambda would.

    >>> event = api_gateway_http("POST", "/webhooks/github", body='{"zen": "hi"}')
    >>> event["requestContext"]["http"]["method"]
    'POST'
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCOUNT_ID = "123456789012"


def _now_ms() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------- API Gateway


def api_gateway_http(
    method: str,
    path: str,
    *,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    route_key: str | None = None,
    base64_body: bool | None = None,
    region: str = "eu-west-1",
    api_id: str = "a1b2c3d4e5",
    source_ip: str = "203.0.113.10",
) -> dict[str, Any]:
    """API Gateway HTTP API (payload format 2.0) proxy event.

    Header names are lower-cased, as HTTP APIs deliver them. A bytes body is sent
    base64-encoded (as API Gateway does for binary media); a str body as text.
    """
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    hdrs.setdefault("host", f"{api_id}.execute-api.{region}.amazonaws.com")
    hdrs.setdefault("user-agent", "eda-tests/1.0")
    hdrs.setdefault("x-forwarded-for", source_ip)
    hdrs.setdefault("x-forwarded-proto", "https")
    if body is not None:
        hdrs.setdefault("content-length", str(len(body.encode() if isinstance(body, str) else body)))
    is_b64 = isinstance(body, bytes) if base64_body is None else base64_body
    if body is None:
        wire_body = None
    elif is_b64:
        wire_body = base64.b64encode(body if isinstance(body, bytes) else body.encode()).decode()
    else:
        wire_body = body if isinstance(body, str) else body.decode()
    now = datetime.now(UTC)
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": hdrs,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": hdrs["host"],
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": hdrs["user-agent"],
            },
            "requestId": uuid.uuid4().hex[:16] + "=",
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_b64 if body is not None else False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if wire_body is not None:
        event["body"] = wire_body
    return event


# --------------------------------------------------------------------------- EventBridge


def eventbridge_event(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    *,
    region: str = "eu-west-1",
    event_id: str | None = None,
    time_: datetime | None = None,
) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to its target."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": (time_ or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": detail,
    }


# --------------------------------------------------------------------------- SQS


def sqs_record(
    body: str | dict[str, Any],
    *,
    queue_arn: str = f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:dev-queue",
    receive_count: int = 1,
    message_id: str | None = None,
    message_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One SQS record of a Lambda event source mapping batch."""
    text = body if isinstance(body, str) else json.dumps(body)
    sent = _now_ms()
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": base64.b64encode(uuid.uuid4().bytes * 3).decode(),
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(sent + 5),
        },
        "messageAttributes": message_attributes or {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


# --------------------------------------------------------------------------- DynamoDB Streams


def dynamodb_stream_record(
    event_name: str,
    keys: dict[str, Any],
    *,
    new_image: dict[str, Any] | None = None,
    old_image: dict[str, Any] | None = None,
    stream_arn: str,
    sequence_number: str,
    view_type: str = "NEW_IMAGE",
    event_id: str | None = None,
    created: datetime | int | None = None,
    size_bytes: int | None = None,
) -> dict[str, Any]:
    """One DynamoDB Streams record of a Lambda event source mapping batch.

    Images and keys are in DynamoDB JSON (`{"S": "..."}`), as the stream carries them; which
    images are present follows the stream view type (KEYS_ONLY: none, NEW_IMAGE: NewImage for
    INSERT/MODIFY, OLD_IMAGE: OldImage for MODIFY/REMOVE, NEW_AND_OLD_IMAGES: both). Lambda
    passes `ApproximateCreationDateTime` as epoch seconds and adds `eventSourceARN`.
    """
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError(f"eventName must be INSERT, MODIFY or REMOVE, not {event_name!r}")
    if view_type not in ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        raise ValueError(f"unknown StreamViewType {view_type!r}")
    if isinstance(created, datetime):
        created = int(created.timestamp())
    change: dict[str, Any] = {"ApproximateCreationDateTime": created if created is not None else int(time.time())}
    change["Keys"] = keys
    if view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "REMOVE" and new_image is not None:
        change["NewImage"] = new_image
    if view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "INSERT" and old_image is not None:
        change["OldImage"] = old_image
    change["SequenceNumber"] = sequence_number
    if size_bytes is None:
        size_bytes = len(json.dumps([keys, change.get("NewImage"), change.get("OldImage")]))
    change["SizeBytes"] = size_bytes
    change["StreamViewType"] = view_type
    return {
        "eventID": event_id or uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


# --------------------------------------------------------------------------- S3


def s3_object_created(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str = "0123456789abcdef0123456789abcdef",
    version_id: str | None = None,
    region: str = "eu-west-1",
    event_name: str = "ObjectCreated:Put",
) -> dict[str, Any]:
    """An S3 event notification (the body S3 sends to SQS/SNS/Lambda). Keys are URL-encoded by S3."""
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag,
        "sequencer": "0062E99A88DC407460",
    }
    if version_id:
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
                "requestParameters": {"sourceIPAddress": "203.0.113.10"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes).decode(),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "thumbnails",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


# --------------------------------------------------------------------------- Lambda context


@dataclass
class LambdaContext:
    """Stand-in for the Lambda context object (the attributes Powertools reads)."""

    function_name: str = "dev-test-function"
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 30
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/dev-test-function"
    log_stream_name: str = "2026/11/27/[$LATEST]0123456789abcdef"
    _deadline_ms: int = 0

    def __post_init__(self) -> None:
        self._deadline_ms = _now_ms() + self.timeout_seconds * 1000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - _now_ms())
