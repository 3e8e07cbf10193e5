"""HTTP API for provider webhooks: verify, deduplicate by delivery id, publish once.

    POST /webhooks/github   X-Hub-Signature-256, X-GitHub-Event, X-GitHub-Delivery
    POST /webhooks/slack    X-Slack-Signature, X-Slack-Request-Timestamp

202 {"event_id", "delivery_id"} when accepted (also for a provider's retry of the same
delivery: the first response is replayed and nothing is published again), 401 with the
reason for a bad signature, 400 naming each field of a signed request we cannot read. Errors
are problem details (shared.problems).
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import asdict
from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths

from shared.events import new_envelope
from shared.events.webhooks import WebhookReceived
from shared.idempotency import idempotent_on, register_context
from shared.observability import logger
from shared.problems import Problem, install, invalid
from shared.publisher import EventPublisher
from webhooks.deliveries import Challenge, Delivery, InvalidDelivery, RateLimited, github_delivery, slack_delivery
from webhooks.signatures import SignatureError, verify_github, verify_slack

SECRET_MAX_AGE_SECONDS = 300
# Providers retry for hours at most (GitHub redeliveries are manual, Slack retries 3 times in
# an hour); a week covers both with margin.
DELIVERY_EXPIRY_SECONDS = 7 * 24 * 3600

app = APIGatewayHttpResolver()
respond = install(app)
publisher = EventPublisher()


def _secret(env_name: str) -> str:
    from aws_lambda_powertools.utilities import parameters  # boto3 and the SDK on first use

    return parameters.get_secret(os.environ[env_name], max_age=SECRET_MAX_AGE_SECONDS)


def _raw_body() -> bytes:
    """The bytes the provider signed (API Gateway base64-encodes binary bodies)."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()


def _headers() -> dict[str, str]:
    return {k.lower(): v for k, v in (app.current_event.headers or {}).items()}


@idempotent_on("[provider, delivery_id]", expires_after_seconds=DELIVERY_EXPIRY_SECONDS)
def publish_once(delivery: Delivery) -> dict:
    """Publish one delivery; a repeated (provider, delivery_id) returns the stored result."""
    data = WebhookReceived(
        provider=delivery.provider,
        delivery_id=delivery.delivery_id,
        event_type=delivery.event_type,
        received_at=datetime.now(UTC),
        repository=delivery.repository or delivery.team,
        sender=delivery.sender,
        summary=delivery.summary,
    )
    envelope = new_envelope(data, source="webhooks", correlation_id=app.current_event.request_context.request_id)
    publisher.publish(envelope)
    logger.info("delivery published", extra={**asdict(delivery), "event_id": envelope.metadata.event_id})
    return {"event_id": envelope.metadata.event_id, "delivery_id": delivery.delivery_id}


def _accept(delivery: Delivery | Challenge | RateLimited) -> Response:
    if isinstance(delivery, Challenge):
        return Response(200, content_types.APPLICATION_JSON, {"challenge": delivery.challenge})
    if isinstance(delivery, RateLimited):
        logger.warning("Slack rate limited our event subscriptions", extra={"team": delivery.team})
        return Response(200, content_types.APPLICATION_JSON, {"ok": True})
    return Response(202, content_types.APPLICATION_JSON, publish_once(delivery))


@app.post("/webhooks/github")
def github() -> Response:
    body, headers = _raw_body(), _headers()
    verify_github(_secret("SECRET_GITHUB_WEBHOOK_ARN"), body, headers.get("x-hub-signature-256"))
    return _accept(github_delivery(headers, body))


@app.post("/webhooks/slack")
def slack() -> Response:
    body, headers = _raw_body(), _headers()
    verify_slack(
        _secret("SECRET_SLACK_SIGNING_ARN"),
        body,
        headers.get("x-slack-request-timestamp"),
        headers.get("x-slack-signature"),
        now=time.time(),
    )
    return _accept(slack_delivery(headers, body))


@app.exception_handler(SignatureError)
def _unauthorized(exc: SignatureError) -> Response:
    logger.warning("webhook refused: bad signature", extra={"reason": str(exc), "route": app.current_event.route_key})
    return respond(Problem(401, str(exc), kind="invalid-signature", title="Signature check failed"))


@app.exception_handler(InvalidDelivery)
def _bad_request(exc: InvalidDelivery) -> Response:
    logger.warning("webhook refused: unreadable delivery", extra={"reason": str(exc)})
    return respond(invalid(exc.errors))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict, context) -> dict:
    register_context(context)  # a timed-out invocation then does not block the provider's retry
    return app.resolve(event, context)
