"""50 concurrent orders for a SKU with 10 units: exactly 10 reserved, 40 failed, never oversold.

Each order is its own invocation on its own thread (Lambda runs concurrent invocations in
separate environments; threads share only moto and the module, which the handler does not
mutate). The test kit makes moto's DynamoDB writes serializable, as DynamoDB's are: without
that lock moto itself loses writes under threads (see the devtools.testing docstring).
"""

from __future__ import annotations

import threading

from devtools import commerce_fixtures as commerce

ORDERS, UNITS = 50, 10


def test_fifty_concurrent_orders_for_ten_units_reserve_exactly_ten(aws):
    aws.load_handler("inventory.api")
    aws.http("PUT", "/rates/EUR", {"rates": {"USD": "1.08", "GBP": "0.85", "JPY": "161"}})
    body = {
        "name": "Mug",
        "quantity": UNITS,
        "base_price": {"amount": "9.99", "currency": "EUR"},
        "low_stock_threshold": 3,
    }
    assert aws.http("PUT", "/inventory/MUG-1", body)[0] == 201
    aws.published()

    aws.load_handler("inventory.reservations")
    records = [
        aws.sqs_record(
            "inventory.reservations", commerce.order_placed(f"ord_{i:08d}", [("MUG-1", 1)], unit_price="10.00")
        )
        for i in range(ORDERS)
    ]
    start = threading.Barrier(ORDERS)
    responses: list[dict] = []

    def place(record):
        start.wait()
        responses.append(aws.deliver("inventory.reservations", record))

    threads = [threading.Thread(target=place, args=(r,)) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert responses == [{"batchItemFailures": []}] * ORDERS  # every order got its answer first time
    stock = aws.get_item("inventory:stock", sku="MUG-1")
    assert (int(stock["available"]), int(stock["reserved"])) == (0, UNITS)
    states = [aws.get_item("inventory:reservations", order_id=f"ord_{i:08d}")["state"] for i in range(ORDERS)]
    assert (states.count("reserved"), states.count("failed")) == (UNITS, ORDERS - UNITS)

    published = aws.published()
    by_type: dict[str, list[dict]] = {}
    for event in published:
        by_type.setdefault(event["detail-type"], []).append(event["detail"]["data"])
    assert len(by_type["StockReserved"]) == UNITS
    assert len(by_type["StockReservationFailed"]) == ORDERS - UNITS
    reserved_orders = {e["order_id"] for e in by_type["StockReserved"]}
    assert reserved_orders == {f"ord_{i:08d}" for i, s in enumerate(states) if s == "reserved"}
    # every level ever announced is non-negative and the versions tell one exact history
    levels = sorted(by_type["InventoryLevelChanged"], key=lambda d: d["stock_version"])
    assert [d["stock_version"] for d in levels] == list(range(2, UNITS + 2))
    assert [d["available"] for d in levels] == list(range(UNITS - 1, -1, -1))
    assert all(d["available"] >= 0 and d["available"] + d["reserved"] == UNITS for d in levels)
    assert len(by_type["LowStockDetected"]) == 1  # one crossing (3 -> 2), not one per change
    assert {f["shortages"][0]["available"] for f in by_type["StockReservationFailed"]} == {0}
