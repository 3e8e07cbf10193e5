"""Audit log of accepted deliveries: one item per delivery id, whatever the redeliveries.

The natural key (delivery_id) makes the write idempotent by itself: a conditional put that
finds the item already there is a duplicate, logged and acknowledged.
"""

from __future__ import annotations

import os
from datetime import timedelta

from botocore.exceptions import ClientError

from shared.batch import process_event_batch
from shared.lazy import dynamodb_table
from shared.observability import logger

RETENTION = timedelta(days=90)

table = dynamodb_table(os.environ["TABLE_DELIVERIES"])  # created on first use, not at import


def record(envelope, _record) -> None:
    data, meta = envelope.data, envelope.metadata
    item = {
        "delivery_id": f"{data.provider}:{data.delivery_id}",
        "provider": data.provider,
        "event_type": data.event_type,
        "summary": data.summary,
        "received_at": data.received_at.isoformat(),
        "event_id": meta.event_id,
        "correlation_id": meta.correlation_id,
        "expires_at": int((data.received_at + RETENTION).timestamp()),
    }
    for optional in ("repository", "sender"):
        if getattr(data, optional):
            item[optional] = getattr(data, optional)
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(delivery_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise  # transient or a bug: the record is retried, then lands in the DLQ
        logger.info("duplicate delivery ignored", extra={"delivery_id": item["delivery_id"], "event_id": meta.event_id})


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_event_batch(event, context, record)
