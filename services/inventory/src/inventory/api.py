"""Operations HTTP API: set stock and prices, read stock and listings, maintain rates.

    PUT /inventory/{sku}          {"name", "quantity", "base_price": {"amount": "19.99", "currency": "EUR"},
                                   "low_stock_threshold"}  -> 201 created / 200 updated (the stock view)
    GET /inventory/{sku}          the stock view, 404 if unknown
    GET /listings/{market}/{sku}  a market's listing (eu, us, uk, jp), 404 if none yet
    PUT /rates/{base}             {"rates": {"USD": "1.0850", "JPY": "161.20"}}  (quote per 1 base)
    GET /rates                    every rate

Who may call (service.yaml): stock and rate changes and stock reads are staff's, the listings and
rates any signed-in customer's. API Gateway's JWT authorizer has verified the token of every route;
the group `staff` is checked here (shared.auth.require_staff), before the body is even read, so a
customer learns nothing about a staff route but its 403 problem.

PUT sets what is available for sale (a restock or a stock count); `reserved` is kept. It is
idempotent by state: the same body again changes nothing and publishes nothing. Amounts and
rates are positive decimal strings (a JSON number is refused: no floats in money paths);
counts are JSON integers. Invalid input is a 400 problem naming each field and its rule
(shared.problems), never echoing what was sent.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from inventory import outbox
from inventory.domain import MARKETS, level_events, missing_rates, plan_set
from inventory.store import StockChanged, Store, level_of
from shared.auth import require_staff
from shared.money import MINOR_UNITS, Money
from shared.observability import logger
from shared.problems import Problem, install, invalid, strict_json
from shared.publisher import EventPublisher

SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,39}$"  # shared.events.commerce.Sku
# The routes service.yaml declares `staff` (the service's tests check the two agree).
STAFF_ROUTES = frozenset({"PUT /inventory/{sku}", "GET /inventory/{sku}", "PUT /rates/{base}"})
MAX_ATTEMPTS = 10
SUPPORTED = ", ".join(sorted(MINOR_UNITS))

app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
install(app)
store = Store()
publisher = EventPublisher()


def _decimal_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError('must be a decimal string like "19.99" (JSON numbers are refused: no floats in money)')
    return value


def _positive(text: str) -> str:
    if Decimal(text) <= 0:
        raise ValueError("must be greater than 0")
    return text


class _Request(BaseModel):
    # defer_build: a model's validator is built by its first request, not at import
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class PriceIn(_Request):
    """A price as operators send it: a positive decimal string in a supported currency."""

    currency: StrictStr = Field(json_schema_extra={"enum": sorted(MINOR_UNITS)})  # first: amount's check reads it
    amount: Annotated[
        str,
        BeforeValidator(_decimal_string),
        Field(pattern=r"^\d{1,12}(\.\d{1,3})?$"),
        AfterValidator(_positive),
    ]

    @field_validator("currency")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in MINOR_UNITS:
            raise ValueError(f"unsupported currency; supported: {SUPPORTED}")
        return value

    @field_validator("amount")
    @classmethod
    def _exact(cls, value: str, info: ValidationInfo) -> str:
        currency = info.data.get("currency")
        if currency and Money.of(value, currency).amount != Decimal(value):
            raise ValueError(f"has more decimals than the currency has minor units ({MINOR_UNITS[currency]})")
        return value

    def money(self) -> Money:
        return Money.of(self.amount, self.currency)


class StockRequest(_Request):
    name: StrictStr = Field(min_length=1, max_length=200)
    quantity: StrictInt = Field(ge=0, le=10_000_000, description="units available for sale")
    base_price: PriceIn
    low_stock_threshold: StrictInt = Field(default=0, ge=0, le=10_000_000)


RateText = Annotated[
    str, BeforeValidator(_decimal_string), Field(pattern=r"^\d{1,12}(\.\d{1,12})?$"), AfterValidator(_positive)
]


class RatesRequest(_Request):
    rates: dict[StrictStr, RateText] = Field(min_length=1, description="units of each quote currency per 1 base")

    @field_validator("rates", mode="before")
    @classmethod
    def _quotes_are_currencies(cls, value: Any) -> Any:
        # Checked before the values, so an error's field path never holds an unchecked key.
        if isinstance(value, dict) and any(key not in MINOR_UNITS for key in value):
            raise ValueError(f"keys must be supported currency codes: {SUPPORTED}")
        return value


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


def _known_sku(sku: str) -> str:
    """A SKU in a GET path: one that cannot exist is simply not found (and never reaches DynamoDB)."""
    if not re.match(SKU_PATTERN, sku):
        raise NotFoundError("no such SKU")
    return sku


@app.put("/inventory/<sku>")
def put_stock(
    sku: Annotated[str, Path(pattern=SKU_PATTERN)], request: Annotated[StockRequest, Body()]
) -> Response[Any]:
    base_price = request.base_price.money()
    missing = missing_rates(base_price.currency, store.get_rates())
    if missing:
        raise Problem(
            422,
            "the base price's currency has no rate to every market's currency: PUT /rates/{base} first",
            kind="missing-rates",
            title="Exchange rates missing",
            missing=missing,
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
    raise Problem(409, "the SKU kept changing; try again", kind="concurrent-update", title="Concurrent update")


@app.get("/inventory/<sku>")
def get_stock(sku: str) -> Response[Any]:
    item = store.get_stock(_known_sku(sku))
    if item is None:
        raise NotFoundError("no stock for this SKU")
    return Response(200, content_types.APPLICATION_JSON, _stock_view(item))


@app.get("/listings/<market>/<sku>")
def get_listing(market: str, sku: str) -> Response[Any]:
    if market not in MARKETS:
        raise NotFoundError(f"no such market (markets: {', '.join(MARKETS)})")
    item = store.get_listing(market, _known_sku(sku))
    if item is None:
        raise NotFoundError("this SKU is not listed in this market (yet)")
    return Response(200, content_types.APPLICATION_JSON, item)


@app.put("/rates/<base>")
def put_rates(base: str, request: Annotated[RatesRequest, Body()]) -> Response[Any]:
    if base not in MINOR_UNITS:
        raise invalid([{"in": "path", "field": "base", "reason": f"unsupported currency; supported: {SUPPORTED}"}])
    if base in request.rates:
        raise invalid([{"in": "body", "field": "rates", "reason": "must not hold the base currency itself"}])
    rates = {quote: Decimal(text) for quote, text in request.rates.items()}
    store.put_rates(base, rates)
    logger.info("rates set", extra={"base": base, "rates": {q: str(r) for q, r in rates.items()}})
    return Response(200, content_types.APPLICATION_JSON, {"base": base, "rates": {q: str(r) for q, r in rates.items()}})


@app.get("/rates")
def get_rates() -> dict[str, Any]:
    rates = store.get_rates()
    return {"rates": [{"base": b, "quote": q, "rate": str(r)} for (b, q), r in sorted(rates.items())]}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict, context: Any) -> dict:
    if event.get("routeKey") in STAFF_ROUTES:
        try:
            require_staff(event)
        except Problem as refused:
            logger.info("request refused", extra={"status": refused.status, "route": event.get("routeKey")})
            return refused.result((event.get("requestContext") or {}).get("requestId"))
    return app.resolve(event, context)
