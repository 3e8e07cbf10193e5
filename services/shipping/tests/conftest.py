"""AWS for the handler tests: moto with the manifest's tables and a tap on the bus; event factories."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from devtools.aws_events import eventbridge_event, sqs_event, sqs_record
from devtools.manifest import Deployment, load_manifest, table_name
from shared.events import new_envelope
from shared.events.commerce import Address, Amount, Customer, OrderLine
from shared.events.orders import OrderPlaced
from shared.events.payments import PaymentSucceeded
from shared.money import Money

REGION = "eu-west-1"
SERVICE = load_manifest(Path(__file__).parents[1] / "service.yaml")
DEPLOYMENT = Deployment("test", REGION)


def order_placed(order_id: str = "ord_9z8y7x6w5v", country: str = "DE") -> OrderPlaced:
    price = Money.of("19.99", "EUR")
    return OrderPlaced(
        order_id=order_id,
        customer=Customer(
            customer_id="cus_1",
            email="kim@customer.example",
            name="Kim Berg",
            locale="de-DE",
            time_zone="Europe/Berlin",
            region="eu-central-1",
        ),
        currency="EUR",
        lines=[
            OrderLine(sku="MUG-BLUE", quantity=2, unit_price=Amount.of(price)),
            OrderLine(sku="TEE-M", quantity=1, unit_price=Amount.of(price)),
        ],
        total=Amount.of(price * 3),
        shipping_address=Address(
            name="Kim Berg", line1="Hauptstr. 1", city="Berlin", postal_code="10115", country=country
        ),
        payment_method_id="pm_abcdefgh12",
        placed_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )


def payment_succeeded(order: OrderPlaced) -> PaymentSucceeded:
    return PaymentSucceeded(
        payment_id="pay_" + order.order_id[4:],
        order_id=order.order_id,
        amount=order.total,
        card_brand="visa",
        card_last4="4242",
    )


def bus_event(data, source: str) -> dict:
    """The EventBridge event a rule delivers for a freshly published payload (new event id)."""
    envelope = new_envelope(data, source=source, region=REGION)
    entry = envelope.to_put_events_entry(f"eda-{DEPLOYMENT.env}")
    return eventbridge_event(source, entry["DetailType"], json.loads(entry["Detail"]), region=REGION)


def batch(*events: dict, receive_count: int = 1) -> dict:
    return sqs_event(*(sqs_record(e, receive_count=receive_count) for e in events))


class Factories:
    """Event payloads and deliveries (a fixture: with importlib mode tests cannot import conftest)."""

    order_placed = staticmethod(order_placed)
    payment_succeeded = staticmethod(payment_succeeded)
    bus_event = staticmethod(bus_event)
    batch = staticmethod(batch)


@pytest.fixture
def make() -> Factories:
    return Factories()


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
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["shipping"]}))
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
        for name, spec in SERVICE.tables.items():
            keys = [(spec["hash_key"], "HASH")] + ([(spec["range_key"], "RANGE")] if "range_key" in spec else [])
            ddb.create_table(
                TableName=table_name(DEPLOYMENT.env, SERVICE.name, name),
                KeySchema=[{"AttributeName": k["name"], "KeyType": kind} for k, kind in keys],
                AttributeDefinitions=[{"AttributeName": k["name"], "AttributeType": k["type"]} for k, _ in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        yield AwsStub(queue_url, monkeypatch)


class AwsStub:
    def __init__(self, tap_url: str, monkeypatch) -> None:
        self.tap_url = tap_url
        self.monkeypatch = monkeypatch

    def load_handler(self, function: str):
        """Import the function's module fresh, with exactly the environment Terraform sets."""
        fn = SERVICE.function(function)
        for key, value in DEPLOYMENT.function_environment(SERVICE, fn).items():
            self.monkeypatch.setenv(key, value)
        for name in [m for m in sys.modules if m.startswith("shipping.")]:
            del sys.modules[name]
        return importlib.import_module(fn.handler_module)

    def published(self) -> list[dict]:
        """EventBridge events that reached the bus since the last call (as a rule target receives them)."""
        sqs = boto3.client("sqs")
        out = []
        while True:
            msgs = sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=m["ReceiptHandle"])

    def shipment(self, order_id: str) -> dict | None:
        table = boto3.resource("dynamodb").Table(table_name(DEPLOYMENT.env, SERVICE.name, "shipments"))
        return table.get_item(Key={"order_id": order_id}).get("Item")

    def in_transit(self) -> list[dict]:
        return boto3.resource("dynamodb").Table(table_name(DEPLOYMENT.env, SERVICE.name, "in-transit")).scan()["Items"]
