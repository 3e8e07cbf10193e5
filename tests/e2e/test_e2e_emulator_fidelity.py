"""End to end: handlers get what AWS would send (issue 10), on the local runtime and its moto server.

- Every SNS message, whatever its attribute types (String, Number, Binary, String.Array), is
  delivered to the subscribed function (raw delivery, as Terraform subscribes) or is listed by
  `dlq list` with the reason it failed; a subscription without raw delivery gets all of them too.
  moto's ReceiveMessage crashed on a Binary attribute: the message was never delivered, went to
  the DLQ, and `dlq list` printed "DLQs are empty".
- `dlq list` never says "empty" while a DLQ holds a message it could not list.
- Each invocation has its own Lambda request id, separate from API Gateway's requestId.
- A function's context and environment are the Lambda Python runtime's (memory_limit_in_mb a str,
  identity an object, _HANDLER, AWS_LAMBDA_LOG_STREAM_NAME, TZ=:UTC, ...).
"""

from __future__ import annotations

import base64
import json
import re
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

from devtools.local import __main__ as cli
from devtools.local.functions import FunctionHost, FunctionSpec

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-local-runtime")]

WAIT = 30.0
BINARY = b"\x00\x01\xfe\xff binary"
ATTRIBUTES = {
    "severity": {"DataType": "String", "StringValue": "high"},  # fxsink.audit's filter policy: high only
    "count": {"DataType": "Number", "StringValue": "12.50"},
    "thumbprint": {"DataType": "Binary", "BinaryValue": BINARY},
    "tags": {"DataType": "String.Array", "StringValue": '["a", 1, true]'},
    "signature": {"DataType": "Binary.sha256", "BinaryValue": b"\xff" * 32},
}


def _poll(check, timeout: float = WAIT) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def _effect(runtime, pk: str) -> dict | None:
    ddb = runtime.client("dynamodb")
    table = runtime.topology.tables["fxsink:effects"]
    return ddb.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")


def _cli(runtime, capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["--state-dir", str(runtime.config.state_dir), *args])
    return code, capsys.readouterr().out


def test_every_sns_message_is_delivered_or_listed_in_the_dlq_with_its_reason(runtime, capsys):
    sns, sqs = runtime.client("sns"), runtime.client("sqs")
    topic = runtime.topology.topics["fxsink:alerts"]
    # a second subscriber without raw message delivery: the SNS JSON document is the body
    url = sqs.create_queue(QueueName=f"fidelity-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"})

    alerts = [f"bin-{uuid.uuid4()}" for _ in range(4)]
    sent = {}
    for i, alert in enumerate(alerts):
        attributes = dict(ATTRIBUTES) if i == 0 else {k: ATTRIBUTES[k] for k in ("severity", list(ATTRIBUTES)[i])}
        message = json.dumps({"alert_id": alert, "text": f"attribute set {i}"})
        sent[sns.publish(TopicArn=topic, Message=message, MessageAttributes=attributes)["MessageId"]] = alert
    # raw delivery: every one reaches the function and has its effect
    assert _poll(lambda: all(_effect(runtime, f"alert#{a}") for a in alerts)), [
        a for a in alerts if not _effect(runtime, f"alert#{a}")
    ]
    assert all(_effect(runtime, f"alert#{a}")["severity"] == {"S": "high"} for a in alerts)

    # one the handler cannot read (its body is not JSON): retried, then in the DLQ with the reason
    poison = f"not json {uuid.uuid4()}"
    sent[sns.publish(TopicArn=topic, Message=poison, MessageAttributes=ATTRIBUTES)["MessageId"]] = poison

    def in_dlq() -> list[dict]:
        return [m for m in runtime.dlq_list("fxsink.audit") if m["body"] == poison]

    assert _poll(lambda: bool(in_dlq())), "the unreadable message is in the DLQ, readable"
    [dead] = in_dlq()
    assert "JSONDecodeError" in dead["reason"] and dead["receive_count"] == 3
    code, out = _cli(runtime, capsys, "dlq", "list", "fxsink.audit")
    assert code == 0 and poison in out and "JSONDecodeError" in out and "empty" not in out

    # `dlq list` never says "empty" while the DLQ holds a message it cannot list (here: one in flight)
    dlq_url = sqs.get_queue_url(QueueName=f"{runtime.topology.function('fxsink.audit').physical_name}-dlq")["QueueUrl"]
    [held] = sqs.receive_message(QueueUrl=dlq_url, VisibilityTimeout=120, MessageAttributeNames=["All"])["Messages"]
    assert held["Body"] == poison
    assert base64.b64encode(held["MessageAttributes"]["thumbprint"]["BinaryValue"]) == base64.b64encode(BINARY)
    try:
        code, out = _cli(runtime, capsys, "dlq", "list", "fxsink.audit")
        assert code == 1 and "DLQs are empty" not in out
        assert re.search(r"fxsink\.audit\s+1 message\(s\) in local-fxsink-audit-dlq could not be listed", out), out
    finally:
        sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=held["ReceiptHandle"], VisibilityTimeout=0)

    # without raw delivery: all five, every attribute in the notification document
    bodies: list[dict] = []

    def all_received() -> bool:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(bodies) >= len(sent)

    assert _poll(all_received)
    notifications = [SnsNotificationModel.model_validate(b) for b in bodies]
    assert {n.MessageId for n in notifications} == set(sent)
    first = next(n for n in notifications if sent[n.MessageId] == alerts[0])
    assert {k: (v.Type, v.Value) for k, v in first.MessageAttributes.items()} == {
        "severity": ("String", "high"),
        "count": ("Number", "12.50"),
        "thumbprint": ("Binary", base64.b64encode(BINARY).decode()),
        "tags": ("String.Array", '["a", 1, true]'),
        "signature": ("Binary.sha256", base64.b64encode(b"\xff" * 32).decode()),
    }


def test_each_http_invocation_has_its_own_lambda_request_id(runtime, signed_in):
    request_ids = []
    for name in ("first", "second"):
        req = urllib.request.Request(
            f"{runtime.gateway.url}/things",
            data=json.dumps({"name": name}).encode(),
            headers={"content-type": "application/json", **signed_in},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=20) as resp:
            apigw_id = resp.headers["apigw-requestid"]
            assert json.loads(resp.read())["request_id"] == apigw_id  # requestContext.requestId
        request_ids.append(apigw_id)
    invocations = {
        apigw_id: next(e.invocation for e in runtime.journal.entries("fxsink.api") if apigw_id in e.records[0].keys)
        for apigw_id in request_ids
    }
    lambda_ids = {inv.request_id for inv in invocations.values()}
    assert len(lambda_ids) == 2 and not lambda_ids & set(request_ids)
    assert all(uuid.UUID(i).version == 4 for i in lambda_ids)
    assert runtime.trace(request_ids[0])[0]["function"] == "fxsink.api"  # traced by the apigw id


HANDLER = """
import os, time

def handler(event, context):
    keys = ("_HANDLER", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE",
            "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ", "LANG", "AWS_LAMBDA_RUNTIME_API",
            "MY_SETTING")
    return {
        "env": {k: os.environ.get(k) for k in keys},
        "tz": time.localtime().tm_zone,
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "identity": None if context.identity is None else [
                context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
            "client_context": context.client_context,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
"""


def test_the_function_sees_the_lambda_python_runtimes_context_and_environment(tmp_path: Path):
    src, layer = tmp_path / "src", tmp_path / "layer"
    (src / "ctxfn").mkdir(parents=True)
    layer.mkdir()
    (src / "ctxfn" / "__init__.py").write_text("")
    (src / "ctxfn" / "handlers.py").write_text(textwrap.dedent(HANDLER))
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:local-fx-ctx"
    spec = FunctionSpec(
        qualified_name="fx.ctx",
        physical_name="local-fx-ctx",
        arn=arn,
        handler="ctxfn.handlers.handler",
        path=(str(src), str(layer)),
        environment={"MY_SETTING": "on", "TZ": "Europe/Berlin"},  # TZ is reserved: Lambda keeps :UTC
        memory=256,
        timeout=5,
        trigger_type="http",
    )
    host = FunctionHost(spec, tmp_path / "logs", {"PATH": "/usr/bin:/bin", "LANG": "en_US.UTF-8"})
    try:
        first, second = host.invoke({}), host.invoke({})
    finally:
        host.stop()
    assert first.ok and second.ok, (first.error, second.error)
    env, context = first.result["env"], first.result["context"]
    assert env == {
        "_HANDLER": "ctxfn.handlers.handler",
        "AWS_LAMBDA_FUNCTION_NAME": "local-fx-ctx",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/local-fx-ctx",
        "AWS_LAMBDA_LOG_STREAM_NAME": context["log_stream_name"],
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(src),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "AWS_LAMBDA_RUNTIME_API": None,  # no Runtime API here: the worker is handed its invocations
        "MY_SETTING": "on",
    }
    assert first.result["tz"] == "UTC"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert context == {
        "aws_request_id": first.request_id,
        "function_name": "local-fx-ctx",
        "function_version": "$LATEST",
        "invoked_function_arn": arn,
        "memory_limit_in_mb": "256",  # awslambdaric: a str, read from AWS_LAMBDA_FUNCTION_MEMORY_SIZE
        "log_group_name": "/aws/lambda/local-fx-ctx",
        "log_stream_name": context["log_stream_name"],
        "identity": [None, None],  # an object, its Cognito ids None
        "client_context": None,
        "remaining_ms": context["remaining_ms"],
    }
    assert 0 < context["remaining_ms"] <= 5000
    # the same execution environment: same log stream, another request id
    assert second.result["context"]["log_stream_name"] == context["log_stream_name"]
    assert second.result["context"]["aws_request_id"] == second.request_id != first.request_id
