"""Handlers get what AWS would send: the one event builder and the emulator, checked against AWS's shapes.

Powertools' parser models and data classes encode the shapes AWS documents for each event
source, so every builder of `devtools.aws_events` (the test kit's and the local runtime's
events) is parsed with them here, and so is what moto (with the project's patches,
devtools.local.motoserver.apply_patches) delivers: S3 notifications through SQS and through
EventBridge, SNS messages with every attribute type (raw and not), DynamoDB stream records
(GetRecords, the runtime's stream poller, the test kit). The Lambda context of the test kit is
compared with the local runtime's (worker.py), which follows awslambdaric.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEventV2,
    DynamoDBStreamEvent,
    EventBridgeEvent,
    S3Event,
    S3EventBridgeNotificationEvent,
    SQSEvent,
)
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    DynamoDBStreamModel,
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
    S3Model,
    S3SqsEventNotificationModel,
    SnsNotificationModel,
    SqsModel,
)
from moto import mock_aws

from devtools import aws_events
from devtools.local import events as runtime_events
from devtools.local.motoserver import apply_patches

REGION = "eu-west-1"
ACCOUNT = "123456789012"
SEQUENCER = re.compile(r"^[0-9A-F]{18}$")  # AWS: "0055AED6DCD90281E5"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/things/stream/2026-11-27T00:00:00.000"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:things"
BINARY = b"\x00\x01\xfe\xff binary"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    apply_patches()
    with mock_aws():
        yield


def client(name: str):
    if name == "dynamodbstreams":  # moto serves DynamoDB Streams at this endpoint only
        return boto3.client(name, region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com/")
    return boto3.client(name, region_name=REGION)


def queue(name: str) -> tuple[str, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive(url: str) -> list[dict[str, Any]]:
    """Everything in the queue, as the local runtime's poller receives it."""
    sqs, out = client("sqs"), []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return out
        out += got
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def lambda_batch(url: str, arn: str) -> dict[str, Any]:
    """The SQS batch Lambda would pass for what the queue holds (the runtime's builder)."""
    return {"Records": [runtime_events.sqs_record(m, arn, REGION) for m in receive(url)]}


def assert_s3_record(record: dict[str, Any], bucket: str, key: str, size: int) -> None:
    """An S3 notification record as AWS documents it, read through the parser model and the data class."""
    parsed = S3Model.model_validate({"Records": [record]}).Records[0]
    assert parsed.eventVersion == "2.1" and parsed.eventSource == "aws:s3" and parsed.awsRegion == REGION
    assert parsed.userIdentity.principalId and str(parsed.requestParameters.sourceIPAddress)
    assert parsed.responseElements.x_amz_request_id and parsed.responseElements.x_amz_id_2
    assert parsed.s3.s3SchemaVersion == "1.0" and parsed.s3.configurationId
    assert parsed.s3.bucket.name == bucket and parsed.s3.bucket.arn == f"arn:aws:s3:::{bucket}"
    assert parsed.s3.bucket.ownerIdentity.principalId
    assert parsed.s3.object.size == size and parsed.s3.object.eTag and "%2F" not in parsed.s3.object.key
    assert SEQUENCER.match(parsed.s3.object.sequencer), parsed.s3.object.sequencer
    data = S3Event({"Records": [record]}).record  # the data class reads the same fields
    assert data.user_identity.principal_id == parsed.userIdentity.principalId
    assert data.request_parameters.source_ip_address
    assert data.response_elements["x-amz-request-id"] == parsed.responseElements.x_amz_request_id
    assert data.s3.bucket.owner_identity.principal_id == parsed.s3.bucket.ownerIdentity.principalId
    assert data.s3.get_object.key == parsed.s3.object.key and data.s3.get_object.sequencer
    from urllib.parse import unquote_plus

    assert unquote_plus(data.s3.get_object.key) == key


# =========================================================================== the builders


def test_api_gateway_http_is_a_payload_v2_event():
    event = aws_events.api_gateway_http(
        "POST",
        "/orders/ord_1/cancel",
        body='{"reason": "changed my mind"}',
        headers={"Content-Type": "application/json", "Cookie": "a=1; b=2", "Idempotency-Key": "k1"},
        query={"dry run": "yes & no"},
        path_parameters={"order_id": "ord_1"},
        route_key="POST /orders/{order_id}/cancel",
    )
    parsed = APIGatewayProxyEventV2Model.model_validate(event)
    assert parsed.routeKey == parsed.requestContext.routeKey == "POST /orders/{order_id}/cancel"
    assert parsed.cookies == ["a=1", "b=2"] and "cookie" not in parsed.headers
    assert parsed.queryStringParameters == {"dry run": "yes & no"} and parsed.rawQueryString == "dry+run=yes+%26+no"
    assert parsed.pathParameters == {"order_id": "ord_1"} and not parsed.isBase64Encoded
    data = APIGatewayProxyEventV2(event)
    assert data.json_body == {"reason": "changed my mind"} and data.headers["idempotency-key"] == "k1"
    assert data.request_context.http.method == "POST" and data.request_context.stage == "$default"
    binary = aws_events.api_gateway_http("PUT", "/files/a", body=BINARY)
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == BINARY
    text = aws_events.api_gateway_http("PUT", "/files/a", body="héllo".encode())
    assert APIGatewayProxyEventV2(text).decoded_body == "héllo"  # Powertools decodes base64 bodies as UTF-8


def test_http_api_event_from_a_raw_request_is_a_payload_v2_event():
    event = aws_events.http_api_event(
        method="GET",
        raw_path="/things/42",
        raw_query="tag=a&tag=b&empty=",
        headers=[("Host", "127.0.0.1:3000"), ("X-Multi", "1"), ("x-multi", "2"), ("Cookie", "s=1")],
        body=b"",
        route_key="GET /things/{id}",
        path_parameters={"id": "42"},
        account_id=ACCOUNT,
        api_id="local",
        request_id="JKJaXmPLvHcESHA=",
        source_ip="127.0.0.1",
        domain_name="127.0.0.1:3000",
    )
    parsed = APIGatewayProxyEventV2Model.model_validate(event)
    assert parsed.headers["x-multi"] == "1,2" and parsed.cookies == ["s=1"]
    assert parsed.queryStringParameters == {"tag": "a,b", "empty": ""}
    assert parsed.requestContext.requestId == "JKJaXmPLvHcESHA=" and parsed.body is None
    image = aws_events.http_api_event(
        method="POST", raw_path="/img", headers=[("content-type", "image/png")], body=b"\x89PNG\r\n"
    )
    assert image["isBase64Encoded"] and base64.b64decode(image["body"]) == b"\x89PNG\r\n"
    APIGatewayProxyEventV2Model.model_validate(image)
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", aws_events.new_http_api_request_id())


def test_a_jwt_authorized_request_carries_the_claims_as_api_gateway_passes_them():
    claims = {
        "sub": "6418b458-d091-705e-122e-04bf2945fcdf",
        "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
        "client_id": "5kek0i61pgkokoob4fsm9fo9it",
        "token_use": "access",
        "scope": "eda/staff openid",
        "exp": 1787996002,
        "email_verified": True,
        "cognito:groups": ["staff", "admins"],
        "address": {"country": "AT"},
        "nickname": None,
    }
    event = aws_events.api_gateway_http(
        "PUT", "/rates/EUR", body="{}", route_key="PUT /rates/{base}", claims=claims, scopes=["eda/staff", "openid"]
    )
    parsed = APIGatewayProxyEventV2Model.model_validate(event)
    jwt = parsed.requestContext.authorizer.jwt
    assert jwt.scopes == ["eda/staff", "openid"]
    assert jwt.claims == {  # every value a string; arrays bracketed, space separated; nulls left out
        "sub": claims["sub"],
        "iss": claims["iss"],
        "client_id": claims["client_id"],
        "token_use": "access",
        "scope": "eda/staff openid",
        "exp": "1787996002",
        "email_verified": "true",
        "cognito:groups": "[staff admins]",
        "address": '{"country":"AT"}',
    }
    data = APIGatewayProxyEventV2(event)
    assert data.request_context.authorizer.jwt_claim["sub"] == claims["sub"]
    # a route without scopes passes null; one without an authorizer has no `authorizer` at all
    unscoped = aws_events.api_gateway_http("GET", "/rates", claims={"sub": "u", "token_use": "id"})
    assert APIGatewayProxyEventV2Model.model_validate(unscoped).requestContext.authorizer.jwt.scopes is None
    assert "authorizer" not in aws_events.api_gateway_http("POST", "/webhooks/github")["requestContext"]
    assert aws_events.jwt_claim(3.5) == "3.5" and aws_events.jwt_claim([]) == "[]"


def test_http_api_response_maps_results_as_http_api_does():
    assert aws_events.http_api_response({"statusCode": 201, "body": "x", "cookies": ["c=1"]}) == (
        201,
        {},
        ["c=1"],
        b"x",
    )
    encoded = {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(BINARY).decode()}
    assert aws_events.http_api_response(encoded)[3] == BINARY
    assert aws_events.http_api_response({"ok": True}) == (
        200,
        {"content-type": "application/json"},
        [],
        b'{"ok": true}',
    )


def test_eventbridge_and_scheduled_events_are_eventbridge_events():
    event = aws_events.eventbridge_event("orders", "OrderPlaced", {"metadata": {}, "data": {"order_id": "o1"}})
    parsed = EventBridgeModel.model_validate(event)
    assert parsed.account == ACCOUNT and parsed.detail_type == "OrderPlaced" and parsed.resources == []
    assert EventBridgeEvent(event).detail["data"] == {"order_id": "o1"}
    schedule = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/nightly"
    tick = aws_events.scheduled_event(schedule, ACCOUNT, REGION, at=1_795_000_000)
    parsed = EventBridgeModel.model_validate(tick)
    assert (parsed.source, parsed.detail_type, parsed.resources, parsed.detail) == (
        "aws.events",
        "Scheduled Event",
        [schedule],
        {},
    )
    assert parsed.time == datetime.fromtimestamp(1_795_000_000, UTC)


def test_s3_notification_builders_have_the_documented_shape():
    body = aws_events.s3_object_created("uploads-bucket", "in/holiday photo.jpg", size=123, version_id="v1")
    assert_s3_record(body["Records"][0], "uploads-bucket", "in/holiday photo.jpg", 123)
    assert body["Records"][0]["s3"]["object"]["key"] == "in/holiday+photo.jpg"
    assert body["Records"][0]["s3"]["object"]["versionId"] == "v1"
    record = aws_events.s3_event_record("b-1", "k", size=0, etag='"abc"', version_id="null")
    assert "versionId" not in record["s3"]["object"] and record["s3"]["object"]["eTag"] == "abc"
    batch = aws_events.sqs_event(aws_events.sqs_record(body))
    S3SqsEventNotificationModel.model_validate(batch)
    ids = {aws_events.s3_sequencer() for _ in range(1000)}
    assert len(ids) == 1000 and all(SEQUENCER.match(s) for s in ids)
    request_id, host_id = aws_events.s3_request_ids()
    assert re.fullmatch(r"[0-9A-F]{16}", request_id) and len(host_id) == 76
    user, owner = aws_events.s3_principal_ids(ACCOUNT)
    assert user.startswith("AWS:AIDA") and owner.startswith("A") and (user, owner) == aws_events.s3_principal_ids()


def test_s3_eventbridge_builders_have_the_documented_shape():
    event = aws_events.s3_eventbridge_event("uploads-bucket", "in/a b.jpg", size=5, version_id="v2")
    parsed = S3EventNotificationEventBridgeModel.model_validate(event)
    assert parsed.detail_type == "Object Created" and parsed.source == "aws.s3"
    assert parsed.resources == ["arn:aws:s3:::uploads-bucket"]
    assert (parsed.detail.object.key, parsed.detail.object.etag, parsed.detail.object.version_id) == (
        "in/a b.jpg",
        "0123456789abcdef0123456789abcdef",
        "v2",
    )
    assert parsed.detail.reason == "PutObject" and SEQUENCER.match(parsed.detail.object.sequencer)
    data = S3EventBridgeNotificationEvent(event).detail
    assert data.object.etag and data.request_id and data.requester == ACCOUNT and data.source_ip_address
    reasons = {
        name: aws_events.s3_eventbridge_detail("b", "k", size=1, etag="e", event_name=f"s3:{name}").get("reason")
        for name in ("ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Post")
    }
    assert reasons == {
        "ObjectCreated:Copy": "CopyObject",
        "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
        "ObjectCreated:Post": "POST Object",
    }
    deleted = aws_events.s3_eventbridge_event("b-1", "k", size=1, event_name="ObjectRemoved:DeleteMarkerCreated")
    parsed = S3EventNotificationEventBridgeModel.model_validate(deleted)
    assert parsed.detail_type == "Object Deleted" and parsed.detail.deletion_type == "Delete Marker Created"


def test_sns_notification_and_message_attributes_have_the_documented_shapes():
    values = {"s": "v", "n": 12.5, "b": BINARY, "a": ["x", 1, True]}
    body = aws_events.sns_notification({"k": 1}, subject="hi", message_attributes=values)
    parsed = SnsNotificationModel.model_validate(body)  # SQS's spelling: SigningCertURL, UnsubscribeURL
    assert parsed.Type == "Notification" and json.loads(parsed.Message) == {"k": 1}
    assert {k: (v.Type, v.Value) for k, v in parsed.MessageAttributes.items()} == {
        "s": ("String", "v"),
        "n": ("Number", "12.5"),
        "b": ("Binary", base64.b64encode(BINARY).decode()),
        "a": ("String.Array", '["x", 1, true]'),
    }
    attributes = aws_events.sqs_message_attributes(values)
    record = aws_events.sqs_record("raw message", message_attributes=attributes)
    parsed = SqsModel.model_validate({"Records": [record]}).Records[0]
    assert base64.b64decode(parsed.messageAttributes["b"].binaryValue) == BINARY
    assert parsed.messageAttributes["n"].stringValue == "12.5" and parsed.messageAttributes["n"].dataType == "Number"
    assert record["md5OfMessageAttributes"] == aws_events.md5_of_message_attributes(attributes)
    data = next(SQSEvent({"Records": [record]}).records)
    assert data.message_attributes["a"].data_type == "String.Array"
    assert aws_events.sqs_message_attributes({"x": {"DataType": "Binary", "BinaryValue": b"\x01"}}) == {
        "x": {"binaryValue": "AQ==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}
    }
    with pytest.raises(TypeError):
        aws_events.sqs_message_attributes({"flag": True})


def test_sqs_builders_have_the_documented_shape(aws):
    url, arn = queue("things")
    attributes = {"b": {"DataType": "Binary", "BinaryValue": BINARY}, "s": {"DataType": "String", "StringValue": "v"}}
    client("sqs").send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=attributes)
    [message] = receive(url)
    record = aws_events.sqs_record_from_message(message, arn, REGION)
    batch = aws_events.sqs_event(record, aws_events.sqs_record({"k": 1}, queue_arn=arn, receive_count=2))
    parsed = SqsModel.model_validate(batch)
    assert parsed.Records[0].md5OfMessageAttributes == message["MD5OfMessageAttributes"]
    # the builder's checksum is SQS's (what moto computed for the same attributes)
    assert aws_events.md5_of_message_attributes(record["messageAttributes"]) == message["MD5OfMessageAttributes"]
    assert base64.b64decode(parsed.Records[0].messageAttributes["b"].binaryValue) == BINARY
    assert parsed.Records[1].attributes.ApproximateReceiveCount == "2" and parsed.Records[1].body == '{"k": 1}'
    records = list(SQSEvent(batch).records)
    assert records[0].md5_of_body == message["MD5OfBody"] and records[1].event_source_arn == arn


def test_dynamodb_stream_record_builder_has_the_documented_shape():
    record = aws_events.dynamodb_stream_record(
        "MODIFY",
        {"pk": {"S": "a"}},
        new_image={"pk": {"S": "a"}, "b": {"B": BINARY}, "bs": {"BS": [b"x", b"\xfe"]}, "m": {"M": {"i": {"B": b"h"}}}},
        old_image={"pk": {"S": "a"}},
        stream_arn=STREAM_ARN,
        sequence_number="100",
        view_type="NEW_AND_OLD_IMAGES",
        created=datetime(2026, 11, 27, tzinfo=UTC),
    )
    parsed = DynamoDBStreamModel.model_validate({"Records": [record]}).Records[0]
    assert parsed.eventVersion == 1.1 and parsed.awsRegion == REGION and parsed.eventSourceARN == STREAM_ARN
    image = record["dynamodb"]["NewImage"]
    assert base64.b64decode(image["b"]["B"]) == BINARY
    assert [base64.b64decode(v) for v in image["bs"]["BS"]] == [b"x", b"\xfe"]
    assert base64.b64decode(image["m"]["M"]["i"]["B"]) == b"h"
    assert record["dynamodb"]["ApproximateCreationDateTime"] == int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())
    data = next(DynamoDBStreamEvent({"Records": [record]}).records)
    assert data.dynamodb.new_image["pk"] == "a" and data.dynamodb.sequence_number == "100"
    keys_only = aws_events.dynamodb_stream_record(
        "INSERT",
        {"pk": {"S": "a"}},
        new_image={"pk": {"S": "a"}},
        stream_arn=STREAM_ARN,
        sequence_number="1",
        view_type="KEYS_ONLY",
    )
    assert "NewImage" not in keys_only["dynamodb"]


def test_the_test_kit_context_is_the_lambda_runtimes(tmp_path):
    context = aws_events.LambdaContext(function_name="dev-svc-fn", memory_limit_in_mb=512, timeout_seconds=3)
    assert context.memory_limit_in_mb == "512"  # awslambdaric reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a str
    assert context.identity.cognito_identity_id is None and context.identity.cognito_identity_pool_id is None
    assert context.client_context is None and context.log_group_name == "/aws/lambda/dev-svc-fn"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", context.log_stream_name)
    assert 0 < context.get_remaining_time_in_millis() <= 3000
    assert context.invoked_function_arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dev-svc-fn"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", aws_events.log_stream_name())
    # the local runtime's context (worker.py imports nothing from devtools) has the same attributes
    from devtools.local import worker

    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "dev-svc-fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/dev-svc-fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        local = worker.LambdaContext({"function_arn": context.invoked_function_arn}, "r-1", time.time() + 3)
    for name in ("function_name", "function_version", "memory_limit_in_mb", "log_group_name", "log_stream_name"):
        assert getattr(local, name) == getattr(context, name), name
    assert local.invoked_function_arn == context.invoked_function_arn and local.client_context is None
    assert (local.identity.cognito_identity_id, local.identity.cognito_identity_pool_id) == (None, None)


# Helpers that build no event (ids, checksums) are checked inside the tests above.
COVERED = {
    "api_gateway_http": test_api_gateway_http_is_a_payload_v2_event,
    "http_api_event": test_http_api_event_from_a_raw_request_is_a_payload_v2_event,
    "new_http_api_request_id": test_http_api_event_from_a_raw_request_is_a_payload_v2_event,
    "http_api_response": test_http_api_response_maps_results_as_http_api_does,
    "jwt_authorizer": test_a_jwt_authorized_request_carries_the_claims_as_api_gateway_passes_them,
    "jwt_claim": test_a_jwt_authorized_request_carries_the_claims_as_api_gateway_passes_them,
    "eventbridge_event": test_eventbridge_and_scheduled_events_are_eventbridge_events,
    "scheduled_event": test_eventbridge_and_scheduled_events_are_eventbridge_events,
    "s3_event_record": test_s3_notification_builders_have_the_documented_shape,
    "s3_object_created": test_s3_notification_builders_have_the_documented_shape,
    "s3_sequencer": test_s3_notification_builders_have_the_documented_shape,
    "s3_request_ids": test_s3_notification_builders_have_the_documented_shape,
    "s3_principal_ids": test_s3_notification_builders_have_the_documented_shape,
    "s3_eventbridge_detail": test_s3_eventbridge_builders_have_the_documented_shape,
    "s3_eventbridge_event": test_s3_eventbridge_builders_have_the_documented_shape,
    "sns_notification": test_sns_notification_and_message_attributes_have_the_documented_shapes,
    "sqs_message_attributes": test_sns_notification_and_message_attributes_have_the_documented_shapes,
    "md5_of_message_attributes": test_sqs_builders_have_the_documented_shape,
    "sqs_record": test_sqs_builders_have_the_documented_shape,
    "sqs_record_from_message": test_sqs_builders_have_the_documented_shape,
    "sqs_event": test_sqs_builders_have_the_documented_shape,
    "dynamodb_stream_record": test_dynamodb_stream_record_builder_has_the_documented_shape,
    "dynamodb_stream_record_from_api": None,  # below: from moto's GetRecords
    "LambdaContext": test_the_test_kit_context_is_the_lambda_runtimes,
    "CognitoIdentity": test_the_test_kit_context_is_the_lambda_runtimes,
    "log_stream_name": test_the_test_kit_context_is_the_lambda_runtimes,
}


def test_every_builder_is_checked_against_aws_shapes():
    public = {
        name
        for name, obj in vars(aws_events).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == aws_events.__name__
    }
    assert public == set(COVERED), f"add a shape test for: {sorted(public - set(COVERED))}"
    # the runtime builds its events with the same functions (no second builder)
    assert runtime_events.sqs_record is aws_events.sqs_record_from_message
    assert runtime_events.dynamodb_stream_record is aws_events.dynamodb_stream_record_from_api
    assert runtime_events.http_api_event is aws_events.http_api_event
    assert runtime_events.scheduled_event is aws_events.scheduled_event


# =========================================================================== what the emulator delivers


def _bucket(name: str, *, versioned: bool = False) -> str:
    s3 = client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_s3_notifications_through_sqs_have_the_documented_shape(aws):
    bucket = _bucket("uploads-shapes", versioned=True)
    url, arn = queue("uploads")
    s3 = client("s3")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"Id": "thumbnails", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    receive(url)  # s3:TestEvent
    put = s3.put_object(Bucket=bucket, Key="in/holiday photo.jpg", Body=b"12345", Tagging="a=b")
    s3.copy_object(Bucket=bucket, Key="in/copy.jpg", CopySource={"Bucket": bucket, "Key": "in/holiday photo.jpg"})

    batch = lambda_batch(url, arn)
    parsed = S3SqsEventNotificationModel.model_validate(batch)  # rejected moto's records
    created = [r.body.Records[0] for r in parsed.Records]
    assert [r.eventName for r in created] == ["ObjectCreated:Put", "ObjectCreated:Copy"]
    for record, key in zip(batch["Records"], ("in/holiday photo.jpg", "in/copy.jpg"), strict=True):
        assert_s3_record(json.loads(record["body"])["Records"][0], bucket, key, 5)
    assert created[0].s3.object.versionId == put["VersionId"]
    assert created[0].s3.object.key == "in/holiday+photo.jpg"
    assert created[0].s3.object.sequencer < created[1].s3.object.sequencer  # later events sort later


def test_s3_events_through_eventbridge_have_their_own_ids_and_the_object_created_shape(aws):
    bucket = _bucket("uploads-eventbridge")
    url, arn = queue("uploads-events")
    events, s3 = client("events"), client("s3")
    events.put_rule(Name="s3", EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule="s3", Targets=[{"Id": "q", "Arn": arn}])
    # another bus with an archive: S3 sends to the default bus only
    events.create_event_bus(Name="eda-test")
    bus_arn = events.describe_event_bus(Name="eda-test")["Arn"]
    events.create_archive(ArchiveName="eda-test", EventSourceArn=bus_arn)
    other_url, other_arn = queue("other-bus")
    events.put_rule(Name="all", EventBusName="eda-test", EventPattern=json.dumps({"account": [ACCOUNT]}))
    events.put_targets(Rule="all", EventBusName="eda-test", Targets=[{"Id": "q", "Arn": other_arn}])
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})

    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"12345", Tagging="team=media")
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"123")
    s3.copy_object(Bucket=bucket, Key="c.txt", CopySource={"Bucket": bucket, "Key": "a.txt"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="d.bin")
    part = s3.upload_part(Bucket=bucket, Key="d.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 10)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="d.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    s3.put_object_tagging(Bucket=bucket, Key="b.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})

    delivered = [json.loads(r["body"]) for r in lambda_batch(url, arn)["Records"]]
    assert [e["detail-type"] for e in delivered] == ["Object Created"] * 4 + ["Object Tags Added"]
    created = [S3EventNotificationEventBridgeModel.model_validate(e) for e in delivered[:4]]
    assert len({e.id for e in created}) == 4  # moto: one id for every upload
    assert [(e.detail.object.key, e.detail.reason) for e in created] == [
        ("a.txt", "PutObject"),
        ("b.txt", "PutObject"),
        ("c.txt", "CopyObject"),
        ("d.bin", "CompleteMultipartUpload"),
    ]
    for event, raw in zip(created, delivered, strict=False):
        assert "etag" in raw["detail"]["object"] and "eTag" not in raw["detail"]["object"]
        assert event.detail.object.etag and SEQUENCER.match(event.detail.object.sequencer)
        assert event.resources == [f"arn:aws:s3:::{bucket}"] and event.account == ACCOUNT
        assert event.detail.requester == ACCOUNT and event.detail.request_id
        data = S3EventBridgeNotificationEvent(raw)
        assert data.detail.object.etag == event.detail.object.etag and data.detail.reason == event.detail.reason
    assert len({e.detail.request_id for e in created}) == 4
    assert receive(other_url) == []  # nothing on the custom bus


def test_one_request_notifies_queue_and_eventbridge_with_the_same_request_id_and_sequencer(aws):
    bucket = _bucket("uploads-both")
    url, arn = queue("uploads-both")
    events_url, events_arn = queue("uploads-both-events")
    client("events").put_rule(Name="s3", EventPattern=json.dumps({"source": ["aws.s3"]}))
    client("events").put_targets(Rule="s3", Targets=[{"Id": "q", "Arn": events_arn}])
    client("s3").put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"Id": "n", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}],
            "EventBridgeConfiguration": {},
        },
    )
    receive(url)
    client("s3").put_object(Bucket=bucket, Key="x", Body=b"1")
    [notification] = [json.loads(m["Body"])["Records"][0] for m in receive(url)]
    [event] = [json.loads(m["Body"]) for m in receive(events_url)]
    assert notification["responseElements"]["x-amz-request-id"] == event["detail"]["request-id"]
    assert notification["s3"]["object"]["sequencer"] == event["detail"]["object"]["sequencer"]


ATTRIBUTES = {
    "severity": {"DataType": "String", "StringValue": "high"},
    "count": {"DataType": "Number", "StringValue": "12.50"},
    "thumbprint": {"DataType": "Binary", "BinaryValue": BINARY},
    "tags": {"DataType": "String.Array", "StringValue": '["a", 1, true, null]'},
    "signature": {"DataType": "Binary.sha256", "BinaryValue": b"\xff" * 32},
}


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "not-raw"])
def test_sns_messages_with_every_attribute_type_reach_sqs_and_lambda(aws, raw):
    sns = client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url, arn = queue(f"alerts-{raw}")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": str(raw).lower()})
    sent = {
        sns.publish(TopicArn=topic, Message=json.dumps({"n": i}), MessageAttributes={**ATTRIBUTES})["MessageId"]: i
        for i in range(3)
    }

    batch = lambda_batch(url, arn)  # moto's ReceiveMessage crashed on the Binary attribute (raw)
    assert len(batch["Records"]) == len(sent)
    for record in SqsModel.model_validate(batch).Records:
        if raw:
            attributes = record.messageAttributes
            assert {k: v.dataType for k, v in attributes.items()} == {k: v["DataType"] for k, v in ATTRIBUTES.items()}
            assert base64.b64decode(attributes["thumbprint"].binaryValue) == BINARY
            assert base64.b64decode(attributes["signature"].binaryValue) == b"\xff" * 32
            assert (attributes["count"].stringValue, attributes["tags"].stringValue) == (
                "12.50",
                '["a", 1, true, null]',
            )
            assert record.md5OfMessageAttributes == aws_events.md5_of_message_attributes(
                aws_events.sqs_message_attributes(ATTRIBUTES)
            )
        else:
            notification = SnsNotificationModel.model_validate_json(record.body)
            assert notification.MessageId in sent and notification.TopicArn == topic
            values = {k: (v.Type, v.Value) for k, v in notification.MessageAttributes.items()}
            assert values["thumbprint"] == ("Binary", base64.b64encode(BINARY).decode())
            assert values["count"] == ("Number", "12.50") and values["tags"][0] == "String.Array"


def _streamed_table(name: str, view: str = "NEW_AND_OLD_IMAGES") -> str:
    ddb = client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


ITEM = {
    "pk": {"S": "a"},
    "b": {"B": BINARY},
    "bs": {"BS": [b"x", b"\xfe"]},
    "m": {"M": {"inner": {"B": b"hi"}, "l": {"L": [{"B": b"q"}]}}},
}


def assert_base64_binaries(image: dict[str, Any]) -> None:
    assert base64.b64decode(image["b"]["B"], validate=True) == BINARY, image["b"]
    assert sorted(base64.b64decode(v, validate=True) for v in image["bs"]["BS"]) == [b"x", b"\xfe"]
    assert base64.b64decode(image["m"]["M"]["inner"]["B"], validate=True) == b"hi"
    assert base64.b64decode(image["m"]["M"]["l"]["L"][0]["B"], validate=True) == b"q"


def test_dynamodb_getrecords_and_the_lambda_records_carry_binaries_as_base64(aws):
    arn = _streamed_table("things")
    ddb, streams = client("dynamodb"), client("dynamodbstreams")
    ddb.put_item(TableName="things", Item=ITEM)
    ddb.update_item(
        TableName="things",
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET c = :c",
        ExpressionAttributeValues={":c": {"B": b"zz"}},
    )
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    raw = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    # GetRecords (boto3 decodes the wire's base64 into bytes): the values written, the table's region
    assert [r["eventName"] for r in raw] == ["INSERT", "MODIFY"]
    assert raw[0]["dynamodb"]["NewImage"]["b"] == {"B": BINARY} and raw[1]["dynamodb"]["NewImage"]["c"] == {"B": b"zz"}
    assert {(r["awsRegion"], r["eventVersion"]) for r in raw} == {(REGION, "1.1")}

    records = [runtime_events.dynamodb_stream_record(r, arn, REGION) for r in raw]  # the runtime's poller
    parsed = DynamoDBStreamModel.model_validate({"Records": records})
    assert [r.eventName for r in parsed.Records] == ["INSERT", "MODIFY"]
    assert_base64_binaries(records[0]["dynamodb"]["NewImage"])
    assert_base64_binaries(records[1]["dynamodb"]["OldImage"])
    assert base64.b64decode(records[1]["dynamodb"]["NewImage"]["c"]["B"]) == b"zz"
    assert json.loads(json.dumps(records)) == records  # plain JSON, what the worker receives


def test_the_runtimes_stream_poller_hands_the_function_base64_binaries(aws):
    from devtools.local.sources import StreamSource

    arn = _streamed_table("outbox", "NEW_IMAGE")
    client("dynamodb").put_item(TableName="outbox", Item=ITEM)
    events: list[dict[str, Any]] = []

    class Host:
        spec = SimpleNamespace(concurrency=1)

        def invoke(self, event, **_):
            events.append(json.loads(json.dumps(event)))  # what goes down the worker's pipe
            return SimpleNamespace(ok=True, result={"batchItemFailures": []}, started=time.time(), reasons={}, log=[])

    runtime = SimpleNamespace(
        client=client,
        config=SimpleNamespace(region=REGION, retry_after=0),
        faults=SimpleNamespace(applies=lambda _: False, latency_ms=0, fail_once=lambda *_: False),
        journal=SimpleNamespace(add_invocation=lambda *a, **k: None),
        stopping=threading.Event(),
    )
    wiring = SimpleNamespace(
        qualified_name="fx.relay",
        function=SimpleNamespace(trigger=SimpleNamespace(batch_size=10, type="dynamodb_stream", raw={})),
        stream_arn=arn,
        mapping={"StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": -1},
    )
    StreamSource(runtime, wiring, Host()).poll_once()

    [event] = events
    DynamoDBStreamModel.model_validate(event)
    [record] = event["Records"]
    assert record["eventSourceARN"] == arn and record["awsRegion"] == REGION
    assert_base64_binaries(record["dynamodb"]["NewImage"])  # was Python's "b'\\x00\\x01...'" text


def test_the_test_kits_stream_records_carry_binaries_as_base64(monkeypatch):
    from devtools.testing import moto_deployment

    with moto_deployment(["orders", "inventory"], monkeypatch) as deployment:
        table = deployment.table("orders:events")
        item = {**ITEM, "stream_id": {"S": "ord_1"}, "version": {"N": "1"}}
        item.pop("pk")
        deployment.clients.dynamodb.put_item(TableName=table, Item=item)
        [record] = deployment.stream_records("orders:events")
    DynamoDBStreamModel.model_validate({"Records": [record]})
    assert_base64_binaries(record["dynamodb"]["NewImage"])
    assert record["eventVersion"] == "1.1" and record["awsRegion"] == REGION


def test_the_test_kits_queue_event_is_what_s3_delivered_as_lambdas_batch(monkeypatch):
    from devtools.testing import moto_deployment

    with moto_deployment(["thumbnails"], monkeypatch) as deployment:
        bucket = deployment.bucket("thumbnails:uploads")
        deployment.clients.s3.put_object(Bucket=bucket, Key="uploads/a b.jpg", Body=b"12345")
        batch = deployment.queue_event("thumbnails.create")
        queue_arn = deployment.topology.function("thumbnails.create").queue_arn
    [record] = S3SqsEventNotificationModel.model_validate(batch).Records
    assert record.eventSourceARN == queue_arn and record.awsRegion == REGION
    assert_s3_record(json.loads(batch["Records"][0]["body"])["Records"][0], bucket, "uploads/a b.jpg", 5)
