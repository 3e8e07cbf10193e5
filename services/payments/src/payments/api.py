"""HTTP API (payload v2): register a card, get a payment method token.

    POST /payment-methods  {"card_number", "expiry_month", "expiry_year", "cvc", "holder_name"?}
    201 {"payment_method_id": "pm_...", "brand": "visa", "last4": "4242"}
    400 {"message": "invalid card", "errors": {"card_number": "fails the Luhn check (mistyped?)", ...}}

The full card number and the CVC live only in this request's memory: they are validated,
reduced to brand + first 6 + last 4 + expiry (payments.cards), and never stored, logged,
published or echoed in an error. Responses carry `Cache-Control: no-store`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths

from payments.cards import InvalidCard, register_card
from payments.store import DynamoPaymentMethods
from shared.observability import logger

NO_STORE = {"Cache-Control": "no-store"}

app = APIGatewayHttpResolver()
methods = DynamoPaymentMethods(boto3.resource("dynamodb").Table(os.environ["TABLE_PAYMENT_METHODS"]))


def _bad_request(errors: dict[str, str]) -> Response:
    return Response(400, content_types.APPLICATION_JSON, {"message": "invalid card", "errors": errors}, NO_STORE)


@app.post("/payment-methods")
def create_payment_method() -> Response:
    try:
        body = json.loads(app.current_event.decoded_body or "")
    except (ValueError, UnicodeDecodeError):
        # The parser's message quotes the body around the error position: do not pass it on.
        logger.info("payment method refused", extra={"errors": {"body": "not JSON"}})
        return _bad_request({"body": "must be a JSON object"})
    now = datetime.now(UTC)
    try:
        method = register_card(body, today=now.date())
    except InvalidCard as exc:
        logger.info("payment method refused", extra={"errors": exc.errors})
        return _bad_request(exc.errors)
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
