"""Transactional outbox relay: the events table's stream -> the bus.

Each new event item is published exactly as stored: same event_id, metadata and data (an
event stored as an older version goes out as that version), so consumers deduplicate on
event_id. Snapshots and removals are skipped. Within a batch an event is published once even
if the stream hands it over twice; a redelivered batch (after a crash or a timeout) publishes
the same event ids again, which consumers ignore. Publishing stops at the first entry that
fails: it and everything after it are reported in batchItemFailures, Lambda retries from
there, and no event of an order overtakes an earlier one on its way to the bus.
"""

from __future__ import annotations

from orders.streams import StreamRecord, process_in_order
from shared.events import Envelope
from shared.observability import logger
from shared.publisher import EventPublisher, PublishError

publisher = EventPublisher()


def publish(records: list[StreamRecord]) -> int | None:
    """Publish the records' events in order; the index of the first one not published, or None."""
    seen: set[str] = set()
    pending: list[tuple[int, Envelope]] = []
    for index, record in enumerate(records):
        event = record.event
        if event is None or event.event_id in seen:
            continue
        seen.add(event.event_id)
        try:
            pending.append((index, event.envelope()))
        except Exception:
            logger.exception(
                "relay: stored event cannot be read", extra={"stream_id": event.stream_id, "version": event.version}
            )
            failed = _publish(pending)
            return index if failed is None else failed
    return _publish(pending)


def _publish(pending: list[tuple[int, Envelope]]) -> int | None:
    if not pending:
        return None
    try:
        publisher.publish(*(env for _, env in pending))
    except PublishError as exc:
        failed = {f.event_id for f in exc.failed}
        first = next(i for i, env in pending if env.metadata.event_id in failed)
        logger.warning(
            "relay: events not published; the stream retries from the first failure",
            extra={"failed": sorted(failed), "published": len(exc.published)},
        )
        return first
    except Exception:
        # Throttled or unreachable: some chunks may have gone out; retry all from the first
        # (consumers deduplicate on event_id).
        logger.exception("relay: PutEvents failed", extra={"events": len(pending)})
        return pending[0][0]
    logger.info("relay: events published", extra={"count": len(pending)})
    return None


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_in_order(event, publish, "relay")
