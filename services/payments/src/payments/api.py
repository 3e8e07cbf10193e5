"""HTTP API (payload v2): register a card, get a payment method token.

    POST /payment-methods  {"card_number", "expiry_month", "expiry_year", "cvc", "holder_name"?}
    201 {"payment_method_id": "pm_...", "brand": "visa", "last4": "4242"}
    400 problem details: {"type": ".../validation", ..., "errors": [{"in": "body",
        "field": "card_number", "reason": "fails the Luhn check (mistyped?)"}, ...]}

The route is for signed-in customers (manifest: `customer`): the payment method belongs to the
token's `sub` (shared.auth), and payments.process charges it only for that customer's orders.

The full card number and the CVC live only in this request's memory: they are validated
(payments.cards.CardIn, by Powertools), reduced to brand + first 6 + last 4 + expiry, and
never stored, logged, published or echoed in an error. Every response, errors included,
carries `Cache-Control: no-store`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths

from payments.cards import CardIn, InvalidCard, payment_method
from payments.store import DynamoPaymentMethods
from shared.auth import customer_id
from shared.lazy import dynamodb_table
from shared.observability import logger
from shared.problems import install, invalid, strict_json

NO_STORE = {"Cache-Control": "no-store"}

app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
install(app, headers=NO_STORE)
methods = DynamoPaymentMethods(dynamodb_table(os.environ["TABLE_PAYMENT_METHODS"]))


@app.post("/payment-methods")
def create_payment_method(card: Annotated[CardIn, Body()]) -> Response[Any]:
    now = datetime.now(UTC)
    owner = customer_id(app.current_event.raw_event)
    try:
        method = payment_method(card, today=now.date(), owner=owner)
    except InvalidCard as exc:
        raise invalid(
            [{"in": "body", "field": field, "reason": reason} for field, reason in exc.errors.items()]
        ) from None
    methods.add(method, created_at=now.isoformat())
    logger.info(
        "payment method stored",
        extra={"payment_method_id": method.payment_method_id, "brand": method.brand, "card": method.masked},
    )
    return Response(
        201,
        content_types.APPLICATION_JSON,
        {"payment_method_id": method.payment_method_id, "brand": method.brand, "last4": method.last4},
        NO_STORE,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
def handler(event: dict, context) -> dict:
    return app.resolve(event, context)
