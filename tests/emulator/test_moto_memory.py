"""moto frees what it drops (devtools.local.moto_memory): an EventBridge -> SQS -> receive -> delete
cycle, the path every consumer of the local runtime takes, leaves nothing behind.

On moto 5.2.5 without the patch each cycle kept three SQS Message objects (the message and the
copy ReceiveMessage hands out, via `instances_tracked`) with their bodies, plus the receipt
handle: the memory check fails at about 3 bodies a cycle.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc

import boto3
import pytest
from moto import mock_aws

from devtools.local import moto_memory
from devtools.local.motoserver import apply_patches

REGION = "eu-west-1"
BODY = 4096  # bytes of detail per event: large enough that a kept body shows


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


def _wired():
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="consumer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name="bus")
    events.put_rule(Name="rule", EventBusName="bus", EventPattern=json.dumps({"source": ["producer"]}))
    events.put_targets(Rule="rule", EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}])

    def cycle(n: int) -> None:
        for i in range(n):
            detail = json.dumps({"i": i, "pad": "x" * BODY})
            events.put_events(
                Entries=[{"EventBusName": "bus", "Source": "producer", "DetailType": "T", "Detail": detail}]
            )
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return url, cycle


def test_an_event_delivered_received_and_deleted_leaves_nothing_behind(aws, monkeypatch):
    from moto.sqs.models import Message, sqs_backends

    monkeypatch.setattr(moto_memory, "DELETED_HANDLES_KEPT", 50)
    _, cycle = _wired()
    queue = sqs_backends["123456789012"][REGION].queues["consumer"]
    cycle(60)  # warm-up: caches, the handle set full
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cycle(150)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(list(Message.instances_tracked)) == 0  # every message deleted: none kept alive
    assert len(queue.deleted_messages) == 50
    assert "a-handle-deleted-long-ago" not in queue.deleted_messages
    # One kept body would be 4 KB a cycle; what stays is well under one.
    assert grown / 150 < BODY / 4, f"{grown / 150:.0f} bytes kept per cycle"


def test_a_repeated_delete_of_a_recent_handle_still_succeeds(aws):
    url, _ = _wired()
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=url, MessageBody="once")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)  # SQS answers a repeated delete with success


def test_shard_iterators_expire_after_15_minutes(aws, monkeypatch):
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    ddb = boto3.client("dynamodb", region_name=REGION)
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com/"
    )
    arn = ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    for i in range(20):  # one iterator per position
        ddb.put_item(TableName="t", Item={"pk": {"S": str(i)}})
        iterator = {"ShardIterator": streams.get_records(ShardIterator=iterator["ShardIterator"])["NextShardIterator"]}
    backend = dynamodbstreams_backends["123456789012"][REGION]
    assert len(backend.shard_iterators) >= 20
    monkeypatch.setattr(moto_memory, "SHARD_ITERATOR_SECONDS", 0.2)
    time.sleep(0.3)
    backend._next_expiry = 0  # sweeps at most once a minute: now
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    assert len(backend.shard_iterators) == 1  # the old ones expired, the new one works
    ddb.put_item(TableName="t", Item={"pk": {"S": "new"}})
    assert [r["dynamodb"]["Keys"] for r in streams.get_records(ShardIterator=latest)["Records"]] == [
        {"pk": {"S": "new"}}
    ]


def test_the_bus_archive_keeps_every_event_compactly_and_gives_them_back(aws):
    from moto.events.models import events_backends

    events = boto3.client("events", region_name=REGION)
    events.create_event_bus(Name="bus")
    events.create_archive(
        ArchiveName="all", EventSourceArn=f"arn:aws:events:{REGION}:123456789012:event-bus/bus", RetentionDays=30
    )
    for i in range(3):
        detail = json.dumps({"metadata": {"event_id": f"e{i}"}, "data": {"n": i}})
        events.put_events(Entries=[{"EventBusName": "bus", "Source": "producer", "DetailType": "T", "Detail": detail}])
    archive = events_backends["123456789012"][REGION].archives["all"]
    assert isinstance(archive.events, moto_memory.CompactEvents) and all(
        isinstance(t, str) for t in list.__iter__(archive.events)
    )
    assert [e["detail"]["data"]["n"] for e in archive.events] == [0, 1, 2]
    assert archive.events[-1]["source"] == "producer"
    assert events.describe_archive(ArchiveName="all")["EventCount"] == 3
