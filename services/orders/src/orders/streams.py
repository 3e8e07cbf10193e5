"""DynamoDB stream records of the events table, as Lambda delivers them (shared by the relay
and the projection)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from shared.eventstore import StoredEvent, event_from_item, is_snapshot_item
from shared.observability import logger


@dataclass(frozen=True)
class StreamRecord:
    sequence_number: str
    event: StoredEvent | None  # None: not an event (a snapshot, a removal)


class UnreadableRecord(ValueError):
    def __init__(self, index: int, sequence_number: str, reason: str) -> None:
        self.index, self.sequence_number = index, sequence_number
        super().__init__(f"stream record {sequence_number}: {reason}")


def read_records(records: Iterable[dict[str, Any]]) -> tuple[list[StreamRecord], UnreadableRecord | None]:
    """The records up to the first unreadable one, and that one's error (or None).

    Snapshots and removals become `event=None`."""
    out: list[StreamRecord] = []
    for index, record in enumerate(records):
        ddb = record.get("dynamodb") or {}
        sequence = str(ddb.get("SequenceNumber", ""))
        image = ddb.get("NewImage")
        if record.get("eventName") not in ("INSERT", "MODIFY") or not image or is_snapshot_item(image):
            out.append(StreamRecord(sequence, None))
            continue
        try:
            out.append(StreamRecord(sequence, event_from_item(image)))
        except (KeyError, ValueError, TypeError) as exc:
            return out, UnreadableRecord(index, sequence, f"{type(exc).__name__}: {exc}")
    return out, None


def process_in_order(
    event: dict[str, Any], handle: Callable[[list[StreamRecord]], int | None], name: str
) -> dict[str, Any]:
    """Hand the readable prefix of the batch to `handle`, which returns the index of the first
    record it could not process (or None). That record and every later one are reported in
    `batchItemFailures`: Lambda retries the shard from the lowest failed sequence number, so no
    record after a failure is skipped and the order per order id is kept."""
    raw = event.get("Records") or []
    records, unreadable = read_records(raw)
    first_failed = handle(records)
    if first_failed is None and unreadable is not None:
        logger.error(
            f"{name}: unreadable stream record",
            extra={"sequence_number": unreadable.sequence_number, "reason": str(unreadable)},
        )
        first_failed = unreadable.index
    if first_failed is None:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in raw[first_failed:]]}
