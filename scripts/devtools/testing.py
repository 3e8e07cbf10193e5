"""Test kit for service teams: moto provisioned from the manifests, handlers loaded as Lambda would.

    @pytest.fixture
    def aws(monkeypatch):
        with moto_deployment(["orders", "inventory"], monkeypatch) as aws:
            yield aws

    def test_something(aws):
        api = aws.load_handler("orders.api")            # fresh import, Terraform's environment
        response = api.handler(event, aws.context("orders.api"))
        assert aws.published_types() == ["OrderPlaced"]  # what reached the bus

Provisioning is the local runtime's (`devtools.local.provision`), so tests, `make local`
and Terraform all derive tables, buckets, queues, rules and environment from the same
manifests. Everything runs in-process under `moto.mock_aws`.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from devtools import manifest as mf
from devtools.aws_events import LambdaContext
from devtools.local.motoserver import apply_patches
from devtools.local.provision import Provisioner, Topology

REGION = "eu-west-1"


class _Clients:
    """boto3 clients created on first use (inside the active mock)."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._clients:
            self._clients[name] = boto3.client(name, region_name=REGION)
        return self._clients[name]


class MotoDeployment:
    """A provisioned deployment under moto: physical names, handlers, and what was published."""

    def __init__(self, services: list[mf.Service], topology: Topology, deployment: mf.Deployment, monkeypatch) -> None:
        self.services = {s.name: s for s in services}
        self.topology = topology
        self.deployment = deployment
        self.clients = _Clients()
        self._monkeypatch = monkeypatch

    # ------------------------------------------------------------------ names
    def table(self, ref: str) -> str:
        """Physical table name of "service:table"."""
        return self.topology.tables[ref]

    def bucket(self, ref: str) -> str:
        return self.topology.buckets[ref]

    def environment(self, function: str) -> dict[str, str]:
        return dict(self.topology.function(function).environment)

    def context(self, function: str, **kwargs: Any) -> LambdaContext:
        wiring = self.topology.function(function)
        return LambdaContext(
            function_name=wiring.physical_name,
            memory_limit_in_mb=wiring.function.memory,
            timeout_seconds=wiring.function.timeout,
            **kwargs,
        )

    # ------------------------------------------------------------------ handlers
    def load_handler(self, function: str):
        """Import the function's handler module fresh, with exactly its Lambda environment.

        The service's package is dropped from sys.modules first, so module-level clients and
        settings are created again inside this test's mock (as a cold start would).
        """
        wiring = self.topology.function(function)
        for key, value in wiring.environment.items():
            self._monkeypatch.setenv(key, value)
        package = wiring.service.name
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
        from aws_lambda_powertools.utilities import parameters

        import shared.idempotency

        parameters.clear_caches()
        shared.idempotency.reset()
        return importlib.import_module(wiring.function.handler_module)

    def invoke(self, function: str, event: dict[str, Any], module=None) -> Any:
        wiring = self.topology.function(function)
        module = module or sys.modules.get(wiring.function.handler_module) or self.load_handler(function)
        return getattr(module, wiring.function.handler_function)(event, self.context(function))

    # ------------------------------------------------------------------ the bus
    def published(self) -> list[dict[str, Any]]:
        """EventBridge events put on the bus since the last call (as a rule target gets them)."""
        sqs, out = self.clients.sqs, []
        while True:
            messages = sqs.receive_message(QueueUrl=self.topology.tap_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.topology.tap_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def published_types(self) -> list[str]:
        return [event["detail-type"] for event in self.published()]

    def queue_messages(self, function: str) -> list[dict[str, Any]]:
        """Drain the function's own queue (what its rules/subscriptions/notifications delivered)."""
        url = self.topology.function(function).queue_url
        sqs, out = self.clients.sqs, []
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _set_fake_credentials(monkeypatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@contextmanager
def moto_deployment(service_names: list[str] | None, monkeypatch, env: str = "test") -> Iterator[MotoDeployment]:
    """moto with every resource the named services' manifests declare (all services if None).

    A service that references another's resources (`inventory:listings`) needs that service
    in the list too.
    """
    _set_fake_credentials(monkeypatch)
    apply_patches()  # the same moto fixes the local runtime's server has
    if service_names is None:
        services = mf.load_services()
    else:  # only these manifests: another team's work in progress cannot break this test
        services = [mf.load_manifest(mf.SERVICES_DIR / name / "service.yaml") for name in service_names]
        mf.check_cross_service(services)
    deployment = mf.Deployment(env, REGION, "123456789012")
    with mock_aws():
        topology = Provisioner(_Clients(), deployment).provision(services)
        yield MotoDeployment(services, topology, deployment, monkeypatch)
