"""EventPublisher against moto's EventBridge/SQS/S3, and against a stub that fails entries."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import boto3
import pytest
from moto import mock_aws

from shared.events import EventData, parse_eventbridge_event, register_event, unregister_event
from shared.publisher import (
    MAX_REQUEST_BYTES,
    EventPublisher,
    EventTooLargeError,
    PublishError,
    entry_size,
)

pytestmark = pytest.mark.usefixtures("aws_env")

BUS = "eda-dev"


@pytest.fixture
def envelopes(webhook_data):
    from shared.events import new_envelope

    def make(n: int, **overrides: Any):
        return [new_envelope(webhook_data(summary=f"event {i}", **overrides), source="webhooks") for i in range(n)]

    return make


@pytest.fixture
def blob_event():
    """A test-only event whose payload can be made arbitrarily large."""

    @register_event
    class BlobStored(EventData):
        detail_type: ClassVar[str] = "BlobStored"
        version: ClassVar[int] = 1
        blob: str

    yield BlobStored
    unregister_event("BlobStored")


@pytest.fixture
def wired_bus():
    """moto: a bus with a rule sending WebhookReceived/BlobStored to a queue (like a consumer's)."""
    with mock_aws():
        events = boto3.client("events")
        sqs = boto3.client("sqs")
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="consumer")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="to-consumer",
            EventBusName=BUS,
            EventPattern=json.dumps(
                {"source": ["webhooks", "tests"], "detail-type": ["WebhookReceived", "BlobStored"]}
            ),
        )
        events.put_targets(Rule="to-consumer", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        yield events, sqs, queue_url


def drain(sqs, queue_url: str) -> list[dict]:
    bodies = []
    while True:
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return bodies
        bodies += [json.loads(m["Body"]) for m in msgs]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
        )


def test_publishes_through_eventbridge_to_a_queue_and_back(wired_bus, envelopes, monkeypatch):
    events, sqs, queue_url = wired_bus
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    sent = envelopes(23)

    ids = EventPublisher(client=events).publish(*sent)

    assert len(ids) == 23 and len(set(ids)) == 23
    delivered = drain(sqs, queue_url)
    assert len(delivered) == 23
    # moto 5.2.5 leaves out "account" (AWS sends it); everything else is as delivered by AWS.
    assert {"version", "id", "detail-type", "source", "time", "region", "resources", "detail"} <= set(delivered[0])
    assert sorted(body["id"] for body in delivered) == sorted(ids)
    received = sorted((parse_eventbridge_event(body) for body in delivered), key=lambda e: e.data.summary)
    assert sorted(received, key=lambda e: e.metadata.event_id) == sorted(sent, key=lambda e: e.metadata.event_id)


def test_bus_name_is_required(envelopes):
    with pytest.raises(ValueError, match="EVENT_BUS_NAME"):
        EventPublisher(client=object()).publish(*envelopes(1))


# ------------------------------------------------------------------ a stub client: chunking and retries


class StubEvents:
    """put_events that records each request and fails entries according to a script.

    `script[n]` is a list of error codes for the n-th call, one per entry (None = success);
    calls past the script succeed.
    """

    def __init__(self, script: list[list[str | None]] | None = None) -> None:
        self.script = script or []
        self.calls: list[list[dict]] = []

    def put_events(self, Entries: list[dict]) -> dict:
        assert len(Entries) <= 10
        assert sum(entry_size(e) for e in Entries) <= MAX_REQUEST_BYTES
        call = len(self.calls)
        self.calls.append(Entries)
        codes = self.script[call] if call < len(self.script) else [None] * len(Entries)
        assert len(codes) == len(Entries), "test script does not match the request"
        results = [
            {"ErrorCode": code, "ErrorMessage": f"{code} (stub)"} if code else {"EventId": f"eb-{call}-{i}"}
            for i, code in enumerate(codes)
        ]
        return {"FailedEntryCount": sum(1 for c in codes if c), "Entries": results}


def event_ids(entries: list[dict]) -> list[str]:
    return [json.loads(e["Detail"])["metadata"]["event_id"] for e in entries]


def test_retries_only_the_failed_entries(envelopes):
    sent = envelopes(4)
    stub = StubEvents(
        [
            [None, "ThrottlingException", None, "InternalFailure"],
            [None, "InternalFailure"],  # entry 1 goes through, entry 3 fails again
            [None],
        ]
    )

    ids = EventPublisher(BUS, stub, base_delay=0).publish(*sent)

    assert [event_ids(c) for c in stub.calls] == [
        [e.metadata.event_id for e in sent],
        [sent[1].metadata.event_id, sent[3].metadata.event_id],
        [sent[3].metadata.event_id],
    ]
    assert ids == ["eb-0-0", "eb-1-0", "eb-0-2", "eb-2-0"]  # in the order of the envelopes


def test_raises_with_the_still_failing_entries_after_the_last_attempt(envelopes):
    sent = envelopes(3)
    stub = StubEvents([[None, "InternalFailure", "ThrottlingException"]] + [["InternalFailure", None]] + [["X"]] * 5)

    with pytest.raises(PublishError) as info:
        EventPublisher(BUS, stub, max_attempts=3, base_delay=0).publish(*sent)

    assert len(stub.calls) == 3
    err = info.value
    assert [(f.event_id, f.error_code) for f in err.failed] == [(sent[1].metadata.event_id, "X")]
    assert err.published == ["eb-0-0", "eb-1-1"]
    assert sent[1].metadata.event_id in str(err) and "WebhookReceived" in str(err)


def test_non_retryable_errors_are_not_retried(envelopes):
    sent = envelopes(2)
    stub = StubEvents([["MalformedDetail", "InternalFailure"]])
    with pytest.raises(PublishError) as info:
        EventPublisher(BUS, stub, base_delay=0).publish(*sent)
    assert [event_ids(c) for c in stub.calls] == [event_ids(stub.calls[0]), [sent[1].metadata.event_id]]
    assert [f.error_code for f in info.value.failed] == ["MalformedDetail"]


def test_chunks_by_ten_entries(envelopes):
    stub = StubEvents()
    EventPublisher(BUS, stub).publish(*envelopes(25))
    assert [len(c) for c in stub.calls] == [10, 10, 5]


def test_chunks_by_request_size(blob_event):
    from shared.events import new_envelope

    big = [new_envelope(blob_event(blob="x" * 100_000), source="tests") for _ in range(5)]
    stub = StubEvents()
    EventPublisher(BUS, stub).publish(*big)
    assert [len(c) for c in stub.calls] == [2, 2, 1]  # 3 x ~100 KB would pass 256 KB


def test_entry_size_follows_the_aws_formula():
    entry = {"Source": "wébhooks", "DetailType": "X", "Detail": '{"a":"€"}', "Time": object(), "Resources": ["r1"]}
    assert entry_size(entry) == 14 + len("wébhooks".encode()) + 1 + len('{"a":"€"}'.encode()) + 2
    assert entry_size({"Source": "s", "DetailType": "d"}) == 2


def test_an_event_over_the_limit_without_claim_check_is_rejected_before_sending(blob_event, envelopes):
    from shared.events import new_envelope

    big = new_envelope(blob_event(blob="é" * 140_000), source="tests")  # 280 KB in UTF-8
    stub = StubEvents()
    with pytest.raises(EventTooLargeError, match=rf"BlobStored {big.metadata.event_id} is \d+ bytes"):
        EventPublisher(BUS, stub).publish(*envelopes(1), big)
    assert stub.calls == []


def test_claim_check_stores_big_events_in_s3_and_readers_resolve_them(wired_bus, blob_event):
    from shared.events import new_envelope

    events, sqs, queue_url = wired_bus
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="claims", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    big = new_envelope(blob_event(blob="é" * 140_000), source="tests")

    EventPublisher(BUS, events, claim_check_bucket="claims", s3_client=s3).publish(big)

    [delivered] = drain(sqs, queue_url)
    reference = delivered["detail"]
    assert set(reference) == {"metadata", "claim_check"}
    assert reference["metadata"]["event_id"] == big.metadata.event_id
    ref = reference["claim_check"]
    assert ref["bucket"] == "claims" and ref["key"].startswith("claim-check/BlobStored/")
    assert ref["size"] > MAX_REQUEST_BYTES

    resolved = parse_eventbridge_event(delivered, s3_client=s3)
    assert resolved == big

    # A tampered object is refused.
    s3.put_object(Bucket="claims", Key=ref["key"], Body=big.detail_json().replace("é", "e", 1).encode())
    from shared.events import ClaimCheckError

    with pytest.raises(ClaimCheckError, match="does not match its sha256"):
        parse_eventbridge_event(delivered, s3_client=s3)
