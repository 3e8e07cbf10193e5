"""moto in server mode, in its own process, with the few fixes the local runtime needs.

    python -m devtools.local.motoserver --host 127.0.0.1 --port 0

Prints one JSON line `{"url": "http://127.0.0.1:PORT"}` once it serves, then runs until killed.
After that line, stdout carries one JSON line per event EventBridge accepted (any bus, any
producer: the runtime, a CLI, a function, S3):
`{"published": {"id", "source", "detail-type", "detail", "bus", "account", "region"}, "at": epoch}`.
The runtime's journal reads them for `trace`: exact, and free of the extra rule + queue + poller
a "tap" rule would cost moto on every event. (Anything else that would write to stdout goes to
stderr.)

Routes of its own (besides moto's):
- GET /_local/ses/sent-messages: what SES accepted, oldest first, every account and region:
  `[{"id", "from", "to", "cc", "bcc", "subject", "text", "html", "raw", "template", "sent_at", "region"}]`.
  moto keeps only one body part (HTML if both were sent) and no timestamp; the patch below
  stamps each message and keeps the text part of SendEmail too.

Patches (each one makes moto closer to AWS, none changes the API surface):
- EventBridge -> SQS targets: the event moto writes lacks `account`, and moto renders it through
  a JSONPath template on every delivery (slow). Without an InputTransformer AWS delivers the
  event as is, so we serialise the event dict directly, with AWS's field order.
- S3 event notifications (SQS, SNS, Lambda) have AWS's documented structure, built by
  devtools.aws_events.s3_event_record: userIdentity, requestParameters, responseElements and
  s3.bucket.ownerIdentity (moto left them out: Powertools' S3Model and S3Event rejected its
  records), `versionId` for versioned buckets, an 18-hex-digit `sequencer`, and the key encoded
  with its slashes kept ("in/a b.txt" -> "in/a+b.txt"; moto wrote "in%2Fa+b.txt"). All the
  notifications of one request share its x-amz-request-id and sequencer.
- S3 -> EventBridge: one event per request, with its own id, put on the region's default bus
  through PutEvents (so the publish hook reports it), detail as devtools.aws_events.
  s3_eventbridge_detail builds it ("etag", "reason": PutObject/CopyObject/
  CompleteMultipartUpload). moto sent the documentation's sample to every rule of every bus:
  one id for every upload, "eTag", reason "ObjectCreated", and a bus archive rule in the way
  stopped it (silently) before later rules. No s3:ObjectTagging:Put ("Object Tags Added") for
  tags given with an upload, and CompleteMultipartUpload emits its own event only (moto added an
  ObjectCreated:Put: a multipart upload ran the handler twice).
- SNS -> SQS raw message delivery of a Binary attribute: SQS gets the bytes (moto passed base64
  text, and ReceiveMessage crashed hashing it: the message was never delivered, went to the DLQ
  and could not be read there either).
- DynamoDB Streams records (GetRecords) carry their table's region and eventVersion 1.1 (moto:
  us-east-1 and 1.0).
- SQS attributes, as `terraform apply` needs them: RedriveAllowPolicy is stored and returned
  (moto left it out of GetQueueAttributes); SetQueueAttributes changes only the attributes
  passed (moto erased Policy on every call without it; "" removes it, as in SQS);
  RedrivePolicy reads back in SQS's compact form `{"deadLetterTargetArn":"..","maxReceiveCount":3}`
  (moto added spaces: Terraform showed a diff after every apply).
- S3 PutBucketLogging: the target bucket's policy is read as S3 does (an Allow of
  s3:PutObject to logging.s3.amazonaws.com, the principal alone or in a list, wildcards in
  actions and resources); moto answered 500 on a `"Principal": "*"` statement.
  GetBucketNotificationConfiguration returns the EventBridgeConfiguration moto stored.
- Lambda LoggingConfig (LogFormat, log levels, LogGroup) is stored and returned with AWS's
  defaults (Text, /aws/lambda/<name>, INFO for JSON logs); moto dropped it.

- DynamoDB (devtools.local.moto_dynamodb.patch): conditional writes and transactions are atomic
  across threads under one lock per table (requests on other tables never wait); a transaction
  remembers only the items it replaces instead of deep-copying its tables, and moto's objects
  are tracked weakly, so memory stays flat; streams get one record per changed item.

`apply_patches()` is also used in-process by the test kit (devtools.testing); it is idempotent.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import email
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from email import policy
from typing import Any

_AWS_EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


_patched = False
_ses_request = threading.local()  # the SendEmail request being served in this thread
# Where accepted EventBridge events go (set by main(); None in-process, e.g. the test kit).
publish_sink: Callable[[dict[str, Any]], None] | None = None


def apply_patches() -> None:
    global _patched  # noqa: PLW0603 - patch once per process
    if _patched:
        return
    _patched = True
    from moto.events import utils

    original = utils.EventTemplateParser.parse

    def parse(input_template: str | None, input_paths_map: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        if input_template or input_paths_map:
            return original(input_template, input_paths_map, event)
        return {key: event[key] for key in _AWS_EVENT_FIELDS if key in event}

    utils.EventTemplateParser.parse = staticmethod(parse)  # type: ignore[method-assign]

    _patch_s3_notifications()
    _patch_sqs_binary_attributes_from_sns()
    _patch_dynamodb_stream_record_fields()
    _patch_sqs_redrive_allow_policy()
    _patch_sqs_set_attributes_keeps_others()
    _patch_sqs_redrive_policy_format()
    _patch_s3_logging_target_policy()
    _patch_s3_eventbridge_notification()
    _patch_lambda_logging_config()
    _serialize_dynamodb()
    _complete_cognito()
    _flat_memory_and_costs()


def _flat_memory_and_costs() -> None:
    # Every other service: weak instance tracking, bounded SQS deleted handles, shard iterators
    # that expire (devtools.local.moto_memory); a Query reads its partition only (moto_speed).
    from devtools.local import moto_memory, moto_speed

    moto_memory.patch()
    moto_speed.patch()


def _complete_cognito() -> None:
    # Cognito: DeleteResourceServer/UpdateResourceServer, which Terraform's destroy needs (devtools.local.moto_cognito).
    from devtools.local import moto_cognito

    moto_cognito.patch()


def _serialize_dynamodb() -> None:
    # DynamoDB: atomic transactions under per-table locks, flat memory (devtools.local.moto_dynamodb).
    from devtools.local import moto_dynamodb

    moto_dynamodb.patch()
    _patch_events_publish_hook()
    _patch_ses_messages()


def _patch_events_publish_hook() -> None:
    from moto.events.models import EventsBackend

    original = EventsBackend.put_events

    def put_events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        entries = original(self, events)
        sink = publish_sink
        if sink is not None:
            at = time.time()
            for event, entry in zip(events, entries, strict=False):  # one entry per event, in order
                if "EventId" not in entry:
                    continue
                try:
                    detail = json.loads(event["Detail"])
                except (ValueError, TypeError):
                    detail = None
                bus = self._normalize_event_bus_arn(event.get("EventBusName"))
                published = {
                    "id": entry["EventId"],
                    "source": event.get("Source"),
                    "detail-type": event.get("DetailType"),
                    "detail": detail,
                    "bus": bus,
                    "account": self.account_id,
                    "region": self.region_name,
                }
                sink({"published": published, "at": at})
        return entries

    EventsBackend.put_events = put_events  # type: ignore[method-assign]


def _patch_ses_messages() -> None:
    from moto.ses import models
    from moto.ses.responses import EmailResponse

    for cls in (models.Message, models.TemplateMessage, models.BulkTemplateMessage, models.RawMessage):
        original_init = cls.__init__

        def __init__(self, *args: Any, _original: Any = original_init, **kwargs: Any) -> None:
            _original(self, *args, **kwargs)
            self.sent_at = time.time()
            self.text_part = getattr(_ses_request, "text", None)

        cls.__init__ = __init__  # type: ignore[method-assign]

    original_send = EmailResponse.send_email

    def send_email(self):  # type: ignore[no-untyped-def]
        _ses_request.text = self._get_param("Message.Body.Text.Data")
        try:
            return original_send(self)
        finally:
            _ses_request.text = None

    EmailResponse.send_email = send_email  # type: ignore[method-assign]


def _patch_sqs_redrive_allow_policy() -> None:
    # AWS stores a queue's RedriveAllowPolicy and returns it from GetQueueAttributes (All or by
    # name). moto 5.2.5 accepts it in SetQueueAttributes but leaves it out of
    # Queue.BASE_ATTRIBUTES: "All" never returns it and asking for it by name is an
    # InvalidAttributeName, so Terraform's aws_sqs_queue_redrive_allow_policy waits forever.
    from moto.sqs.models import Queue

    if "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES.append("RedriveAllowPolicy")
    Queue.redrive_allow_policy = None  # default for queues that never set it (None: not returned)


def _patch_sqs_set_attributes_keeps_others() -> None:
    # AWS SetQueueAttributes changes only the attributes passed; an empty string removes Policy
    # (or RedriveAllowPolicy). moto's Queue._set_attributes ends with
    # `self.policy = attributes.get("Policy")`, so any call without Policy (a RedriveAllowPolicy,
    # a visibility timeout) erased the queue's policy. The other attributes, RedrivePolicy
    # included, are only set when passed, and CreateQueue passes every default, so they are right.
    from moto.sqs.exceptions import InvalidAttributeValue
    from moto.sqs.models import Queue

    original = Queue._set_attributes

    def _set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        allow = attributes.get("RedriveAllowPolicy")
        if allow:
            try:
                valid = isinstance(json.loads(allow), dict)
            except (TypeError, ValueError):
                valid = False
            if not valid:
                raise InvalidAttributeValue("RedriveAllowPolicy")
        policy = self.__dict__.get("_policy_json")  # what the `policy` property reads and writes
        original(self, attributes, now)
        if "Policy" not in attributes and policy is not None:
            self._policy_json = policy
        if attributes.get("RedriveAllowPolicy") == "":
            self.redrive_allow_policy = None

    Queue._set_attributes = _set_attributes  # type: ignore[method-assign]


def _patch_sqs_redrive_policy_format() -> None:
    # AWS returns RedrivePolicy compact, in its own key order, maxReceiveCount a number:
    # {"deadLetterTargetArn":"arn:...","maxReceiveCount":3}. moto json.dumps it with spaces, so
    # Terraform (which stores the string as read and compares it to its compact form of the
    # config) shows a diff on aws_sqs_queue.redrive_policy after every apply.
    from moto.sqs.models import Queue

    original = Queue.attributes.fget

    def attributes(self: Any) -> dict[str, Any]:
        result = original(self)
        redrive = getattr(self, "redrive_policy", None)
        if redrive and "RedrivePolicy" in result:
            ordered = {key: redrive[key] for key in ("deadLetterTargetArn", "maxReceiveCount") if key in redrive}
            ordered.update(redrive)
            result["RedrivePolicy"] = json.dumps(ordered, separators=(",", ":"))
        return result

    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM-style match: `*` any run of characters, `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _patch_s3_logging_target_policy() -> None:
    # AWS PutBucketLogging accepts a target bucket whose policy has an Allow statement giving
    # s3:PutObject (or s3:Put*, s3:*, *) on the log objects to the service principal
    # logging.s3.amazonaws.com (alone or in a list); anything else is InvalidTargetBucketForLogging
    # (400). moto's FakeBucket._log_permissions_enabled_policy calls .get on the Principal, so a
    # statement with `"Principal": "*"` (our DenyInsecureTransport) was a 500, and it missed
    # grants written with a list of services, a wildcard action or a list of resources.
    from moto.s3.models import FakeBucket
    from moto.s3.utils import LOGGING_SERVICE_PRINCIPAL

    def _log_permissions_enabled_policy(target_bucket: Any, target_prefix: str | None) -> bool:
        policy = target_bucket.policy
        if not policy:
            return False
        try:
            document = json.loads(policy.decode() if isinstance(policy, bytes) else policy)
        except ValueError:
            return False
        bucket_arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
        log_object = f"{bucket_arn}/{target_prefix or ''}access-log"
        for statement in _as_list(document.get("Statement") if isinstance(document, dict) else None):
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            principal = statement.get("Principal")
            if not isinstance(principal, dict) or LOGGING_SERVICE_PRINCIPAL not in _as_list(principal.get("Service")):
                continue
            actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
            if not any(_wildcard(action, "s3:PutObject", ignore_case=True) for action in actions):
                continue
            resources = [r for r in _as_list(statement.get("Resource")) if isinstance(r, str)]
            # moto also accepted the bucket ARN itself; kept so as not to reject what it allowed.
            if any(r == bucket_arn or _wildcard(r, log_object) for r in resources):
                return True
        return False

    FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)  # type: ignore[method-assign]


def _patch_s3_eventbridge_notification() -> None:
    # AWS GetBucketNotificationConfiguration returns <EventBridgeConfiguration/> when the bucket
    # sends its events to EventBridge. moto stores it (PutBucketNotificationConfiguration) but
    # its get_bucket_notification leaves it out of the result, so Terraform's
    # aws_s3_bucket_notification reads eventbridge = false and plans it again after every apply.
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    original = S3Response.serialized

    def serialized(self: Any, action_result: Any) -> Any:
        if self.data.get("Action") == "GetBucketNotificationConfiguration" and isinstance(action_result.result, dict):
            configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
            if configuration is not None and getattr(configuration, "event_bridge", None) is not None:
                action_result = ActionResult({**action_result.result, "EventBridgeConfiguration": {}})
        return original(self, action_result)

    S3Response.serialized = serialized  # type: ignore[method-assign]


def _lambda_logging_config(
    requested: dict[str, Any] | None, current: dict[str, Any], function_name: str
) -> dict[str, Any]:
    config = {**current, **{k: v for k, v in (requested or {}).items() if v is not None}}
    config.setdefault("LogFormat", "Text")
    config.setdefault("LogGroup", f"/aws/lambda/{function_name}")
    if config["LogFormat"] == "JSON":
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    else:  # log levels apply to JSON logs only
        config.pop("ApplicationLogLevel", None)
        config.pop("SystemLogLevel", None)
    order = ("LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup")
    return {key: config[key] for key in order if key in config}


def _patch_lambda_logging_config() -> None:
    # AWS stores a function's LoggingConfig (CreateFunction, UpdateFunctionConfiguration) and
    # returns it in every configuration (GetFunction, GetFunctionConfiguration, ListFunctions):
    # LogFormat (default Text), LogGroup (default /aws/lambda/<name>) and, for JSON logs,
    # ApplicationLogLevel/SystemLogLevel (default INFO). moto 5.2.5 drops it, so Terraform's
    # aws_lambda_function shows its logging_config block as a diff after every apply.
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration

    def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, spec, *args, **kwargs)
        self.logging_config = _lambda_logging_config(spec.get("LoggingConfig"), {}, self.function_name)
        self.logs_group_name = self.logging_config["LogGroup"]  # where moto's own invoke writes logs

    def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original_get(self, *args, **kwargs)
        logging_config = getattr(self, "logging_config", None)
        config["LoggingConfig"] = dict(logging_config or _lambda_logging_config(None, {}, self.function_name))
        return config

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if config_updates.get("LoggingConfig") is not None:
            current = getattr(self, "logging_config", None) or {}
            self.logging_config = _lambda_logging_config(config_updates["LoggingConfig"], current, self.function_name)
            self.logs_group_name = self.logging_config["LogGroup"]
        return original_update(self, config_updates)

    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]


_s3_request = threading.local()  # the S3 request whose notifications are being sent


def _s3_request_ids() -> tuple[str, str, str]:
    """(x-amz-request-id, x-amz-id-2, sequencer) of the S3 request being served: every notification
    of one request (queue, topic, EventBridge) carries the same ones, as on AWS."""
    from devtools import aws_events

    ids = getattr(_s3_request, "ids", None)
    if ids is None:
        ids = (*aws_events.s3_request_ids(), aws_events.s3_sequencer())
    return ids


def _patch_s3_notifications() -> None:
    # AWS S3 event notifications (to SQS, SNS, Lambda) follow the documented message structure,
    # built by devtools.aws_events.s3_event_record: eventVersion 2.1, userIdentity.principalId,
    # requestParameters.sourceIPAddress, responseElements (x-amz-request-id, x-amz-id-2),
    # s3.bucket.ownerIdentity, the key URL-encoded with its slashes kept ("in/a b.txt" ->
    # "in/a+b.txt"), versionId for versioned buckets, and an 18-hex-digit sequencer. moto 5.2.5
    # left out userIdentity, requestParameters, responseElements, ownerIdentity, versionId and
    # sequencer (Powertools' S3Model and the S3Event data class reject its records) and encoded
    # "/" as %2F.
    # EventBridge (bucket with EventBridge notifications): AWS puts one event per request on the
    # region's default bus, with its own id and the detail of s3_eventbridge_detail ("etag",
    # "reason": PutObject/CopyObject/CompleteMultipartUpload...). moto sent a copy of the doc
    # sample to every rule of every bus: the same id for every upload, "eTag", reason
    # "ObjectCreated", a fixed sequencer and request id, and a bus archive rule on the way raised
    # (swallowed) before later rules got it. Now it goes through PutEvents on the default bus, so
    # rules match it as AWS's and the publish hook reports it.
    # Tags given with PutObject, CopyObject or CompleteMultipartUpload do not emit
    # s3:ObjectTagging:Put ("Object Tags Added"); only PutObjectTagging does. moto sent one for
    # every upload. CompleteMultipartUpload emits ObjectCreated:CompleteMultipartUpload only; moto
    # sent an ObjectCreated:Put first (the handler ran twice for every multipart upload, e.g. an
    # `aws s3 cp` of more than 8 MB).
    from moto.s3 import notifications
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    from devtools import aws_events

    original_send = notifications.send_event

    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        kind = notifications.S3NotificationEvent
        if event_name == kind.OBJECT_TAGGING_PUT_EVENT and not getattr(_s3_request, "tagging_api", False):
            return
        if event_name == kind.OBJECT_CREATED_PUT_EVENT and getattr(_s3_request, "completing", False):
            return  # CompleteMultipartUpload stores the object with moto's put_object: one event, not two
        outer = getattr(_s3_request, "ids", None)
        _s3_request.ids = (*aws_events.s3_request_ids(), aws_events.s3_sequencer())
        try:
            original_send(account_id, event_name, bucket, key)
        finally:
            _s3_request.ids = outer

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        request_id, host_id, sequencer = _s3_request_ids()
        record = aws_events.s3_event_record(
            bucket.name,
            key.name,
            size=key.size,
            etag=key.etag,
            event_name=getattr(event_name, "value", event_name),
            version_id=getattr(key, "version_id", None),
            sequencer=sequencer,
            region=bucket.region_name,
            configuration_id=notification_id,
            account_id=bucket.account_id,
            request_id=request_id,
            host_id=host_id,
            source_ip="127.0.0.1",  # the emulator's clients are local
        )
        return {"Records": [record]}

    def send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        from moto.events.models import events_backends

        request_id, _, sequencer = _s3_request_ids()
        detail = aws_events.s3_eventbridge_detail(
            bucket.name,
            key.name,
            size=key.size,
            etag=key.etag,
            event_name=getattr(event_name, "value", event_name),
            version_id=getattr(key, "version_id", None),
            sequencer=sequencer,
            request_id=request_id,
            requester=account_id,
            source_ip="127.0.0.1",
        )
        entry = {
            "Source": "aws.s3",
            "DetailType": notifications._detail_type(event_name),
            "Detail": json.dumps(detail),
            "Resources": [bucket.arn],
        }
        try:  # asynchronous on AWS: a failure never fails the S3 request
            events_backends[account_id][bucket.region_name].put_events([entry])
        except Exception as exc:
            logging.getLogger("devtools.local.motoserver").warning("S3 -> EventBridge: %s", exc)

    original_tagging = S3Response.put_object_tagging

    def put_object_tagging(self: Any) -> Any:
        _s3_request.tagging_api = True
        try:
            return original_tagging(self)
        finally:
            _s3_request.tagging_api = False

    original_complete = S3Backend.complete_multipart_upload

    def complete_multipart_upload(self: Any, *args: Any, **kwargs: Any) -> Any:
        _s3_request.completing = True
        try:
            return original_complete(self, *args, **kwargs)
        finally:
            _s3_request.completing = False

    notifications.send_event = send_event
    notifications._get_s3_event = get_s3_event
    notifications._send_event_bridge_message = send_event_bridge_message
    S3Response.put_object_tagging = put_object_tagging  # type: ignore[method-assign]
    S3Backend.complete_multipart_upload = complete_multipart_upload  # type: ignore[method-assign]


def _binary_attributes_as_bytes(attributes: Any) -> Any:
    """SQS message attributes with every BinaryValue as bytes (SNS hands over base64 text)."""
    if not isinstance(attributes, dict):
        return attributes
    out = {}
    for name, attribute in attributes.items():
        value = attribute.get("BinaryValue") if isinstance(attribute, dict) else None
        if not isinstance(value, str):
            out[name] = attribute
            continue
        try:
            data = base64.b64decode(value, validate=True)
        except ValueError:
            data = value.encode()
        out[name] = {**attribute, "BinaryValue": data}
    return out


def _patch_sqs_binary_attributes_from_sns() -> None:
    # SNS raw message delivery to SQS turns each SNS message attribute into an SQS one; a Binary
    # attribute's value is bytes in SQS. moto 5.2.5 passed the base64 text SNS holds, so
    # ReceiveMessage crashed hashing it (TypeError, HTTP 500) after marking the message received:
    # the client's retry saw an empty queue, the message was never delivered, went to the DLQ
    # after maxReceiveCount, and stayed unreadable there (`dlq list` saw nothing). SQS's own
    # SendMessage already passes bytes; only that internal path passed text.
    from moto.sqs.models import SQSBackend

    original = SQSBackend.send_message

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        # (queue_name, message_body, message_attributes=None, ...): callers pass them either way
        if len(args) > 2:
            args = (*args[:2], _binary_attributes_as_bytes(args[2]), *args[3:])
        elif kwargs.get("message_attributes"):
            kwargs["message_attributes"] = _binary_attributes_as_bytes(kwargs["message_attributes"])
        return original(self, *args, **kwargs)

    SQSBackend.send_message = send_message  # type: ignore[method-assign]


def _patch_dynamodb_stream_record_fields() -> None:
    # DynamoDB Streams GetRecords: a record's awsRegion is its table's region and eventVersion
    # "1.1" (AWS's documented records); moto 5.2.5 wrote "us-east-1" and "1.0" into every record.
    # (B/BS values are base64 on the wire already; the local runtime's poller and the test kit
    # turn the bytes boto3 returns back into base64 in devtools.aws_events.)
    from moto.dynamodb.models.table import StreamRecord

    original = StreamRecord.__init__

    def __init__(self: Any, table: Any, *args: Any, **kwargs: Any) -> None:
        original(self, table, *args, **kwargs)
        self.record["eventVersion"] = "1.1"
        self.record["awsRegion"] = getattr(table, "region_name", None) or self.record["awsRegion"]

    StreamRecord.__init__ = __init__  # type: ignore[method-assign]


def _addresses(destinations: Any, kind: str) -> list[str]:
    return list((destinations or {}).get(kind) or []) if isinstance(destinations, dict) else []


def ses_sent_messages() -> list[dict[str, Any]]:
    """Every message SES accepted in this process, oldest first (see the module docstring)."""
    from moto.ses import models
    from moto.ses.models import ses_backends

    out = []
    for account, regions in list(ses_backends.items()):
        for region, backend in list(regions.items()):
            for msg in list(backend.sent_messages):
                item: dict[str, Any] = {
                    "id": getattr(msg, "id", None) or (getattr(msg, "ids", None) or [None])[0],
                    "from": msg.source,
                    "to": [],
                    "cc": [],
                    "bcc": [],
                    "subject": None,
                    "text": None,
                    "html": None,
                    "raw": False,
                    "template": None,
                    "sent_at": getattr(msg, "sent_at", None),
                    "account": account,
                    "region": region,
                }
                if isinstance(msg, models.RawMessage):
                    parsed = email.message_from_string(msg.raw_data, policy=policy.default)
                    item.update(raw=True, to=list(msg.destinations), subject=parsed.get("subject"))
                    for kind in ("plain", "html"):
                        part = parsed.get_body(preferencelist=(kind,))
                        if part is not None:
                            item["text" if kind == "plain" else "html"] = part.get_content()
                elif isinstance(msg, models.Message):
                    is_html = "<" in (msg.body or "") and ">" in (msg.body or "")
                    item.update(
                        to=_addresses(msg.destinations, "ToAddresses"),
                        cc=_addresses(msg.destinations, "CcAddresses"),
                        bcc=_addresses(msg.destinations, "BccAddresses"),
                        subject=msg.subject,
                        html=msg.body if is_html else None,
                        text=getattr(msg, "text_part", None) or (None if is_html else msg.body),
                    )
                else:  # templated
                    item.update(template=msg.template, to=_addresses(msg.destinations, "ToAddresses"))
                out.append(item)
    return sorted(out, key=lambda m: m["sent_at"] or 0)


class _LocalRoutes:
    """WSGI middleware: the local runtime's own read-only routes in front of moto's app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/_local/ses/sent-messages":
            body = json.dumps(ses_sent_messages(), default=str).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    # Persistence (devtools.local.state): restore this snapshot file before serving, save it on
    # POST /_local/state/snapshot and when stopping; messages in flight visible within S seconds.
    parser.add_argument("--state-file")
    parser.add_argument("--visible-within", type=float, default=None)
    args = parser.parse_args(argv)

    # stdout is the runtime's channel: keep a private copy, send everything else to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lock = threading.Lock()

    def emit(message: dict[str, Any]) -> None:
        line = json.dumps(message, default=str)
        with lock, contextlib.suppress(OSError, ValueError):  # the runtime went away: nobody listens
            channel.write(line + "\n")

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    apply_patches()
    global publish_sink  # noqa: PLW0603 - server mode only
    publish_sink = emit

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from devtools.local import moto_speed
    from devtools.local.state import MotoState

    moto_speed.patch_server()  # the service of a request found once per host, not by listing moto's package

    state = MotoState(args.state_file, args.visible_within) if args.state_file else None
    restored = state.restore() if state is not None else {}

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's, with the local routes in front
            app = _LocalRoutes(DomainDispatcherApplication(create_backend_app))
            if state is not None:
                app = state.wsgi(app)  # every request under the snapshot gate
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Server(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    emit({"url": f"http://{host}:{port}", **({"restored": restored} if restored else {})})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Exit when the parent goes away (stdin closes), so a crashed runtime leaves nothing behind.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    if state is not None:
        state.at_exit()  # unless the runtime's final snapshot already has everything
    server.stop()


if __name__ == "__main__":
    main()
