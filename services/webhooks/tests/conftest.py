"""AWS for the handler tests: moto, with the resources the manifest declares for each function."""

from __future__ import annotations

import importlib
import json
import sys

import boto3
import pytest
from moto import mock_aws

from devtools.manifest import Deployment, load_manifest

REGION = "eu-west-1"
SERVICE = load_manifest(__import__("pathlib").Path(__file__).parents[1] / "service.yaml")
DEPLOYMENT = Deployment("test", REGION)


@pytest.fixture
def aws(monkeypatch):
    """moto with the bus (and a queue catching everything on it), tables and secrets."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    with mock_aws():
        events, sqs, ddb = boto3.client("events"), boto3.client("sqs"), boto3.client("dynamodb")
        bus = f"eda-{DEPLOYMENT.env}"
        events.create_event_bus(Name=bus)
        queue_url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["webhooks"]}))
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
        ddb.create_table(
            TableName=f"{DEPLOYMENT.env}-idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for name, spec in SERVICE.tables.items():
            ddb.create_table(
                TableName=f"{DEPLOYMENT.env}-webhooks-{name}",
                KeySchema=[{"AttributeName": spec["hash_key"]["name"], "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": spec["hash_key"]["name"], "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        secret_arns = {}
        sm = boto3.client("secretsmanager")
        for name, spec in SERVICE.secrets.items():
            arn = sm.create_secret(Name=f"{DEPLOYMENT.env}/webhooks/{name}", SecretString=spec["local_value"])["ARN"]
            secret_arns[f"webhooks:{name}"] = arn
        yield AwsStub(queue_url, secret_arns, monkeypatch)


class AwsStub:
    def __init__(self, tap_url: str, secret_arns: dict[str, str], monkeypatch) -> None:
        self.tap_url = tap_url
        self.secret_arns = secret_arns
        self.monkeypatch = monkeypatch

    def load_handler(self, function: str):
        """Import the function's module fresh, with exactly the environment Terraform sets."""
        fn = SERVICE.function(function)
        for key, value in DEPLOYMENT.function_environment(SERVICE, fn, self.secret_arns).items():
            self.monkeypatch.setenv(key, value)
        for name in [m for m in sys.modules if m.startswith("webhooks.") and m != "webhooks.deliveries"]:
            del sys.modules[name]
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        return importlib.import_module(fn.handler_module)

    def published(self) -> list[dict]:
        """EventBridge events that reached the bus (as a rule target receives them)."""
        sqs = boto3.client("sqs")
        out = []
        while True:
            msgs = sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=m["ReceiptHandle"])
