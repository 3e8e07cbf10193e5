"""Events stored with the change that caused them, so a retry publishes the same event ids.

A stock change and the events announcing it cannot be written in one operation (DynamoDB
and EventBridge). So the events are built first, stored with the change (same write), then
published, then the item's outbox is marked published. A crash between the write and the
mark leaves an unpublished outbox; whoever sees it next (the retry of the same message, or
the next operator request for that SKU) publishes the stored events: same event ids, so
consumers deduplicate them. An outbox is replaced by the next change of the same item: a
reservation released before its StockReserved went out is never announced as reserved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.events import Envelope, EventData, new_envelope, parse_detail

SOURCE = "inventory"


def build(
    events: Iterable[EventData], *, causation: Envelope | None = None, correlation_id: str | None = None
) -> list[Envelope]:
    return [new_envelope(data, source=SOURCE, causation=causation, correlation_id=correlation_id) for data in events]


def serialize(envelopes: Iterable[Envelope]) -> list[dict[str, str]]:
    """What the item stores: the detail as published, so event ids and times are kept."""
    return [{"detail_type": e.detail_type, "detail": e.detail_json()} for e in envelopes]


def deserialize(stored: Iterable[dict[str, Any]]) -> list[Envelope]:
    return [parse_detail(entry["detail_type"], entry["detail"], source=SOURCE) for entry in stored]


def pending(item: dict[str, Any] | None) -> list[Envelope]:
    """The stored events of an item not yet marked published (none for a published outbox)."""
    if not item or item.get("outbox_published", True) or not item.get("outbox"):
        return []
    return deserialize(item["outbox"])
