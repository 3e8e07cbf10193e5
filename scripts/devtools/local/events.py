"""Lambda event payloads, shaped exactly as AWS sends them, and the keys `trace` follows.

sqs_record(message, queue_arn, region)                 # one record of {"Records": [...]}
http_api_event(method, raw_path, ...)                  # API Gateway HTTP API, payload v2.0
dynamodb_stream_record(record, stream_arn, region)     # one record of a stream batch
scheduled_event(schedule_arn, account, region, at=None) # a schedule's run (rate()/cron())
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

# --------------------------------------------------------------------------- SQS


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A ReceiveMessage result (AttributeNames=All, MessageAttributeNames=All) as Lambda passes it."""
    attributes = dict(message.get("Attributes", {}))
    message_attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        converted = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
        message_attributes[name] = {k: v for k, v in converted.items() if v is not None}
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


# --------------------------------------------------------------------------- HTTP API v2


def http_api_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str],
    account_id: str,
    api_id: str,
    request_id: str,
    source_ip: str,
    domain_name: str,
) -> dict[str, Any]:
    """API Gateway HTTP API payload format 2.0."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    content_type = merged.get("content-type", "")
    is_text = not body or content_type.startswith(
        ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")
    )
    if is_text:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            is_text = False
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", maxsplit=1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"] = text_body if is_text else base64.b64encode(body).decode()
    return event


def http_api_response(result: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    """Map a handler's return value the way HTTP API (payload v2) does: status, headers, cookies, body."""
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        cookies = list(result.get("cookies") or [])
        body = result.get("body") or ""
        if not isinstance(body, str):
            body = json.dumps(body)
        data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        return status, headers, cookies, data
    # Without statusCode, API Gateway assumes 200, JSON, and serialises the value as the body.
    body = result if isinstance(result, str) else json.dumps(result)
    return 200, {"content-type": "application/json"}, [], body.encode()


# --------------------------------------------------------------------------- DynamoDB streams


def dynamodb_stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record (parsed by boto3) as Lambda passes it: epoch seconds, source ARN."""
    out = json.loads(json.dumps(record, default=str))
    created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        out["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
    out["awsRegion"] = region  # moto reports us-east-1 whatever the table's region
    out["eventSourceARN"] = stream_arn
    return out


# --------------------------------------------------------------------------- schedule


def scheduled_event(rule_arn: str, account_id: str, region: str, at: float | None = None) -> dict[str, Any]:
    """The "Scheduled Event" a schedule delivers; `time` is the scheduled time (`at`, epoch s), default now."""
    when = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


# --------------------------------------------------------------------------- trace keys


def _event_keys(event: dict[str, Any]) -> list[str]:
    keys = []
    if "detail-type" in event:
        keys.append(event.get("id"))
        detail = event.get("detail") or {}
        if isinstance(detail, dict):
            meta = detail.get("metadata") or {}
            if isinstance(meta, dict):
                keys.append(meta.get("event_id"))
            if event.get("source") == "aws.s3":
                keys.append(
                    f"s3://{(detail.get('bucket') or {}).get('name')}/{(detail.get('object') or {}).get('key')}"
                )
    for rec in event.get("Records") or []:
        s3 = rec.get("s3") if isinstance(rec, dict) else None
        if s3:
            keys.append(f"s3://{s3['bucket']['name']}/{unquote_plus(s3['object']['key'])}")
    if event.get("Type") == "Notification":
        keys.append(event.get("MessageId"))
        try:
            inner = json.loads(event.get("Message") or "")
            if isinstance(inner, dict):
                keys.extend(_event_keys(inner))
                meta = inner.get("metadata") or {}
                if isinstance(meta, dict):
                    keys.append(meta.get("event_id"))
        except ValueError:
            pass
    return [k for k in keys if k]


def record_keys(record: dict[str, Any]) -> list[str]:
    """Identifiers a user may trace a record by: message id, event ids, s3://bucket/key."""
    keys: list[str] = []
    if record.get("eventSource") == "aws:sqs":
        keys.append(record["messageId"])
        try:
            body = json.loads(record["body"])
        except ValueError:
            body = None
        if isinstance(body, dict):
            keys.extend(_event_keys(body))
    elif record.get("eventSource") == "aws:dynamodb":
        keys.append(record.get("eventID"))
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        for attr in ("event_id", "eventId", "id"):
            value = image.get(attr, {}).get("S")
            if value:
                keys.append(value)
    return [k for k in keys if k]


def record_id(record: dict[str, Any]) -> str:
    """The itemIdentifier Lambda expects back for this record."""
    if record.get("eventSource") == "aws:sqs":
        return record["messageId"]
    return record["dynamodb"]["SequenceNumber"]
