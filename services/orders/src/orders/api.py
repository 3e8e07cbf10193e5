"""HTTP API of the orders service (API Gateway HTTP API, payload v2).

    POST /orders                      Idempotency-Key required; 201 with the order
    GET  /orders/{order_id}           the read model (404 until the projection has it)
    GET  /orders/{order_id}?as_of=T   the order as it was at T (ISO 8601), by replay from the store
    GET  /orders/{order_id}/events    the order's history from the event store
    POST /orders/{order_id}/cancel    409 when the order can no longer be cancelled

Every route is for signed-in customers (the manifest: `customer`; API Gateway's JWT authorizer
has verified the token). The customer is the token's `sub` (shared.auth), never a field of the
body: an order belongs to the customer who placed it, and another customer's order is a 404,
exactly like an order that does not exist, so order ids cannot be probed.

POST /orders: the same Idempotency-Key with the same body replays the first response and
appends nothing; with a different body it is a 422; without the header a 400. The order id
is derived from (customer, key), so even a retry after a crash between the append and the
idempotency record lands on the same stream and cannot create a second order.

Only results a retry must get again are stored under the key: 2xx, and refusals that are
final (409: this order can no longer be cancelled). A request refused by validation (400,
e.g. a SKU not listed yet) or one that fails before the command runs is not stored, so the
same key works once the request or the world is fixed (as Stripe and the IETF
Idempotency-Key draft do). Every error is a problem (shared.problems).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths

from orders import adapters
from orders.domain import InvalidTransition, Order, PricingError, RequestedLine, price_lines
from orders.requests import CancelRequest, PlaceOrderRequest
from shared.auth import customer_id
from shared.events import new_envelope
from shared.events.commerce import Customer
from shared.eventstore import ConcurrencyError, StreamNotFoundError, parse_time, retry_on_conflict
from shared.idempotency import InvalidIdempotencyKeyError, http_request_key, idempotent_http_command
from shared.observability import logger
from shared.problems import Problem, body_problem, install, invalid, strict_json

ORDER_ID = re.compile(r"^ord_[0-9a-z]{8,40}$")
KEY_REUSED = {"kind": "idempotency-key-reused", "title": "Idempotency-Key already used"}

app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
respond = install(app)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(body), headers=headers)


def _order_id(order_id: str) -> str:
    if not ORDER_ID.match(order_id):
        raise NotFoundError("order not found")
    return order_id


def _caller() -> str:
    return customer_id(app.current_event.raw_event)


def _owned(order: Order | None, customer: str) -> Order:
    """The order if this customer placed it; anyone else's is not found, as a missing one is."""
    if order is None or order.customer.get("customer_id") != customer:
        raise NotFoundError("order not found")
    return order


def _envelope(event):
    return new_envelope(event, source=adapters.SOURCE, correlation_id=app.current_event.request_context.request_id)


def _stable_order_id(customer_id: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(f"{customer_id}\n{idempotency_key}".encode()).hexdigest()
    return "ord_" + digest[:32]


# --------------------------------------------------------------------------- routes


@app.post("/orders")
def place_order(request: Annotated[PlaceOrderRequest, Body()]) -> Response[Any]:
    customer = _caller()
    key = http_request_key(app.current_event.raw_event)["idempotency_key"]
    order_id = _stable_order_id(customer, key)
    lines = price_lines(
        [RequestedLine(line.sku, line.quantity) for line in request.lines],
        request.currency,
        request.customer.region,
        adapters.DynamoListings(),
        adapters.DynamoRates(),
    )
    order = Order.place(
        order_id,
        customer=Customer(customer_id=customer, **request.customer.model_dump()),
        currency=request.currency,
        lines=lines,
        shipping_address=request.shipping_address,
        payment_method_id=request.payment_method_id,
    )
    try:
        adapters.repository().save(order, [_envelope(e) for e in order.pending])
    except ConcurrencyError:
        # The stream exists: an earlier attempt with this key got as far as the append.
        existing = adapters.repository().load(order_id)
        if _request_of(existing) != request.fingerprint(customer):
            raise Problem(422, "this Idempotency-Key was already used for a different order", **KEY_REUSED) from None
        order = existing
    logger.info("order placed", extra={"order_id": order_id, "lines": len(lines), "total": order.total})
    return _json(201, order.view(), headers={"Location": f"/orders/{order_id}"})


def _request_of(order: Order) -> dict[str, Any]:
    return {
        "customer": order.customer,
        "currency": order.currency,
        "lines": sorted((line["sku"], line["quantity"]) for line in order.lines),
        "shipping_address": order.shipping_address,
        "payment_method_id": order.payment_method_id,
    }


@app.get("/orders/<order_id>")
def get_order(order_id: str, as_of: Annotated[str | None, Query(max_length=64)] = None) -> Response[Any]:
    order_id = _order_id(order_id)
    customer = _caller()
    if as_of is not None:
        try:
            moment = parse_time(as_of)
        except (ValueError, OverflowError):  # the parser's message quotes the input or Python internals
            raise invalid(
                [{"in": "query", "field": "as_of", "reason": "must be an ISO 8601 time with an offset or Z"}]
            ) from None
        try:
            order = adapters.repository().load(order_id, as_of=moment)
        except StreamNotFoundError:
            _owned(_current(order_id), customer)  # someone else's order: not found, whatever the time
            raise NotFoundError("the order did not exist at that time") from None
        order = _owned(order, customer)
        return _json(200, {**order.view(), "as_of": moment.isoformat().replace("+00:00", "Z")})
    order = _owned(adapters.ViewTable().get(order_id), customer)
    return _json(200, order.view())


def _current(order_id: str) -> Order | None:
    try:
        return adapters.repository().load(order_id)
    except StreamNotFoundError:
        return None


@app.get("/orders/<order_id>/events")
def get_events(order_id: str) -> Response[Any]:
    order_id = _order_id(order_id)
    customer = _caller()
    history = adapters.event_store().history(order_id)
    placed = history[0].data if history else {}
    if ((placed or {}).get("customer") or {}).get("customer_id") != customer:
        raise NotFoundError("order not found")
    return _json(
        200,
        {
            "order_id": order_id,
            "events": [
                {
                    "version": e.version,
                    "event_id": e.event_id,
                    "detail_type": e.detail_type,
                    "event_version": e.event_version,
                    "occurred_at": e.metadata.get("occurred_at"),
                    "data": e.data,
                }
                for e in history
            ],
        },
    )


@app.post("/orders/<order_id>/cancel")
def cancel_order(order_id: str, request: Annotated[CancelRequest | None, Body()] = None) -> Response[Any]:
    order_id = _order_id(order_id)
    order = _cancel(order_id, (request or CancelRequest()).reason, _caller())
    logger.info("order cancelled", extra={"order_id": order_id})
    return _json(200, order.view())


@retry_on_conflict(attempts=5)
def _cancel(order_id: str, reason: str, customer: str) -> Order:
    repo = adapters.repository()
    try:
        order = _owned(repo.load(order_id), customer)
    except StreamNotFoundError:
        raise NotFoundError("order not found") from None
    order.cancel(reason, cancelled_by="customer")
    repo.save(order, [_envelope(e) for e in order.pending])
    return order


# --------------------------------------------------------------------------- errors


@app.exception_handler(PricingError)
def _unpriced(exc: PricingError) -> Response:
    return respond(invalid([{"in": "body", "field": field, "reason": reason} for field, reason in exc.errors.items()]))


@app.exception_handler(InvalidTransition)
def _conflict(exc: InvalidTransition) -> Response:
    return respond(
        Problem(
            409,
            f"the order is {exc.status}: cannot {exc.action}",
            kind="invalid-transition",
            title="The order's status does not allow this",
            order_status=exc.status,
        )
    )


# --------------------------------------------------------------------------- entry point


class _NotStored(Exception):
    """Carries a result the idempotency record must not keep (Powertools deletes the record
    when the decorated function raises)."""

    def __init__(self, result: dict) -> None:
        self.result = result


def _only_final(result: dict, final_refusals: frozenset[int] = frozenset()) -> dict:
    status = int(result.get("statusCode", 200))
    if 200 <= status < 300 or status in final_refusals:
        return result
    raise _NotStored(result)


@idempotent_http_command
def _place_once(event: dict, context) -> dict:
    return _only_final(app.resolve(event, context))


@idempotent_http_command(required=False)
def _cancel_once(event: dict, context) -> dict:
    return _only_final(app.resolve(event, context), final_refusals=frozenset({409}))  # 409: cannot cancel, ever


def _refused(problem: Problem, event: dict) -> dict:
    logger.info(
        "request refused",
        extra={"status": problem.status, "problem": problem.kind, "fields": [e["field"] for e in problem.errors or []]},
    )
    return problem.result((event.get("requestContext") or {}).get("requestId"))


def _idempotency_problem(exc: Exception) -> Problem:
    from shared import idempotency

    if isinstance(exc, InvalidIdempotencyKeyError):
        return invalid([{"in": "header", "field": "idempotency-key", "reason": str(exc)}])
    if isinstance(exc, idempotency.IdempotencyValidationError):
        return Problem(422, "this Idempotency-Key was already used with a different request body", **KEY_REUSED)
    return Problem(
        409,
        "a request with this Idempotency-Key is still in progress; retry later",
        kind="idempotency-key-in-progress",
        title="Request in progress",
        headers={"Retry-After": "1"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict, context) -> dict:
    from shared import idempotency

    refusals = (
        InvalidIdempotencyKeyError,
        idempotency.IdempotencyValidationError,
        idempotency.IdempotencyAlreadyInProgressError,
    )
    http = event.get("requestContext", {}).get("http", {})
    method, path = http.get("method"), event.get("rawPath", "")
    once = None
    if method == "POST" and path.rstrip("/") == "/orders":
        once = _place_once
    elif method == "POST" and path.endswith("/cancel"):
        once = _cancel_once
    if once is None:
        return app.resolve(event, context)
    unreadable = body_problem(event)  # refused before the idempotency layer hashes the body
    if unreadable is not None:
        return _refused(unreadable, event)
    try:
        return once(event, context)
    except _NotStored as refusal:
        return refusal.result
    except refusals as exc:
        return _refused(_idempotency_problem(exc), event)
