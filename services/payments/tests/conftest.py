"""Fixtures: saga events as the producers build them, and moto provisioned from the manifest."""

from __future__ import annotations

import importlib
import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from devtools.aws_events import eventbridge_event, sqs_record
from devtools.manifest import Deployment, load_manifest
from shared.events import Envelope, new_envelope
from shared.events.commerce import Address, Amount, Customer, OrderLine, StockLine
from shared.events.inventory import StockReserved
from shared.events.orders import OrderCancelled, OrderPlaced
from shared.money import Money

REGION = "eu-west-1"
SERVICE = load_manifest(Path(__file__).parents[1] / "service.yaml")
DEPLOYMENT = Deployment("test", REGION)


class Saga:
    """Builds the events payments consumes, exactly as orders and inventory publish them."""

    def order_placed(self, order_id: str, payment_method_id: str, total: str = "59.97", currency: str = "EUR"):
        unit = Money.of(total, currency)
        data = OrderPlaced(
            order_id=order_id,
            customer=Customer(
                customer_id="cus_42",
                email="erika@example.com",
                name="Erika Mustermann",
                locale="de-DE",
                time_zone="Europe/Berlin",
                region=REGION,
            ),
            currency=currency,
            lines=[OrderLine(sku="SKU-1", quantity=1, unit_price=Amount.of(unit))],
            total=Amount.of(unit),
            shipping_address=Address(
                name="Erika Mustermann", line1="Heidestr. 17", city="Köln", postal_code="51147", country="DE"
            ),
            payment_method_id=payment_method_id,
            placed_at=datetime.now(UTC),
        )
        return new_envelope(data, source="orders", region=REGION)

    def stock_reserved(self, order_id: str, causation: Envelope | None = None):
        data = StockReserved(order_id=order_id, lines=[StockLine(sku="SKU-1", quantity=1)])
        return new_envelope(data, source="inventory", causation=causation, region=REGION)

    def order_cancelled(self, order_id: str):
        data = OrderCancelled(order_id=order_id, reason="changed my mind", cancelled_by="customer")
        return new_envelope(data, source="orders", region=REGION)

    @staticmethod
    def record(envelope: Envelope, receive_count: int = 1, message_id: str | None = None) -> dict:
        """The SQS record a rule target delivers for this envelope."""
        body = eventbridge_event(envelope.source, envelope.detail_type, envelope.detail(), region=REGION)
        return sqs_record(body, receive_count=receive_count, message_id=message_id)


@pytest.fixture
def saga() -> Saga:
    return Saga()


@pytest.fixture
def aws(monkeypatch):
    """moto with the bus (a queue tapping everything payments publishes) and the service's tables."""
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
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["payments"]}))
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
        for name, spec in SERVICE.tables.items():
            key = spec["hash_key"]
            ddb.create_table(
                TableName=f"{DEPLOYMENT.env}-payments-{name}",
                KeySchema=[{"AttributeName": key["name"], "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key["name"], "AttributeType": key["type"]}],
                BillingMode="PAY_PER_REQUEST",
            )
        yield AwsStub(queue_url, monkeypatch)


@pytest.fixture
def atomic_conditional_writes(monkeypatch) -> None:
    """DynamoDB applies a conditional write to one item atomically; moto checks the condition
    and writes in two Python steps, so two threads can both pass the check. Restore the
    guarantee the real service gives, so that a concurrency test tests our code, not moto."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self, *args, __original=original, **kwargs):
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


class AwsStub:
    def __init__(self, tap_url: str, monkeypatch) -> None:
        self.tap_url = tap_url
        self.monkeypatch = monkeypatch

    def load_handler(self, function: str):
        """Import the function's module fresh, with exactly the environment Terraform sets."""
        fn = SERVICE.function(function)
        for key, value in DEPLOYMENT.function_environment(SERVICE, fn).items():
            self.monkeypatch.setenv(key, value)
        self.monkeypatch.setenv("PROVIDER_RETRY_DELAY_MS", "0")  # keep the tests fast; attempts stay as deployed
        for name in [m for m in sys.modules if m in ("payments.api", "payments.process")]:
            del sys.modules[name]
        return importlib.import_module(fn.handler_module)

    def table(self, name: str):
        return boto3.resource("dynamodb").Table(f"{DEPLOYMENT.env}-payments-{name}")

    def items(self, name: str) -> list[dict]:
        table, items, kwargs = self.table(name), [], {}
        while True:
            page = table.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def payment(self, order_id: str) -> dict | None:
        return self.table("payments").get_item(Key={"order_id": order_id}).get("Item")

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
