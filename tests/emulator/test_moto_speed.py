"""moto's per-request costs stay flat (devtools.local.moto_speed): a DynamoDB Query reads its
partition only, with moto's results; the server finds a request's service once per host.

Without the patch the flat-cost test fails: moto sorted the whole table for every Query (a
6,000-item table took tens of times longer than a 60-item one to answer the same 3-item Query).
"""

from __future__ import annotations

import statistics
import time

import boto3
import pytest
from moto import mock_aws

from devtools.local import moto_speed
from devtools.local.motoserver import apply_patches

REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    apply_patches()
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


def _events_table(ddb, name: str = "events") -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "stream_id", "AttributeType": "S"},
            {"AttributeName": "version", "AttributeType": "N"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _fill(ddb, streams: int, versions: int, table: str = "events") -> None:
    for s in range(streams):
        for v in range(1, versions + 1):
            item = {"stream_id": {"S": f"ord_{s:05d}"}, "version": {"N": str(v)}, "kind": {"S": f"k{v % 2}"}}
            ddb.put_item(TableName=table, Item=item)


def _versions(page) -> list[int]:
    return [int(i["version"]["N"]) for i in page["Items"]]


def test_query_answers_as_moto_did(aws):
    ddb = aws
    _events_table(ddb)
    _fill(ddb, 5, 6)
    key = {":s": {"S": "ord_00002"}}
    base = {"TableName": "events", "KeyConditionExpression": "stream_id = :s", "ExpressionAttributeValues": key}
    assert _versions(ddb.query(**base)) == [1, 2, 3, 4, 5, 6]
    assert _versions(ddb.query(**base, ScanIndexForward=False)) == [6, 5, 4, 3, 2, 1]
    between = {
        **base,
        "KeyConditionExpression": "stream_id = :s AND version BETWEEN :a AND :b",
        "ExpressionAttributeValues": {**key, ":a": {"N": "2"}, ":b": {"N": "4"}},
    }
    assert _versions(ddb.query(**between)) == [2, 3, 4]
    first = ddb.query(**base, Limit=4)
    assert _versions(first) == [1, 2, 3, 4]
    assert _versions(ddb.query(**base, Limit=4, ExclusiveStartKey=first["LastEvaluatedKey"])) == [5, 6]
    filtered = ddb.query(
        **{**base, "ExpressionAttributeValues": {**key, ":k": {"S": "k1"}}},
        FilterExpression="kind = :k",
        ProjectionExpression="version",
    )
    assert _versions(filtered) == [1, 3, 5] and filtered["ScannedCount"] == 6
    assert set(filtered["Items"][0]) == {"version"}
    assert ddb.query(**{**base, "ExpressionAttributeValues": {":s": {"S": "nobody"}}})["Items"] == []
    # An index query still reads the whole table, as moto did.
    by_kind = ddb.query(
        TableName="events",
        IndexName="by-kind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "k0"}},
    )
    assert by_kind["Count"] == 15
    # A table with a hash key only.
    ddb.create_table(
        TableName="views",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="views", Item={"order_id": {"S": "a"}, "n": {"N": "1"}})
    ddb.put_item(TableName="views", Item={"order_id": {"S": "b"}, "n": {"N": "2"}})
    got = ddb.query(
        TableName="views", KeyConditionExpression="order_id = :o", ExpressionAttributeValues={":o": {"S": "b"}}
    )
    assert got["Items"] == [{"order_id": {"S": "b"}, "n": {"N": "2"}}]


def test_a_query_costs_the_same_on_a_large_table(aws):
    ddb = aws

    def median_query_seconds(table: str) -> float:
        request = {
            "TableName": table,
            "KeyConditionExpression": "stream_id = :s",
            "ExpressionAttributeValues": {":s": {"S": "ord_00001"}},
        }
        samples = []
        for _ in range(15):
            t0 = time.perf_counter()
            assert ddb.query(**request)["Count"] == 3
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)

    _events_table(ddb, "small")
    _fill(ddb, 20, 3, "small")
    _events_table(ddb, "large")
    from moto.dynamodb.models import dynamodb_backends

    large = dynamodb_backends["123456789012"][REGION].get_table("large")
    _fill(ddb, 2, 3, "large")
    from moto.dynamodb.models.dynamo_type import DynamoType

    template = large.items[next(iter(large.items))]
    for s in range(2, 2000):  # 6,000 items, placed directly: putting them through boto3 takes a while
        large.items[DynamoType({"S": f"ord_{s:05d}"})] = dict(template)
    small, big = median_query_seconds("small"), median_query_seconds("large")
    assert big < small * 3, f"60 items: {small * 1000:.2f} ms, 6,000 items: {big * 1000:.2f} ms"


def test_the_server_finds_each_requests_service_as_before():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    def service(app, target: str, credential_service: str) -> str:
        environ = {
            "PATH_INFO": "/",
            "HTTP_HOST": "127.0.0.1:4566",
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": "0",
            "HTTP_X_AMZ_TARGET": target,
            "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=testing/20261128/{REGION}/{credential_service}/"
            "aws4_request, SignedHeaders=host, Signature=x",
        }
        return app.get_application(environ).name

    cases = [
        ("AmazonSQS.ReceiveMessage", "sqs"),
        ("DynamoDB_20120810.Query", "dynamodb"),
        ("AWSEvents.PutEvents", "events"),
    ]
    before = [service(DomainDispatcherApplication(create_backend_app), *case) for case in cases]
    moto_speed.patch_server()
    app = DomainDispatcherApplication(create_backend_app)
    assert [service(app, *case) for case in cases] == before
    assert [service(app, *case) for case in cases] == before  # from the cache
