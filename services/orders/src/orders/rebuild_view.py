"""Rebuild the order views from the event store.

    python -m orders.rebuild_view --env dev [--region eu-west-1] [--order-id ord_...] [--dry-run]
    python -m orders.rebuild_view --events-table dev-orders-events --views-table dev-orders-views

Folds every order (snapshot + events, as the write side loads it) and writes its view when
the table holds the same or an older version, so a projection running at the same time is
never rolled back. Without arguments the tables come from TABLE_EVENTS / TABLE_VIEWS.
Prints one summary line; exits 1 if an order could not be rebuilt.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from orders import adapters
from orders.domain import Order
from shared.eventstore import SNAPSHOT_SUFFIX, EventStore, Repository


def order_ids(store: EventStore) -> Iterator[str]:
    """Every stream id in the events table (a keys-only scan; snapshot partitions excluded)."""
    request: dict[str, Any] = {"TableName": store.table_name, "ProjectionExpression": "stream_id, version"}
    seen: set[str] = set()
    while True:
        page = store._call("scan", **request)
        for item in page.get("Items", []):
            stream_id = item["stream_id"]["S"]
            if stream_id.endswith(SNAPSHOT_SUFFIX) or stream_id in seen:
                continue
            seen.add(stream_id)
            yield stream_id
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def rebuild(
    store: EventStore, views: adapters.ViewTable, only: list[str] | None = None, *, dry_run: bool = False
) -> Counter[str]:
    """Rebuild the views of `only` (default: every order); returns counts by outcome."""
    repo = Repository(store, Order)
    counts: Counter[str] = Counter()
    for order_id in only or order_ids(store):
        try:
            order = repo.load(order_id)
        except Exception as exc:  # report and go on with the others
            print(f"{order_id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            counts["failed"] += 1
            continue
        if dry_run:
            counts["would_write"] += 1
        elif views.put_if_newer(order, allow_equal=True):
            counts["written"] += 1
        else:
            counts["newer_in_view"] += 1
    return counts


def _tables(args: argparse.Namespace) -> tuple[str, str]:
    if args.env:
        from devtools.manifest import table_name  # the naming convention Terraform mirrors

        return table_name(args.env, "orders", "events"), table_name(args.env, "orders", "views")
    events = args.events_table or os.environ.get("TABLE_EVENTS")
    views = args.views_table or os.environ.get("TABLE_VIEWS")
    if not events or not views:
        raise SystemExit("give --env, or --events-table and --views-table (or TABLE_EVENTS and TABLE_VIEWS)")
    return events, views


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orders.rebuild_view", description=__doc__.splitlines()[0])
    parser.add_argument("--env", help="deployment environment: derives the table names (dev -> dev-orders-events)")
    parser.add_argument("--region", help="AWS region (default: the AWS profile's)")
    parser.add_argument("--events-table")
    parser.add_argument("--views-table")
    parser.add_argument("--order-id", action="append", help="rebuild only this order (repeatable)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    events_table, views_table = _tables(args)
    import boto3

    client = boto3.client("dynamodb", region_name=args.region) if args.region else boto3.client("dynamodb")
    store = EventStore(events_table, client, source=adapters.SOURCE)
    counts = rebuild(store, adapters.ViewTable(views_table, client), args.order_id, dry_run=args.dry_run)
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no orders"
    print(f"rebuilt views from {events_table} into {views_table}: {summary} ({store.total_calls} store calls)")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
