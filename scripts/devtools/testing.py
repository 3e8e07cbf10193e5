"""Test kit for service teams: moto provisioned from the manifests, handlers loaded as Lambda would.

    @pytest.fixture
    def aws(monkeypatch):
        with moto_deployment(["orders", "inventory"], monkeypatch) as aws:
            yield aws

    def test_something(aws):
        api = aws.load_handler("orders.api")            # fresh import, Terraform's environment
        response = api.handler(event, aws.context("orders.api"))
        assert aws.published_types() == ["OrderPlaced"]  # what reached the bus

Feeding functions as their triggers do:

    aws.deliver("inventory.reservations", envelope, ...)  # EventBridge -> SQS batch; partial batch response
    record = aws.sqs_record("payments.process", envelope)  # one record, to redeliver it (receive_count=2)
    status, body = aws.http("POST", "/orders", {...}, headers={"Idempotency-Key": "k1"}, user=customer("anna"))
    aws.deliver("orders.relay", *aws.stream_records("orders:events"))  # DynamoDB stream -> Lambda
    batch = aws.queue_event("thumbnails.create")  # what S3/SNS/EventBridge put on the queue, as Lambda's batch

Events come from devtools.aws_events, the builder the local runtime uses too.

Who calls: `user=` takes the claims of a token the route's JWT authorizer verified, as API Gateway
hands them to the function (`requestContext.authorizer.jwt`): `customer("anna")` (an access token
of the mobile client, `sub` derived from the name), `staff("olga")` (the same in group `staff`),
`operations_tool()` (client credentials with scope eda/staff). A route the manifest declares
customer or staff answers API Gateway's 401 without `user`, and 403 when it requires a scope the
token lacks, without invoking the function; a public route ignores `user`. The signature, issuer,
audience and expiry checks are the local gateway's (devtools.local.authorizer, tests/e2e).

Event payloads for the e-commerce services: devtools.commerce_fixtures.

Provisioning is the local runtime's (`devtools.local.provision`), so tests, `make local`
and Terraform all derive tables, buckets, queues, rules and environment from the same
manifests. Everything runs in-process under `moto.mock_aws`.

DynamoDB is atomic across threads, as the real service is, so that concurrency tests test our
code and not moto: `apply_patches()` (devtools.local.motoserver, shared with the local
runtime) puts one lock around moto's DynamoDB operations. moto checks a condition and writes
in separate Python steps and rolls a cancelled transaction back by restoring a copy of the
whole table, losing other threads' writes. Measured with moto 5.2.5 (inventory, 50 threads
each reserving 1 of 10 units with TransactWriteItems and `available >= :qty`), without the
lock: 10, 20 and 18 orders marked reserved in three runs, 0, 28 and 25 reservation items lost,
stock left at 0/10, 2/8, 0/10 available/reserved; with it: exactly 10 reserved, 40 failed,
0/10, every run. Do not add another lock in a conftest.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from devtools import manifest as mf
from devtools.aws_events import (
    LambdaContext,
    api_gateway_http,
    dynamodb_stream_record_from_api,
    sqs_record,
    sqs_record_from_message,
)
from devtools.local import authorizer
from devtools.local.motoserver import apply_patches
from devtools.local.provision import Provisioner, Topology

REGION = "eu-west-1"
NOT_FOUND = '{"message":"Not Found"}'  # API Gateway's answer when no route matches
# The test kit's stand-in pool and app clients (tokens are not verified here: see the docstring).
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_TestKitPool"
MOBILE_CLIENT_ID = "testkitmobileclient0000000"
OPERATIONS_CLIENT_ID = "testkitoperationsclient000"


def customer(name: str = "anna", *, groups: tuple[str, ...] = (), token_use: str = "access") -> dict[str, Any]:
    """Claims of a signed-in user's token as Cognito issues them (access token by default; "id" for
    an ID token); the same name always gives the same `sub`."""
    import time
    import uuid

    now = int(time.time())
    sub = str(uuid.uuid5(uuid.NAMESPACE_URL, f"eda-test-user:{name}"))
    claims: dict[str, Any] = {"sub": sub, "iss": ISSUER, "token_use": token_use, "auth_time": now, "iat": now}
    claims |= {"exp": now + 3600, "jti": str(uuid.uuid4()), "origin_jti": str(uuid.uuid4())}
    if token_use == "access":
        claims |= {"client_id": MOBILE_CLIENT_ID, "username": sub, "scope": "openid email profile"}
    else:
        claims |= {"aud": MOBILE_CLIENT_ID, "cognito:username": sub, "email": f"{name}@users.example"}
    if groups:
        claims["cognito:groups"] = list(groups)
    return claims


def staff(name: str = "olga", **kwargs: Any) -> dict[str, Any]:
    """A staff member's claims: a user in group `staff`."""
    return customer(name, groups=(mf.STAFF_GROUP,), **kwargs)


def operations_tool() -> dict[str, Any]:
    """An operations tool's access token (client credentials): scope eda/staff, no user."""
    import time
    import uuid

    now = int(time.time())
    return {
        "sub": OPERATIONS_CLIENT_ID,
        "iss": ISSUER,
        "client_id": OPERATIONS_CLIENT_ID,
        "token_use": "access",
        "scope": " ".join(mf.PLATFORM_SCOPES),
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }


class _Clients:
    """boto3 clients created on first use (inside the active mock)."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._clients:
            if name in ("streams", "dynamodbstreams"):
                # moto serves DynamoDB Streams only at this endpoint with its trailing slash.
                endpoint = f"https://streams.dynamodb.{REGION}.amazonaws.com/"
                self._clients[name] = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=endpoint)
            else:
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
        self._loaded: dict[str, Any] = {}  # function -> the handler module load_handler gave last
        self._environment_of: str | None = None  # whose environment os.environ holds now
        self._environment_keys: set[str] = set()
        self._stream_iterators: dict[str, str] = {}
        self._routes = sorted(
            (
                _Route(route.method, route.path, wiring.qualified_name, route)
                for wiring in topology.functions.values()
                for route in wiring.function.trigger.route_access
            ),
            key=lambda route: route.specificity,
            reverse=True,
        )

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
    def set_environment(self, function: str, **values: str) -> None:
        """Override variables of the function's environment for this test (e.g. shorter delays)."""
        self.topology.function(function).environment.update(values)
        self._environment_of = None

    def _use_environment(self, function: str) -> None:
        """os.environ = the function's Lambda environment (variables of another function removed)."""
        if self._environment_of == function:
            return
        environment = self.topology.function(function).environment
        for key in self._environment_keys - set(environment):
            self._monkeypatch.delenv(key, raising=False)
        for key, value in environment.items():
            self._monkeypatch.setenv(key, value)
        self._environment_keys = set(environment)
        self._environment_of = function

    def load_handler(self, function: str):
        """Import the function's handler module fresh, with exactly its Lambda environment.

        The service's package is dropped from sys.modules first, so module-level clients and
        settings are created again inside this test's mock (as a cold start would). The module
        is also the one `deliver`, `http` and `invoke` call for this function from now on.
        """
        wiring = self.topology.function(function)
        self._use_environment(wiring.qualified_name)
        _forget_package(wiring.service.name)
        from aws_lambda_powertools.utilities import parameters

        import shared.idempotency

        parameters.clear_caches()
        shared.idempotency.reset()
        module = importlib.import_module(wiring.function.handler_module)
        self._loaded[wiring.qualified_name] = module
        return module

    def handler_module(self, function: str):
        """The module last loaded for the function (loaded now if it never was)."""
        name = self.topology.function(function).qualified_name
        return self._loaded.get(name) or self.load_handler(name)

    def invoke(self, function: str, event: dict[str, Any], module=None) -> Any:
        """Call the function's handler as Lambda would: its environment, its context."""
        wiring = self.topology.function(function)
        module = module or self.handler_module(function)
        self._use_environment(wiring.qualified_name)
        return getattr(module, wiring.function.handler_function)(event, self.context(function))

    # ------------------------------------------------------------------ triggers
    def sqs_record(
        self, function: str, item: Any, *, receive_count: int = 1, message_id: str | None = None
    ) -> dict[str, Any]:
        """The SQS record the function's queue hands Lambda for `item`.

        item: an Envelope or an EventData (published now by its producer: a new event id), or an
        EventBridge event as a rule target receives it (e.g. one from `published()`). The
        function's rules must match it, or it would never reach the queue. To redeliver a
        message, pass its message_id with a higher receive_count.
        """
        wiring = self.topology.function(function)
        if wiring.queue_arn is None:
            raise ValueError(f"{wiring.qualified_name} is not fed by a queue ({wiring.function.trigger.type})")
        from devtools.commerce_fixtures import bus_event  # light: no moto, no boto3

        event = bus_event(item, region=self.deployment.region)
        if wiring.function.trigger.type == "eventbridge":
            key = (event.get("source"), event.get("detail-type"))
            if key not in wiring.function.trigger.events:
                raise ValueError(f"no rule of {wiring.qualified_name} matches {key[0]}/{key[1]}")
        return sqs_record(event, queue_arn=wiring.queue_arn, receive_count=receive_count, message_id=message_id)

    def sqs_event(self, function: str, *items: Any, receive_count: int = 1) -> dict[str, Any]:
        """One Lambda batch of the function's queue; SQS records among `items` are taken as they are."""
        return {"Records": [self._record(function, item, receive_count) for item in items]}

    def _record(self, function: str, item: Any, receive_count: int) -> dict[str, Any]:
        if isinstance(item, dict) and item.get("eventSource") in ("aws:sqs", "aws:dynamodb"):
            return item
        return self.sqs_record(function, item, receive_count=receive_count)

    def deliver(self, function: str, *items: Any, receive_count: int = 1) -> Any:
        """Invoke a queue- or stream-fed function with one batch; returns its response (for SQS
        and streams the partial batch response `{"batchItemFailures": [...]}`).

        Queue-fed: items as for `sqs_record`, or SQS records. Stream-fed: DynamoDB stream records
        (`stream_records`). The same envelope twice is its producer publishing it twice (two
        messages); to have SQS deliver one message again, pass the record built once.
        """
        wiring = self.topology.function(function)
        if wiring.function.trigger.type == "dynamodb_stream":
            if not all(isinstance(r, dict) and r.get("eventSource") == "aws:dynamodb" for r in items):
                raise ValueError(f"{wiring.qualified_name} is fed by a DynamoDB stream: pass stream records")
            return self.invoke(function, {"Records": list(items)})
        return self.invoke(function, self.sqs_event(function, *items, receive_count=receive_count))

    def http_response(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        user: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send a request through the HTTP API: routed to the function whose manifest route
        matches (the most specific one, as API Gateway picks), with routeKey and pathParameters
        set. No route: API Gateway's own 404, no function invoked. A dict/list body goes as
        JSON (content-type application/json). `user`: the caller's verified claims (`customer()`,
        `staff()`); without them an authorized route is API Gateway's 401. Returns the function's
        raw response (or API Gateway's own)."""
        route, params = self._route(method, path)
        if route is None:
            return {
                "statusCode": 404,
                "headers": {"content-type": "application/json"},
                "body": '{"message":"Not Found"}',
            }
        authorized = None
        if route.access.authorization_type == "JWT":
            decision = (
                authorizer.unauthorized()
                if user is None
                else authorizer.check_scopes(route.access.scopes, user) or authorizer.allowed(user, route.access.scopes)
            )
            if not decision.allowed:
                return {
                    "statusCode": decision.status,
                    "headers": {"content-type": "application/json", **decision.headers},
                    "body": json.dumps(decision.body, separators=(",", ":")),
                }
            authorized = decision
        headers = dict(headers or {})
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
            headers.setdefault("content-type", "application/json")
        event = api_gateway_http(
            method,
            path,
            body=body,
            headers=headers,
            query=query,
            path_parameters=params or None,
            route_key=route.key,
            region=self.deployment.region,
            claims=authorized.claims if authorized else None,
            scopes=authorized.scopes if authorized else None,
        )
        return self.invoke(route.function, event)

    def http(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        """`http_response` as (status code, JSON body or None)."""
        response = self.http_response(method, path, body, **kwargs)
        text = response.get("body")
        return response["statusCode"], json.loads(text) if text else None

    def _route(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in self._routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None, {}

    def stream_records(self, table: str) -> list[dict[str, Any]]:
        """The table stream's records since the last call, as Lambda passes them to a function.

        Read from moto's stream (the changes the writes really made), reshaped like Lambda:
        eventVersion 1.1, the table's region, eventSourceARN, creation time in epoch seconds,
        binary values (B, BS) as base64 text.
        """
        arn = self.clients.dynamodb.describe_table(TableName=self.table(table))["Table"]["LatestStreamArn"]
        streams = self.clients.streams
        iterator = self._stream_iterators.get(table)
        if iterator is None:
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
                "ShardIterator"
            ]
        response = streams.get_records(ShardIterator=iterator, Limit=1000)
        self._stream_iterators[table] = response.get("NextShardIterator") or iterator
        # The local runtime's stream poller builds its records with the same function.
        return [dynamodb_stream_record_from_api(raw, arn, REGION) for raw in response.get("Records", [])]

    # ------------------------------------------------------------------ state
    def dynamodb_table(self, ref: str):
        """boto3's Table resource for "service:table" (numbers come back as Decimal)."""
        return boto3.resource("dynamodb", region_name=REGION).Table(self.table(ref))

    def get_item(self, ref: str, **key: Any) -> dict[str, Any] | None:
        """The item (strongly consistent read), or None."""
        return self.dynamodb_table(ref).get_item(Key=key, ConsistentRead=True).get("Item")

    def scan(self, ref: str) -> list[dict[str, Any]]:
        """Every item of the table (all pages)."""
        table, items, kwargs = self.dynamodb_table(ref), [], {}
        while True:
            page = table.scan(ConsistentRead=True, **kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def sent_emails(self) -> list[Any]:
        """What SES accepted in this region, oldest first (moto's records: source, destinations,
        subject, body, id)."""
        from moto.ses.models import ses_backends

        return list(ses_backends[self.deployment.account_id][self.deployment.region].sent_messages)

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

    def queue_event(self, function: str) -> dict[str, Any]:
        """Drain the function's queue into the batch its event source mapping would pass Lambda:
        what S3, SNS or EventBridge really delivered, as records the local runtime builds too."""
        wiring = self.topology.function(function)
        messages = self.queue_messages(function)
        return {
            "Records": [sqs_record_from_message(m, wiring.queue_arn or "", self.deployment.region) for m in messages]
        }

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


class _Route:
    """An HTTP API route ("GET /orders/{order_id}", "ANY /files/{path+}"), its function and access."""

    def __init__(self, method: str, template: str, function: str, access: mf.RouteAccess) -> None:
        self.method, self.template, self.function, self.access = method, template, function, access
        self.key = f"{method} {template}"
        parts = []
        for segment in template.strip("/").split("/"):
            name = segment[1:-1] if segment.startswith("{") and segment.endswith("}") else None
            if name and name.endswith("+"):
                parts.append(f"(?P<{name[:-1]}>.+)")
            elif name:
                parts.append(f"(?P<{name}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        self.regex = re.compile("^/" + "/".join(parts) + "$")
        # API Gateway prefers literal segments, then fewer variables, then no greedy variable.
        self.specificity = (template.count("{") == 0, "+}" not in template, -template.count("{"), len(template))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in (method, "ANY"):
            return None
        found = self.regex.match(path)
        return found.groupdict() if found else None


def _forget_package(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


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
    apply_patches()  # the same moto fixes the local runtime's server has, atomic DynamoDB included
    if service_names is None:
        services = mf.load_services()
    else:  # only these manifests: another team's work in progress cannot break this test
        services = [mf.load_manifest(mf.SERVICES_DIR / name / "service.yaml") for name in service_names]
        mf.check_cross_service(services)
    deployment = mf.Deployment(env, REGION, "123456789012")
    with mock_aws():
        topology = Provisioner(_Clients(), deployment).provision(services)
        try:
            yield MotoDeployment(services, topology, deployment, monkeypatch)
        finally:  # modules holding this mock's clients must not outlive it
            for service in services:
                _forget_package(service.name)
