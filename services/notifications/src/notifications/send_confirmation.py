"""PaymentSucceeded -> the order confirmation email, once per order, in the customer's language.

The contact data comes from this service's OrderPlaced projection. If payment overtook the
order (out of order delivery), the record fails and SQS retries it until the projection
exists. Sending is guarded by the send ledger (see notifications.ledger).
"""

from __future__ import annotations

import os

from notifications._aws import table
from notifications.emails import CONFIRMATION, confirmation_email
from notifications.ledger import SendLedger, lease_seconds, send_once
from notifications.mailer import Mailer
from notifications.orders import OrderContact
from shared.batch import process_event_batch
from shared.observability import logger

orders = table("TABLE_ORDERS")
ledger = SendLedger(table("TABLE_EMAILS"))
mailer = Mailer(os.environ["MAIL_FROM"])
_context = None


class OrderNotProjectedYet(RuntimeError):
    """PaymentSucceeded arrived before OrderPlaced was projected: retried by SQS."""


def confirm(envelope, _record) -> None:
    payment = envelope.data
    item = orders.get_item(Key={"order_id": payment.order_id}, ConsistentRead=True).get("Item")
    if item is None:
        raise OrderNotProjectedYet(f"{payment.order_id}: no OrderPlaced projected yet; retrying")
    order = OrderContact.from_item(item)
    email = confirmation_email(order, card_last4=payment.card_last4)
    send_once(
        ledger,
        lambda: mailer.send(email),
        f"{order.order_id}#{CONFIRMATION}",
        lease_seconds=lease_seconds(_context),
        details={
            "order_id": order.order_id,
            "template": CONFIRMATION,
            "language": email.language,
            "event_id": envelope.metadata.event_id,
        },
    )


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    global _context  # noqa: PLW0603 - one invocation at a time per execution environment
    _context = context
    return process_event_batch(event, context, confirm)
