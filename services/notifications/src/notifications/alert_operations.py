"""LowStockDetected -> one email to operations per threshold crossing.

Inventory publishes LowStockDetected once per crossing, so the event id identifies the
crossing: the send ledger key is `low_stock#<event_id>`.
"""

from __future__ import annotations

import os

from notifications._aws import table
from notifications.emails import LOW_STOCK, low_stock_email
from notifications.ledger import SendLedger, lease_seconds, send_once
from notifications.mailer import Mailer
from shared.batch import process_event_batch
from shared.observability import logger

ledger = SendLedger(table("TABLE_EMAILS"))
mailer = Mailer(os.environ["MAIL_FROM"])
OPS_EMAIL = os.environ["OPS_EMAIL"]
_context = None


def alert(envelope, _record) -> None:
    data, meta = envelope.data, envelope.metadata
    email = low_stock_email(
        to=OPS_EMAIL,
        sku=data.sku,
        available=data.available,
        threshold=data.threshold,
        detected_at=meta.occurred_at,
        event_id=meta.event_id,
    )
    send_once(
        ledger,
        lambda: mailer.send(email),
        f"{LOW_STOCK}#{meta.event_id}",
        lease_seconds=lease_seconds(_context),
        details={"template": LOW_STOCK, "sku": data.sku, "event_id": meta.event_id},
    )


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    global _context  # noqa: PLW0603 - one invocation at a time per execution environment
    _context = context
    return process_event_batch(event, context, alert)
