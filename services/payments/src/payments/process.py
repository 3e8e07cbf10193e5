"""One consumer for the payment saga (EventBridge -> SQS -> this function):

    OrderPlaced     (orders)     record the payment intent (once per order)
    StockReserved   (inventory)  charge the intent once -> PaymentSucceeded | PaymentFailed
    OrderCancelled  (orders)     refund a captured payment once -> PaymentRefunded;
                                 before the charge: make sure it never happens
    OrderRejected   (orders)     close the intent (no stock: nothing will be charged)

A record that must wait (StockReserved before OrderPlaced, a charge in progress in another
invocation) raises and is reported in batchItemFailures, so SQS delivers it again later;
the rest of the batch is acknowledged. See payments.service and payments.payment.
"""

from __future__ import annotations

import os
import time

from payments.provider import SimulatedProvider
from payments.service import PaymentService
from payments.store import DynamoPaymentMethods, DynamoPaymentStore
from shared.batch import process_event_batch
from shared.lazy import dynamodb_table
from shared.observability import logger
from shared.publisher import EventPublisher

# Margin over the invocation's deadline before another delivery may take a charge over.
LEASE_MARGIN_SECONDS = 5
DEFAULT_LEASE_SECONDS = 60

provider = SimulatedProvider()  # one per execution environment, like an HTTP client would be
publisher = EventPublisher()
service = PaymentService(
    store=DynamoPaymentStore(dynamodb_table(os.environ["TABLE_PAYMENTS"])),
    methods=DynamoPaymentMethods(dynamodb_table(os.environ["TABLE_PAYMENT_METHODS"])),
    provider=provider,
    publish=publisher.publish,
    max_attempts=int(os.environ.get("PROVIDER_MAX_ATTEMPTS", "3")),
    retry_delay_seconds=int(os.environ.get("PROVIDER_RETRY_DELAY_MS", "200")) / 1000,
)
_context = None


def _lease_until() -> int:
    """The charge lease lasts as long as this invocation can (its deadline) plus a margin."""
    remaining = _context.get_remaining_time_in_millis() / 1000 if _context is not None else DEFAULT_LEASE_SECONDS
    return int(time.time() + remaining) + LEASE_MARGIN_SECONDS


def record(envelope, _sqs_record) -> str:
    match envelope.detail_type:
        case "OrderPlaced":
            return service.record_intent(envelope)
        case "StockReserved":
            return service.charge(envelope, lease_until=_lease_until())
        case "OrderCancelled":
            return service.cancel(envelope, lease_until=_lease_until())
        case "OrderRejected":
            return service.close(envelope)
    raise ValueError(f"payments.process does not consume {envelope.detail_type}")  # manifest/rule drift


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    global _context  # noqa: PLW0603 - one invocation at a time per execution environment
    _context = context
    return process_event_batch(event, context, record)
