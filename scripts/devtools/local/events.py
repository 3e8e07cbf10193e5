"""The local runtime's view of Lambda events: the keys `trace` follows, the ids Lambda expects back.

The events themselves are built by `devtools.aws_events`, the one builder the test kit uses too;
this module re-exports the builders the runtime calls under the names it has always used:

sqs_record(message, queue_arn, region)                 # a ReceiveMessage message as one record of {"Records": [...]}
http_api_event(method=..., raw_path=..., ...)          # API Gateway HTTP API, payload v2.0
http_api_response(result)                              # a handler's result mapped back as HTTP API does
dynamodb_stream_record(record, stream_arn, region)     # a GetRecords record as one record of a stream batch
scheduled_event(schedule_arn, account, region, at=None) # a schedule's run (rate()/cron())
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from devtools.aws_events import dynamodb_stream_record_from_api as dynamodb_stream_record
from devtools.aws_events import http_api_event, http_api_response, scheduled_event
from devtools.aws_events import sqs_record_from_message as sqs_record

__all__ = [
    "dynamodb_stream_record",
    "http_api_event",
    "http_api_response",
    "record_id",
    "record_keys",
    "scheduled_event",
    "sqs_record",
]


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
