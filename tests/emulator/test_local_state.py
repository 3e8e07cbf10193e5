"""The local runtime's snapshots of moto (devtools.local.state): what is saved comes back, in place.

In-process moto with the project's patches; the round trip is dump -> moto reset (what a new
process starts with) -> install. The end-to-end restart of a running runtime is
tests/e2e/test_e2e_restart.py.
"""

from __future__ import annotations

import gc
import json
import threading
import time

import boto3
import pytest
from moto import mock_aws

from devtools.local import state
from devtools.local.motoserver import apply_patches, ses_sent_messages

REGION = "eu-west-1"
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com/"


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


def _client(name: str):
    if name == "dynamodbstreams":
        return boto3.client(name, region_name=REGION, endpoint_url=STREAMS_ENDPOINT)
    return boto3.client(name, region_name=REGION)


def _reset_moto() -> None:
    from moto.core.base_backend import BackendDict

    BackendDict.reset()


def test_a_snapshot_brings_back_tables_streams_queues_in_flight_messages_objects_rules_and_mail(aws, tmp_path):
    ddb, sqs, s3, events, ses = (_client(n) for n in ("dynamodb", "sqs", "s3", "events", "ses"))
    stream_arn = ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    for i in range(3):
        ddb.put_item(TableName="orders", Item={"pk": {"S": f"o{i}"}, "n": {"N": str(i)}})
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    in_flight = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    s3.create_bucket(Bucket="files", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="files", Key="in/a.txt", Body=b"hello")
    events.create_event_bus(Name="bus")
    events.put_rule(Name="r", EventBusName="bus", EventPattern=json.dumps({"source": ["x"]}))
    ses.verify_email_identity(EmailAddress="no-reply@example.com")
    ses.send_email(
        Source="no-reply@example.com",
        Destination={"ToAddresses": ["c@customer.example"]},
        Message={"Subject": {"Data": "Danke"}, "Body": {"Text": {"Data": "Ihre Bestellung"}}},
    )

    path = tmp_path / "state" / state.SNAPSHOT_FILE
    size = state.write_snapshot(path, b"runtime", state.dump_moto())
    assert path.stat().st_size == size
    _reset_moto()
    assert ddb.list_tables()["TableNames"] == []

    runtime_part, moto_part = state.read_snapshot(path)
    assert runtime_part == b"runtime"
    state.install_moto(moto_part)
    assert state.release_in_flight(visible_within=0) == 1

    items = ddb.scan(TableName="orders", ConsistentRead=True)["Items"]
    assert sorted(i["pk"]["S"] for i in items) == ["o0", "o1", "o2"]
    streams = _client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    first = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=first["ShardIterator"])["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["o0", "o1", "o2"]
    # A reader resumes after the record it was done with, and sees what is written next.
    after = streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=shard,
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        SequenceNumber=records[1]["dynamodb"]["SequenceNumber"],
    )["ShardIterator"]
    ddb.put_item(TableName="orders", Item={"pk": {"S": "o3"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in streams.get_records(ShardIterator=after)["Records"]] == [
        "o2",
        "o3",
    ]
    # The message in flight is visible again (its receiver is gone), with its id and receive count.
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in got) == ["in flight", "waiting"]
    again = next(m for m in got if m["Body"] == "in flight")
    assert again["MessageId"] == in_flight["MessageId"] and again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert s3.get_object(Bucket="files", Key="in/a.txt")["Body"].read() == b"hello"
    assert events.describe_rule(Name="r", EventBusName="bus")["EventPattern"] == json.dumps({"source": ["x"]})
    assert [(m["to"], m["subject"]) for m in ses_sent_messages()] == [(["c@customer.example"], "Danke")]


def test_in_flight_messages_keep_their_visibility_timeout_without_retry_after(aws):
    sqs = _client("sqs")
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    sqs.receive_message(QueueUrl=url)
    data = state.dump_moto()
    _reset_moto()
    state.install_moto(data)
    assert state.release_in_flight(visible_within=None) == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # as SQS: after its 300 s


def test_a_truncated_or_foreign_file_is_refused_with_the_way_out(tmp_path):
    path = tmp_path / state.SNAPSHOT_FILE
    assert state.read_snapshot(path) is None
    state.write_snapshot(path, b"r" * 10, b"m" * 100)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"truncated.*--fresh"):
        state.read_snapshot(path)
    path.write_bytes(b"something else")
    with pytest.raises(ValueError, match="--fresh"):
        state.read_snapshot(path)


def test_the_gate_lets_requests_finish_and_holds_new_ones_during_a_snapshot():
    gate = state.Gate()
    order: list[str] = []
    started = threading.Event()

    def request(name: str, hold: float) -> None:
        with gate.shared():
            started.set()
            order.append(f"{name} start")
            time.sleep(hold)
            order.append(f"{name} end")

    slow = threading.Thread(target=request, args=("slow", 0.3))
    slow.start()
    started.wait()
    late = threading.Thread(target=lambda: (time.sleep(0.05), request("late", 0)))
    late.start()
    with gate.exclusive() as waited:
        order.append("snapshot")
        time.sleep(0.1)
    slow.join()
    late.join()
    assert waited > 0.1
    assert order == ["slow start", "slow end", "snapshot", "late start", "late end"]


def test_a_forked_snapshot_writes_the_state_of_the_moment_it_was_taken(aws, tmp_path):
    sqs = _client("sqs")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="before")
    moto = state.MotoState(tmp_path / state.SNAPSHOT_FILE, fork=True)
    figures = moto.snapshot(b"runtime")
    assert figures["fork"] and figures["bytes"] == moto.path.stat().st_size
    assert gc.get_freeze_count() > 0  # what moto held is left out of full collections from now on
    gc.unfreeze()
    sqs.send_message(QueueUrl=url, MessageBody="after")  # the parent serves on; not in the file
    _reset_moto()
    runtime_part, moto_part = state.read_snapshot(moto.path)
    state.install_moto(moto_part)
    assert runtime_part == b"runtime"
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["before"]


def test_a_long_poll_lets_a_snapshot_go_while_it_waits():
    gate = state.Gate()
    polling, resumed = threading.Event(), threading.Event()

    def long_poll() -> None:
        with gate.shared():
            with gate.paused():  # what SQS's wait between looks does
                polling.set()
                time.sleep(0.5)
            resumed.set()

    poller = threading.Thread(target=long_poll)
    poller.start()
    polling.wait()
    with gate.exclusive() as waited:
        assert waited < 0.25 and not resumed.is_set()
    poller.join()
    assert resumed.is_set()
