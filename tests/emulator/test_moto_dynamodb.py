"""moto's DynamoDB with the project's patch (devtools.local.moto_dynamodb): flat memory, atomic
transactions under per-table locks, and the stream records DynamoDB writes.

Each test drives boto3 against in-process moto with `apply_patches()`, as the test kit and the
local runtime do. On moto 5.2.5 with the previous patch (one global lock), the memory test
fails at its first check (every transaction deep-copies the table and moto tracks each copy
forever), the cancelled-transaction test fails on the stream (a reader keeps the detached
table's shard and sees the cancelled writes), and the lock test fails because table B waits
for a transaction on table A. Without any patch the concurrency test oversells.
"""

from __future__ import annotations

import gc
import resource
import sys
import threading
import time
import tracemalloc

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devtools.local.motoserver import apply_patches

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com/"  # moto serves Streams only here


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    apply_patches()
    with mock_aws():
        yield


def _ddb():
    return boto3.client("dynamodb", region_name=REGION)


def _streams():
    return boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=STREAMS_ENDPOINT)


def _table(ddb, name: str, *, range_key: str | None = None, stream: str | None = None) -> str | None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        attributes.append({"AttributeName": range_key, "AttributeType": "N"})
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": stream}} if stream else {}
    table = ddb.create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST", **extra
    )["TableDescription"]
    return table.get("LatestStreamArn")


def _iterator(streams, arn: str, kind: str = "LATEST") -> str:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"]


def _records(streams, iterator: str) -> list[dict]:
    """What a reader holding `iterator` gets: eventName, keys, images and sequence number."""
    out = []
    for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
        change = record["dynamodb"]
        out.append(
            {
                "event": record["eventName"],
                "keys": change["Keys"],
                "old": change.get("OldImage"),
                "new": change.get("NewImage"),
                "seq": int(change["SequenceNumber"]),
            }
        )
    return out


def _tracked() -> int:
    """moto model instances its DynamoDB and DynamoDB Streams classes keep (moto's instances_tracked)."""
    from moto.core.model_instances import model_data

    return sum(len(cls.instances_tracked) for s in ("dynamodb", "dynamodbstreams") for cls in model_data[s].values())


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _s(value: str) -> dict:
    return {"S": value}


def _n(value: int) -> dict:
    return {"N": str(value)}


# ------------------------------------------------------------------------------------- (a)

WARMUP, TRANSACTIONS, CHECK_EVERY = 100, 3000, 100
TIMED, TRACED = 500, 300  # transactions timed at each end, traced near each end


@pytest.mark.slow
def test_thousands_of_transactions_on_a_streamed_table_keep_memory_and_time_flat(aws):
    """Like the event store and inventory: single-item transactions, half new items, half updates of one item."""
    ddb = _ddb()
    _table(ddb, "events", range_key="version", stream="NEW_IMAGE")
    ddb.put_item(TableName="events", Item={"pk": _s("counter"), "version": _n(0), "n": _n(0)})

    def transaction(i: int) -> None:
        if i % 2:
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": "events",
                            "Key": {"pk": _s("counter"), "version": _n(0)},
                            "UpdateExpression": "ADD n :one",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":one": _n(1)},
                        }
                    }
                ]
            )
        else:
            item = {"pk": _s(f"ord_{i:08d}"), "version": _n(1), "type": _s("OrderPlaced"), "data": _s("x" * 200)}
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "events", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
                ]
            )

    for i in range(WARMUP):
        transaction(i)
    gc.collect()
    start_tracked, start_rss = _tracked(), _peak_rss()
    tracked, cpu, retained = [start_tracked], [], []
    # tracemalloc costs ~6x per call: it runs in two windows, after the first and before the last
    # timed transactions, and counts what each window's transactions leave allocated.
    windows = [(TIMED, TIMED + TRACED), (TRANSACTIONS - TIMED - TRACED, TRANSACTIONS - TIMED)]
    try:
        for done in range(TRANSACTIONS):
            if any(done == first for first, _ in windows):
                tracemalloc.start()
            began = time.thread_time()
            transaction(WARMUP + done)
            cpu.append(time.thread_time() - began)
            if any(done + 1 == last for _, last in windows):
                gc.collect()
                retained.append(tracemalloc.get_traced_memory()[0])
                tracemalloc.stop()
            if (done + 1) % CHECK_EVERY == 0:
                gc.collect()
                tracked.append(_tracked())
                # Each transaction leaves at most one new item and one stream record alive.
                assert tracked[-1] - start_tracked <= 2 * (done + 1) + 10, (
                    f"after {done + 1} transactions moto keeps {tracked[-1] - start_tracked} more objects"
                )
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()

    thirds = len(tracked) // 3  # checkpoints per third
    first_tracked, last_tracked = tracked[thirds] - tracked[0], tracked[-1] - tracked[-1 - thirds]
    assert last_tracked <= 1.2 * first_tracked + 10, f"objects kept: first third {first_tracked}, last {last_tracked}"
    first_bytes, last_bytes = retained
    assert last_bytes <= 1.5 * first_bytes + 256 * 1024, (
        f"{TRACED} transactions kept {first_bytes} B, then {last_bytes} B"
    )
    assert _peak_rss() - start_rss < 64 * 2**20, f"peak RSS grew by {(_peak_rss() - start_rss) / 2**20:.0f} MiB"
    first_cpu, last_cpu = sum(cpu[:TIMED]), sum(cpu[-TIMED:])
    assert last_cpu <= 2.0 * first_cpu, (
        f"{TIMED} transactions took {first_cpu:.2f} s of CPU first, {last_cpu:.2f} s last"
    )
    assert ddb.describe_table(TableName="events")["Table"]["ItemCount"] == 1 + (WARMUP + TRANSACTIONS) // 2


def test_idle_stream_polling_keeps_no_iterator_per_call(aws):
    """moto stored a new shard iterator (random id) on every GetRecords, for ever: 1.6 KB per poll."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    ddb, streams = _ddb(), _streams()
    arn = _table(ddb, "events", stream="NEW_IMAGE")
    iterator = _iterator(streams, arn, "TRIM_HORIZON")
    ddb.put_item(TableName="events", Item={"pk": _s("a")})
    before = _tracked()
    seen = []
    for _ in range(300):  # a poller four times a second for 75 s, as the local runtime's
        response = streams.get_records(ShardIterator=iterator, Limit=100)
        seen += response["Records"]
        iterator = response["NextShardIterator"]
    assert [r["dynamodb"]["Keys"] for r in seen] == [{"pk": _s("a")}]
    assert len(dynamodbstreams_backends[ACCOUNT][REGION].shard_iterators) <= 3
    assert _tracked() - before <= 2


# ------------------------------------------------------------------------------------- (b)


def _state(ddb, streams, arns: dict[str, str]) -> dict:
    return {
        name: {
            "items": ddb.scan(TableName=name)["Items"],
            "count": ddb.describe_table(TableName=name)["Table"]["ItemCount"],
            "stream": _records(streams, _iterator(streams, arn, "TRIM_HORIZON")),
        }
        for name, arn in arns.items()
    }


def test_a_cancelled_transaction_leaves_items_and_streams_exactly_as_before(aws):
    ddb, streams = _ddb(), _streams()
    arns = {
        "orders": _table(ddb, "orders", stream="NEW_AND_OLD_IMAGES"),
        "ledger": _table(ddb, "ledger", range_key="seq", stream="NEW_IMAGE"),
    }
    for pk in ("a", "b", "d"):
        ddb.put_item(TableName="orders", Item={"pk": _s(pk), "n": _n(1)})
    ddb.put_item(TableName="ledger", Item={"pk": _s("x"), "seq": _n(1), "amount": _n(5)})
    before = _state(ddb, streams, arns)
    readers = {name: _iterator(streams, arn) for name, arn in arns.items()}  # positioned after every record

    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "orders",
                        "Key": {"pk": _s("a")},
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": _n(1)},
                    }
                },
                {  # b exists: the 2nd item fails its condition
                    "Put": {
                        "TableName": "orders",
                        "Item": {"pk": _s("b"), "n": _n(9)},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Delete": {"TableName": "orders", "Key": {"pk": _s("d")}}},
                {"Put": {"TableName": "ledger", "Item": {"pk": _s("x"), "seq": _n(2), "amount": _n(7)}}},
                {
                    "Update": {
                        "TableName": "ledger",
                        "Key": {"pk": _s("y"), "seq": _n(1)},
                        "UpdateExpression": "SET amount = :a",
                        "ExpressionAttributeValues": {":a": _n(3)},
                    }
                },
            ]
        )
    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == [
        "None",
        "ConditionalCheckFailed",
        "None",
        "None",
        "None",
    ]

    assert _state(ddb, streams, arns) == before
    assert {name: _records(streams, it) for name, it in readers.items()} == {"orders": [], "ledger": []}
    assert ddb.get_item(TableName="orders", Key={"pk": _s("a")})["Item"]["n"] == _n(1)


def test_a_transaction_writes_one_stream_record_per_changed_item_and_readers_keep_up(aws):
    ddb, streams = _ddb(), _streams()
    arns = {
        "orders": _table(ddb, "orders", stream="NEW_AND_OLD_IMAGES"),
        "ledger": _table(ddb, "ledger", range_key="seq", stream="NEW_IMAGE"),
    }
    for pk in ("a", "b", "d"):
        ddb.put_item(TableName="orders", Item={"pk": _s(pk), "n": _n(1)})
    last = {name: _records(streams, _iterator(streams, arn, "TRIM_HORIZON")) for name, arn in arns.items()}
    last_seq = {name: (records[-1]["seq"] if records else None) for name, records in last.items()}
    readers = {name: _iterator(streams, arn) for name, arn in arns.items()}
    # A cancelled transaction first: a reader must still see what comes after it.
    with pytest.raises(ClientError):
        ddb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": "orders", "Key": {"pk": _s("a")}}},
                {
                    "ConditionCheck": {
                        "TableName": "orders",
                        "Key": {"pk": _s("zz")},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )

    ddb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "orders",
                    "Key": {"pk": _s("a")},
                    "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": _n(1)},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "orders",
                    "Key": {"pk": _s("b")},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {"Delete": {"TableName": "orders", "Key": {"pk": _s("d")}}},
            {"Put": {"TableName": "ledger", "Item": {"pk": _s("x"), "seq": _n(1), "amount": _n(7)}}},
            {  # creates the item: one INSERT (moto wrote two: the keys, then the item)
                "Update": {
                    "TableName": "ledger",
                    "Key": {"pk": _s("y"), "seq": _n(1)},
                    "UpdateExpression": "SET amount = :a",
                    "ExpressionAttributeValues": {":a": _n(3)},
                }
            },
        ]
    )
    orders = _records(streams, readers["orders"])
    assert [(r["event"], r["keys"], r["old"], r["new"]) for r in orders] == [
        ("MODIFY", {"pk": _s("a")}, {"pk": _s("a"), "n": _n(1)}, {"pk": _s("a"), "n": _n(2)}),
        ("REMOVE", {"pk": _s("d")}, {"pk": _s("d"), "n": _n(1)}, None),
    ]
    assert [r["seq"] for r in orders] == [last_seq["orders"] + 1, last_seq["orders"] + 2]
    ledger = _records(streams, readers["ledger"])
    assert [(r["event"], r["keys"], r["new"]) for r in ledger] == [
        ("INSERT", {"pk": _s("x"), "seq": _n(1)}, {"pk": _s("x"), "seq": _n(1), "amount": _n(7)}),
        ("INSERT", {"pk": _s("y"), "seq": _n(1)}, {"pk": _s("y"), "seq": _n(1), "amount": _n(3)}),
    ]

    # "If you perform a PutItem or UpdateItem operation that does not change any data in an item,
    # DynamoDB Streams does not write a stream record for that operation." (DynamoDB Streams docs)
    after = _iterator(streams, arns["ledger"])
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": "ledger", "Item": {"pk": _s("x"), "seq": _n(1), "amount": _n(7)}}}]
    )
    assert _records(streams, after) == []


# ------------------------------------------------------------------------------------- (c)

BUYERS, UNITS = 50, 10


@pytest.mark.parametrize("round_", range(3))
def test_fifty_threads_reserving_ten_units_succeed_exactly_ten_times(aws, round_):
    ddb = _ddb()
    _table(ddb, "stock")
    _table(ddb, "reservations")
    ddb.put_item(TableName="stock", Item={"pk": _s("MUG-1"), "available": _n(UNITS), "reserved": _n(0)})
    start = threading.Barrier(BUYERS)
    outcomes: list[str] = []

    def reserve(order: int) -> None:
        start.wait()
        try:
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": "stock",
                            "Key": {"pk": _s("MUG-1")},
                            "UpdateExpression": "SET available = available - :q, reserved = reserved + :q",
                            "ConditionExpression": "available >= :q",
                            "ExpressionAttributeValues": {":q": _n(1)},
                        }
                    },
                    {
                        "Put": {
                            "TableName": "reservations",
                            "Item": {"pk": _s(f"ord_{order:04d}"), "sku": _s("MUG-1")},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
            outcomes.append("reserved")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(BUYERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["TransactionCanceledException"] * (BUYERS - UNITS) + ["reserved"] * UNITS
    stock = ddb.get_item(TableName="stock", Key={"pk": _s("MUG-1")})["Item"]
    assert (stock["available"], stock["reserved"]) == (_n(0), _n(UNITS))
    assert ddb.scan(TableName="reservations", Select="COUNT")["Count"] == UNITS


def test_transactions_taking_the_same_tables_in_any_order_do_not_deadlock(aws):
    ddb = _ddb()
    for name in ("A", "B"):
        _table(ddb, name)
        ddb.put_item(TableName=name, Item={"pk": _s("k"), "n": _n(0)})

    def add(first: str, second: str) -> None:
        for _ in range(20):
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": name,
                            "Key": {"pk": _s("k")},
                            "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": _n(1)},
                        }
                    }
                    for name in (first, second)
                ]
            )

    threads = [threading.Thread(target=add, args=("A", "B") if i % 2 else ("B", "A"), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "deadlock"
    for name in ("A", "B"):
        assert ddb.get_item(TableName=name, Key={"pk": _s("k")})["Item"]["n"] == _n(8 * 20)


# ------------------------------------------------------------------------------------- (d)


def test_table_b_is_served_while_a_transaction_holds_table_a(aws, monkeypatch):
    from moto.dynamodb.models.table import Table

    ddb = _ddb()
    _table(ddb, "A")
    _table(ddb, "B", range_key="v")
    ddb.put_item(TableName="A", Item={"pk": _s("x"), "n": _n(1)})
    ddb.put_item(TableName="B", Item={"pk": _s("y"), "v": _n(1)})

    entered, release = threading.Event(), threading.Event()
    get_item = Table.get_item

    def held_get_item(self, *args, **kwargs):  # the transaction on A stops here, holding A
        if self.name == "A" and threading.current_thread().name == "transaction-on-A":
            entered.set()
            release.wait(30)
        return get_item(self, *args, **kwargs)

    monkeypatch.setattr(Table, "get_item", held_get_item)
    results: dict[str, object] = {}

    def transaction_on_a() -> None:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "A",
                        "Key": {"pk": _s("x")},
                        "UpdateExpression": "SET n = :two",
                        "ConditionExpression": "n = :one",
                        "ExpressionAttributeValues": {":one": _n(1), ":two": _n(2)},
                    }
                }
            ]
        )
        results["transaction"] = "committed"

    def read_a() -> None:
        results["A"] = ddb.get_item(TableName="A", Key={"pk": _s("x")})["Item"]["n"]

    def use_b() -> None:
        ddb.put_item(TableName="B", Item={"pk": _s("y"), "v": _n(2)})
        ddb.update_item(
            TableName="B",
            Key={"pk": _s("y"), "v": _n(1)},
            UpdateExpression="SET m = :m",
            ExpressionAttributeValues={":m": _n(1)},
        )
        ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": "B", "Key": {"pk": _s("y"), "v": _n(2)}}}])
        results["B"] = (
            ddb.get_item(TableName="B", Key={"pk": _s("y"), "v": _n(1)})["Item"],
            ddb.query(TableName="B", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": _s("y")})[
                "Count"
            ],
            ddb.scan(TableName="B")["Count"],
        )

    transaction = threading.Thread(target=transaction_on_a, name="transaction-on-A", daemon=True)
    reader, other = threading.Thread(target=read_a, daemon=True), threading.Thread(target=use_b, daemon=True)
    try:
        transaction.start()
        assert entered.wait(10), "the transaction on A never started"
        reader.start()
        other.start()
        other.join(timeout=10)
        assert not other.is_alive(), "table B waited for the transaction on table A"
        assert results["B"] == ({"pk": _s("y"), "v": _n(1), "m": _n(1)}, 1, 1)
        reader.join(timeout=0.5)
        assert reader.is_alive(), "a read of A did not wait for the transaction holding A"
    finally:
        release.set()
    transaction.join(timeout=10)
    reader.join(timeout=10)
    assert results["transaction"] == "committed"
    assert results["A"] == _n(2)  # the read waited and saw the committed write
