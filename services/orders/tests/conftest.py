"""AWS for the handler tests: moto with the tables the manifest declares (and inventory's listings
and rates), the bus with a tap queue, and the events table's stream read like Lambda reads it."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from devtools.manifest import Deployment, load_manifest

REGION = "eu-west-1"
SERVICE = load_manifest(Path(__file__).parents[1] / "service.yaml")
DEPLOYMENT = Deployment("test", REGION)
# moto matches the DynamoDB Streams endpoint only with a trailing slash.
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com/"
INVENTORY_TABLES = {
    "listings": [("market", "S", "HASH"), ("sku", "S", "RANGE")],
    "rates": [("base", "S", "HASH"), ("quote", "S", "RANGE")],
}


def _create_table(ddb, name: str, keys: list[tuple[str, str, str]], stream: str | None = None) -> None:
    spec = {
        "TableName": name,
        "KeySchema": [{"AttributeName": k, "KeyType": kt} for k, _, kt in keys],
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": t} for k, t, _ in keys],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    ddb.create_table(**spec)


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    with mock_aws():
        events, sqs, ddb = boto3.client("events"), boto3.client("sqs"), boto3.client("dynamodb")
        bus = f"eda-{DEPLOYMENT.env}"
        events.create_event_bus(Name=bus)
        queue_url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["orders"]}))
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
        _create_table(ddb, f"{DEPLOYMENT.env}-idempotency", [("id", "S", "HASH")])
        for name, spec in SERVICE.tables.items():
            keys = [(spec["hash_key"]["name"], spec["hash_key"]["type"], "HASH")]
            if "range_key" in spec:
                keys.append((spec["range_key"]["name"], spec["range_key"]["type"], "RANGE"))
            _create_table(ddb, f"{DEPLOYMENT.env}-orders-{name}", keys, spec.get("stream"))
        for name, keys in INVENTORY_TABLES.items():
            _create_table(ddb, f"{DEPLOYMENT.env}-inventory-{name}", keys)
        stub = AwsStub(queue_url, monkeypatch)
        stub.seed_listings()
        yield stub
    from orders import adapters

    adapters.reset()


class AwsStub:
    def __init__(self, tap_url: str, monkeypatch) -> None:
        self.tap_url = tap_url
        self.monkeypatch = monkeypatch
        self.ddb = boto3.client("dynamodb")
        self.streams = boto3.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)
        self._iterator: str | None = None
        self.events_table = f"{DEPLOYMENT.env}-orders-events"
        self.views_table = f"{DEPLOYMENT.env}-orders-views"

    def seed_listings(self) -> None:
        """Inventory's tables as inventory writes them (price = {amount, currency} strings)."""
        for market, sku, amount, currency in [
            ("eu", "MUG-01", "12.50", "EUR"),
            ("eu", "TEE-02", "19.99", "EUR"),
            ("jp", "MUG-01", "2000", "JPY"),
        ]:
            self.ddb.put_item(
                TableName=f"{DEPLOYMENT.env}-inventory-listings",
                Item={
                    "market": {"S": market},
                    "sku": {"S": sku},
                    "name": {"S": sku.lower()},
                    "price": {"M": {"amount": {"S": amount}, "currency": {"S": currency}}},
                    "availability": {"S": "in_stock"},
                    "available": {"N": "10"},
                    "stock_version": {"N": "1"},
                },
            )
        self.ddb.put_item(
            TableName=f"{DEPLOYMENT.env}-inventory-rates",
            Item={"base": {"S": "EUR"}, "quote": {"S": "JPY"}, "rate": {"N": "161.2345"}},
        )

    def load_handler(self, function: str):
        """Import the function's module fresh, with exactly the environment Terraform sets."""
        fn = SERVICE.function(function)
        for key, value in DEPLOYMENT.function_environment(SERVICE, fn).items():
            self.monkeypatch.setenv(key, value)
        for name in [
            m for m in sys.modules if m in ("orders.api", "orders.process", "orders.relay", "orders.projection")
        ]:
            del sys.modules[name]
        from orders import adapters

        adapters.reset()
        from shared import idempotency

        idempotency.reset()
        return importlib.import_module(fn.handler_module)

    def published(self) -> list[dict]:
        """EventBridge events that reached the bus (as a rule target receives them)."""
        sqs = boto3.client("sqs")
        out = []
        while True:
            msgs = sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=m["ReceiptHandle"])

    def stream_records(self) -> list[dict]:
        """New records of the events table's stream, shaped as Lambda passes them."""
        arn = self.ddb.describe_table(TableName=self.events_table)["Table"]["LatestStreamArn"]
        if self._iterator is None:
            shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            self._iterator = self.streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        response = self.streams.get_records(ShardIterator=self._iterator, Limit=1000)
        self._iterator = response.get("NextShardIterator") or self._iterator
        out = []
        for raw in response.get("Records", []):
            record = json.loads(json.dumps(raw, default=str))
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if isinstance(created, str):
                record["dynamodb"]["ApproximateCreationDateTime"] = int(datetime.fromisoformat(created).timestamp())
            record["awsRegion"] = REGION
            record["eventSourceARN"] = arn
            out.append(record)
        return out

    def view_item(self, order_id: str) -> dict | None:
        return self.ddb.get_item(TableName=self.views_table, Key={"order_id": {"S": order_id}}).get("Item")
