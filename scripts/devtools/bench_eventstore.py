"""`make bench-eventstore`: how fast events fold, and what a load costs with and without snapshots.

1. Fold: 10,000 events into Order aggregates (2,500 orders x placed, paid, shipped, delivered):
   pure `Order.apply` on payload models (events/s), and the same from stored items
   (JSON -> model -> apply), which is what a load pays.
2. Load: one 10,000-event stream in DynamoDB (moto, in process) with a snapshot every 100
   events, and the same stream without snapshots: DynamoDB calls per load and time per load,
   side by side, measured in the same run (this machine is shared: compare the ratios).

The streams are written with BatchWriteItem in the store's item layout (seeding 10,000
events through conditional transactions is what `append` is for, not what is measured).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "services" / "orders" / "src"))

EVENTS = 10_000
SNAPSHOT_EVERY = 100


def _order_events(order_id: str, at: datetime) -> list[Any]:
    from orders.domain import Order, RequestedLine, price_lines

    from shared.events.commerce import Address, Customer
    from shared.money import Money

    class Listings:
        def unit_prices(self, skus, region):
            return {"MUG-01": Money.of("12.50", "EUR"), "TEE-02": Money.of("19.99", "EUR")}

    lines = price_lines([RequestedLine("MUG-01", 2), RequestedLine("TEE-02", 1)], "EUR", "eu-west-1", Listings(), None)
    order = Order.place(
        order_id,
        customer=Customer(
            customer_id="c-1",
            email="erika@example.de",
            name="Erika Mustermann",
            locale="de-DE",
            time_zone="Europe/Berlin",
            region="eu-central-1",
        ),
        currency="EUR",
        lines=lines,
        shipping_address=Address(
            name="Erika Mustermann", line1="Heidestr. 17", city="Köln", postal_code="51147", country="DE"
        ),
        payment_method_id="pm_abcdefgh12",
        now=at,
    )
    order.payment_succeeded("pay_0000abcd", Money.of("44.99", "EUR"), now=at)
    order.shipment_dispatched("shp_0000abcd", "DHL", "JJD0001", at)
    order.shipment_delivered("shp_0000abcd", at)
    return list(order.pending)


def bench_fold(repeat: int) -> dict[str, float]:
    from orders.domain import Order

    from shared.eventstore import StoredEvent

    at = datetime(2026, 11, 27, 9, tzinfo=UTC)
    template = _order_events("ord_bench0000", at)  # 4 events per order
    orders = EVENTS // len(template)
    stored = [
        StoredEvent("ord_bench0000", i, f"e{i}", e.detail_type, e.version, "orders", at, {}, e.model_dump(mode="json"))
        for i, e in enumerate(template, start=1)
    ]
    pure, decoded = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        for n in range(orders):
            order = Order(f"ord_bench{n:08d}")
            for event in template:
                order.apply(event)
        pure.append(time.perf_counter() - start)
        start = time.perf_counter()
        for n in range(orders):
            Order.replay(f"ord_bench{n:08d}", None, stored)
        decoded.append(time.perf_counter() - start)
    assert order.status == "Delivered"
    return {"pure": statistics.median(pure), "decoded": statistics.median(decoded), "events": orders * len(template)}


def _ledger_type():
    from decimal import Decimal

    from shared.eventstore import Aggregate

    class LedgerAggregate(Aggregate):
        snapshot_schema = 1

        def __init__(self, stream_id: str) -> None:
            super().__init__(stream_id)
            self.counts: dict[str, int] = {}
            self.total = Decimal(0)

        def apply(self, event) -> None:
            self.counts[event.detail_type] = self.counts.get(event.detail_type, 0) + 1
            if event.detail_type == "OrderPlaced":
                self.total += event.total.amount
            self.version += 1

        def to_snapshot(self) -> dict[str, Any]:
            return {"counts": self.counts, "total": str(self.total)}

        @classmethod
        def from_snapshot(cls, stream_id, state, version):
            agg = cls(stream_id)
            agg.counts, agg.total, agg.version = dict(state["counts"]), Decimal(state["total"]), version
            return agg

    return LedgerAggregate


def _seed(client: Any, table: str, stream_id: str, snapshots: bool) -> None:
    from shared.events import new_envelope
    from shared.eventstore import _event_item, _snapshot_item

    ledger = _ledger_type()(stream_id)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    events = []
    while len(events) < EVENTS:
        events.extend(_order_events(f"ord_seed{len(events):08d}", t0))
    items = []
    for version, data in enumerate(events[:EVENTS], start=1):
        envelope = new_envelope(data, source="orders", region="eu-west-1")
        at = t0 + timedelta(seconds=version)
        envelope = envelope.model_copy(update={"metadata": envelope.metadata.model_copy(update={"occurred_at": at})})
        items.append(_event_item(stream_id, version, envelope))
        ledger.apply(data)
        if snapshots and version % SNAPSHOT_EVERY == 0:
            items.append(_snapshot_item(stream_id, version, at, ledger.snapshot()))
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def bench_load(repeat: int) -> dict[str, dict[str, float]]:
    import boto3
    from moto import mock_aws

    from shared.eventstore import EventStore, Repository

    for key, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }.items():
        os.environ.setdefault(key, value)
    results: dict[str, dict[str, float]] = {}
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="bench-events",
            KeySchema=[
                {"AttributeName": "stream_id", "KeyType": "HASH"},
                {"AttributeName": "version", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "stream_id", "AttributeType": "S"},
                {"AttributeName": "version", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        start = time.perf_counter()
        _seed(client, "bench-events", "ord_withsnapshots", snapshots=True)
        _seed(client, "bench-events", "ord_nosnapshots0", snapshots=False)
        print(f"seeded 2 x {EVENTS:,} events in {time.perf_counter() - start:.1f} s (moto, BatchWriteItem)")
        ledger = _ledger_type()
        for label, stream in (("with snapshots", "ord_withsnapshots"), ("without", "ord_nosnapshots0")):
            store = EventStore("bench-events", client, snapshot_every=SNAPSHOT_EVERY)
            repo = Repository(store, ledger)
            times, calls = [], []
            for _ in range(repeat):
                store.calls.clear()
                begin = time.perf_counter()
                agg = repo.load(stream)
                times.append(time.perf_counter() - begin)
                calls.append(store.total_calls)
            assert agg.version == EVENTS, agg.version
            results[label] = {"calls": statistics.median(calls), "seconds": statistics.median(times)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_eventstore", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    args = parser.parse_args(argv)

    fold = bench_fold(args.repeat)
    n = fold["events"]
    print(f"fold {n:,} events into Order aggregates ({n // 4:,} orders x 4 events), median of {args.repeat}:")
    print(
        f"  pure fold (Order.apply on models)      {n / fold['pure']:>12,.0f} events/s   {fold['pure'] * 1000:8.1f} ms"
    )
    print(
        f"  from stored items (JSON -> model -> apply) {n / fold['decoded']:>8,.0f} events/s"
        f"   {fold['decoded'] * 1000:8.1f} ms"
    )

    load = bench_load(args.repeat)
    w, wo = load["with snapshots"], load["without"]
    print(
        f"load a {EVENTS:,}-event stream from DynamoDB (moto), snapshot every {SNAPSHOT_EVERY},"
        f" median of {args.repeat}:"
    )
    print(f"  {'':16}{'with snapshot':>16}{'without':>14}{'ratio':>10}")
    print(f"  {'DynamoDB calls':16}{w['calls']:>16.0f}{wo['calls']:>14.0f}{wo['calls'] / w['calls']:>9.1f}x")
    print(
        f"  {'time per load':16}{w['seconds'] * 1000:>13.1f} ms{wo['seconds'] * 1000:>11.1f} ms"
        f"{wo['seconds'] / w['seconds']:>9.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
