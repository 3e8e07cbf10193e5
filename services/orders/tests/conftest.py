"""moto with the orders manifest and inventory's (orders reads its listings and rates)."""

import pytest

from devtools.testing import moto_deployment

# Inventory's listings as inventory writes them (price = {amount, currency} strings), and a rate.
LISTINGS = [("eu", "MUG-01", "12.50", "EUR"), ("eu", "TEE-02", "19.99", "EUR"), ("jp", "MUG-01", "2000", "JPY")]


@pytest.fixture
def aws(monkeypatch):
    with moto_deployment(["orders", "inventory"], monkeypatch) as deployment:
        ddb = deployment.clients.dynamodb
        for market, sku, amount, currency in LISTINGS:
            ddb.put_item(
                TableName=deployment.table("inventory:listings"),
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
        ddb.put_item(
            TableName=deployment.table("inventory:rates"),
            Item={"base": {"S": "EUR"}, "quote": {"S": "JPY"}, "rate": {"N": "161.2345"}},
        )
        yield deployment
