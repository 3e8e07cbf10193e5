"""AWS for the handler tests: moto with the resources the manifest declares, events as AWS delivers them."""

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
from devtools.manifest import Deployment, load_manifest
from shared.events import new_envelope
from shared.events.commerce import Address, Amount, Customer, OrderLine
from shared.events.inventory import LowStockDetected
from shared.events.orders import OrderPlaced
from shared.events.payments import PaymentSucceeded
from shared.money import Money

REGION = "eu-west-1"
SERVICE = load_manifest(Path(__file__).parents[1] / "service.yaml")
DEPLOYMENT = Deployment("test", REGION)
MAIL_FROM = SERVICE.function("send_confirmation").environment["MAIL_FROM"]


def order_placed(
    order_id: str = "ord_1a2b3c4d5e",
    *,
    locale: str = "de-AT",
    time_zone: str = "Europe/Vienna",
    currency: str = "EUR",
    unit_price: str = "617.25",
    quantity: int = 2,
    name: str = "Anna Huber",
    placed_at: datetime = datetime(2026, 11, 27, 14, 30, tzinfo=UTC),
) -> OrderPlaced:
    price = Money.of(unit_price, currency)
    return OrderPlaced(
        order_id=order_id,
        customer=Customer(
            customer_id="cus_1",
            email=f"{order_id}@customer.example",
            name=name,
            locale=locale,
            time_zone=time_zone,
            region="eu-central-1",
        ),
        currency=currency,
        lines=[OrderLine(sku="MUG-BLUE", quantity=quantity, unit_price=Amount.of(price))],
        total=Amount.of(price * quantity),
        shipping_address=Address(name=name, line1="Ring 1", city="Wien", postal_code="1010", country="AT"),
        payment_method_id="pm_abcdefgh12",
        placed_at=placed_at,
    )


def payment_succeeded(order: OrderPlaced) -> PaymentSucceeded:
    return PaymentSucceeded(
        payment_id="pay_" + order.order_id[4:],
        order_id=order.order_id,
        amount=order.total,
        card_brand="visa",
        card_last4="4242",
    )


def low_stock(sku: str = "MUG-BLUE", available: int = 3) -> LowStockDetected:
    return LowStockDetected(sku=sku, available=available, threshold=5)


def bus_event(data, source: str) -> dict:
    """The EventBridge event a rule delivers for a freshly published payload (new event id)."""
    envelope = new_envelope(data, source=source, region=REGION)
    entry = envelope.to_put_events_entry(f"eda-{DEPLOYMENT.env}")
    return eventbridge_event(source, entry["DetailType"], json.loads(entry["Detail"]), region=REGION)


def batch(*events: dict, receive_count: int = 1) -> dict:
    return sqs_event(*(sqs_record(e, receive_count=receive_count) for e in events))


class Factories:
    """Event payloads and deliveries for the tests (a fixture: tests cannot import conftest)."""

    order_placed = staticmethod(order_placed)
    payment_succeeded = staticmethod(payment_succeeded)
    low_stock = staticmethod(low_stock)
    bus_event = staticmethod(bus_event)
    batch = staticmethod(batch)


@pytest.fixture
def make() -> Factories:
    return Factories()


@pytest.fixture
def aws(monkeypatch):
    """moto with the service's tables and a verified sender identity."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    with mock_aws():
        ddb = boto3.client("dynamodb")
        for name, spec in SERVICE.tables.items():
            key = spec["hash_key"]
            ddb.create_table(
                TableName=f"{DEPLOYMENT.env}-notifications-{name}",
                KeySchema=[{"AttributeName": key["name"], "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key["name"], "AttributeType": key["type"]}],
                BillingMode="PAY_PER_REQUEST",
            )
        boto3.client("ses").verify_email_identity(EmailAddress=MAIL_FROM)
        yield AwsStub(monkeypatch)


class AwsStub:
    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch

    def load_handler(self, function: str):
        """Import the function's module fresh, with exactly the environment Terraform sets."""
        fn = SERVICE.function(function)
        for key, value in DEPLOYMENT.function_environment(SERVICE, fn).items():
            self.monkeypatch.setenv(key, value)
        for name in [m for m in sys.modules if m.startswith("notifications.")]:
            del sys.modules[name]
        return importlib.import_module(fn.handler_module)

    def sent(self) -> list:
        """Emails SES accepted (moto's record), oldest first."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)

    def ledger(self) -> list[dict]:
        return boto3.resource("dynamodb").Table(f"{DEPLOYMENT.env}-notifications-emails").scan()["Items"]
