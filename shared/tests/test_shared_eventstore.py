"""The DynamoDB event store on moto: conditional appends, snapshots, as_of, history, the fold."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import boto3
import pytest
from moto import mock_aws

from shared.events import new_envelope
from shared.events.base import EventData
from shared.events.orders import OrderCancelled
from shared.eventstore import (
    SNAPSHOT_SUFFIX,
    Aggregate,
    ConcurrencyError,
    EventStore,
    Repository,
    StreamNotFoundError,
    event_from_item,
    is_snapshot_item,
    retry_on_conflict,
)

TABLE = "test-orders-events"
STREAM = "ord_abcdef12"


class Counted(Aggregate):
    """A tiny aggregate: counts cancellations and remembers their reasons (any event type works)."""

    snapshot_schema: ClassVar[int] = 1

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.reasons: list[str] = []

    def on_OrderCancelled(self, event: OrderCancelled) -> None:
        self.reasons.append(event.reason)

    def to_snapshot(self) -> dict[str, Any]:
        return {"reasons": self.reasons}

    @classmethod
    def from_snapshot(cls, stream_id: str, state: dict[str, Any], version: int) -> Counted:
        agg = cls(stream_id)
        agg.reasons, agg.version = list(state["reasons"]), version
        return agg


def event(reason: str) -> OrderCancelled:
    return OrderCancelled(order_id=STREAM, reason=reason, cancelled_by="system")


def env(reason: str, at: datetime | None = None):
    envelope = new_envelope(event(reason), source="orders", region="eu-west-1")
    if at is not None:  # pin occurred_at for temporal queries
        envelope = envelope.model_copy(update={"metadata": envelope.metadata.model_copy(update={"occurred_at": at})})
    return envelope


@pytest.fixture
def ddb(aws_env):
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "stream_id", "KeyType": "HASH"},
                {"AttributeName": "version", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "stream_id", "AttributeType": "S"},
                {"AttributeName": "version", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        yield client


def append_many(store: EventStore, n: int, *, start: int = 0, chunk: int = 50, snapshots: bool = True) -> Counted:
    agg = Counted(STREAM) if start == 0 else Repository(store, Counted).load(STREAM)
    version = start
    while version < start + n:
        size = min(chunk, start + n - version)
        for i in range(size):
            agg.record(event(f"r{version + i + 1}"))
        store.append(STREAM, version, [env(e.reason) for e in agg.pending], agg.snapshot if snapshots else None)
        agg.pending.clear()
        version += size
    return agg


def test_append_assigns_versions_and_history_returns_them_in_order(ddb):
    store = EventStore(TABLE, ddb)
    assert store.append(STREAM, 0, [env("a"), env("b")]) == 2
    assert store.append(STREAM, 2, [env("c")]) == 3
    history = store.history(STREAM)
    assert [(e.version, e.data["reason"]) for e in history] == [(1, "a"), (2, "b"), (3, "c")]
    assert [e.detail_type for e in history] == ["OrderCancelled"] * 3
    assert store.history("ord_unknown1") == []
    assert store.current_version(STREAM) == 3


def test_a_second_writer_from_the_same_version_gets_a_concurrency_error_and_nothing_is_written(ddb):
    store = EventStore(TABLE, ddb)
    store.append(STREAM, 0, [env("first")])
    # Two writers loaded version 1; the first appends, the second must fail as a whole.
    store.append(STREAM, 1, [env("writer A")])
    with pytest.raises(ConcurrencyError) as caught:
        store.append(STREAM, 1, [env("writer B"), env("writer B again")])
    assert caught.value.expected_version == 1
    assert [e.data["reason"] for e in store.history(STREAM)] == ["first", "writer A"]


def test_an_append_past_the_end_of_the_stream_is_refused_so_no_gap_can_appear(ddb):
    store = EventStore(TABLE, ddb)
    store.append(STREAM, 0, [env("a")])
    with pytest.raises(ConcurrencyError):
        store.append(STREAM, 5, [env("from the future")])
    assert store.current_version(STREAM) == 1


def test_retry_on_conflict_reloads_and_decides_again(ddb):
    store = EventStore(TABLE, ddb, source="orders")
    repo = Repository(store, Counted)
    store.append(STREAM, 0, [env("placed")])
    interfering = {"done": False}

    @retry_on_conflict(attempts=3)
    def cancel(reason: str) -> Counted:
        agg = repo.load(STREAM)
        if not interfering["done"]:  # someone else appends between our load and our append
            interfering["done"] = True
            store.append(STREAM, agg.version, [env("concurrent")])
        agg.record(event(reason))
        repo.save(agg)
        return agg

    result = cancel("mine")
    assert result.version == 3
    assert [e.data["reason"] for e in store.history(STREAM)] == ["placed", "concurrent", "mine"]


@pytest.mark.parametrize("length", [45, 95])
def test_with_snapshots_a_load_costs_two_queries_whatever_the_stream_length(ddb, length):
    # Pages of 10 items stand in for DynamoDB's 1 MB pages (the bench uses the real ones).
    store = EventStore(TABLE, ddb, snapshot_every=10, page_size=10)
    append_many(store, length, chunk=5)
    store.calls.clear()
    snapshot, events = store.load(STREAM)
    assert snapshot is not None and snapshot.version == length // 10 * 10
    assert [e.version for e in events] == list(range(snapshot.version + 1, length + 1))
    assert store.calls == {"query": 2}  # the newest snapshot + one page of events after it

    agg = Repository(store, Counted).load(STREAM)
    assert agg.reasons == [f"r{i}" for i in range(1, length + 1)] and agg.version == length

    # The same stream read without its snapshots pages through everything.
    store.calls.clear()
    assert len(store.history(STREAM)) == length
    assert store.calls["query"] == length // 10 + 1


def test_without_snapshots_a_load_pages_through_the_whole_stream(ddb):
    store = EventStore(TABLE, ddb, snapshot_every=10, page_size=10)
    append_many(store, 45, chunk=15, snapshots=False)
    store.calls.clear()
    snapshot, events = store.load(STREAM)
    assert snapshot is None and len(events) == 45
    assert store.calls == {"query": 1 + 5}  # snapshot lookup + ceil(45 / 10) pages


def test_snapshots_are_written_in_the_same_transaction_only_when_a_boundary_is_crossed(ddb):
    store = EventStore(TABLE, ddb, snapshot_every=3)
    produced: list[int] = []

    def state() -> dict:
        produced.append(1)
        return {"schema": 1, "state": {"reasons": []}}

    store.append(STREAM, 0, [env("a"), env("b")], state)  # 0 -> 2: no boundary
    assert produced == []
    store.append(STREAM, 2, [env("c"), env("d")], state)  # 2 -> 4 crosses 3
    assert produced == [1]
    snapshots = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="stream_id = :s",
        ExpressionAttributeValues={":s": {"S": STREAM + SNAPSHOT_SUFFIX}},
    )["Items"]
    assert [(s["version"]["N"], s["kind"]["S"]) for s in snapshots] == [("4", "snapshot")]
    # A failed append writes no snapshot either.
    with pytest.raises(ConcurrencyError):
        store.append(STREAM, 2, [env("late"), env("later"), env("latest")], state)
    assert store.load(STREAM)[0].version == 4


def test_as_of_replays_to_a_past_moment_ignoring_later_snapshots(ddb):
    store = EventStore(TABLE, ddb, snapshot_every=2)
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    agg = Counted(STREAM)
    for i in range(6):  # one event per hour; snapshots after versions 2, 4, 6
        agg.record(event(f"h{i}"))
        store.append(STREAM, i, [env(f"h{i}", t0 + timedelta(hours=i))], agg.snapshot)
        agg.pending.clear()
    repo = Repository(store, Counted)

    at = t0 + timedelta(hours=2, minutes=30)
    snapshot, events = store.load(STREAM, as_of=at)
    assert snapshot.version == 2  # the snapshots at 4 and 6 fold events after `at`
    assert [e.version for e in events] == [3]
    assert repo.load(STREAM, as_of=at).reasons == ["h0", "h1", "h2"]
    assert repo.load(STREAM, as_of="2026-11-01T12:00:00Z").reasons == ["h0"]
    assert repo.load(STREAM, as_of=t0 + timedelta(days=1)).reasons == [f"h{i}" for i in range(6)]
    with pytest.raises(StreamNotFoundError):
        repo.load(STREAM, as_of=t0 - timedelta(seconds=1))
    with pytest.raises(ValueError, match="offset"):
        store.load(STREAM, as_of="2026-11-01T12:00:00")  # naive: ambiguous


def test_an_outdated_snapshot_shape_is_ignored_and_the_history_folded(ddb):
    store = EventStore(TABLE, ddb, snapshot_every=2)
    store.append(STREAM, 0, [env("a"), env("b")], {"schema": 0, "state": {"old": "shape"}})
    store.append(STREAM, 2, [env("c")])
    agg = Repository(store, Counted).load(STREAM)
    assert agg.reasons == ["a", "b", "c"] and agg.version == 3


def test_stream_images_tell_events_from_snapshots_and_round_trip_the_envelope(ddb):
    store = EventStore(TABLE, ddb, snapshot_every=1)
    original = env("why")
    store.append(STREAM, 0, [original], {"schema": 1, "state": {"reasons": ["why"]}})
    # moto matches the streams endpoint only with a trailing slash
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.eu-west-1.amazonaws.com/")
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    images = [
        r["dynamodb"]["NewImage"] for r in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    ]
    kinds = sorted(is_snapshot_item(i) for i in images)
    assert kinds == [False, True]
    stored = event_from_item(next(i for i in images if not is_snapshot_item(i)))
    assert stored.event_id == original.metadata.event_id
    assert json.loads(stored.envelope().detail_json()) == json.loads(original.detail_json())
    with pytest.raises(ValueError, match="snapshot"):
        event_from_item(next(i for i in images if is_snapshot_item(i)))


def test_bare_event_data_needs_a_source_and_stream_ids_are_checked(ddb):
    with pytest.raises(ValueError, match="source"):
        EventStore(TABLE, ddb).append(STREAM, 0, [event("x")])
    assert EventStore(TABLE, ddb, source="orders").append(STREAM, 0, [event("x")]) == 1
    with pytest.raises(ValueError, match="#"):
        EventStore(TABLE, ddb).load("ord_x#snapshot")


def test_replay_refuses_a_gap_and_unknown_events():
    from shared.eventstore import EventStoreError, StoredEvent

    def stored(version: int) -> StoredEvent:
        return StoredEvent(
            STREAM,
            version,
            f"id{version}",
            "OrderCancelled",
            1,
            "orders",
            datetime.now(UTC),
            {},
            {"order_id": STREAM, "reason": "r", "cancelled_by": "system"},
        )

    with pytest.raises(EventStoreError, match="gap"):
        Counted.replay(STREAM, None, [stored(1), stored(3)])

    class Unknown(EventData):
        detail_type: ClassVar[str] = "NotHandled"

    with pytest.raises(TypeError, match="does not handle"):
        Counted(STREAM).apply(Unknown())
