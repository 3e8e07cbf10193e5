"""DynamoDB adapters for the payments and payment-methods tables.

Payments: one item per order (hash key order_id). `save` is a conditional PutItem on the
version (and state) the change was computed from: DynamoDB applies single-item
conditional writes atomically, which is what makes the state machine race-free.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from payments.cards import PaymentMethod
from payments.payment import Payment


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


class DynamoPaymentStore:
    def __init__(self, table: Any) -> None:
        self.table = table  # boto3 Table resource

    def get(self, order_id: str) -> Payment | None:
        item = self.table.get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")
        return Payment.from_item(item) if item else None

    def save(self, payment: Payment, *, expected: Payment | None) -> bool:
        if expected is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(order_id)"}
        else:
            condition = {
                "ConditionExpression": "#version = :version AND #state = :state",
                "ExpressionAttributeNames": {"#version": "version", "#state": "state"},
                "ExpressionAttributeValues": {":version": expected.version, ":state": expected.state},
            }
        try:
            self.table.put_item(Item=payment.to_item(), **condition)
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True


class DynamoPaymentMethods:
    """Stored cards: brand, first 6, last 4, expiry, and the owner (the customer's id, the token's
    `sub`). There is no attribute for more."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def add(self, method: PaymentMethod, *, created_at: str) -> None:
        self.table.put_item(
            Item={
                "payment_method_id": method.payment_method_id,
                "brand": method.brand,
                "first6": method.first6,
                "last4": method.last4,
                "expiry_month": method.expiry_month,
                "expiry_year": method.expiry_year,
                "owner": method.owner,
                "created_at": created_at,
            },
            ConditionExpression="attribute_not_exists(payment_method_id)",  # ids are random: never overwrite
        )

    def get(self, payment_method_id: str) -> PaymentMethod | None:
        item = self.table.get_item(Key={"payment_method_id": payment_method_id}).get("Item")
        if not item:
            return None
        return PaymentMethod(
            payment_method_id=item["payment_method_id"],
            brand=item["brand"],
            first6=item["first6"],
            last4=item["last4"],
            expiry_month=int(item["expiry_month"]),
            expiry_year=int(item["expiry_year"]),
            owner=item.get("owner"),
        )
