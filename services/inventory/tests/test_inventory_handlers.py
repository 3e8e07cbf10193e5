"""The handlers on moto, fed events exactly as API Gateway and EventBridge -> SQS deliver them:
reservations, releases, duplicates, reordering, failures mid-batch, listings and the HTTP API."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from devtools import commerce_fixtures as commerce

RESERVATIONS, LISTINGS = "inventory.reservations", "inventory.listings"
RATES = {"USD": "1.0850", "GBP": "0.8500", "JPY": "161.20"}


def seed(aws, *skus: tuple[str, int, int]):
    """Rates and stock through the operations API, as the demo does; drains what it published."""
    aws.load_handler("inventory.api")
    assert aws.http("PUT", "/rates/EUR", {"rates": RATES})[0] == 200
    for sku, quantity, threshold in skus:
        body = {
            "name": f"Product {sku}",
            "quantity": quantity,
            "base_price": {"amount": "19.99", "currency": "EUR"},
            "low_stock_threshold": threshold,
        }
        status, _ = aws.http("PUT", f"/inventory/{sku}", body)
        assert status == 201
    return aws.published()


def order_placed(order_id: str, lines: list[tuple[str, int]]):
    """An OrderPlaced as the orders relay publishes it."""
    return commerce.envelope(commerce.order_placed(order_id, lines, unit_price="10.00"))


def payment_failed(order_id: str):
    return commerce.envelope(commerce.payment_failed(order_id, amount="10.00"))


def order_cancelled(order_id: str):
    return commerce.envelope(commerce.order_cancelled(order_id))


def stock(aws, sku: str) -> dict:
    return aws.get_item("inventory:stock", sku=sku)


def reservation(aws, order_id: str) -> dict | None:
    return aws.get_item("inventory:reservations", order_id=order_id)


def level(aws, sku):
    item = stock(aws, sku)
    return int(item["available"]), int(item["reserved"]), int(item["version"])


def kinds(published):
    return [e["detail-type"] for e in published]


def test_an_order_is_reserved_all_at_once_with_level_and_low_stock_events(aws):
    seed(aws, ("MUG-1", 10, 3), ("TEE-2", 5, 0))
    aws.load_handler(RESERVATIONS)
    placed = order_placed("ord_00000001", [("MUG-1", 5), ("TEE-2", 1), ("MUG-1", 3)])
    assert aws.deliver(RESERVATIONS, placed) == {"batchItemFailures": []}

    published = aws.published()
    assert kinds(published) == ["StockReserved", "InventoryLevelChanged", "LowStockDetected", "InventoryLevelChanged"]
    reserved = published[0]["detail"]
    assert reserved["data"] == {
        "order_id": "ord_00000001",
        "lines": [{"sku": "MUG-1", "quantity": 8}, {"sku": "TEE-2", "quantity": 1}],
    }
    order_event_id = placed.metadata.event_id
    assert {e["detail"]["metadata"]["causation_id"] for e in published} == {order_event_id}
    assert {e["detail"]["metadata"]["correlation_id"] for e in published} == {order_event_id}
    mug = published[1]["detail"]["data"]
    assert (mug["sku"], mug["available"], mug["reserved"], mug["change"], mug["stock_version"]) == (
        "MUG-1",
        2,
        8,
        -8,
        2,
    )
    assert published[2]["detail"]["data"] == {"sku": "MUG-1", "available": 2, "threshold": 3}
    assert level(aws, "MUG-1") == (2, 8, 2)
    assert level(aws, "TEE-2") == (4, 1, 2)
    assert reservation(aws, "ord_00000001")["state"] == "reserved"


def test_a_duplicate_order_placed_reserves_nothing_more_and_publishes_nothing(aws):
    seed(aws, ("MUG-1", 10, 0))
    aws.load_handler(RESERVATIONS)
    placed = order_placed("ord_00000002", [("MUG-1", 4)])
    aws.deliver(RESERVATIONS, placed)
    assert len(aws.published()) == 2
    # the same message again, then the same order under another event id (a second relay run)
    assert aws.deliver(RESERVATIONS, placed, placed) == {"batchItemFailures": []}
    assert aws.deliver(RESERVATIONS, order_placed("ord_00000002", [("MUG-1", 4)])) == {"batchItemFailures": []}
    assert aws.published() == []
    assert level(aws, "MUG-1") == (6, 4, 2)


def test_insufficient_stock_fails_the_whole_order_and_keeps_that_answer(aws):
    seed(aws, ("MUG-1", 10, 0), ("TEE-2", 1, 0))
    aws.load_handler(RESERVATIONS)
    placed = order_placed("ord_00000003", [("MUG-1", 2), ("TEE-2", 3), ("NOPE-9", 1)])
    aws.deliver(RESERVATIONS, placed)
    [failed] = aws.published()
    assert failed["detail-type"] == "StockReservationFailed"
    assert failed["detail"]["data"]["shortages"] == [
        {"sku": "NOPE-9", "requested": 1, "available": 0},
        {"sku": "TEE-2", "requested": 3, "available": 1},
    ]
    assert level(aws, "MUG-1") == (10, 0, 1)  # all or nothing: MUG-1 untouched
    assert reservation(aws, "ord_00000003")["state"] == "failed"

    # stock arrives, then the order is redelivered: the answer stays "failed", nothing new goes out
    aws.load_handler("inventory.api")
    body = {"name": "Tee", "quantity": 50, "base_price": {"amount": "9.00", "currency": "EUR"}}
    assert aws.http("PUT", "/inventory/TEE-2", body)[0] == 200
    aws.published()
    aws.load_handler(RESERVATIONS)
    aws.deliver(RESERVATIONS, placed)
    assert aws.published() == []
    assert level(aws, "TEE-2")[:2] == (50, 0)


def test_a_crash_between_write_and_publish_republishes_the_same_event_ids_once(aws, monkeypatch):
    seed(aws, ("MUG-1", 10, 0))
    reservations = aws.load_handler(RESERVATIONS)
    original = reservations.publisher.publish
    monkeypatch.setattr(reservations.publisher, "publish", lambda *e: (_ for _ in ()).throw(RuntimeError("crash")))
    placed = order_placed("ord_00000004", [("MUG-1", 1)])
    record = aws.sqs_record(RESERVATIONS, placed)
    assert aws.deliver(RESERVATIONS, record) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert aws.published() == []
    stored = reservation(aws, "ord_00000004")
    assert stored["outbox_published"] is False
    stored_ids = [__import__("json").loads(e["detail"])["metadata"]["event_id"] for e in stored["outbox"]]

    monkeypatch.setattr(reservations.publisher, "publish", original)
    retry = aws.sqs_record(RESERVATIONS, placed, message_id=record["messageId"], receive_count=2)
    assert aws.deliver(RESERVATIONS, retry) == {"batchItemFailures": []}
    published = aws.published()
    assert [e["detail"]["metadata"]["event_id"] for e in published] == stored_ids
    assert kinds(published) == ["StockReserved", "InventoryLevelChanged"]
    assert level(aws, "MUG-1") == (9, 1, 2)  # reserved once
    aws.deliver(RESERVATIONS, placed)
    assert aws.published() == []


def test_a_failure_mid_batch_fails_only_that_record_and_its_retry_converges(aws, monkeypatch):
    seed(aws, ("MUG-1", 10, 0))
    reservations = aws.load_handler(RESERVATIONS)
    original = reservations.store.reserve
    failed_once = []

    def flaky(order_id, *args, **kwargs):
        if order_id == "ord_00000006" and not failed_once:
            failed_once.append(order_id)
            raise ConnectionError("DynamoDB endpoint unreachable")
        return original(order_id, *args, **kwargs)

    monkeypatch.setattr(reservations.store, "reserve", flaky)
    records = [aws.sqs_record(RESERVATIONS, order_placed(f"ord_0000000{i}", [("MUG-1", 2)])) for i in (5, 6, 7)]
    response = aws.deliver(RESERVATIONS, *records)
    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    assert level(aws, "MUG-1") == (6, 4, 3)
    # SQS redelivers the failed record (and, at least once, a record that had succeeded)
    aws.deliver(RESERVATIONS, records[1], records[0])
    assert level(aws, "MUG-1") == (4, 6, 4)
    published = aws.published()
    assert kinds(published).count("StockReserved") == 3
    assert len({e["detail"]["metadata"]["event_id"] for e in published}) == len(published)


def test_payment_failed_releases_the_stock_once(aws):
    seed(aws, ("MUG-1", 10, 0))
    aws.load_handler(RESERVATIONS)
    aws.deliver(RESERVATIONS, order_placed("ord_00000008", [("MUG-1", 3)]))
    aws.published()
    failed = payment_failed("ord_00000008")
    assert aws.deliver(RESERVATIONS, failed, failed) == {"batchItemFailures": []}
    published = aws.published()
    assert kinds(published) == ["StockReleased", "InventoryLevelChanged"]
    assert published[0]["detail"]["data"] == {
        "order_id": "ord_00000008",
        "lines": [{"sku": "MUG-1", "quantity": 3}],
        "reason": "payment_failed",
    }
    assert published[1]["detail"]["data"]["available"] == 10
    assert level(aws, "MUG-1") == (10, 0, 3)
    # the order is then cancelled too: nothing is released twice
    aws.deliver(RESERVATIONS, order_cancelled("ord_00000008"))
    assert aws.published() == []
    assert level(aws, "MUG-1") == (10, 0, 3)
    assert reservation(aws, "ord_00000008")["release_reason"] == "payment_failed"


def test_a_cancellation_before_the_order_placed_leaves_a_tombstone_and_reserves_nothing(aws):
    seed(aws, ("MUG-1", 10, 0))
    aws.load_handler(RESERVATIONS)
    assert aws.deliver(RESERVATIONS, order_cancelled("ord_00000009")) == {"batchItemFailures": []}
    assert reservation(aws, "ord_00000009")["state"] == "tombstone"
    assert aws.deliver(RESERVATIONS, order_placed("ord_00000009", [("MUG-1", 3)])) == {"batchItemFailures": []}
    assert aws.published() == []
    assert level(aws, "MUG-1") == (10, 0, 1)


# --------------------------------------------------------------------------- listings


def test_listings_follow_levels_in_every_market_and_ignore_stale_or_repeated_ones(aws):
    seeded = seed(aws, ("MUG-1", 10, 8))
    aws.load_handler(LISTINGS)
    assert aws.deliver(LISTINGS, *seeded) == {"batchItemFailures": []}
    prices = {
        m: aws.dynamodb_table("inventory:listings").get_item(Key={"market": m, "sku": "MUG-1"})["Item"]
        for m in ("eu", "us", "uk", "jp")
    }
    assert {m: (i["price"]["amount"], i["price"]["currency"]) for m, i in prices.items()} == {
        "eu": ("19.99", "EUR"),
        "us": ("21.69", "USD"),
        "uk": ("16.99", "GBP"),
        "jp": ("3222", "JPY"),
    }
    assert {i["availability"] for i in prices.values()} == {"in_stock"}

    aws.load_handler(RESERVATIONS)
    aws.deliver(RESERVATIONS, order_placed("ord_00000010", [("MUG-1", 1)]))  # v2: 9 left
    aws.deliver(RESERVATIONS, order_placed("ord_00000011", [("MUG-1", 2)]))  # v3: 7 left, low
    levels = [e for e in aws.published() if e["detail-type"] == "InventoryLevelChanged"]
    v2, v3 = levels
    aws.load_handler(LISTINGS)
    aws.deliver(LISTINGS, v3, v2)  # reordered within the batch
    aws.deliver(LISTINGS, v2, v3)  # and duplicated
    eu = aws.dynamodb_table("inventory:listings").get_item(Key={"market": "eu", "sku": "MUG-1"})["Item"]
    assert (eu["stock_version"], eu["available"], eu["availability"]) == (3, 7, "low_stock")

    aws.load_handler("inventory.api")
    status, body = aws.http("GET", "/listings/jp/MUG-1")
    assert status == 200
    assert (body["price"], body["availability"], body["stock_version"]) == (
        {"amount": "3222", "currency": "JPY"},
        "low_stock",
        3,
    )


def test_a_failing_listing_write_is_retried_and_converges(aws, monkeypatch):
    seeded = seed(aws, ("MUG-1", 10, 0), ("TEE-2", 5, 0))
    listings = aws.load_handler(LISTINGS)
    original = listings.store.put_listing
    calls = []

    def flaky(listing):
        calls.append(listing.market)
        if listing.sku == "TEE-2" and listing.market == "uk" and calls.count("uk") == 2:
            raise ConnectionError("throttled")
        return original(listing)

    monkeypatch.setattr(listings.store, "put_listing", flaky)
    records = [aws.sqs_record(LISTINGS, e) for e in seeded]
    assert aws.deliver(LISTINGS, *records) == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    assert aws.deliver(LISTINGS, *records) == {"batchItemFailures": []}
    items = aws.scan("inventory:listings")
    assert sorted((i["market"], i["sku"]) for i in items) == sorted(
        (m, s) for m in ("eu", "us", "uk", "jp") for s in ("MUG-1", "TEE-2")
    )


# --------------------------------------------------------------------------- HTTP API


def put(aws, sku, body):
    return aws.http("PUT", f"/inventory/{sku}", body)


def test_put_stock_is_idempotent_by_state_and_publishes_only_changes(aws):
    seed(aws)
    aws.load_handler("inventory.api")
    body = {
        "name": "Mug",
        "quantity": 4,
        "base_price": {"amount": "12.50", "currency": "EUR"},
        "low_stock_threshold": 5,
    }
    status, view = put(aws, "MUG-1", body)
    assert status == 201
    assert view | {"updated_at": None} == {
        "sku": "MUG-1",
        "name": "Mug",
        "base_price": {"amount": "12.50", "currency": "EUR"},
        "available": 4,
        "reserved": 0,
        "low_stock_threshold": 5,
        "availability": "low_stock",
        "version": 1,
        "updated_at": None,
    }
    assert kinds(aws.published()) == ["InventoryLevelChanged", "LowStockDetected"]
    assert put(aws, "MUG-1", body)[0] == 200
    assert aws.published() == []
    status, view = put(aws, "MUG-1", body | {"base_price": {"amount": "13.00", "currency": "EUR"}})
    assert (status, view["version"]) == (200, 2)
    [changed] = aws.published()
    assert (changed["detail"]["data"]["change"], changed["detail"]["data"]["reason"]) == (0, "restocked")
    assert aws.http("GET", "/inventory/MUG-1")[1]["version"] == 2


def test_put_stock_refuses_bad_input_with_a_reason_per_field(aws):
    seed(aws)
    aws.load_handler("inventory.api")
    status, body = put(aws, "MUG-1", {"name": "", "quantity": "5", "base_price": {"amount": 19.99, "currency": "EUR"}})
    assert status == 400
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"name", "quantity", "base_price.amount"}
    assert "no floats in money" in next(e["reason"] for e in body["errors"] if e["field"] == "base_price.amount")
    status, body = put(aws, "mug", {"name": "x", "quantity": 1, "base_price": {"amount": "1", "currency": "EUR"}})
    assert (status, body["errors"][0]["in"], body["errors"][0]["field"]) == (400, "path", "sku")
    status, body = put(aws, "MUG-1", {"name": "x", "quantity": 1, "base_price": {"amount": "1.00", "currency": "CHF"}})
    assert (status, body["missing"]) == (422, ["EUR", "GBP", "JPY", "USD"])
    assert body["type"] == "https://eda.example/problems/missing-rates"
    assert aws.http("GET", "/inventory/NONE-1")[0] == 404
    assert aws.published() == []


def test_put_stock_after_a_crash_before_publishing_publishes_the_stored_events(aws, monkeypatch):
    seed(aws)
    api = aws.load_handler("inventory.api")
    original = api.publisher.publish
    monkeypatch.setattr(api.publisher, "publish", lambda *e: (_ for _ in ()).throw(RuntimeError("crash")))
    body = {"name": "Mug", "quantity": 7, "base_price": {"amount": "12.50", "currency": "EUR"}}
    with pytest.raises(RuntimeError):
        put(aws, "MUG-1", body)
    monkeypatch.setattr(api.publisher, "publish", original)
    assert put(aws, "MUG-1", body)[0] == 200  # the operator retries: same state, stored events go out
    [changed] = aws.published()
    assert (changed["detail"]["data"]["available"], changed["detail"]["data"]["stock_version"]) == (7, 1)
    assert put(aws, "MUG-1", body)[0] == 200
    assert aws.published() == []


def test_rates_are_decimal_strings(aws):
    aws.load_handler("inventory.api")
    status, body = aws.http("PUT", "/rates/EUR", {"rates": {"USD": 1.08}})
    assert status == 400 and body["errors"][0]["field"] == "rates.USD"
    assert aws.http("PUT", "/rates/EUR", {"rates": {"XXX": "1"}})[0] == 400
    assert aws.http("PUT", "/rates/EUR", {"rates": RATES})[0] == 200
    status, body = aws.http("GET", "/rates")
    assert status == 200
    assert {(r["quote"], Decimal(r["rate"])) for r in body["rates"]} == {(q, Decimal(r)) for q, r in RATES.items()}


# --------------------------------------------------------------------------- bad input: a clear 4xx


def problem(aws, method: str, path: str, body=None, **kwargs):
    response = aws.http_response(method, path, body, **kwargs)
    return response["statusCode"], json.loads(response["body"]), response.get("headers") or {}


def fields(body: dict) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


STOCK = {"name": "Mug", "quantity": 4, "base_price": {"amount": "12.50", "currency": "EUR"}, "low_stock_threshold": 1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": True}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": 2.0}, "quantity"),
        ({"quantity": 10**30}, "quantity"),
        ({"low_stock_threshold": True}, "low_stock_threshold"),
        ({"low_stock_threshold": 1.0}, "low_stock_threshold"),
        ({"name": 5}, "name"),
        ({"base_price": {"amount": "-1.00", "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": "0.00", "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": "-0", "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": 12, "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": True, "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": "NaN", "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": "Infinity", "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": "1e3", "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": "12.505", "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": "1" * 40, "currency": "EUR"}}, "base_price.amount"),
        ({"base_price": {"amount": "12.50", "currency": "XXX"}}, "base_price.currency"),
        ({"base_price": {"amount": "12.50", "currency": 978}}, "base_price.currency"),
        ({"base_price": "12.50 EUR"}, "base_price"),
    ],
)
def test_put_stock_refuses_wrong_types_and_non_positive_prices(aws, change, field):
    seed(aws)
    status, body, headers = problem(aws, "PUT", "/inventory/MUG-1", STOCK | change)
    assert (status, fields(body)) == (400, {field}), body
    assert headers["Content-Type"] == "application/problem+json"
    assert aws.get_item("inventory:stock", sku="MUG-1") is None
    assert aws.published() == []


@pytest.mark.parametrize(
    ("rates", "field"),
    [
        ({"USD": "0"}, "rates.USD"),
        ({"USD": "0.000"}, "rates.USD"),
        ({"USD": "-1.08"}, "rates.USD"),
        ({"USD": 1.08}, "rates.USD"),
        ({"USD": True}, "rates.USD"),
        ({"USD": "NaN"}, "rates.USD"),
        ({"NOPE-99": "1.0"}, "rates"),
        ({"EUR": "1.0"}, "rates"),
        ({}, "rates"),
        ("USD=1.08", "rates"),
    ],
)
def test_rates_must_be_positive_decimal_strings_for_other_supported_currencies(aws, rates, field):
    aws.load_handler("inventory.api")
    status, body, _ = problem(aws, "PUT", "/rates/EUR", {"rates": rates})
    assert (status, fields(body)) == (400, {field}), body
    assert "NOPE-99" not in json.dumps(body)
    assert aws.http("GET", "/rates")[1] == {"rates": []}


def test_reasons_and_not_found_answers_never_echo_the_callers_input(aws):
    aws.load_handler("inventory.api")
    for method, path, body in [
        ("PUT", "/rates/NOPE-99", {"rates": {"USD": "1"}}),
        ("PUT", "/inventory/NOPE_99!", STOCK),
        ("GET", "/inventory/NOPE-99", None),
        ("GET", "/listings/mars/NOPE-99", None),
        ("GET", "/listings/eu/NOPE-99", None),
    ]:
        status, answer, headers = problem(aws, method, path, body)
        assert status in (400, 404) and headers["Content-Type"] == "application/problem+json", (path, answer)
        assert "NOPE" not in json.dumps(answer) and "mars" not in json.dumps(answer), answer


@pytest.mark.parametrize("sku", ["A" * 3000, "%00", "MUG-1%2F..", "\u00e9" * 10])
def test_odd_path_parameters_are_4xx_never_500(aws, sku):
    aws.load_handler("inventory.api")
    for method, path, body in [
        ("GET", f"/inventory/{sku}", None),
        ("PUT", f"/inventory/{sku}", STOCK),
        ("GET", f"/listings/eu/{sku}", None),
        ("PUT", f"/rates/{sku}", {"rates": {"USD": "1"}}),
    ]:
        assert problem(aws, method, path, body)[0] in (400, 404), path


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ("", "application/json"),
        ("nope", "application/json"),
        ("[]", "application/json"),
        ("null", "application/json"),
        ("[" * 100_000, "application/json"),
        ('{"quantity": 1' + "0" * 5000 + "}", "application/json"),
        ('{"name": "\\udc00"}', "application/json"),
        (json.dumps(STOCK), "text/csv"),
        (b"\xc3\x28", "application/json"),
    ],
)
def test_unreadable_bodies_are_4xx_problems(aws, raw, content_type):
    aws.load_handler("inventory.api")
    for path in ("/inventory/MUG-1", "/rates/EUR"):
        status, answer, headers = problem(aws, "PUT", path, raw, headers={"content-type": content_type})
        assert status in (400, 415), answer
        assert headers["Content-Type"] == "application/problem+json" and answer["status"] == status


# --------------------------------------------------------------------------- who may call


def test_staff_routes_refuse_customers_with_a_403_problem_before_reading_the_body(aws):
    from devtools.testing import customer

    aws.load_handler("inventory.api")
    anna = customer("anna")
    for method, path, body in (
        ("PUT", "/inventory/MUG-1", {"quantity": "not even valid"}),
        ("GET", "/inventory/MUG-1", None),
        ("PUT", "/rates/EUR", {"rates": RATES}),
    ):
        status, answer, headers = problem(aws, method, path, body, user=anna)
        assert status == 403, (method, path, answer)
        assert headers["Content-Type"] == "application/problem+json"
        assert answer["type"] == "https://eda.example/problems/forbidden" and "errors" not in answer
    assert aws.scan("inventory:rates") == [] and aws.scan("inventory:stock") == []
    assert aws.published() == []
    assert aws.http("GET", "/rates", user=anna) == (200, {"rates": []})  # customers read rates and listings
    assert aws.http("GET", "/listings/eu/MUG-1", user=anna)[0] == 404
    assert aws.http("GET", "/rates", user=None)[0] == 401  # API Gateway: no token, no function


def test_the_staff_routes_in_the_code_are_the_manifests(aws):
    api = aws.services["inventory"].function("api")
    staff_routes = aws.load_handler("inventory.api").STAFF_ROUTES
    assert staff_routes == {r.key for r in api.trigger.route_access if r.access == "staff"}
