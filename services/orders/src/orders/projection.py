"""The order view (read model), a second consumer of the events table's stream.

Why the stream and not the bus: the stream carries each event's stream version (the range
key), in order per order id, and keeps the view fed even while publishing to the bus is
failing. A DynamoDB stream serves two Lambda consumers per shard well (AWS's guidance):
the relay and this projection. Event consumers of other services use the bus.

Each event is applied only if its version is the next one after the view's
(`stream_version`), with a conditional write (`attribute_not_exists OR stream_version < v`),
so duplicates and older records change nothing. A record that is more than one version
ahead (an earlier one missed, or the view lost) rebuilds that order's view from the store,
which is also what `python -m orders.rebuild_view` does for every order.
"""

from __future__ import annotations

from orders import adapters
from orders.domain import Order
from orders.streams import StreamRecord, process_in_order
from shared.eventstore import StoredEvent
from shared.observability import logger


def apply(event: StoredEvent, views: adapters.ViewTable | None = None) -> str:
    """Fold one stored event into its order's view; returns what happened (for logs and tests)."""
    views = views or adapters.ViewTable()
    order = views.get(event.stream_id)
    current = order.version if order is not None else 0
    if event.version <= current:
        return "duplicate"
    if event.version == current + 1:
        order = order or Order(event.stream_id)
        order.apply(event.payload())
        return "applied" if views.put_if_newer(order) else "superseded"
    # A gap: fold the order from the store (snapshot + events), which covers this event too.
    rebuilt = adapters.repository().load(event.stream_id)
    logger.info(
        "view behind the stream; rebuilt from the store",
        extra={"order_id": event.stream_id, "view_version": current, "store_version": rebuilt.version},
    )
    return "rebuilt" if views.put_if_newer(rebuilt) else "superseded"


def project(records: list[StreamRecord]) -> int | None:
    views = adapters.ViewTable()
    for index, record in enumerate(records):
        if record.event is None:
            continue
        try:
            outcome = apply(record.event, views)
        except Exception:
            logger.exception(
                "projection failed", extra={"order_id": record.event.stream_id, "version": record.event.version}
            )
            return index
        logger.debug("projected", extra={"order_id": record.event.stream_id, "outcome": outcome})
    return None


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_in_order(event, project, "projection")
