"""SQS batches with partial failure reporting, on Powertools `BatchProcessor`.

    from shared.batch import process_event_batch

    def handle(envelope, record):          # envelope: latest version of the event
        ...

    def handler(event, context):
        return process_event_batch(event, context, handle)

`process_event_batch` is for queues fed by an EventBridge rule (each body is an EventBridge
event as AWS delivers it); `process_sqs_batch` is for other bodies (S3 notifications, ...)
and hands the Powertools `SQSRecord` to the handler.

A record that fails (bad event, or the handler raised) is reported in `batchItemFailures`
and logged with its messageId; the rest of the batch is deleted. SQS redelivers the failed
ones until maxReceiveCount, then moves them to the DLQ. The response is always
`{"batchItemFailures": [...]}`, also when every record failed (Powertools would raise;
the outcome for SQS is the same and the log stays one line per record).

Powertools' batch utility and the event models are imported by the first batch, not with this
module: a cold start's INIT imports neither (DECISIONS.md #12).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from shared.events import Envelope

EnvelopeHandler = Callable[["Envelope", "SQSRecord"], Any]
RecordHandler = Callable[["SQSRecord"], Any]


def process_event_batch(event: dict[str, Any], context: Any, record_handler: EnvelopeHandler) -> dict[str, Any]:
    """Parse each SQS body as an EventBridge event and call `record_handler(envelope, record)`."""
    from shared.events import EventValidationError, parse_eventbridge_event

    def handle(record: SQSRecord) -> Any:
        body: Any = None
        try:
            body = json.loads(record.body)
            envelope = parse_eventbridge_event(body)
        except (ValueError, EventValidationError) as exc:  # JSONDecodeError is a ValueError
            detail_type = body.get("detail-type") if isinstance(body, dict) else None
            logger.error(
                "event rejected: invalid or unreadable event",
                extra={
                    "message_id": record.message_id,
                    "detail_type": detail_type,
                    "receive_count": _receive_count(record),
                    "reason": str(exc),
                    "errors": getattr(exc, "errors", None) or None,
                },
            )
            raise
        with logger.append_context_keys(
            correlation_id=envelope.metadata.correlation_id, event_id=envelope.metadata.event_id
        ):
            return _call(record_handler, record, envelope, record)

    return _process(event, context, handle)


def process_sqs_batch(event: dict[str, Any], context: Any, record_handler: RecordHandler) -> dict[str, Any]:
    """Call `record_handler(record)` for each SQS record (raw bodies, e.g. S3 notifications)."""

    def handle(record: SQSRecord) -> Any:
        return _call(record_handler, record, record)

    return _process(event, context, handle)


def _call(fn: Callable[..., Any], record: SQSRecord, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:
        logger.exception(
            "record handler failed",
            extra={"message_id": record.message_id, "receive_count": _receive_count(record)},
        )
        raise


def _receive_count(record: SQSRecord) -> int | None:
    count = record.attributes.approximate_receive_count
    return int(count) if count and count.isdigit() else None


def _process(event: dict[str, Any], context: Any, handle: Callable[[SQSRecord], Any]) -> dict[str, Any]:
    # Let idempotent handlers know the remaining time, if the function uses shared.idempotency.
    idempotency = sys.modules.get("shared.idempotency")
    if idempotency is not None and context is not None:
        idempotency.register_context(context)
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    return {"batchItemFailures": list(response.get("batchItemFailures", []))}
