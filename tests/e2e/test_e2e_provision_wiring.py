"""The local runtime provisions the wiring Terraform creates, read back through the AWS APIs.

One runtime over the real services (what Terraform deploys) and the fixture services (every
trigger type, SNS filter policies, a cron schedule, stream defaults). What each API returns is
compared, per kind and physical name, with what the manifests demand. The expected side is
derived here from the manifest loader (devtools.manifest: the model and the naming helpers that
infra/modules mirrors) and from the settings Terraform writes literally, each named next to its
resource and attribute; never from provision.py. A Terraform plan against the same moto can be
held to the same tables.

Not compared because nothing local creates them (see provision.py): KMS settings, IAM policies,
log groups, alarms, dashboards, the HTTP API's stage, bucket settings other than notifications.
The user pool and the HTTP API's routes and authorizer are compared with an applied Terraform in
tests/infra (devtools.wiring `user_pools`, `routes`), and served and enforced in tests/e2e/test_e2e_auth.py.
"""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from devtools import manifest as mf
from devtools.local.runtime import Runtime, RuntimeConfig, envelope

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-provision-wiring")]

FIXTURE_SERVICES = Path(__file__).parent / "fixtures" / "services"
WAIT = 20.0

# Settings Terraform writes as literals (infra/modules/service/*.tf, infra/modules/region/*.tf).
QUEUE_RETENTION = 345600  # aws_sqs_queue.this.message_retention_seconds
DLQ_RETENTION = 1209600  # aws_sqs_queue.dlq.message_retention_seconds
# aws_cloudwatch_event_target.this/.s3.retry_policy
TARGET_RETRY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
RESPONSE_TYPES = ["ReportBatchItemFailures"]  # aws_lambda_event_source_mapping.*.function_response_types
# aws_lambda_event_source_mapping.stream: try(trigger.<key>, default)
STREAM_DEFAULTS = {"starting_position": "TRIM_HORIZON", "bisect_batch_on_error": True, "maximum_retry_attempts": 10}
# aws_scheduler_schedule.this.target.retry_policy
SCHEDULE_RETRY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
# aws_lambda_function_event_invoke_config.schedule
SCHEDULE_ASYNC = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
ARCHIVE_RETENTION_DAYS = 30  # region module, var.archive_retention_days default


@pytest.fixture(scope="module")
def wired(tmp_path_factory):
    config = RuntimeConfig(
        services_roots=[mf.SERVICES_DIR, FIXTURE_SERVICES],
        state_dir=tmp_path_factory.mktemp("provision-wiring"),
        retry_after=0,
    )
    with Runtime(config) as rt:
        yield rt


@pytest.fixture(scope="module")
def clients(wired):
    return {name: wired.client(name) for name in ("sqs", "events", "lambda", "iam", "sns", "s3", "scheduler")}


def _all(client: Any, method: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in client.get_paginator(method).paginate(**kwargs) for item in page[key]]


def _assert_same(kind: str, expected: dict, actual: dict) -> None:
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert not missing and not extra, f"{kind}: missing {missing}, extra {extra}"
    different = {
        name: {"expected": expected[name], "actual": actual[name]}
        for name in expected
        if expected[name] != actual[name]
    }
    assert not different, f"{kind} differ:\n{json.dumps(different, indent=1, default=str)}"


# --------------------------------------------------------------------------- expected (manifests)


def expected_wiring(rt: Runtime, secret_arns: dict[str, str], stream_arns: dict[str, str]) -> dict[str, dict]:
    d = rt.deployment
    env = d.env
    bus = mf.bus_name(env)
    out: dict[str, dict] = defaultdict(dict)
    # region module: aws_s3_bucket.access_logs (no notification) and aws_sns_topic.alarms
    out["notifications"][mf.access_log_bucket_name(env, d.region, d.account_id)] = {"EventBridge": False, "Queues": []}
    out["topics"][d.arn("sns", mf.alarm_topic_name(env))] = True
    for svc in rt.services:
        for bucket in svc.buckets:  # aws_s3_bucket_notification.this: eventbridge = true on every bucket
            out["notifications"][d.bucket(mf.Ref(svc.name, bucket))] = {"EventBridge": True, "Queues": []}
        for topic in svc.topics:  # aws_sns_topic.this
            out["topics"][d.topic_arn(mf.Ref(svc.name, topic))] = True

    for svc in rt.services:
        for fn in svc.functions:
            name, trig = mf.function_name(env, fn), fn.trigger
            fn_arn = d.arn("lambda", f"function:{name}")
            dlq_arn = d.arn("sqs", mf.dlq_name(env, fn))
            queue_arn = d.arn("sqs", mf.queue_name(env, fn))
            out["roles"][mf.role_name(env, fn)] = "lambda.amazonaws.com"
            out["functions"][name] = {
                "Runtime": fn.runtime,
                "Handler": fn.handler,
                "MemorySize": fn.memory,
                "Timeout": fn.timeout,
                "Architectures": [fn.architecture],
                "Role": f"arn:aws:iam::{d.account_id}:role/{mf.role_name(env, fn)}",
                "Description": fn.description,
                "Environment": d.function_environment(svc, fn, secret_arns),
                "Tracing": "Active",
                "Logging": {"LogFormat": "JSON", "LogGroup": mf.log_group_name(env, fn)},
                "ReservedConcurrency": fn.reserved_concurrency,
            }
            if trig.type != "http":  # local.dlq_functions
                out["queues"][mf.dlq_name(env, fn)] = {
                    "MessageRetentionPeriod": DLQ_RETENTION,
                    "RedriveAllowPolicy": (
                        {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn]} if trig.uses_queue else None
                    ),
                    "PolicyPrincipal": {"Service": ["events.amazonaws.com", "scheduler.amazonaws.com"]},
                }
            if trig.type in ("eventbridge", "sns", "s3"):  # local.queue_functions
                principal = {"sns": "sns.amazonaws.com", "s3": "s3.amazonaws.com"}.get(
                    trig.type, "events.amazonaws.com"
                )
                if trig.type == "s3" and trig.raw.get("delivery", "sqs") == "eventbridge":
                    principal = "events.amazonaws.com"
                out["queues"][mf.queue_name(env, fn)] = {
                    "VisibilityTimeout": 6 * fn.timeout + trig.batching_window_seconds,
                    "MessageRetentionPeriod": QUEUE_RETENTION,
                    "RedrivePolicy": {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": trig.max_receive_count},
                    "RedriveAllowPolicy": None,
                    "PolicyPrincipal": {"Service": principal},
                }
                mapping = {
                    "EventSourceArn": queue_arn,
                    "BatchSize": trig.batch_size,
                    "MaximumBatchingWindowInSeconds": trig.batching_window_seconds,
                    "FunctionResponseTypes": RESPONSE_TYPES,
                    "State": "Enabled",
                }
                if trig.maximum_concurrency is not None:
                    mapping["ScalingConfig"] = {"MaximumConcurrency": trig.maximum_concurrency}
                out["mappings"][name] = mapping
            target = {"Id": "sqs", "Arn": queue_arn, "DeadLetterConfig": {"Arn": dlq_arn}, "RetryPolicy": TARGET_RETRY}
            if trig.type == "eventbridge":  # local.event_rules: one rule per (function, source)
                sources = sorted({source for source, _ in trig.events})
                for source in sources:
                    detail_types = sorted(dt for s, dt in trig.events if s == source)
                    pattern: dict[str, Any] = {"source": [source], "detail-type": detail_types}
                    if trig.raw.get("detail_filter"):
                        pattern["detail"] = trig.raw["detail_filter"]
                    out["rules"][(bus, mf.rule_name(env, fn, source))] = {
                        "EventPattern": pattern,
                        "Description": f"{svc.name}.{fn.name} consumes {', '.join(detail_types)} from {source}",
                        "State": "ENABLED",
                        "Targets": [target],
                    }
            elif trig.type == "sns":  # aws_sns_topic_subscription.this
                attributes: dict[str, Any] = {
                    "RawMessageDelivery": "true",
                    "RedrivePolicy": {"deadLetterTargetArn": dlq_arn},
                }
                if trig.raw.get("filter_policy") is not None:
                    attributes["FilterPolicy"] = trig.raw["filter_policy"]
                    attributes["FilterPolicyScope"] = trig.raw.get("filter_policy_scope", "MessageAttributes")
                out["subscriptions"][(d.topic_arn(trig.topic), queue_arn)] = attributes
            elif trig.type == "s3":
                bucket = d.bucket(trig.bucket)
                prefix, suffix = trig.raw.get("prefix", ""), trig.raw.get("suffix", "")
                if trig.raw.get("delivery", "sqs") == "eventbridge":  # aws_cloudwatch_event_rule.s3 (default bus)
                    detail: dict[str, Any] = {"bucket": {"name": [bucket]}}
                    if prefix or suffix:
                        detail["object"] = {"key": [{"wildcard": f"{prefix}*{suffix}"}]}
                    out["rules"][("default", mf.s3_rule_name(env, fn))] = {
                        "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail},
                        "Description": f"{svc.name}.{fn.name}: objects created in {bucket}",
                        "State": "ENABLED",
                        "Targets": [target],
                    }
                else:  # a queue block of aws_s3_bucket_notification.this
                    entry: dict[str, Any] = {
                        "Id": mf.s3_notification_id(fn),
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                    }
                    rules = [{"Name": k, "Value": v} for k, v in (("prefix", prefix), ("suffix", suffix)) if v]
                    if rules:
                        entry["Filter"] = {"Key": {"FilterRules": rules}}
                    out["notifications"][bucket]["Queues"].append(entry)
            elif trig.type == "dynamodb_stream":  # aws_lambda_event_source_mapping.stream
                out["mappings"][name] = {
                    "EventSourceArn": stream_arns[d.table(mf.Ref(svc.name, trig.table))],
                    "StartingPosition": trig.raw.get("starting_position", STREAM_DEFAULTS["starting_position"]),
                    "BatchSize": trig.batch_size,
                    "MaximumBatchingWindowInSeconds": trig.batching_window_seconds,
                    "BisectBatchOnFunctionError": trig.raw.get(
                        "bisect_batch_on_error", STREAM_DEFAULTS["bisect_batch_on_error"]
                    ),
                    "MaximumRetryAttempts": trig.raw.get(
                        "maximum_retry_attempts", STREAM_DEFAULTS["maximum_retry_attempts"]
                    ),
                    "FunctionResponseTypes": RESPONSE_TYPES,
                    "DestinationConfig": {"OnFailure": {"Destination": dlq_arn}},
                    "State": "Enabled",
                }
            elif trig.type == "schedule":  # aws_scheduler_schedule.this, aws_iam_role.scheduler
                out["roles"][mf.scheduler_role_name(env, fn)] = "scheduler.amazonaws.com"
                out["schedules"][mf.schedule_name(env, fn)] = {
                    "GroupName": "default",
                    "Description": f"{svc.name}.{fn.name}",
                    "ScheduleExpression": trig.raw["expression"],
                    "ScheduleExpressionTimezone": trig.raw.get("timezone", "UTC"),
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "State": "ENABLED",
                    "Target": {
                        "Arn": fn_arn,
                        "RoleArn": f"arn:aws:iam::{d.account_id}:role/{mf.scheduler_role_name(env, fn)}",
                        "DeadLetterConfig": {"Arn": dlq_arn},
                        "RetryPolicy": SCHEDULE_RETRY,
                    },
                    "InvokeConfig": {**SCHEDULE_ASYNC, "DestinationConfig": {"OnFailure": {"Destination": dlq_arn}}},
                }
    out["archives"][mf.archive_name(env)] = {  # region module: aws_cloudwatch_event_archive.this
        "EventSourceArn": d.arn("events", f"event-bus/{bus}"),
        "RetentionDays": ARCHIVE_RETENTION_DAYS,
        "Description": f"Every event on {bus}, kept for replay.",
        "State": "ENABLED",
    }
    for bucket in out["notifications"].values():
        bucket["Queues"].sort(key=lambda q: q["Id"])
    return out


# --------------------------------------------------------------------------- actual (AWS APIs)


@pytest.fixture(scope="module")
def wiring(wired, clients):
    """(expected, actual) per kind."""
    d, env = wired.deployment, wired.deployment.env
    sqs, events, lam, iam, sns, s3, scheduler = (
        clients[k] for k in ("sqs", "events", "lambda", "iam", "sns", "s3", "scheduler")
    )
    actual: dict[str, dict] = defaultdict(dict)

    for url in sqs.list_queues(QueueNamePrefix=f"{env}-", MaxResults=1000).get("QueueUrls", []):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        policy = json.loads(attrs["Policy"])
        allow = [st for st in policy["Statement"] if st["Effect"] == "Allow"]
        actual["queues"][url.rsplit("/", 1)[1]] = {
            "VisibilityTimeout": int(attrs["VisibilityTimeout"]) if "RedrivePolicy" in attrs else None,
            "MessageRetentionPeriod": int(attrs["MessageRetentionPeriod"]),
            "RedrivePolicy": json.loads(attrs["RedrivePolicy"]) if "RedrivePolicy" in attrs else None,
            "RedriveAllowPolicy": json.loads(attrs["RedriveAllowPolicy"]) if attrs.get("RedriveAllowPolicy") else None,
            "PolicyPrincipal": allow[0]["Principal"] if len(allow) == 1 else allow,
        }
    for queue in actual["queues"].values():
        if queue["VisibilityTimeout"] is None:  # a DLQ: Terraform sets no visibility timeout on it
            del queue["VisibilityTimeout"]
            del queue["RedrivePolicy"]

    for bus in (mf.bus_name(env), "default"):
        for rule in _all(events, "list_rules", "Rules", EventBusName=bus):
            if rule.get("ManagedBy"):  # the archive's rule: AWS creates it, Terraform does not
                continue
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
            actual["rules"][(bus, rule["Name"])] = {
                "EventPattern": json.loads(rule["EventPattern"]),
                "Description": rule.get("Description"),
                "State": rule["State"],
                "Targets": targets,
            }
    for archive in events.list_archives()["Archives"]:
        described = events.describe_archive(ArchiveName=archive["ArchiveName"])
        actual["archives"][archive["ArchiveName"]] = {
            k: described.get(k) for k in ("EventSourceArn", "RetentionDays", "Description", "State")
        }

    for fn in _all(lam, "list_functions", "Functions"):
        concurrency = lam.get_function_concurrency(FunctionName=fn["FunctionName"]).get("ReservedConcurrentExecutions")
        logging = fn.get("LoggingConfig", {})
        actual["functions"][fn["FunctionName"]] = {
            "Runtime": fn["Runtime"],
            "Handler": fn["Handler"],
            "MemorySize": fn["MemorySize"],
            "Timeout": fn["Timeout"],
            "Architectures": fn["Architectures"],
            "Role": fn["Role"],
            "Description": fn.get("Description", ""),
            "Environment": fn.get("Environment", {}).get("Variables", {}),
            "Tracing": fn["TracingConfig"]["Mode"],
            "Logging": {k: logging.get(k) for k in ("LogFormat", "LogGroup")},
            "ReservedConcurrency": concurrency,
        }
    for role in _all(iam, "list_roles", "Roles"):
        statement = role["AssumeRolePolicyDocument"]["Statement"]
        actual["roles"][role["RoleName"]] = statement[0]["Principal"]["Service"] if len(statement) == 1 else statement

    names = {
        fn["FunctionArn"]: name
        for name, fn in ((f["FunctionName"], f) for f in _all(lam, "list_functions", "Functions"))
    }
    for esm in _all(lam, "list_event_source_mappings", "EventSourceMappings"):
        keys = ("EventSourceArn", "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "State")
        if esm["EventSourceArn"].startswith("arn:aws:sqs:"):
            keys += ("ScalingConfig",)
        else:
            keys += ("StartingPosition", "BisectBatchOnFunctionError", "MaximumRetryAttempts", "DestinationConfig")
        got = {k: esm[k] for k in keys if k in esm}
        if "StartingPosition" in got:  # a stream: AWS answers false when it was not set (moto leaves it out)
            got.setdefault("BisectBatchOnFunctionError", False)
        actual["mappings"][names[esm["FunctionArn"]]] = got

    actual["topics"] = {t["TopicArn"]: True for t in _all(sns, "list_topics", "Topics")}
    for sub in _all(sns, "list_subscriptions", "Subscriptions"):
        attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
        got: dict[str, Any] = {"RawMessageDelivery": attrs.get("RawMessageDelivery")}
        for key in ("RedrivePolicy", "FilterPolicy"):
            if attrs.get(key):
                got[key] = json.loads(attrs[key])
        if attrs.get("FilterPolicy"):
            got["FilterPolicyScope"] = attrs.get("FilterPolicyScope")
        actual["subscriptions"][(sub["TopicArn"], sub["Endpoint"])] = got

    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        config = s3.get_bucket_notification_configuration(Bucket=bucket)
        actual["notifications"][bucket] = {
            "EventBridge": config.get("EventBridgeConfiguration") == {},
            "Queues": sorted(config.get("QueueConfigurations", []), key=lambda q: q["Id"]),
        }

    for summary in _all(scheduler, "list_schedules", "Schedules"):
        got = scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
        function = got["Target"]["Arn"].rsplit(":", 1)[1]
        invoke = lam.get_function_event_invoke_config(FunctionName=function)
        actual["schedules"][summary["Name"]] = {
            **{k: got.get(k) for k in ("GroupName", "Description", "ScheduleExpression", "ScheduleExpressionTimezone")},
            **{k: got.get(k) for k in ("FlexibleTimeWindow", "State", "Target")},
            "InvokeConfig": {
                k: invoke.get(k) for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
            },
        }

    secrets = {}
    for svc in wired.services:
        for name in svc.secrets:
            ref = mf.Ref(svc.name, name)
            secrets[str(ref)] = wired.client("secretsmanager").describe_secret(SecretId=d.secret_name(ref))["ARN"]
    streams = {}
    for table in wired.client("dynamodb").list_tables()["TableNames"]:
        described = wired.client("dynamodb").describe_table(TableName=table)["Table"]
        if described.get("LatestStreamArn"):
            streams[table] = described["LatestStreamArn"]
    return expected_wiring(wired, secrets, streams), actual


KINDS = (
    "queues",
    "rules",
    "archives",
    "functions",
    "roles",
    "mappings",
    "subscriptions",
    "topics",
    "notifications",
    "schedules",
)


@pytest.mark.parametrize("kind", KINDS)
def test_provisioned_wiring_is_what_terraform_creates(wiring, kind):
    expected, actual = wiring
    assert expected[kind], f"the manifests demand no {kind}: the comparison would prove nothing"
    _assert_same(kind, expected[kind], actual[kind])


def test_every_function_of_every_manifest_is_registered(wired, wiring):
    _, actual = wiring
    assert len(actual["functions"]) == sum(len(s.functions) for s in wired.services) >= 19 + 13
    # every asynchronously fed function has its DLQ: the stream and schedule ones included
    for svc in wired.services:
        for fn in svc.functions:
            if fn.trigger.type in ("dynamodb_stream", "schedule"):
                assert mf.dlq_name(wired.deployment.env, fn) in actual["queues"]


def test_moto_keeps_the_mappings_and_the_runtime_invokes(wired, clients):
    """Mappings exist in moto, yet moto neither invokes a function nor consumes its queue or stream."""
    detail = envelope({"value": 3}, producer="fxsource")
    eb_id = wired.publish("fxsource", "ThingHappened", detail)
    from devtools.local.identity import Users

    signed_in = Users(wired.client("cognito-idp"), wired.topology.user_pool).token("wiring-user").headers
    req = urllib.request.Request(
        f"{wired.gateway.url}/things",
        data=json.dumps({"name": "lamp"}).encode(),
        method="POST",
        headers={"content-type": "application/json", **signed_in},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        thing = json.loads(resp.read())["id"]

    def handled(function: str, key: str):
        return lambda j: any(r.ok and key in r.keys for e in j.entries(function) for r in e.records)

    assert wired.wait_for(handled("fxsink.record", eb_id), WAIT), "the runtime's SQS poller got the message"
    assert wired.wait_for(handled("fxsink.relay", thing), WAIT), "the runtime's stream poller got the record"
    [record] = [r for e in wired.journal.entries("fxsink.record") for r in e.records if eb_id in r.keys]
    assert record.receive_count == 1, "nobody else received the message first"
    # moto's own invoke creates the function's log group before it runs anything: none exists
    groups = wired.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert groups == []


def test_tick_sends_the_registered_schedule_arn(wired, clients):
    fn = wired.topology.function("fxsink.nightly").function
    schedule = clients["scheduler"].get_schedule(Name=mf.schedule_name(wired.deployment.env, fn))
    invocation = wired.tick("fxsink.nightly")
    assert invocation.ok, invocation.error_text
    [entry] = [e for e in wired.journal.entries("fxsink.nightly") if e.invocation.request_id == invocation.request_id]
    key = {"pk": {"S": f"schedule#{mf.function_name(wired.deployment.env, fn)}#{entry.records[0].id}"}}
    effect = wired.client("dynamodb").get_item(TableName=wired.topology.tables["fxsink:effects"], Key=key)["Item"]
    assert effect["resource"] == {"S": schedule["Arn"]}
