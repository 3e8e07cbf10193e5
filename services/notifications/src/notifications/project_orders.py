"""OrderPlaced -> the orders projection (contact data for later emails).

OrderPlaced happens once per order, so the order id is the natural key: a conditional put
stores the first delivery and acknowledges duplicates. Redeliveries carry the same data.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from notifications._aws import table
from notifications.orders import OrderContact
from shared.batch import process_event_batch
from shared.observability import logger

orders = table("TABLE_ORDERS")


def project(envelope, _record) -> None:
    contact = OrderContact.from_order_placed(envelope.data)
    try:
        orders.put_item(Item=contact.to_item(), ConditionExpression="attribute_not_exists(order_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("order already projected; duplicate ignored", extra={"order_id": contact.order_id})
        return
    logger.info("order projected", extra={"order_id": contact.order_id, "locale": contact.locale})


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_event_batch(event, context, project)
