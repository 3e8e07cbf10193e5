"""Create in moto what the manifests declare: the same resources and wiring Terraform creates.

Per service: tables (with streams and TTL), buckets (with notifications), topics, secrets.
Per function fed by a queue (eventbridge, sns and s3 triggers): a queue and its DLQ with a
redrive policy, plus the wiring into the queue: EventBridge rules with the manifest's patterns,
SNS subscriptions with filter policies, S3 notifications (direct or via EventBridge).
Region-wide: the event bus and the Powertools idempotency table.

SES: the sender identity of every function with `access.ses_send: true` is verified (SES, and
moto, reject unverified senders): its `MAIL_FROM` environment value, or DEFAULT_MAIL_FROM. On AWS
identities are verified once per account and region, out of band.

For the test kit (devtools.testing) only, `tap=True` adds a "tap" rule on the bus that copies
every event to a queue, to read what was published. The local runtime does not use it: its moto
server reports every accepted event itself (motoserver.py), which costs moto nothing per event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devtools import manifest as mf

TAP_NAME = "local-runtime-tap"
DEFAULT_MAIL_FROM = "no-reply@example.com"
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass
class FunctionWiring:
    """Where one function's events come from, with physical names and ARNs."""

    service: mf.Service
    function: mf.Function
    physical_name: str
    arn: str
    environment: dict[str, str]
    queue_url: str | None = None
    queue_arn: str | None = None
    dlq_url: str | None = None
    dlq_arn: str | None = None
    stream_arn: str | None = None
    rules: list[str] = field(default_factory=list)

    @property
    def qualified_name(self) -> str:
        return self.function.qualified_name


@dataclass
class Topology:
    bus: str
    functions: dict[str, FunctionWiring]  # by qualified name
    tables: dict[str, str]  # "service:table" -> physical name
    buckets: dict[str, str]
    topics: dict[str, str]  # "service:topic" -> ARN
    secrets: dict[str, str]  # "service:secret" -> ARN
    tap_queue_url: str | None
    idempotency_table: str
    ses_identities: list[str] = field(default_factory=list)

    def function(self, name: str) -> FunctionWiring:
        """By qualified name (service.function) or physical name (env-service-function)."""
        if name in self.functions:
            return self.functions[name]
        for wiring in self.functions.values():
            if name == wiring.physical_name:
                return wiring
        raise KeyError(f"no function {name!r}; known: {', '.join(sorted(self.functions))}")


class Provisioner:
    def __init__(self, clients: Any, deployment: mf.Deployment, *, tap: bool = True) -> None:
        self.c = clients
        self.d = deployment
        self.tap = tap

    # ------------------------------------------------------------------ helpers

    def _queue(self, name: str, attributes: dict[str, Any]) -> tuple[str, str]:
        url = self.c.sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
        return url, self.d.arn("sqs", name)

    def _table(
        self,
        name: str,
        hash_key: dict[str, str],
        range_key: dict[str, str] | None = None,
        stream: str | None = None,
        ttl: str | None = None,
    ) -> str | None:
        keys = [{"AttributeName": hash_key["name"], "KeyType": "HASH"}]
        attrs = [{"AttributeName": hash_key["name"], "AttributeType": hash_key["type"]}]
        if range_key:
            keys.append({"AttributeName": range_key["name"], "KeyType": "RANGE"})
            attrs.append({"AttributeName": range_key["name"], "AttributeType": range_key["type"]})
        kwargs: dict[str, Any] = {}
        if stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
        table = self.c.dynamodb.create_table(
            TableName=name, KeySchema=keys, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST", **kwargs
        )["TableDescription"]
        if ttl:
            self.c.dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )
        return table.get("LatestStreamArn")

    # ------------------------------------------------------------------ provisioning

    def provision(self, services: list[mf.Service]) -> Topology:
        d, env = self.d, self.d.env
        bus = mf.bus_name(env)
        self.c.events.create_event_bus(Name=bus)
        idempotency = mf.idempotency_table_name(env)
        self._table(idempotency, {"name": "id", "type": "S"}, ttl="expiration")

        tables: dict[str, str] = {}
        streams: dict[str, str] = {}
        buckets: dict[str, str] = {}
        topics: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for svc in services:
            for name, spec in svc.tables.items():
                ref = mf.Ref(svc.name, name)
                tables[str(ref)] = d.table(ref)
                arn = self._table(
                    d.table(ref), spec["hash_key"], spec.get("range_key"), spec.get("stream"), spec.get("ttl_attribute")
                )
                if arn:
                    streams[str(ref)] = arn
            for name in svc.buckets:
                ref = mf.Ref(svc.name, name)
                buckets[str(ref)] = d.bucket(ref)
                self.c.s3.create_bucket(
                    Bucket=d.bucket(ref), CreateBucketConfiguration={"LocationConstraint": d.region}
                )
                # Versioned, as Terraform makes them: notifications then carry a versionId.
                self.c.s3.put_bucket_versioning(Bucket=d.bucket(ref), VersioningConfiguration={"Status": "Enabled"})
            for name in svc.topics:
                ref = mf.Ref(svc.name, name)
                topics[str(ref)] = self.c.sns.create_topic(Name=mf.topic_name(env, svc.name, name))["TopicArn"]
            for name, spec in svc.secrets.items():
                ref = mf.Ref(svc.name, name)
                value = spec.get("local_value", f"local-{svc.name}-{name}")
                secrets[str(ref)] = self.c.secretsmanager.create_secret(Name=d.secret_name(ref), SecretString=value)[
                    "ARN"
                ]

        functions: dict[str, FunctionWiring] = {}
        notifications: dict[str, dict[str, Any]] = {}
        purge_after: list[str] = []
        for svc in services:
            for fn in svc.functions:
                physical = mf.function_name(env, fn)
                wiring = FunctionWiring(
                    service=svc,
                    function=fn,
                    physical_name=physical,
                    arn=d.arn("lambda", f"function:{physical}"),
                    environment=d.function_environment(svc, fn, secrets),
                )
                functions[fn.qualified_name] = wiring
                trig = fn.trigger
                if trig.uses_queue:
                    wiring.dlq_url, wiring.dlq_arn = self._queue(
                        mf.dlq_name(env, fn), {"MessageRetentionPeriod": DLQ_RETENTION_SECONDS}
                    )
                    redrive = {"deadLetterTargetArn": wiring.dlq_arn, "maxReceiveCount": trig.max_receive_count}
                    wiring.queue_url, wiring.queue_arn = self._queue(
                        mf.queue_name(env, fn),
                        {"VisibilityTimeout": fn.queue_visibility_timeout, "RedrivePolicy": json.dumps(redrive)},
                    )
                if trig.type == "eventbridge":
                    for i, pattern in enumerate(trig.event_patterns()):
                        rule = f"{physical}-{i}"
                        self.c.events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
                        self.c.events.put_targets(
                            Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": wiring.queue_arn}]
                        )
                        wiring.rules.append(rule)
                elif trig.type == "sns":
                    attributes = {"RawMessageDelivery": "true"}  # as Terraform subscribes
                    if trig.raw.get("filter_policy"):
                        attributes["FilterPolicy"] = json.dumps(trig.raw["filter_policy"])
                        attributes["FilterPolicyScope"] = trig.raw.get("filter_policy_scope", "MessageAttributes")
                    self.c.sns.subscribe(
                        TopicArn=topics[str(trig.topic)],
                        Protocol="sqs",
                        Endpoint=wiring.queue_arn,
                        Attributes=attributes,
                    )
                elif trig.type == "s3":
                    bucket = buckets[str(trig.bucket)]
                    config = notifications.setdefault(bucket, {})
                    rules = []
                    if trig.raw.get("prefix"):
                        rules.append({"Name": "prefix", "Value": trig.raw["prefix"]})
                    if trig.raw.get("suffix"):
                        rules.append({"Name": "suffix", "Value": trig.raw["suffix"]})
                    if trig.raw.get("delivery", "sqs") == "eventbridge":
                        config["EventBridgeConfiguration"] = {}
                        key_filter = [{"prefix": trig.raw.get("prefix", "")}]
                        if trig.raw.get("suffix"):
                            key_filter = [{"suffix": trig.raw["suffix"]}]
                        pattern = {
                            "source": ["aws.s3"],
                            "detail-type": ["Object Created"],
                            "detail": {"bucket": {"name": [bucket]}, "object": {"key": key_filter}},
                        }
                        rule = f"{physical}-s3"
                        self.c.events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
                        self.c.events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": wiring.queue_arn}])
                        wiring.rules.append(rule)
                    else:
                        entry: dict[str, Any] = {
                            "Id": physical,
                            "QueueArn": wiring.queue_arn,
                            "Events": ["s3:ObjectCreated:*"],
                        }
                        if rules:
                            entry["Filter"] = {"Key": {"FilterRules": rules}}
                        config.setdefault("QueueConfigurations", []).append(entry)
                        purge_after.append(wiring.queue_url or "")
                elif trig.type == "dynamodb_stream":
                    wiring.stream_arn = streams[f"{svc.name}:{trig.table}"]
        for bucket, config in notifications.items():
            self.c.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
        # S3 sends an s3:TestEvent when a queue notification is configured; it would reach the
        # handler before any real object. Terraform applies before the function exists; we drop it.
        for url in purge_after:
            self.c.sqs.purge_queue(QueueUrl=url)

        senders = sorted(
            {
                w.environment.get("MAIL_FROM") or DEFAULT_MAIL_FROM
                for w in functions.values()
                if w.function.access.get("ses_send")
            }
        )
        for sender in senders:
            self.c.ses.verify_email_identity(EmailAddress=sender)

        tap_url = None
        if self.tap:
            tap_url, tap_arn = self._queue(TAP_NAME, {"MessageRetentionPeriod": 3600})
            self.c.events.put_rule(
                Name=TAP_NAME, EventBusName=bus, EventPattern=json.dumps({"account": [d.account_id]})
            )
            self.c.events.put_targets(Rule=TAP_NAME, EventBusName=bus, Targets=[{"Id": "tap", "Arn": tap_arn}])
        return Topology(bus, functions, tables, buckets, topics, secrets, tap_url, idempotency, senders)
