"""Operations HTTP API: set stock and prices, read stock and listings, maintain rates.

    PUT /inventory/{sku}          {"name", "quantity", "base_price": {"amount": "19.99", "currency": "EUR"},
                                   "low_stock_threshold"}  -> 201 created / 200 updated (the stock view)
    GET /inventory/{sku}          the stock view, 404 if unknown
    GET /listings/{market}/{sku}  a market's listing (eu, us, uk, jp), 404 if none yet
    PUT /rates/{base}             {"rates": {"USD": "1.0850", "JPY": "161.20"}}  (quote per 1 base)
    GET /rates                    every rate

PUT sets what is available for sale (a restock or a stock count); `reserved` is kept. It is
idempotent by state: the same body again changes nothing and publishes nothing. Amounts and
rates are decimal strings (a JSON number is refused: no floats in money paths). Invalid
input is 400 with a reason per field.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from inventory import outbox
from inventory.domain import MARKETS, level_events, missing_rates, plan_set
from inventory.store import StockChanged, Store, level_of
from shared.events.commerce import Amount
from shared.money import MINOR_UNITS, Money
from shared.observability import logger
from shared.publisher import EventPublisher

SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,39}$"  # shared.events.commerce.Sku
MAX_ATTEMPTS = 10

app = APIGatewayHttpResolver()
store = Store()
publisher = EventPublisher()


class StockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(min_length=1, max_length=200)
    quantity: StrictInt = Field(ge=0, le=10_000_000, description="units available for sale")
    base_price: Amount
    low_stock_threshold: StrictInt = Field(default=0, ge=0, le=10_000_000)


RateText = Annotated[StrictStr, Field(pattern=r"^\d{1,12}(\.\d{1,12})?$")]


class RatesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rates: dict[Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")], RateText] = Field(min_length=1)


def _invalid(errors: list[dict[str, str]]) -> Response:
    return Response(400, content_types.APPLICATION_JSON, {"message": "invalid request", "errors": errors})


def _parse(model: type[BaseModel]) -> BaseModel | Response:
    try:
        body = json.loads(app.current_event.body or "")
    except ValueError:
        return _invalid([{"field": "(body)", "reason": "body must be a JSON object"}])
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        return _invalid(
            [
                {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "reason": err["msg"]}
                for err in exc.errors(include_url=False, include_input=False)
            ]
        )


def _not_found(what: str) -> Response:
    return Response(404, content_types.APPLICATION_JSON, {"message": f"{what} not found"})


def _stock_view(item: dict[str, Any]) -> dict[str, Any]:
    level = level_of(item)
    assert level is not None
    return {
        "sku": item["sku"],
        "name": item["name"],
        "base_price": item["base_price"],
        "available": level.available,
        "reserved": level.reserved,
        "low_stock_threshold": level.low_stock_threshold,
        "availability": level.availability,
        "version": level.version,
        "updated_at": item["updated_at"],
    }


def _publish_pending(item: dict[str, Any] | None) -> None:
    """A previous request wrote but crashed before publishing: publish those events first."""
    events = outbox.pending(item)
    if events:
        assert item is not None
        publisher.publish(*events)
        store.mark_stock_published(item["sku"], item["outbox_id"])
        logger.info("unpublished stock events recovered", extra={"sku": item["sku"], "events": len(events)})


@app.put("/inventory/<sku>")
def put_stock(sku: str) -> Response:
    if not re.match(SKU_PATTERN, sku):
        return _invalid([{"field": "sku", "reason": f"must match {SKU_PATTERN}"}])
    request = _parse(StockRequest)
    if isinstance(request, Response):
        return request
    assert isinstance(request, StockRequest)
    base_price = request.base_price.money()
    missing = missing_rates(base_price.currency, store.get_rates())
    if missing:
        return Response(
            422,
            content_types.APPLICATION_JSON,
            {
                "message": f"no rate from {base_price.currency} to {', '.join(missing)}: "
                f"PUT /rates/{base_price.currency} first (every market needs a price)",
                "missing": missing,
            },
        )
    correlation_id = app.current_event.request_context.request_id
    for _ in range(MAX_ATTEMPTS):
        item = store.get_stock(sku)
        _publish_pending(item)
        before = level_of(item)
        if (
            item is not None
            and before is not None
            and (before.available, before.low_stock_threshold, item["name"])
            == (request.quantity, request.low_stock_threshold, request.name)
            and Money.of(item["base_price"]["amount"], item["base_price"]["currency"]) == base_price
        ):
            return Response(200, content_types.APPLICATION_JSON, _stock_view(item))  # nothing changes
        after = plan_set(before, sku, request.quantity, request.low_stock_threshold)
        events = outbox.build(level_events(before, after, "restocked"), correlation_id=correlation_id)
        try:
            outbox_id = store.put_stock(
                before, after, name=request.name, base_price=base_price, outbox=outbox.serialize(events)
            )
        except StockChanged:
            continue  # a reservation changed the SKU meanwhile: apply the request to the new level
        publisher.publish(*events)
        store.mark_stock_published(sku, outbox_id)
        logger.info("stock set", extra={"sku": sku, "available": after.available, "version": after.version})
        return Response(
            201 if before is None else 200, content_types.APPLICATION_JSON, _stock_view(store.get_stock(sku))
        )
    return Response(409, content_types.APPLICATION_JSON, {"message": f"{sku} kept changing; try again"})


@app.get("/inventory/<sku>")
def get_stock(sku: str) -> Response:
    item = store.get_stock(sku)
    if item is None:
        return _not_found(f"sku {sku}")
    return Response(200, content_types.APPLICATION_JSON, _stock_view(item))


@app.get("/listings/<market>/<sku>")
def get_listing(market: str, sku: str) -> Response:
    if market not in MARKETS:
        return _not_found(f"market {market} (markets: {', '.join(MARKETS)})")
    item = store.get_listing(market, sku)
    if item is None:
        return _not_found(f"listing {market}/{sku}")
    return Response(200, content_types.APPLICATION_JSON, item)


@app.put("/rates/<base>")
def put_rates(base: str) -> Response:
    if base not in MINOR_UNITS:
        return _invalid([{"field": "base", "reason": f"unsupported currency; supported: {sorted(MINOR_UNITS)}"}])
    request = _parse(RatesRequest)
    if isinstance(request, Response):
        return request
    assert isinstance(request, RatesRequest)
    errors = []
    rates: dict[str, Decimal] = {}
    for quote, text in request.rates.items():
        if quote not in MINOR_UNITS or quote == base:
            errors.append({"field": f"rates.{quote}", "reason": "unsupported currency, or the base itself"})
        elif Decimal(text) <= 0:
            errors.append({"field": f"rates.{quote}", "reason": "a rate must be > 0"})
        else:
            rates[quote] = Decimal(text)
    if errors:
        return _invalid(errors)
    store.put_rates(base, rates)
    logger.info("rates set", extra={"base": base, "rates": {q: str(r) for q, r in rates.items()}})
    return Response(200, content_types.APPLICATION_JSON, {"base": base, "rates": {q: str(r) for q, r in rates.items()}})


@app.get("/rates")
def get_rates() -> dict[str, Any]:
    rates = store.get_rates()
    return {"rates": [{"base": b, "quote": q, "rate": str(r)} for (b, q), r in sorted(rates.items())]}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict, context: Any) -> dict:
    return app.resolve(event, context)
