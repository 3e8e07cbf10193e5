"""The orders handlers on moto, fed events exactly as API Gateway, SQS and DynamoDB Streams deliver them."""

from __future__ import annotations

import copy
import json
import logging
import time
from datetime import UTC, datetime

import pytest

from devtools import commerce_fixtures as commerce
from devtools.testing import customer

ANNA, BEN = customer("anna"), customer("ben")  # verified tokens' claims: the customer is their `sub`
BODY = {
    "customer": {
        "email": "erika@example.de",
        "name": "Erika Mustermann",
        "locale": "de-DE",
        "time_zone": "Europe/Berlin",
        "region": "eu-central-1",
    },
    "currency": "EUR",
    "lines": [{"sku": "MUG-01", "quantity": 2}, {"sku": "TEE-02", "quantity": 1}],
    "shipping_address": {
        "name": "Erika Mustermann",
        "line1": "Heidestr. 17",
        "city": "Köln",
        "postal_code": "51147",
        "country": "DE",
    },
    "payment_method_id": "pm_abcdefgh12",
}
API, PROCESS, RELAY, PROJECTION = "orders.api", "orders.process", "orders.relay", "orders.projection"


def call(aws, method: str, path: str, body=None, *, key: str | None = None, query=None, user=ANNA):
    """A request through the HTTP API (to the orders.api module loaded last), as `user` (claims)."""
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return aws.http(method, path, body, headers=headers, query=query, user=user)


def place(aws, key: str = "key-1", body=BODY, user=ANNA):
    """POST /orders to a freshly loaded orders.api; (status, body)."""
    aws.load_handler(API)
    return call(aws, "POST", "/orders", body, key=key, user=user)


def stream_records(aws) -> list[dict]:
    """The events table's new stream records, as Lambda hands them to relay and projection."""
    return aws.stream_records("orders:events")


def pump(aws, *functions: str) -> dict[str, dict]:
    """Hand the new stream records to each stream function, as the event source mappings would."""
    records = stream_records(aws)
    responses = {}
    for fn in functions:
        aws.load_handler(fn)
        responses[fn] = aws.deliver(fn, *records)
    return responses


def incoming(aws, data, receive_count: int = 1) -> dict:
    """The SQS record of orders.process for an event its producer publishes now."""
    return aws.sqs_record(PROCESS, commerce.envelope(data), receive_count=receive_count)


def paid(order_id: str, payment_id: str = "pay_0000abcd"):
    return commerce.payment_succeeded(order_id, payment_id=payment_id, amount="44.99")


def dispatched(order_id: str):
    return commerce.shipment_dispatched(order_id, shipment_id="shp_0000abcd", tracking_number="JJD0001")


def delivered(order_id: str):
    return commerce.shipment_delivered(order_id, shipment_id="shp_0000abcd")


def view_item(aws, order_id: str) -> dict | None:
    """The order view's item, in DynamoDB JSON."""
    views = aws.table("orders:views")
    return aws.clients.dynamodb.get_item(TableName=views, Key={"order_id": {"S": order_id}}).get("Item")


# --------------------------------------------------------------------------- whose order


def test_the_order_belongs_to_the_tokens_customer_never_to_a_body_field(aws):
    status, order = place(aws)
    assert status == 201 and order["customer"]["customer_id"] == ANNA["sub"]
    body = copy.deepcopy(BODY)
    body["customer"]["customer_id"] = BEN["sub"]  # a customer id in the body is refused, not used
    status, answer = place(aws, key="key-2", body=body)
    assert status == 400 and fields(answer) == {"customer"}, answer
    assert call(aws, "POST", "/orders", BODY, key="key-3", user=None)[0] == 401  # API Gateway: no token


def test_another_customers_order_is_not_found_like_a_missing_one(aws):
    _, order = place(aws)
    order_id = order["order_id"]
    pump(aws, PROJECTION)
    aws.load_handler(API)
    assert call(aws, "GET", f"/orders/{order_id}")[0] == 200
    missing = "ord_" + "0" * 32
    for method, path, query in (
        ("GET", "/orders/{}", None),
        ("GET", "/orders/{}", {"as_of": "2020-01-01T00:00:00Z"}),
        ("GET", "/orders/{}", {"as_of": "2999-01-01T00:00:00Z"}),
        ("GET", "/orders/{}/events", None),
        ("POST", "/orders/{}/cancel", None),
    ):
        theirs = call(aws, method, path.format(order_id), query=query, user=BEN)
        nobodys = call(aws, method, path.format(missing), query=query, user=BEN)
        assert theirs[0] == nobodys[0] == 404, (method, path, query, theirs)
        assert {k: v for k, v in theirs[1].items() if k != "instance"} == {
            k: v for k, v in nobodys[1].items() if k != "instance"
        }, "another customer's order must be indistinguishable from a missing one"
    assert call(aws, "GET", f"/orders/{order_id}")[1]["status"] == "Placed"  # Ben's cancel did nothing


def test_another_customers_idempotency_key_is_another_order_never_a_replay(aws):
    _, anna = place(aws, key="shared-key")
    status, ben = place(aws, key="shared-key", user=BEN)
    assert status == 201 and ben["order_id"] != anna["order_id"]
    assert ben["customer"]["customer_id"] == BEN["sub"]


# --------------------------------------------------------------------------- POST /orders


def test_post_orders_is_idempotent_per_key_and_body(aws):
    status, order = place(aws)
    assert status == 201
    assert order["status"] == "Placed" and order["total"] == {"amount": "44.99", "currency": "EUR"}
    assert order["order_id"].startswith("ord_")
    assert aws.load_handler(API) and len(stream_records(aws)) == 1  # one event appended

    # The client retries: same key, same body (keys reordered) -> the same response, nothing new.
    reordered = dict(reversed(list(BODY.items())))
    assert call(aws, "POST", "/orders", reordered, key="key-1") == (201, order)
    assert stream_records(aws) == []

    # Same key, another body -> 422, nothing appended.
    other = copy.deepcopy(BODY)
    other["lines"][0]["quantity"] = 3
    status, body = call(aws, "POST", "/orders", other, key="key-1")
    assert status == 422 and "different request body" in body["detail"]
    assert body["type"] == "https://eda.example/problems/idempotency-key-reused"
    assert stream_records(aws) == []

    # A new key is a new order.
    status, second = call(aws, "POST", "/orders", BODY, key="key-2")
    assert status == 201 and second["order_id"] != order["order_id"]


def test_post_orders_without_a_key_is_400_and_creates_nothing(aws):
    aws.load_handler(API)
    status, body = call(aws, "POST", "/orders", BODY)
    assert status == 400 and body["errors"] == [
        {"in": "header", "field": "idempotency-key", "reason": "the Idempotency-Key header is required"}
    ]
    assert stream_records(aws) == []


def test_invalid_bodies_are_400_with_a_reason_per_field(aws):
    aws.load_handler(API)
    bad = copy.deepcopy(BODY)
    bad["currency"] = "XXX"
    bad["lines"] = [{"sku": "MUG-01", "quantity": 0}, {"sku": "bad sku", "quantity": 1}]
    bad["customer"]["time_zone"] = "Mars/Olympus"
    del bad["shipping_address"]["city"]
    bad["surprise"] = True
    status, body = call(aws, "POST", "/orders", bad, key="key-bad")
    assert status == 400
    errors = {e["field"]: e["reason"] for e in body["errors"]}
    assert set(errors) == {
        "currency",
        "lines.0.quantity",
        "lines.1.sku",
        "customer.time_zone",
        "shipping_address.city",
        "",  # "surprise": an unknown field, reported on its parent without its name
    }
    assert "greater than or equal to 1" in errors["lines.0.quantity"]
    assert errors["customer.time_zone"] == "must be an IANA time zone name, e.g. Europe/Berlin"
    assert errors["shipping_address.city"] == "Field required"
    assert {e["in"] for e in body["errors"]} == {"body"}

    unknown = copy.deepcopy(BODY)
    unknown["lines"].append({"sku": "GHOST-1", "quantity": 1})
    status, body = call(aws, "POST", "/orders", unknown, key="key-ghost")
    assert (status, body["errors"]) == (
        400,
        [{"in": "body", "field": "lines.2.sku", "reason": "not sold in the customer's market (yet)"}],
    )
    status, body = call(aws, "POST", "/orders", None, key="key-empty")
    assert (status, body["errors"]) == (400, [{"in": "body", "field": "", "reason": "a JSON object is required"}])
    assert stream_records(aws) == []


def test_prices_come_from_the_customers_market_converted_into_the_order_currency(aws):
    body = copy.deepcopy(BODY)
    body["currency"] = "JPY"
    body["lines"] = [{"sku": "MUG-01", "quantity": 1}]
    status, order = place(aws, "key-jpy", body)
    assert status == 201
    assert order["total"] == {"amount": "2015", "currency": "JPY"}  # 12.50 EUR * 161.2345, no minor units
    body["customer"]["region"] = "ap-northeast-1"  # the jp market lists it in yen already
    status, order = place(aws, "key-jp", body)
    assert order["total"] == {"amount": "2000", "currency": "JPY"}


# --------------------------------------------------------------------------- outbox relay


def test_relay_publishes_each_event_once_as_stored_and_skips_snapshots(aws):
    _, order = place(aws)
    records = stream_records(aws)
    assert len(records) == 1
    aws.load_handler(RELAY)
    # The stream hands the record over twice in one batch, plus a snapshot item and a removal.
    snapshot = copy.deepcopy(records[0])
    snapshot["dynamodb"]["NewImage"] = {
        "stream_id": {"S": order["order_id"] + "#snapshot"},
        "version": {"N": "1"},
        "kind": {"S": "snapshot"},
        "occurred_at": {"S": "2026-11-27T09:00:00Z"},
        "state": {"S": "{}"},
    }
    snapshot["dynamodb"]["SequenceNumber"] = "900"
    removal = {**copy.deepcopy(records[0]), "eventName": "REMOVE"}
    assert aws.deliver(RELAY, records[0], records[0], snapshot, removal) == {"batchItemFailures": []}
    published = aws.published()
    assert [(e["source"], e["detail-type"]) for e in published] == [("orders", "OrderPlaced")]
    stored = json.loads(records[0]["dynamodb"]["NewImage"]["metadata"]["S"])
    assert published[0]["detail"]["metadata"] == stored  # same event_id, occurred_at, correlation
    assert published[0]["detail"]["data"] == json.loads(records[0]["dynamodb"]["NewImage"]["data"]["S"])


def test_relay_reports_the_first_failed_event_and_everything_after_it(aws, monkeypatch):
    _, order = place(aws)
    call(aws, "POST", f"/orders/{order['order_id']}/cancel", {"reason": "changed my mind"})
    _, order2 = place(aws, "key-2")
    records = stream_records(aws)
    assert len(records) == 3
    relay = aws.load_handler(RELAY)
    client = relay.publisher.client
    real = client.put_events
    failing_id = json.loads(records[1]["dynamodb"]["NewImage"]["metadata"]["S"])["event_id"]

    def flaky(Entries):  # EventBridge rejects the second entry (e.g. throttled), every attempt
        passing = [e for e in Entries if failing_id not in e["Detail"]]
        results = iter(real(Entries=passing)["Entries"] if passing else [])
        entries = [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
            if failing_id in e["Detail"]
            else next(results)
            for e in Entries
        ]
        return {"FailedEntryCount": 1, "Entries": entries}

    monkeypatch.setattr(client, "put_events", flaky)
    relay.publisher.base_delay = 0
    result = aws.deliver(RELAY, *records)
    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert result == {"batchItemFailures": [{"itemIdentifier": s} for s in seqs[1:]]}
    first = aws.published()
    assert [e["detail-type"] for e in first] == ["OrderPlaced", "OrderPlaced"]  # the 1st, and the 3rd went too

    monkeypatch.setattr(client, "put_events", real)
    # Lambda retries from the lowest failed sequence number.
    assert aws.deliver(RELAY, *records[1:]) == {"batchItemFailures": []}
    retried = aws.published()
    assert [e["detail-type"] for e in retried] == ["OrderCancelled", "OrderPlaced"]
    assert retried[1]["detail"]["metadata"]["event_id"] == first[1]["detail"]["metadata"]["event_id"]  # same id again
    assert {e["detail"]["data"]["order_id"] for e in first} == {order["order_id"], order2["order_id"]}


# --------------------------------------------------------------------------- reactions


def test_reactions_apply_once_under_duplicates_and_wait_for_out_of_order_events(aws):
    _, order = place(aws)
    order_id = order["order_id"]
    aws.load_handler(PROCESS)
    pay_record = incoming(aws, paid(order_id))
    deliver_record = incoming(aws, delivered(order_id))
    dispatch_record = incoming(aws, dispatched(order_id))

    # Payment delivered twice in one batch, and the delivery before the dispatch.
    batch = [pay_record, copy.deepcopy(pay_record), deliver_record]
    assert aws.deliver(PROCESS, *batch) == {"batchItemFailures": [{"itemIdentifier": deliver_record["messageId"]}]}
    aws.load_handler(API)
    history = aws.http_response("GET", f"/orders/{order_id}/events", user=ANNA)
    types = [e["detail_type"] for e in json.loads(history["body"])["events"]]
    assert types == ["OrderPlaced", "PaymentReceived"]

    # The dispatch arrives; then SQS redelivers the delivery (and the payment once more).
    assert aws.deliver(PROCESS, dispatch_record) == {"batchItemFailures": []}
    again = {**deliver_record, "attributes": {**deliver_record["attributes"], "ApproximateReceiveCount": "2"}}
    assert aws.deliver(PROCESS, again, pay_record) == {"batchItemFailures": []}

    aws.load_handler(API)
    _, events = call(aws, "GET", f"/orders/{order_id}/events")
    assert [e["detail_type"] for e in events["events"]] == [
        "OrderPlaced",
        "PaymentReceived",
        "OrderShipped",
        "OrderDelivered",
    ]
    assert [e["version"] for e in events["events"]] == [1, 2, 3, 4]
    # the reaction's event is caused by the incoming one
    aws.load_handler(RELAY)
    aws.deliver(RELAY, *stream_records(aws))
    published = aws.published()
    paid_event = next(e for e in published if e["detail-type"] == "PaymentReceived")
    assert (
        paid_event["detail"]["metadata"]["causation_id"]
        == json.loads(pay_record["body"])["detail"]["metadata"]["event_id"]
    )


def test_rejection_payment_failure_and_an_event_for_an_unknown_order(aws):
    _, a = place(aws, "key-a")
    _, b = place(aws, "key-b")
    aws.load_handler(PROCESS)
    rejected = incoming(aws, commerce.stock_reservation_failed(a["order_id"], [("MUG-01", 2, 1)]))
    failed = incoming(aws, commerce.payment_failed(b["order_id"], payment_id="pay_0000abcd", reason="card_declined"))
    stranger = incoming(aws, paid("ord_doesnotexist"))
    result = aws.deliver(PROCESS, rejected, stranger, failed)
    assert result == {"batchItemFailures": [{"itemIdentifier": stranger["messageId"]}]}
    pump(aws, PROJECTION)
    aws.load_handler(API)
    assert call(aws, "GET", f"/orders/{a['order_id']}")[1]["status"] == "Rejected"
    view_b = call(aws, "GET", f"/orders/{b['order_id']}")[1]
    assert (view_b["status"], view_b["reason"]) == ("PaymentFailed", "card_declined")


# --------------------------------------------------------------------------- reads, as_of, cancel


def test_get_order_reads_the_view_and_as_of_replays_the_store(aws):
    _, order = place(aws)
    order_id = order["order_id"]
    assert call(aws, "GET", f"/orders/{order_id}")[0] == 404  # the projection has not run yet
    time.sleep(0.01)  # keep the two moments apart
    between = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.01)
    record = incoming(aws, paid(order_id))
    aws.load_handler(PROCESS)
    assert aws.deliver(PROCESS, record) == {"batchItemFailures": []}
    pump(aws, PROJECTION)

    status, view = call(aws, "GET", f"/orders/{order_id}")
    assert (status, view["status"], view["version"]) == (200, "Paid", 2)
    assert view["payment"]["payment_id"] == "pay_0000abcd" and "payment_method_id" not in view

    status, then = call(aws, "GET", f"/orders/{order_id}", query={"as_of": between})
    assert (status, then["status"], then["version"], then["payment"]) == (200, "Placed", 1, None)
    assert call(aws, "GET", f"/orders/{order_id}", query={"as_of": "2020-01-01T00:00:00Z"})[0] == 404
    status, body = call(aws, "GET", f"/orders/{order_id}", query={"as_of": "yesterday"})
    assert status == 400 and [e["field"] for e in body["errors"]] == ["as_of"]
    assert call(aws, "GET", "/orders/ord_unknown0000")[0] == 404
    assert call(aws, "GET", "/orders/not-an-id/events")[0] == 404
    assert call(aws, "GET", "/orders/ord_unknown0000/events")[0] == 404


def test_cancel_before_shipping_then_409(aws):
    _, order = place(aws)
    order_id = order["order_id"]
    status, cancelled = call(aws, "POST", f"/orders/{order_id}/cancel", {"reason": "changed my mind"})
    assert (status, cancelled["status"], cancelled["reason"]) == (200, "Cancelled", "changed my mind")
    status, body = call(aws, "POST", f"/orders/{order_id}/cancel")
    assert (status, body["order_status"]) == (409, "Cancelled")
    assert call(aws, "POST", "/orders/ord_unknown0000/cancel")[0] == 404

    _, shipped = place(aws, "key-ship")
    aws.load_handler(PROCESS)
    for data in [paid(shipped["order_id"]), dispatched(shipped["order_id"])]:
        assert aws.deliver(PROCESS, incoming(aws, data)) == {"batchItemFailures": []}
    status, body = call(aws, "POST", f"/orders/{shipped['order_id']}/cancel", {})
    assert (status, body["detail"]) == (409, "the order is Shipped: cannot cancel")


# --------------------------------------------------------------------------- projection and rebuild


def test_projection_is_unaffected_by_duplicated_and_reordered_records_and_equals_a_rebuild(aws):
    _, order = place(aws)
    order_id = order["order_id"]
    aws.load_handler(PROCESS)
    for data in [paid(order_id), dispatched(order_id), delivered(order_id)]:
        assert aws.deliver(PROCESS, incoming(aws, data)) == {"batchItemFailures": []}
    records = stream_records(aws)
    assert len(records) == 4
    aws.load_handler(PROJECTION)

    # Out of order and duplicated: v3, v1, v1, v4 (v2 missing), then everything again reversed.
    assert aws.deliver(PROJECTION, records[2], records[0], records[0], records[3]) == {"batchItemFailures": []}
    live = view_item(aws, order_id)
    assert live["status"]["S"] == "Delivered" and live["stream_version"]["N"] == "4"
    assert aws.deliver(PROJECTION, *reversed(records)) == {"batchItemFailures": []}
    assert view_item(aws, order_id) == live

    view = call(aws, "GET", f"/orders/{order_id}")[1]
    assert view["status"] == "Delivered" and set(view["timestamps"]) == {"Placed", "Paid", "Shipped", "Delivered"}

    # Rebuild from the store into an empty view table: the same items.
    from orders import rebuild_view

    aws.clients.dynamodb.delete_item(TableName=aws.table("orders:views"), Key={"order_id": {"S": order_id}})
    assert rebuild_view.main(["--env", "test"]) == 0
    assert view_item(aws, order_id) == live


def test_a_failing_projection_write_mid_batch_fails_that_record_and_the_rest_then_the_retry_succeeds(aws, monkeypatch):
    _, a = place(aws, "key-a")
    _, b = place(aws, "key-b")
    _, c = place(aws, "key-c")
    records = stream_records(aws)
    aws.load_handler(PROJECTION)
    from orders import adapters

    real = adapters.ViewTable.put_if_newer
    calls = {"n": 0}

    def flaky(self, order, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return real(self, order, **kwargs)

    monkeypatch.setattr(adapters.ViewTable, "put_if_newer", flaky)
    result = aws.deliver(PROJECTION, *records)
    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert result == {"batchItemFailures": [{"itemIdentifier": s} for s in seqs[1:]]}
    assert view_item(aws, a["order_id"]) is not None and view_item(aws, b["order_id"]) is None
    assert aws.deliver(PROJECTION, *records[1:]) == {"batchItemFailures": []}
    assert all(view_item(aws, o["order_id"]) for o in (a, b, c))


def test_a_handler_failure_mid_batch_then_its_retry_on_the_process_queue(aws, monkeypatch):
    _, a = place(aws, "key-a")
    _, b = place(aws, "key-b")
    aws.load_handler(PROCESS)
    rec_a = incoming(aws, paid(a["order_id"]))
    rec_b = incoming(aws, paid(b["order_id"], "pay_0000bbbb"))
    from orders import adapters

    real = adapters.repository
    calls = {"n": 0}

    def flaky(*args):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("endpoint unreachable")
        return real(*args)

    monkeypatch.setattr(adapters, "repository", flaky)
    assert aws.deliver(PROCESS, rec_a, rec_b) == {"batchItemFailures": [{"itemIdentifier": rec_a["messageId"]}]}
    # Redelivery of the whole batch (a was failed; b is a duplicate by then).
    assert aws.deliver(PROCESS, rec_a, rec_b) == {"batchItemFailures": []}
    aws.load_handler(API)
    for o in (a, b):
        _, events = call(aws, "GET", f"/orders/{o['order_id']}/events")
        assert [e["detail_type"] for e in events["events"]] == ["OrderPlaced", "PaymentReceived"]


@pytest.mark.parametrize("conflicts", [1, 3])
def test_a_concurrent_append_makes_the_reaction_reload_and_apply_again(aws, monkeypatch, conflicts):
    _, order = place(aws)
    order_id = order["order_id"]
    aws.load_handler(PROCESS)
    from orders import adapters

    from shared.eventstore import ConcurrencyError, EventStore

    real_append = EventStore.append
    left = {"n": conflicts}

    def racing(self, stream_id, expected_version, events, snapshot_state=None):
        if left["n"]:
            left["n"] -= 1
            raise ConcurrencyError(stream_id, expected_version)
        return real_append(self, stream_id, expected_version, events, snapshot_state)

    monkeypatch.setattr(EventStore, "append", racing)
    assert aws.deliver(PROCESS, incoming(aws, paid(order_id))) == {"batchItemFailures": []}
    assert [e.detail_type for e in adapters.event_store().history(order_id)] == ["OrderPlaced", "PaymentReceived"]


# --------------------------------------------------------------------------- bad input: a clear 4xx


def problem(response_or_aws, *args, **kwargs):
    """(status, problem body, headers) of a request through the HTTP API."""
    response = response_or_aws.http_response(*args, **{"user": ANNA, **kwargs})
    return response["statusCode"], json.loads(response["body"]), response.get("headers") or {}


def post(aws, body, key: str, **kwargs):
    headers = {"content-type": "application/json", "Idempotency-Key": key}
    return problem(aws, "POST", "/orders", body, headers=headers, **kwargs)


def fields(body: dict) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


@pytest.mark.parametrize("quantity", [True, False, "2", 2.0, 1.5, None, [2], {"n": 2}, 10**30, -1])
def test_quantities_must_be_json_integers(aws, quantity):
    aws.load_handler(API)
    body = copy.deepcopy(BODY)
    body["lines"][0]["quantity"] = quantity
    status, answer, headers = post(aws, body, f"key-q-{quantity!r}")
    assert status == 400, answer
    assert headers["Content-Type"] == "application/problem+json"
    assert fields(answer) == {"lines.0.quantity"}
    assert stream_records(aws) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(currency=7), "currency"),
        (lambda b: b.update(lines="MUG-01"), "lines"),
        (lambda b: b.update(lines=[]), "lines"),
        (lambda b: b["lines"].__setitem__(0, "MUG-01"), "lines.0"),
        (lambda b: b["customer"].update(email=42), "customer.email"),
        (lambda b: b.update(customer="c-42"), "customer"),
        (lambda b: b["shipping_address"].update(line2=3), "shipping_address.line2"),
        (lambda b: b.update(payment_method_id=None), "payment_method_id"),
    ],
)
def test_wrong_json_types_anywhere_in_the_order_are_400_on_that_field(aws, change, field):
    aws.load_handler(API)
    body = copy.deepcopy(BODY)
    change(body)
    status, answer, _ = post(aws, body, "key-types")
    assert (status, fields(answer)) == (400, {field}), answer


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ("", "application/json"),
        ("not json", "application/json"),
        ("[]", "application/json"),
        ('"order"', "application/json"),
        ("null", "application/json"),
        ('{"lines": [' * 50_000, "application/json"),
        ('{"lines": [{"sku": "MUG-01", "quantity": 1' + "0" * 5000 + "}]}", "application/json"),
        ('{"currency": NaN}', "application/json"),
        ('{"currency": "\\ud800"}', "application/json"),
        ('{"currency": "EUR", "currency": "EUR"}', "application/json"),
        (json.dumps(BODY), "text/plain"),
        (b"\xff\xfe\x00", "application/json"),
    ],
)
def test_unreadable_bodies_are_4xx_problems(aws, raw, content_type):
    aws.load_handler(API)
    headers = {"content-type": content_type, "Idempotency-Key": "key-raw"}
    status, answer, response_headers = problem(aws, "POST", "/orders", raw, headers=headers)
    assert status in (400, 415), answer
    assert response_headers["Content-Type"] == "application/problem+json"
    assert answer["status"] == status and answer["title"] and answer["type"]
    assert stream_records(aws) == []


def test_reasons_name_the_field_and_the_rule_not_the_callers_input(aws):
    aws.load_handler(API)
    body = copy.deepcopy(BODY)
    body["customer"]["time_zone"] = "Mars/Base"
    body["lines"][1]["sku"] = "NOPE-99"
    body["surprise<script>"] = True
    status, answer, _ = post(aws, body, "key-echo")
    assert status == 400
    text = json.dumps(answer)
    assert "Mars/Base" not in text and "surprise" not in text and "<script>" not in text
    assert fields(answer) == {"customer.time_zone", ""}  # an unknown field is reported on its parent
    del body["surprise<script>"]
    body["customer"]["time_zone"] = "Europe/Berlin"
    status, answer, _ = post(aws, body, "key-echo-2")
    assert (status, fields(answer)) == (400, {"lines.1.sku"})
    assert "NOPE-99" not in json.dumps(answer) and "eu-central-1" not in json.dumps(answer)


def test_an_order_currency_without_a_rate_is_refused_on_the_currency_field(aws):
    aws.load_handler(API)
    body = copy.deepcopy(BODY)
    body["currency"] = "CHF"
    status, answer, _ = post(aws, body, "key-chf")
    assert (status, fields(answer)) == (400, {"currency"}), answer
    assert "CHF" not in json.dumps(answer)


@pytest.mark.parametrize("as_of", ["2026-11-27T10:00:00+99:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00+01:00"])
def test_an_impossible_as_of_is_400_without_python_internals(aws, as_of):
    _, order = place(aws)
    status, answer, _ = problem(aws, "GET", f"/orders/{order['order_id']}", query={"as_of": as_of})
    assert (status, fields(answer)) == (400, {"as_of"}), answer
    assert answer["errors"][0]["in"] == "query"
    assert "timedelta" not in json.dumps(answer) and as_of not in json.dumps(answer)


def test_error_bodies_are_problem_details(aws):
    aws.load_handler(API)
    status, answer, headers = problem(aws, "GET", "/orders/ord_unknown0000")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    assert set(answer) >= {"type", "title", "status", "detail", "instance"}
    assert "ord_unknown0000" not in json.dumps(answer)
    status, answer, _ = problem(aws, "POST", "/orders", BODY, headers={"content-type": "application/json"})
    assert (status, answer["errors"]) == (400, [{"in": "header", "field": "idempotency-key", "reason": ANY_REASON}])


class _AnyReason(str):
    def __eq__(self, other):
        return isinstance(other, str) and bool(other)

    __hash__ = str.__hash__


ANY_REASON = _AnyReason()


# --------------------------------------------------------------------------- idempotency never caches a refusal


def list_sku(aws, sku: str, amount: str = "5.00", market: str = "eu", currency: str = "EUR") -> None:
    aws.clients.dynamodb.put_item(
        TableName=aws.table("inventory:listings"),
        Item={
            "market": {"S": market},
            "sku": {"S": sku},
            "name": {"S": sku.lower()},
            "price": {"M": {"amount": {"S": amount}, "currency": {"S": currency}}},
            "availability": {"S": "in_stock"},
            "available": {"N": "10"},
            "stock_version": {"N": "1"},
        },
    )


def idempotency_records(aws, command: str = "") -> list[dict]:
    """Powertools' records in the idempotency table (of one command: `_place_once`, `_cancel_once`)."""
    table = aws.environment(API)["IDEMPOTENCY_TABLE"]
    return [i for i in aws.clients.dynamodb.scan(TableName=table)["Items"] if command in i["id"]["S"]]


def test_a_refused_order_is_not_stored_under_its_key_so_the_retry_after_the_fix_succeeds(aws):
    aws.load_handler(API)
    body = copy.deepcopy(BODY)
    body["lines"] = [{"sku": "NEW-01", "quantity": 1}]
    status, answer, _ = post(aws, body, "key-new")
    assert (status, fields(answer)) == (400, {"lines.0.sku"})
    list_sku(aws, "NEW-01")  # inventory lists it a moment later
    status, order, _ = post(aws, body, "key-new")
    assert (status, order.get("total")) == (201, {"amount": "5.00", "currency": "EUR"}), order  # not the stale 400
    assert len(idempotency_records(aws, "_place_once")) == 1  # only the order was stored
    assert post(aws, body, "key-new")[:2] == (201, order)  # now the key replays the order

    # A body refused by validation, then corrected under the same key: runs (not a 422 "other body").
    bad = copy.deepcopy(BODY)
    bad["lines"][0]["quantity"] = True
    assert post(aws, bad, "key-fixed")[0] == 400
    status, fixed, _ = post(aws, BODY, "key-fixed")
    assert status == 201 and fixed["lines"][0]["quantity"] == 2


def test_cancel_stores_successes_and_final_refusals_never_validation_refusals(aws):
    _, order = place(aws)
    path = f"/orders/{order['order_id']}/cancel"
    headers = {"content-type": "application/json", "Idempotency-Key": "cancel-1"}
    assert problem(aws, "POST", path, {"reason": 5}, headers=headers)[0] == 400
    assert problem(aws, "POST", path, "not json", headers=headers)[0] == 400
    assert problem(aws, "POST", "/orders/ord_unknown0000/cancel", {}, headers=headers)[0] == 404
    assert idempotency_records(aws, "_cancel_once") == []
    status, cancelled, _ = problem(aws, "POST", path, {"reason": "changed my mind"}, headers=headers)
    assert (status, cancelled["status"]) == (200, "Cancelled")
    assert problem(aws, "POST", path, {"reason": "changed my mind"}, headers=headers)[:2] == (200, cancelled)

    # 409 cannot-cancel is final: stored and replayed under its key.
    again = {**headers, "Idempotency-Key": "cancel-2"}
    status, refused, _ = problem(aws, "POST", path, {}, headers=again)
    assert (status, refused["order_status"]) == (409, "Cancelled")
    assert len(idempotency_records(aws, "_cancel_once")) == 2
    assert problem(aws, "POST", path, {}, headers=again)[:2] == (409, refused)


def test_powertools_debug_log_of_the_route_arguments_holds_no_personal_data(aws, caplog):
    # What POWERTOOLS_DEBUG=true prints: Powertools' own package logger, at DEBUG.
    package = logging.getLogger("aws_lambda_powertools")
    level = package.level
    package.setLevel(logging.DEBUG)  # setLevel, not an attribute: loggers cache isEnabledFor
    package.addHandler(caplog.handler)
    try:
        assert place(aws)[0] == 201
    finally:
        package.removeHandler(caplog.handler)
        package.setLevel(level)
    logged = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("aws_lambda_powertools"))
    assert "MUG-01" in logged  # the arguments were logged...
    assert BODY["customer"]["email"] not in logged and "Heidestr" not in logged  # ...without the customer


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"])
def test_an_html_form_cannot_cancel_an_order(aws, content_type):
    # A form post needs no CORS preflight: a JSON-only API keeps other sites' forms out (CSRF).
    _, order = place(aws)
    headers = {"content-type": content_type}
    status, answer, _ = problem(aws, "POST", f"/orders/{order['order_id']}/cancel", "reason=x", headers=headers)
    assert (status, answer["type"]) == (415, "https://eda.example/problems/unsupported-media-type")
    assert [e["detail_type"] for e in call(aws, "GET", f"/orders/{order['order_id']}/events")[1]["events"]] == [
        "OrderPlaced"
    ]
