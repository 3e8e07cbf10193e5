"""AWS for the handler tests: moto, with the tables the manifest declares, and helpers that
build events exactly as EventBridge -> SQS delivers them to the functions."""

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

from devtools.aws_events import LambdaContext, eventbridge_event, sqs_event, sqs_record
from devtools.manifest import Deployment, load_manifest

REGION = "eu-west-1"
SERVICE = load_manifest(Path(__file__).parents[1] / "service.yaml")
DEPLOYMENT = Deployment("test", REGION)
HANDLER_MODULES = ("inventory.reservations", "inventory.listings", "inventory.api")


def serialize_dynamodb_writes(monkeypatch) -> None:
    """Make moto's DynamoDB writes atomic with respect to each other, as DynamoDB's are.

    moto evaluates a transaction's conditions and applies it without a lock, and rolls a
    cancelled transaction back by restoring a deep copy of the whole table taken before it:
    with threads, that loses other transactions' writes. Measured here: 50 threads, one SKU
    with 10 units, `available >= :qty` -> 11, 12 and 20 "successful" reservations in three
    runs without this lock, exactly 10 with it. DynamoDB transactions are serializable.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("transact_write_items", "update_item", "put_item", "delete_item", "get_item", "batch_get_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    with mock_aws():
        serialize_dynamodb_writes(monkeypatch)
        events, sqs, ddb = boto3.client("events"), boto3.client("sqs"), boto3.client("dynamodb")
        bus = f"eda-{DEPLOYMENT.env}"
        events.create_event_bus(Name=bus)
        queue_url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["inventory"]}))
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
        for name, spec in SERVICE.tables.items():
            keys = [(spec["hash_key"], "HASH")] + ([(spec["range_key"], "RANGE")] if "range_key" in spec else [])
            ddb.create_table(
                TableName=DEPLOYMENT.table(_ref(name)),
                KeySchema=[{"AttributeName": k["name"], "KeyType": kind} for k, kind in keys],
                AttributeDefinitions=[{"AttributeName": k["name"], "AttributeType": k["type"]} for k, _ in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        yield Aws(queue_url, monkeypatch)


def _ref(name: str):
    from devtools.manifest import Ref

    return Ref(SERVICE.name, name)


class Aws:
    def __init__(self, tap_url: str, monkeypatch) -> None:
        self.tap_url = tap_url
        self.monkeypatch = monkeypatch
        self.ddb = boto3.resource("dynamodb")

    def load_handler(self, function: str):
        """Import the function's module fresh, with exactly the environment Terraform sets."""
        import os

        for key in [k for k in os.environ if k.startswith("TABLE_")]:
            self.monkeypatch.delenv(key)
        fn = SERVICE.function(function)
        for key, value in DEPLOYMENT.function_environment(SERVICE, fn).items():
            self.monkeypatch.setenv(key, value)
        for name in HANDLER_MODULES:
            sys.modules.pop(name, None)
        return importlib.import_module(fn.handler_module)

    def table(self, name: str):
        return self.ddb.Table(DEPLOYMENT.table(_ref(name)))

    def stock(self, sku: str) -> dict:
        return self.table("stock").get_item(Key={"sku": sku}, ConsistentRead=True)["Item"]

    def reservation(self, order_id: str) -> dict | None:
        return self.table("reservations").get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")

    def published(self) -> list[dict]:
        """EventBridge events that reached the bus (as a rule target receives them), in order."""
        sqs = boto3.client("sqs")
        out = []
        while True:
            msgs = sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=m["ReceiptHandle"])


# --------------------------------------------------------------------------- events


def order_placed(order_id: str, lines: list[tuple[str, int]]) -> dict:
    """An OrderPlaced as the orders relay publishes it (EventBridge event)."""
    from shared.events import new_envelope
    from shared.events.commerce import Address, Amount, Customer, OrderLine
    from shared.events.orders import OrderPlaced

    price = Amount(amount=__import__("decimal").Decimal("10.00"), currency="EUR")
    data = OrderPlaced(
        order_id=order_id,
        customer=Customer(
            customer_id="c-1",
            email="ana@example.com",
            name="Ana",
            locale="de-DE",
            time_zone="Europe/Berlin",
            region="eu-west-1",
        ),
        currency="EUR",
        lines=[OrderLine(sku=sku, quantity=q, unit_price=price) for sku, q in lines],
        total=Amount(amount=price.amount * sum(q for _, q in lines), currency="EUR"),
        shipping_address=Address(name="Ana", line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE"),
        payment_method_id="pm_0123456789ab",
        placed_at=datetime.now(UTC),
    )
    envelope = new_envelope(data, source="orders")
    return eventbridge_event("orders", "OrderPlaced", envelope.detail())


def order_cancelled(order_id: str) -> dict:
    from shared.events import new_envelope
    from shared.events.orders import OrderCancelled

    envelope = new_envelope(
        OrderCancelled(order_id=order_id, reason="changed my mind", cancelled_by="customer"), source="orders"
    )
    return eventbridge_event("orders", "OrderCancelled", envelope.detail())


def payment_failed(order_id: str) -> dict:
    from decimal import Decimal

    from shared.events import new_envelope
    from shared.events.commerce import Amount
    from shared.events.payments import PaymentFailed

    data = PaymentFailed(
        payment_id="pay_0123456789ab",
        order_id=order_id,
        amount=Amount(amount=Decimal("10.00"), currency="EUR"),
        reason="card_declined",
    )
    return eventbridge_event("payments", "PaymentFailed", new_envelope(data, source="payments").detail())


def deliver(module, *bodies: dict, records: list[dict] | None = None) -> dict:
    """Invoke a queue-fed handler with one SQS batch; returns the partial batch response."""
    records = records if records is not None else [sqs_record(body) for body in bodies]
    return module.handler(sqs_event(*records), LambdaContext(function_name="test-inventory", timeout_seconds=30))


def http(module, method: str, path: str, body: dict | None = None, *, route: str | None = None, params=None):
    from devtools.aws_events import api_gateway_http

    event = api_gateway_http(
        method,
        path,
        body=json.dumps(body) if body is not None else None,
        headers={"content-type": "application/json"},
        route_key=route,
        path_parameters=params,
    )
    response = module.handler(event, LambdaContext(function_name="test-inventory-api", timeout_seconds=10))
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def ev():
    """The helpers above (conftest modules cannot be imported under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        order_placed=order_placed,
        order_cancelled=order_cancelled,
        payment_failed=payment_failed,
        deliver=deliver,
        http=http,
        sqs_record=sqs_record,
    )
