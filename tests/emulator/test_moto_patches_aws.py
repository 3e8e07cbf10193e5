"""moto behaves like AWS where `terraform apply` of infra/ needs it (devtools.local.motoserver.apply_patches).

Each test drives boto3 against moto with the project's patches, as the test kit and the local
runtime do, and fails on moto 5.2.5 without the patch it names. The last one goes through the
real moto server process, which is what Terraform talks to.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devtools.local.motoserver import apply_patches

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
REPO = Path(__file__).resolve().parents[2]


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
        yield


def _client(name: str, endpoint_url: str | None = None):
    return boto3.client(name, region_name=REGION, endpoint_url=endpoint_url)


def _queue(sqs, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _attributes(sqs, url: str, *names: str) -> dict[str, str]:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names or ["All"])).get("Attributes", {})


def _send_policy(arn: str, service: str = "events.amazonaws.com") -> str:
    """A queue policy like infra/modules/service/queues.tf writes (with a `"Principal": "*"` deny)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowTriggerSource",
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sqs:SendMessage"],
                    "Resource": arn,
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
                    "Resource": arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def _check_sqs_apply_sequence(sqs) -> None:
    """What Terraform does for one SQS-fed function: DLQ, queue with redrive, policies, redrive allow."""
    dlq_url, dlq_arn = _queue(sqs, "dev-orders-process-dlq", MessageRetentionPeriod="1209600")
    url, arn = _queue(
        sqs,
        "dev-orders-process",
        VisibilityTimeout="180",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
    )
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"Policy": _send_policy(dlq_arn)})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _send_policy(arn)})
    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]}, separators=(",", ":"))
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"RedriveAllowPolicy": allow})

    # SQS returns it, by name (how aws_sqs_queue_redrive_allow_policy waits for it) and in All.
    assert _attributes(sqs, dlq_url, "RedriveAllowPolicy") == {"RedriveAllowPolicy": allow}
    dlq = _attributes(sqs, dlq_url)
    assert dlq["RedriveAllowPolicy"] == allow
    # ... and setting it left the DLQ's policy alone.
    assert json.loads(dlq["Policy"]) == json.loads(_send_policy(dlq_arn))
    queue = _attributes(sqs, url)
    assert json.loads(queue["Policy"]) == json.loads(_send_policy(arn))
    assert queue["RedrivePolicy"] == f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":3}}'


# ---------------------------------------------------------------- 1. SQS RedriveAllowPolicy


def test_sqs_redrive_allow_policy_is_stored_and_returned(aws):
    sqs = _client("sqs")
    dlq_url, _ = _queue(sqs, "dlq")
    _, source_arn = _queue(sqs, "source")
    assert "RedriveAllowPolicy" not in _attributes(sqs, dlq_url)  # never set: not returned
    assert _attributes(sqs, dlq_url, "RedriveAllowPolicy") == {}

    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [source_arn]})
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"RedriveAllowPolicy": allow})

    assert _attributes(sqs, dlq_url, "RedriveAllowPolicy") == {"RedriveAllowPolicy": allow}
    assert _attributes(sqs, dlq_url)["RedriveAllowPolicy"] == allow
    # CreateQueue takes it too.
    other_url, _ = _queue(sqs, "dlq-2", RedriveAllowPolicy=json.dumps({"redrivePermission": "denyAll"}))
    assert json.loads(_attributes(sqs, other_url, "RedriveAllowPolicy")["RedriveAllowPolicy"]) == {
        "redrivePermission": "denyAll"
    }
    # An empty string removes it; a value that is not a JSON object is refused.
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"RedriveAllowPolicy": ""})
    assert "RedriveAllowPolicy" not in _attributes(sqs, dlq_url)
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"RedriveAllowPolicy": "not json"})
    assert error.value.response["Error"]["Code"] == "InvalidAttributeValue"


# ---------------------------------------------------------------- 2. SQS: set only what is passed


def test_sqs_set_queue_attributes_keeps_the_attributes_not_passed(aws):
    sqs = _client("sqs")
    dlq_url, dlq_arn = _queue(sqs, "dlq")
    url, arn = _queue(sqs, "queue", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}))
    # CreateQueue's defaults: no policy, SQS's numbers.
    created = _attributes(sqs, url)
    assert "Policy" not in created
    assert (created["VisibilityTimeout"], created["MessageRetentionPeriod"], created["DelaySeconds"]) == (
        "30",
        "345600",
        "0",
    )
    assert "Policy" not in _attributes(sqs, dlq_url)
    assert "RedrivePolicy" not in _attributes(sqs, dlq_url)

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _send_policy(arn)})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})}
    )

    after = _attributes(sqs, url)
    assert json.loads(after["Policy"]) == json.loads(_send_policy(arn))  # moto 5.2.5: gone
    assert json.loads(after["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    assert after["VisibilityTimeout"] == "60"
    assert after["MessageRetentionPeriod"] == "345600"

    # Setting the policy leaves the redrive policy; an empty policy removes the policy (as SQS does).
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    after = _attributes(sqs, url)
    assert "Policy" not in after
    assert json.loads(after["RedrivePolicy"])["deadLetterTargetArn"] == dlq_arn
    # AddPermission statements survive an unrelated SetQueueAttributes too.
    sqs.add_permission(QueueUrl=url, Label="peer", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "1"})
    assert [s["Sid"] for s in json.loads(_attributes(sqs, url, "Policy")["Policy"])["Statement"]] == ["peer"]


# ---------------------------------------------------------------- 3. S3 logging target policy


def _logging_target_policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _deny_insecure(bucket: str) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _log_delivery(bucket: str, principal, action, resource) -> dict:
    return {
        "Sid": "S3ServerAccessLogsDelivery",
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }


def _buckets(s3) -> tuple[str, str]:
    source, target = f"eda-dev-orders-uploads-{ACCOUNT}-{REGION}", f"eda-dev-access-logs-{ACCOUNT}-{REGION}"
    for bucket in (source, target):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return source, target


@pytest.mark.parametrize(
    ("principal", "action", "resource"),
    [
        # infra/modules/region/buckets.tf, after a `"Principal": "*"` deny (moto 5.2.5: 500)
        ({"Service": "logging.s3.amazonaws.com"}, ["s3:PutObject"], "{arn}/*"),
        ({"Service": ["delivery.logs.amazonaws.com", "logging.s3.amazonaws.com"]}, "s3:PutObject", "{arn}/*"),
        ({"Service": "logging.s3.amazonaws.com"}, "s3:*", ["{arn}", "{arn}/{prefix}*"]),
        ({"Service": "logging.s3.amazonaws.com"}, ["s3:Put*"], "{arn}/*"),
    ],
)
def test_s3_put_bucket_logging_reads_the_target_policy_as_s3_does(aws, principal, action, resource):
    s3 = _client("s3")
    source, target = _buckets(s3)
    arn, prefix = f"arn:aws:s3:::{target}", f"{source}/"
    resources = [r.format(arn=arn, prefix=prefix) for r in (resource if isinstance(resource, list) else [resource])]
    policy = _logging_target_policy(target, _deny_insecure(target), _log_delivery(target, principal, action, resources))
    s3.put_bucket_policy(Bucket=target, Policy=policy)

    s3.put_bucket_logging(
        Bucket=source, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix}}
    )

    assert s3.get_bucket_logging(Bucket=source)["LoggingEnabled"] == {"TargetBucket": target, "TargetPrefix": prefix}


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param(lambda t: [_deny_insecure(t)], id="deny-star-only"),
        pytest.param(
            lambda t: [_log_delivery(t, "*", "s3:PutObject", f"arn:aws:s3:::{t}/*")], id="allow-star-not-the-service"
        ),
        pytest.param(
            lambda t: [_log_delivery(t, {"AWS": "*"}, "s3:PutObject", f"arn:aws:s3:::{t}/*")], id="allow-aws-star"
        ),
        pytest.param(
            lambda t: [
                _log_delivery(t, {"Service": "logging.s3.amazonaws.com"}, "s3:GetObject", f"arn:aws:s3:::{t}/*")
            ],
            id="wrong-action",
        ),
        pytest.param(
            lambda t: [
                _log_delivery(t, {"Service": "logging.s3.amazonaws.com"}, "s3:PutObject", f"arn:aws:s3:::{t}/other/*")
            ],
            id="other-prefix",
        ),
    ],
)
def test_s3_put_bucket_logging_without_a_grant_is_invalid_target_not_500(aws, statements):
    s3 = _client("s3")
    source, target = _buckets(s3)
    s3.put_bucket_policy(Bucket=target, Policy=_logging_target_policy(target, *statements(target)))

    with pytest.raises(ClientError) as error:
        s3.put_bucket_logging(
            Bucket=source, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "x/"}}
        )

    assert error.value.response["Error"]["Code"] == "InvalidTargetBucketForLogging"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# ---------------------------------------------------------------- (a) RedrivePolicy as SQS returns it


def test_sqs_redrive_policy_reads_back_in_the_form_sqs_returns(aws):
    sqs = _client("sqs")
    dlq_url, dlq_arn = _queue(sqs, "dlq")
    url, _ = _queue(sqs, "queue")
    aws_form = f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":3}}'

    # Terraform's jsonencode (compact, keys sorted), a spaced document, a string count: one answer.
    for sent in (
        aws_form,
        json.dumps({"maxReceiveCount": 3, "deadLetterTargetArn": dlq_arn}),
        json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
    ):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": sent})
        assert _attributes(sqs, url, "RedrivePolicy") == {"RedrivePolicy": aws_form}
        assert _attributes(sqs, url)["RedrivePolicy"] == aws_form

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})  # removes it
    assert "RedrivePolicy" not in _attributes(sqs, url)
    assert "RedrivePolicy" not in _attributes(sqs, dlq_url)


# ---------------------------------------------------------------- (b) S3 EventBridge notifications


def test_s3_notification_configuration_returns_eventbridge(aws):
    s3, sqs = _client("s3"), _client("sqs")
    bucket = f"eda-dev-thumbnails-uploads-{ACCOUNT}-{REGION}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    _, queue_arn = _queue(sqs, "dev-thumbnails-create")

    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    read = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert read["EventBridgeConfiguration"] == {}

    queue = {"Id": "create", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}, "QueueConfigurations": [queue]}
    )
    read = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert read["EventBridgeConfiguration"] == {}
    assert [(q["Id"], q["QueueArn"], q["Events"]) for q in read["QueueConfigurations"]] == [
        ("create", queue_arn, ["s3:ObjectCreated:*"])
    ]

    # Turned off again: not returned.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [queue]})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)


# ---------------------------------------------------------------- (c) Lambda LoggingConfig


def _function(lam, name: str, **kwargs) -> dict:
    iam = _client("iam")
    try:
        role = iam.get_role(RoleName="fn")["Role"]["Arn"]
    except ClientError:
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        **kwargs,
    )


def test_lambda_logging_config_is_stored_and_returned(aws):
    lam = _client("lambda")
    # infra/modules/service/main.tf: log_format JSON, the function's own log group.
    created = _function(lam, "dev-orders-api", LoggingConfig={"LogFormat": "JSON", "LogGroup": "/eda/dev/orders-api"})
    json_logs = {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": "/eda/dev/orders-api",
    }
    assert created["LoggingConfig"] == json_logs
    assert lam.get_function(FunctionName="dev-orders-api")["Configuration"]["LoggingConfig"] == json_logs
    assert lam.get_function_configuration(FunctionName="dev-orders-api")["LoggingConfig"] == json_logs

    # Not given: Lambda's defaults.
    _function(lam, "plain")
    assert lam.get_function_configuration(FunctionName="plain")["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/aws/lambda/plain",
    }

    lam.update_function_configuration(
        FunctionName="dev-orders-api", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"}
    )
    assert lam.get_function_configuration(FunctionName="dev-orders-api")["LoggingConfig"] == {
        **json_logs,
        "ApplicationLogLevel": "DEBUG",
    }
    lam.update_function_configuration(FunctionName="dev-orders-api", LoggingConfig={"LogFormat": "Text"})
    assert lam.get_function_configuration(FunctionName="dev-orders-api")["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/eda/dev/orders-api",
    }
    listed = {f["FunctionName"]: f["LoggingConfig"] for f in lam.list_functions()["Functions"]}
    assert listed["plain"]["LogGroup"] == "/aws/lambda/plain"


# ---------------------------------------------------------------- through the moto server process


@pytest.fixture
def moto_server(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "scripts")])}
    server = subprocess.Popen(
        [sys.executable, "-m", "devtools.local.motoserver", "--host", "127.0.0.1", "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line, f"moto server did not start (exit code {server.poll()})"
        yield json.loads(line)["url"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_moto_server_applies_the_patches_terraform_needs(moto_server):
    _check_sqs_apply_sequence(_client("sqs", moto_server))

    s3 = _client("s3", moto_server)
    source, target = _buckets(s3)
    delivery = _log_delivery(
        target, {"Service": "logging.s3.amazonaws.com"}, ["s3:PutObject"], f"arn:aws:s3:::{target}/*"
    )
    s3.put_bucket_policy(Bucket=target, Policy=_logging_target_policy(target, _deny_insecure(target), delivery))
    s3.put_bucket_logging(
        Bucket=source, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": f"{source}/"}}
    )
    s3.put_bucket_notification_configuration(Bucket=source, NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert s3.get_bucket_notification_configuration(Bucket=source)["EventBridgeConfiguration"] == {}


def test_in_process_sqs_apply_sequence(aws):
    _check_sqs_apply_sequence(_client("sqs"))
