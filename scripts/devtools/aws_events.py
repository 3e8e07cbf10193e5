"""Lambda events exactly as AWS delivers them: the one builder for the test kit and the local runtime.

Every event a function of this repository can receive is built here, and only here:

    api_gateway_http(method, path, body=..., headers=...)   # HTTP API payload 2.0 (tests)
    jwt_authorizer(claims, scopes=None)                      # its requestContext.authorizer (JWT routes)
    http_api_event(method=..., raw_path=..., headers=[...])  # the same, from a raw HTTP request (gateway)
    eventbridge_event(source, detail_type, detail)           # what a rule target receives
    scheduled_event(schedule_arn, account_id, region, at)    # a schedule's run
    s3_object_created(bucket, key, size=...)                 # S3 event notification (SQS/SNS body)
    s3_event_record(...)                                     # one of its records (moto's S3 uses it)
    s3_eventbridge_event(bucket, key, size=...)              # S3 "Object Created" through EventBridge
    s3_eventbridge_detail(...)                               # its detail (moto's S3 uses it)
    sns_notification(message, topic_arn=...)                 # SNS -> SQS body without raw delivery
    sqs_message_attributes({"name": value})                  # message attributes of an SQS record
    sqs_record(body, queue_arn=...)                          # one record of an SQS batch (tests)
    sqs_record_from_message(message, queue_arn, region)      # the same, from ReceiveMessage (runtime)
    sqs_event(*records)
    dynamodb_stream_record(event_name, keys, ...)            # one record of a stream batch (tests)
    dynamodb_stream_record_from_api(record, stream_arn, region)  # the same, from GetRecords (runtime, tests)
    http_api_response(result)                                # how HTTP API maps a handler's result back
    LambdaContext(...)                                       # the context object (test kit)

Shapes follow AWS's documentation (field names, casing, types); values AWS fills in (ids, ARNs,
timestamps) are generated. tests/emulator/test_aws_event_shapes.py parses the output of every
builder with Powertools' parser models and data classes, which encode AWS's documented shapes.
Binary values are base64 text wherever AWS puts them in JSON: SQS `binaryValue`, SNS `Binary`
attribute values, DynamoDB `B`/`BS` (boto3 hands the runtime bytes; Lambda passes base64).
This module imports only the standard library: the runtime, moto's patches and tests share it.

    >>> event = api_gateway_http("POST", "/webhooks/github", body='{"zen": "hi"}')
    >>> event["requestContext"]["http"]["method"]
    'POST'
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso_ms(when: datetime | None = None) -> str:
    """2026-11-27T09:00:00.123Z (S3 eventTime, SNS Timestamp)."""
    when = when or datetime.now(UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _iso_s(when: datetime | None = None) -> str:
    """2026-11-27T09:00:00Z (EventBridge `time`)."""
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes | bytearray | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else bytes(data)).decode()


# --------------------------------------------------------------------------- API Gateway (HTTP API, payload 2.0)

# Content types HTTP API passes as text; any other body reaches the function base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


def new_http_api_request_id() -> str:
    """An API Gateway request id as HTTP API writes it (`apigw-requestid`, e.g. "JKJaXmPLvHcESHA=")."""
    return base64.b64encode(uuid.uuid4().bytes[:11]).decode()


def jwt_claim(value: Any) -> str | None:
    """A claim as API Gateway's JWT authorizer hands it to the integration: every value a string,
    numbers and booleans as JSON writes them, an array as "[a b]" (brackets, space separated), an
    object as JSON text; null claims are left out (None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(str(jwt_claim(v)) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def jwt_authorizer(claims: Mapping[str, Any], scopes: Iterable[str] | None = None) -> dict[str, Any]:
    """`requestContext.authorizer` of a route behind a JWT authorizer: the verified token's claims
    (rendered by `jwt_claim`) and `scopes`, the token's scopes when the route requires scopes, else
    null. Measured on AWS, not in its documentation: floci-io/floci#2011."""
    rendered = {name: text for name, value in claims.items() if (text := jwt_claim(value)) is not None}
    return {"jwt": {"claims": rendered, "scopes": list(scopes) if scopes is not None else None}}


def http_api_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | str | None = None,
    route_key: str | None = None,
    path_parameters: dict[str, str] | None = None,
    account_id: str = ACCOUNT_ID,
    api_id: str = "a1b2c3d4e5",
    request_id: str | None = None,
    source_ip: str = "203.0.113.10",
    domain_name: str | None = None,
    base64_body: bool | None = None,
    when: datetime | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """API Gateway HTTP API payload format 2.0, from the request as it arrived.

    Header names are lower-cased and repeated headers joined with commas; cookies move to
    `cookies`; repeated query parameters are joined with commas in `queryStringParameters`.
    The body is text for text content types (and no content type), base64 otherwise;
    `base64_body` forces one or the other. `authorizer`: what the route's authorizer passes on
    (`jwt_authorizer(...)`); routes without one have no `requestContext.authorizer`.
    """
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    data = body.encode() if isinstance(body, str) else (body or b"")
    if base64_body is None:
        is_text = not data or merged.get("content-type", "").startswith(_TEXT_TYPES)
        if is_text:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                is_text = False
    else:
        is_text = not base64_body
    domain = domain_name or merged.get("host") or f"{api_id}.execute-api.{REGION}.amazonaws.com"
    route = route_key or f"{method} {raw_path}"
    now = when or datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            **({"authorizer": authorizer} if authorizer is not None else {}),
            "domainName": domain,
            "domainPrefix": domain.split(".", maxsplit=1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id or new_http_api_request_id(),
            "routeKey": route,
            "stage": "$default",
            "time": now.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(data) and not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if data:
        event["body"] = data.decode("utf-8") if is_text else _b64(data)
    return event


def api_gateway_http(
    method: str,
    path: str,
    *,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    route_key: str | None = None,
    base64_body: bool | None = None,
    region: str = REGION,
    api_id: str = "a1b2c3d4e5",
    source_ip: str = "203.0.113.10",
    claims: Mapping[str, Any] | None = None,
    scopes: Iterable[str] | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for a test: `http_api_event` with a client's usual headers.

    A bytes body is sent base64-encoded (as API Gateway does for binary media), a str body as
    text, unless `base64_body` says otherwise. `claims` (and `scopes`): the request came through a
    JWT authorizer that verified a token with these claims (`jwt_authorizer`).
    """
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    hdrs.setdefault("host", f"{api_id}.execute-api.{region}.amazonaws.com")
    hdrs.setdefault("user-agent", "eda-tests/1.0")
    hdrs.setdefault("x-forwarded-for", source_ip)
    hdrs.setdefault("x-forwarded-port", "443")
    hdrs.setdefault("x-forwarded-proto", "https")
    if body is not None:
        hdrs.setdefault("content-length", str(len(body.encode() if isinstance(body, str) else body)))
    return http_api_event(
        method=method,
        raw_path=path,
        raw_query=urlencode(query or {}),
        headers=hdrs.items(),
        body=body,
        route_key=route_key,
        path_parameters=path_parameters,
        api_id=api_id,
        source_ip=source_ip,
        base64_body=isinstance(body, bytes) if base64_body is None else base64_body,
        authorizer=jwt_authorizer(claims, scopes) if claims is not None else None,
    )


def http_api_response(result: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    """Map a handler's return value the way HTTP API (payload v2) does: status, headers, cookies, body."""
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        cookies = list(result.get("cookies") or [])
        body = result.get("body") or ""
        if not isinstance(body, str):
            body = json.dumps(body)
        data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        return status, headers, cookies, data
    # Without statusCode, API Gateway assumes 200, JSON, and serialises the value as the body.
    body = result if isinstance(result, str) else json.dumps(result)
    return 200, {"content-type": "application/json"}, [], body.encode()


# --------------------------------------------------------------------------- EventBridge


def eventbridge_event(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    *,
    region: str = REGION,
    event_id: str | None = None,
    time_: datetime | None = None,
    account: str = ACCOUNT_ID,
    resources: list[str] | None = None,
) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to its target (no InputTransformer)."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": _iso_s(time_),
        "region": region,
        "resources": list(resources or []),
        "detail": detail,
    }


def scheduled_event(
    schedule_arn: str, account_id: str = ACCOUNT_ID, region: str = REGION, at: float | None = None
) -> dict[str, Any]:
    """The "Scheduled Event" a schedule delivers; `time` is the scheduled time (`at`, epoch s), default now."""
    when = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
    return eventbridge_event(
        "aws.events", "Scheduled Event", {}, region=region, time_=when, account=account_id, resources=[schedule_arn]
    )


# --------------------------------------------------------------------------- S3

_S3_REASONS = {  # EventBridge `reason` of each S3 event type (AWS: the API that caused it)
    "ObjectCreated:Put": "PutObject",
    "ObjectCreated:Post": "POST Object",
    "ObjectCreated:Copy": "CopyObject",
    "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "ObjectRemoved:Delete": "DeleteObject",
    "ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
    "LifecycleExpiration:Delete": "Lifecycle Expiration",
    "LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}
_sequencer_lock = threading.Lock()
_last_sequencer = [0]  # the last one handed out (nanoseconds since the epoch)


def s3_sequencer() -> str:
    """A new S3 `sequencer`: 18 upper-case hex digits ("0055AED6DCD90281E5"), increasing in this process."""
    with _sequencer_lock:
        _last_sequencer[0] = max(_last_sequencer[0] + 1, time.time_ns())
        return f"{_last_sequencer[0]:018X}"


def s3_request_ids() -> tuple[str, str]:
    """(x-amz-request-id, x-amz-id-2) of one S3 request: 16 upper-case hex characters, 76 of base64."""
    return uuid.uuid4().hex[:16].upper(), _b64(uuid.uuid4().bytes * 3 + uuid.uuid4().bytes[:8])


def s3_principal_ids(account_id: str = ACCOUNT_ID) -> tuple[str, str]:
    """(requester principalId "AWS:AIDA...", bucket owner principalId "A...") for an account, stable."""
    digest = base64.b32encode(hashlib.sha256(account_id.encode()).digest()).decode()
    return f"AWS:AIDA{digest[:17]}", f"A{digest[17:30]}"


def s3_event_record(
    bucket: str,
    key: str,
    *,
    size: int | None,
    etag: str,
    event_name: str = "ObjectCreated:Put",
    version_id: str | None = None,
    sequencer: str | None = None,
    region: str = REGION,
    configuration_id: str = "notification",
    account_id: str = ACCOUNT_ID,
    request_id: str | None = None,
    host_id: str | None = None,
    source_ip: str = "203.0.113.10",
    event_time: datetime | None = None,
) -> dict[str, Any]:
    """One record of an S3 event notification (eventVersion 2.1), as S3 sends it to SQS/SNS/Lambda.

    The key is URL-encoded as S3 does ("in/a b.txt" -> "in/a+b.txt", slashes kept); `versionId`
    is there for versioned buckets only; `event_name` without the "s3:" prefix.
    """
    user, owner = s3_principal_ids(account_id)
    generated = s3_request_ids()
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    obj["eTag"] = etag.strip('"')
    if version_id and version_id != "null":
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer or s3_sequencer()
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": _iso_ms(event_time),
        "eventName": event_name.removeprefix("s3:"),
        "userIdentity": {"principalId": user},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {
            "x-amz-request-id": request_id or generated[0],
            "x-amz-id-2": host_id or generated[1],
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": owner},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def s3_object_created(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str = "0123456789abcdef0123456789abcdef",
    version_id: str | None = None,
    region: str = REGION,
    event_name: str = "ObjectCreated:Put",
    configuration_id: str = "notification",
    sequencer: str | None = None,
) -> dict[str, Any]:
    """An S3 event notification: the body S3 sends to SQS/SNS (or the event it sends Lambda)."""
    record = s3_event_record(
        bucket,
        key,
        size=size,
        etag=etag,
        event_name=event_name,
        version_id=version_id,
        sequencer=sequencer,
        region=region,
        configuration_id=configuration_id,
    )
    return {"Records": [record]}


def s3_eventbridge_detail(
    bucket: str,
    key: str,
    *,
    size: int | None,
    etag: str,
    event_name: str = "ObjectCreated:Put",
    version_id: str | None = None,
    sequencer: str | None = None,
    request_id: str | None = None,
    requester: str = ACCOUNT_ID,
    source_ip: str = "203.0.113.10",
) -> dict[str, Any]:
    """The `detail` of an S3 event on EventBridge ("Object Created": version, bucket, object with
    key/size/etag/version-id/sequencer, request-id, requester, source-ip-address, reason).

    The key is not URL-encoded here; `reason` is the API that caused the event (PutObject,
    CopyObject, CompleteMultipartUpload, ...); deletions carry `deletion-type` instead of a size.
    """
    name = event_name.removeprefix("s3:")
    obj: dict[str, Any] = {"key": key}
    deleted = name.startswith(("ObjectRemoved", "LifecycleExpiration"))
    if size is not None and not deleted:
        obj["size"] = size
    obj["etag"] = etag.strip('"')
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    obj["sequencer"] = sequencer or s3_sequencer()
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": request_id or s3_request_ids()[0],
        "requester": requester,
        "source-ip-address": source_ip,
    }
    if name in _S3_REASONS:
        detail["reason"] = _S3_REASONS[name]
    if deleted:
        detail["deletion-type"] = (
            "Delete Marker Created" if name.endswith("DeleteMarkerCreated") else "Permanently Deleted"
        )
    return detail


def s3_eventbridge_event(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str = "0123456789abcdef0123456789abcdef",
    version_id: str | None = None,
    region: str = REGION,
    account: str = ACCOUNT_ID,
    event_name: str = "ObjectCreated:Put",
    event_id: str | None = None,
) -> dict[str, Any]:
    """S3's EventBridge event for an object ("Object Created" by default), as a rule target gets it."""
    detail = s3_eventbridge_detail(
        bucket, key, size=size, etag=etag, event_name=event_name, version_id=version_id, requester=account
    )
    name = event_name.removeprefix("s3:")
    detail_type = "Object Deleted" if name.startswith(("ObjectRemoved", "LifecycleExpiration")) else "Object Created"
    return eventbridge_event(
        "aws.s3",
        detail_type,
        detail,
        region=region,
        event_id=event_id,
        account=account,
        resources=[f"arn:aws:s3:::{bucket}"],
    )


# --------------------------------------------------------------------------- SNS


def sns_notification(
    message: str | dict[str, Any],
    *,
    topic_arn: str = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:topic",
    subject: str | None = None,
    message_attributes: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The JSON document SNS delivers to an SQS queue subscribed without raw message delivery
    (the record's body; with raw delivery the body is the message itself and the attributes
    are SQS message attributes: `sqs_message_attributes`). Attribute values: str (String),
    int/float/Decimal (Number), bytes (Binary, base64 here), list (String.Array)."""
    region = topic_arn.split(":")[3]
    subscription = f"{topic_arn}:{uuid.uuid4()}"
    body: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
    }
    if subject is not None:
        body["Subject"] = subject
    body.update(
        {
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": _iso_ms(timestamp),
            "SignatureVersion": "1",
            "Signature": _b64(hashlib.sha256(str(uuid.uuid4()).encode()).digest() * 8),
            "SigningCertURL": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{uuid.uuid4().hex}.pem",
            "UnsubscribeURL": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}",
        }
    )
    if message_attributes:
        body["MessageAttributes"] = {
            name: {"Type": kind, "Value": _b64(value) if isinstance(value, bytes) else value}
            for name, (kind, value) in ((n, _typed(v)) for n, v in message_attributes.items())
        }
    return body


def _typed(value: Any) -> tuple[str, str | bytes]:
    """(SNS/SQS data type, value) of a Python attribute value."""
    if isinstance(value, (bytes, bytearray)):
        return "Binary", bytes(value)
    if isinstance(value, bool):
        raise TypeError("a message attribute cannot be a bool: pass 'true' or a list")
    if isinstance(value, (int, float, Decimal)):
        return "Number", str(value)
    if isinstance(value, (list, tuple)):
        return "String.Array", json.dumps(list(value))
    if isinstance(value, str):
        return "String", value
    raise TypeError(f"unsupported message attribute value {type(value).__name__}")


# --------------------------------------------------------------------------- SQS


def sqs_message_attributes(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Message attributes as an SQS record carries them, from Python values (str: String,
    int/float/Decimal: Number, bytes: Binary, list: String.Array as SNS raw delivery sends it),
    or from SQS API attributes ({"DataType": ..., "StringValue"/"BinaryValue": ...})."""
    out = {}
    for name, value in values.items():
        if isinstance(value, Mapping) and "DataType" in value:
            kind = value["DataType"]
            raw = value.get("BinaryValue") if "BinaryValue" in value else value.get("StringValue")
        else:
            kind, raw = _typed(value)
        attribute: dict[str, Any] = {}
        if isinstance(raw, (bytes, bytearray)):
            attribute["binaryValue"] = _b64(raw)
        else:
            attribute["stringValue"] = raw
        attribute.update(stringListValues=[], binaryListValues=[], dataType=kind)
        out[name] = attribute
    return out


def md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's MD5OfMessageAttributes of record-shaped attributes (SQS's documented algorithm)."""
    md5 = hashlib.md5()

    def field_(data: bytes) -> None:
        md5.update(struct.pack("!I", len(data)) + data)

    for name in sorted(attributes):
        attribute = attributes[name]
        field_(name.encode())
        field_(attribute["dataType"].encode())
        if attribute.get("stringValue") is not None:
            md5.update(b"\x01")
            field_(attribute["stringValue"].encode())
        else:
            md5.update(b"\x02")
            field_(base64.b64decode(attribute.get("binaryValue") or ""))
    return md5.hexdigest()


def _sqs_record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    attributes: dict[str, str],
    message_attributes: dict[str, dict[str, Any]],
    md5_of_body: str,
    md5_of_attributes: str | None,
    queue_arn: str,
    region: str | None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": md5_of_body,
    }
    if md5_of_attributes:
        record["md5OfMessageAttributes"] = md5_of_attributes
    record.update(
        eventSource="aws:sqs",
        eventSourceARN=queue_arn,
        awsRegion=region or queue_arn.split(":")[3],
    )
    return record


def sqs_record(
    body: str | dict[str, Any],
    *,
    queue_arn: str = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:dev-queue",
    receive_count: int = 1,
    message_id: str | None = None,
    message_attributes: Mapping[str, Any] | None = None,
    sent_timestamp: int | None = None,
) -> dict[str, Any]:
    """One SQS record of a Lambda event source mapping batch.

    body: the message (a dict is sent as JSON: an EventBridge event, an S3 notification, an SNS
    notification). message_attributes: record-shaped ({"stringValue", "dataType", ...}) or
    anything `sqs_message_attributes` takes.
    """
    text = body if isinstance(body, str) else json.dumps(body)
    sent = sent_timestamp or _now_ms()
    attrs = dict(message_attributes or {})
    if attrs and not all(isinstance(v, Mapping) and "dataType" in v for v in attrs.values()):
        attrs = sqs_message_attributes(attrs)
    return _sqs_record(
        message_id=message_id or str(uuid.uuid4()),
        receipt_handle=_b64(uuid.uuid4().bytes * 3),
        body=text,
        attributes={
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(sent + 5),
        },
        message_attributes=attrs,
        md5_of_body=hashlib.md5(text.encode()).hexdigest(),
        md5_of_attributes=md5_of_message_attributes(attrs) if attrs else None,
        queue_arn=queue_arn,
        region=None,
    )


def sqs_record_from_message(message: dict[str, Any], queue_arn: str, region: str | None = None) -> dict[str, Any]:
    """A ReceiveMessage message (boto3, AttributeNames=All, MessageAttributeNames=All) as Lambda passes it."""
    return _sqs_record(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        attributes=dict(message.get("Attributes") or {}),
        message_attributes=sqs_message_attributes(message.get("MessageAttributes") or {}),
        md5_of_body=message["MD5OfBody"],
        md5_of_attributes=message.get("MD5OfMessageAttributes"),
        queue_arn=queue_arn,
        region=region,
    )


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


# --------------------------------------------------------------------------- DynamoDB Streams


def _attribute_json(value: Any) -> Any:
    """DynamoDB JSON as Lambda passes it: binary (B, BS, nested in M/L) as base64 text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _b64(bytes(value))
    if isinstance(value, Mapping):
        return {k: _attribute_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_attribute_json(v) for v in value]
    return value


def dynamodb_stream_record(
    event_name: str,
    keys: dict[str, Any],
    *,
    new_image: dict[str, Any] | None = None,
    old_image: dict[str, Any] | None = None,
    stream_arn: str,
    sequence_number: str,
    view_type: str = "NEW_IMAGE",
    event_id: str | None = None,
    created: datetime | float | None = None,
    size_bytes: int | None = None,
    region: str | None = None,
    user_identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One DynamoDB Streams record of a Lambda event source mapping batch.

    Images and keys are in DynamoDB JSON (`{"S": "..."}`); binary values may be given as bytes
    (as boto3 returns them) and are passed as base64, as Lambda does. Which images are present
    follows the stream view type (KEYS_ONLY: none, NEW_IMAGE: NewImage for INSERT/MODIFY,
    OLD_IMAGE: OldImage for MODIFY/REMOVE, NEW_AND_OLD_IMAGES: both). Lambda passes
    `ApproximateCreationDateTime` as epoch seconds and adds `eventSourceARN`; `userIdentity`
    is there for deletions by TTL.
    """
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError(f"eventName must be INSERT, MODIFY or REMOVE, not {event_name!r}")
    if view_type not in ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        raise ValueError(f"unknown StreamViewType {view_type!r}")
    if isinstance(created, datetime):
        created = created.timestamp()
    change: dict[str, Any] = {"ApproximateCreationDateTime": int(created if created is not None else time.time())}
    change["Keys"] = _attribute_json(keys)
    if view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "REMOVE" and new_image is not None:
        change["NewImage"] = _attribute_json(new_image)
    if view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "INSERT" and old_image is not None:
        change["OldImage"] = _attribute_json(old_image)
    change["SequenceNumber"] = sequence_number
    if size_bytes is None:
        size_bytes = len(json.dumps([change["Keys"], change.get("NewImage"), change.get("OldImage")]))
    change["SizeBytes"] = size_bytes
    change["StreamViewType"] = view_type
    record = {
        "eventID": event_id or uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region or stream_arn.split(":")[3],
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }
    if user_identity:
        record["userIdentity"] = dict(user_identity)
    return record


def dynamodb_stream_record_from_api(
    record: dict[str, Any], stream_arn: str, region: str | None = None
) -> dict[str, Any]:
    """A GetRecords record (boto3: bytes for B/BS, a datetime for ApproximateCreationDateTime) as
    Lambda passes it: base64 binaries, epoch seconds, the table's region, eventSourceARN."""
    change = record["dynamodb"]
    return dynamodb_stream_record(
        record["eventName"],
        change.get("Keys") or {},
        new_image=change.get("NewImage"),
        old_image=change.get("OldImage"),
        stream_arn=stream_arn,
        sequence_number=change["SequenceNumber"],
        view_type=change.get("StreamViewType", "NEW_AND_OLD_IMAGES"),
        event_id=record.get("eventID"),
        created=change.get("ApproximateCreationDateTime"),
        size_bytes=change.get("SizeBytes"),
        region=region,  # moto's GetRecords said us-east-1 whatever the table's region
        user_identity=record.get("userIdentity"),
    )


# --------------------------------------------------------------------------- Lambda context


@dataclass
class CognitoIdentity:
    """`context.identity`: always an object; its ids are None unless a mobile SDK sent them."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


@dataclass
class LambdaContext:
    """The context object as the Lambda Python runtime (awslambdaric) builds it.

    `memory_limit_in_mb` is a str (the runtime reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE), `identity`
    a CognitoIdentity whose ids are None, `client_context` None for non-mobile callers.
    """

    function_name: str = "dev-test-function"
    memory_limit_in_mb: str | int = "256"
    timeout_seconds: int = 30
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str | None = None
    log_stream_name: str | None = None
    region: str = REGION
    identity: CognitoIdentity = field(default_factory=CognitoIdentity)
    client_context: Any = None
    tenant_id: str | None = None
    _deadline_ms: int = 0

    def __post_init__(self) -> None:
        self.memory_limit_in_mb = str(self.memory_limit_in_mb)
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or log_stream_name()
        self._deadline_ms = _now_ms() + self.timeout_seconds * 1000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - _now_ms())


def log_stream_name(version: str = "$LATEST") -> str:
    """A Lambda log stream name: "2026/11/27/[$LATEST]<32 hex>" (UTC date, one per execution environment)."""
    return f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{version}]{uuid.uuid4().hex}"
