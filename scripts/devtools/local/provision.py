"""Create in moto what the manifests declare: the resources and wiring Terraform creates, with its names and settings.

The HCL is the reference (infra/modules/service/*.tf, infra/modules/region/main.tf): every setting
below names the Terraform resource and attribute it mirrors, and every physical name comes from
devtools.manifest (one Python derivation per name, mirrored in HCL; tests/infra compares them).

Per service: tables (streams, TTL), buckets (versioned; each has a notification configuration with
EventBridge enabled, plus a queue entry per S3 trigger of the owning service), topics, secrets.
Per function:
- when provisioning a moto server (`complete`): its execution role and the function
  (CreateFunction: name, description, role, handler, runtime, architecture, memory, timeout,
  environment, tracing, logging, reserved concurrency), its event source mapping, and for a
  schedule the Scheduler schedule (own role, DLQ, retry policy) and the asynchronous invoke
  configuration. The code is a placeholder zip: the runtime runs the handler from the service's
  src/ itself (functions.py) and its pollers (sources.py) do what the mappings say.
- a DLQ for every asynchronously fed function: the queue's redrive target, the stream mapping's
  on-failure destination, the schedule's DLQ.
- fed by a queue (eventbridge, sns, s3 triggers): the queue (redrive policy, policy) and the
  wiring into it: one EventBridge rule per (function, source) whose target has a DLQ and a retry
  policy, SNS subscriptions (raw delivery, filter policy, redrive policy), S3 queue notifications
  or, for `delivery: eventbridge`, a rule on the default bus.
Region-wide (region module): the event bus and its archive, the Powertools idempotency table, and
(`complete`) the alarm topic and the versioned access-log bucket (service buckets do not log into
it locally), the user pool (cognito.tf: pool, domain, group `staff`, resource server `eda` with its
scopes, the `mobile` and `operations` clients) and the HTTP API (http_api.tf + the service module's
routes: API, JWT authorizer on the pool, one integration per HTTP function, one route per manifest
route with its authorization). The local gateway (gateway.py) serves `Topology.routes` and checks
tokens with `Topology.user_pool`: what was created here. Over a restored moto the pool is found by
name and kept (its users and their tokens survive a restart); the HTTP API is created again.

Locally nothing is encrypted with the region's KMS key: KmsMasterKeyId/KMSKeyArn/kms_key_arn are
not set (moto would accept them but nothing decrypts). Not created, since nothing local reads them:
IAM role policies (IAM is not enforced locally), log groups, alarms and dashboards, the HTTP API's
`$default` stage (access logs, throttling) and the Lambda permissions, bucket policies, public access
blocks, lifecycle and logging, table PITR/SSE.

moto 5.2.5 (what moto drops, such as a DLQ's RedriveAllowPolicy or a function's LoggingConfig, is
kept by motoserver.apply_patches):
- moto runs an enabled event source mapping itself (receives from the queue and invokes the
  function in docker on every SendMessage; invokes it on every stream write and then drops the
  stream's records). The runtime's pollers (sources.py) are Lambda here, so `apply_moto_patches()`
  keeps mappings as records only. The runtime applies it in its moto server; `provision()` applies
  it to a moto running in its own process (the test kit's mock_aws).
- The bus archive's managed rule renders every event through moto's slow JSONPath template (about
  3 ms an event); `apply_moto_patches()` substitutes the archive template's two fields directly.

SES: the sender identity of every function with `access.ses_send: true` is verified (SES, and
moto, reject unverified senders): its `MAIL_FROM` environment value, or DEFAULT_MAIL_FROM. On AWS
identities are verified once per account and region, out of band.

For the test kit (devtools.testing) only, `tap=True` adds a "tap" rule on the bus that copies
every event to a queue, to read what was published. The local runtime does not use it: its moto
server reports every accepted event itself (motoserver.py), which costs moto nothing per event.

Calls are made one after the other: moto's server is bound to one core (the GIL), and requests in
parallel cost it more CPU than they save (measured: 4 threads took longer than 1).
"""

from __future__ import annotations

import functools
import io
import json
import sys
import zipfile
from dataclasses import dataclass, field
from typing import Any

from devtools import manifest as mf

# The boto3 clients provisioning uses (`clients.<name>`).
CLIENTS = (
    "sqs",
    "events",
    "dynamodb",
    "s3",
    "sns",
    "secretsmanager",
    "ses",
    "iam",
    "lambda",
    "scheduler",
    "cognito-idp",
    "apigatewayv2",
)
TAP_NAME = "local-runtime-tap"
DEFAULT_MAIL_FROM = "no-reply@example.com"

# ----------------------------------------------------------------------------- Terraform's settings
QUEUE_RETENTION_SECONDS = 345600  # aws_sqs_queue.this.message_retention_seconds (4 days)
DLQ_RETENTION_SECONDS = 1209600  # aws_sqs_queue.dlq.message_retention_seconds (14 days)
FUNCTION_RESPONSE_TYPES = ["ReportBatchItemFailures"]  # aws_lambda_event_source_mapping.*.function_response_types
# aws_cloudwatch_event_target.this/.s3.retry_policy
TARGET_RETRY_POLICY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
# aws_lambda_event_source_mapping.stream: try(trigger.<key>, default)
STREAM_STARTING_POSITION = "TRIM_HORIZON"
STREAM_BISECT_BATCH_ON_ERROR = True
STREAM_MAXIMUM_RETRY_ATTEMPTS = 10
SCHEDULE_TIMEZONE = "UTC"  # aws_scheduler_schedule.this.schedule_expression_timezone default
SCHEDULE_RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}  # .target.retry_policy
# aws_lambda_function_event_invoke_config.schedule
SCHEDULE_INVOKE_CONFIG = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
ARCHIVE_RETENTION_DAYS = 30  # region module: var.archive_retention_days default
TRACING_MODE = "Active"  # aws_lambda_function.this.tracing_config.mode
LOG_FORMAT = "JSON"  # aws_lambda_function.this.logging_config.log_format

# infra/modules/region/cognito.tf
USER_POOL = {  # aws_cognito_user_pool.customers
    "UsernameAttributes": ["email"],
    "AutoVerifiedAttributes": ["email"],
    "DeletionProtection": "INACTIVE",  # "ACTIVE" in prod only
    "Policies": {  # .password_policy
        "PasswordPolicy": {
            "MinimumLength": 12,
            "RequireLowercase": True,
            "RequireUppercase": True,
            "RequireNumbers": True,
            "RequireSymbols": False,
            "TemporaryPasswordValidityDays": 3,
        }
    },
    "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
    "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
}
USER_POOL_MFA = {"MfaConfiguration": "OPTIONAL", "SoftwareTokenMfaConfiguration": {"Enabled": True}}
STAFF_GROUP_DESCRIPTION = "Operations staff: stock, prices and exchange rates (checked by the functions)."
TOKEN_VALIDITY_UNITS = {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"}
MOBILE_CALLBACK_URLS = ["eda-shop://auth/signed-in"]  # var.identity defaults
MOBILE_LOGOUT_URLS = ["eda-shop://auth/signed-out"]
MOBILE_CLIENT = {  # aws_cognito_user_pool_client.mobile
    "GenerateSecret": False,
    "AllowedOAuthFlowsUserPoolClient": True,
    "AllowedOAuthFlows": ["code"],
    "AllowedOAuthScopes": ["openid", "email", "profile"],
    "SupportedIdentityProviders": ["COGNITO"],
    "CallbackURLs": MOBILE_CALLBACK_URLS,
    "LogoutURLs": MOBILE_LOGOUT_URLS,
    "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    "PreventUserExistenceErrors": "ENABLED",
    "EnableTokenRevocation": True,
    "AccessTokenValidity": 60,
    "IdTokenValidity": 60,
    "RefreshTokenValidity": 30,
    "TokenValidityUnits": TOKEN_VALIDITY_UNITS,
}
OPERATIONS_CLIENT = {  # aws_cognito_user_pool_client.operations (scopes: the resource server's)
    "GenerateSecret": True,
    "AllowedOAuthFlowsUserPoolClient": True,
    "AllowedOAuthFlows": ["client_credentials"],
    "SupportedIdentityProviders": ["COGNITO"],
    "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
    "PreventUserExistenceErrors": "ENABLED",
    "EnableTokenRevocation": True,
    "AccessTokenValidity": 60,
    "TokenValidityUnits": TOKEN_VALIDITY_UNITS,
}
# infra/modules/region/http_api.tf and the service module's HTTP resources
IDENTITY_SOURCES = ["$request.header.Authorization"]  # aws_apigatewayv2_authorizer.jwt.identity_sources
PAYLOAD_FORMAT_VERSION = "2.0"  # aws_apigatewayv2_integration.this.payload_format_version


def _jsonencode(value: Any) -> str:
    """JSON as Terraform's jsonencode writes it: compact, keys sorted."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _placeholder_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("PLACEHOLDER.txt", date_time=(1980, 1, 1, 0, 0, 0))
        zf.writestr(info, "The local runtime runs this function's handler from services/<service>/src itself.\n")
    return buf.getvalue()


PLACEHOLDER_ZIP = _placeholder_zip()


def _assume_role_policy(service_principal: str, account_id: str) -> str:
    """aws_iam_role.function/.scheduler.assume_role_policy."""
    return _jsonencode(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service_principal},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


def _deny_insecure_transport(arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
        "Resource": arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def queue_policy(fn: mf.Function, queue_arn: str, account_id: str) -> str:
    """aws_sqs_queue_policy.this: who may send to the queue (the rules, the topic or the bucket feeding it)."""
    trig = fn.trigger
    if trig.type == "sns":
        principal = "sns.amazonaws.com"
    elif trig.type == "s3" and trig.raw.get("delivery", "sqs") == "sqs":
        principal = "s3.amazonaws.com"
    else:
        principal = "events.amazonaws.com"
    allow = {
        "Sid": "AllowTriggerSource",
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": ["sqs:SendMessage"],
        "Resource": queue_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }
    return _jsonencode({"Version": "2012-10-17", "Statement": [allow, _deny_insecure_transport(queue_arn)]})


def dlq_policy(dlq_arn: str, account_id: str) -> str:
    """aws_sqs_queue_policy.dlq: EventBridge targets and Scheduler dead-letter into it."""
    allow = {
        "Sid": "AllowEventBridgeAndSchedulerDeadLetters",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "scheduler.amazonaws.com"]},
        "Action": ["sqs:SendMessage"],
        "Resource": dlq_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }
    return _jsonencode({"Version": "2012-10-17", "Statement": [allow, _deny_insecure_transport(dlq_arn)]})


def s3_event_pattern(bucket: str, prefix: str, suffix: str) -> dict[str, Any]:
    """aws_cloudwatch_event_rule.s3.event_pattern."""
    detail: dict[str, Any] = {"bucket": {"name": [bucket]}}
    if prefix or suffix:
        detail["object"] = {"key": [{"wildcard": f"{prefix}*{suffix}"}]}
    return {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}


def stream_mapping_settings(trigger: mf.Trigger) -> dict[str, Any]:
    """aws_lambda_event_source_mapping.stream: the settings with Terraform's defaults (as API fields)."""
    return {
        "StartingPosition": trigger.raw.get("starting_position", STREAM_STARTING_POSITION),
        "BatchSize": trigger.batch_size,
        "MaximumBatchingWindowInSeconds": trigger.batching_window_seconds,
        "BisectBatchOnFunctionError": bool(trigger.raw.get("bisect_batch_on_error", STREAM_BISECT_BATCH_ON_ERROR)),
        "MaximumRetryAttempts": int(trigger.raw.get("maximum_retry_attempts", STREAM_MAXIMUM_RETRY_ATTEMPTS)),
        "FunctionResponseTypes": FUNCTION_RESPONSE_TYPES,
    }


def mapping_request(w: FunctionWiring) -> dict[str, Any] | None:
    """CreateEventSourceMapping's request for a queue or stream function (None for the others)."""
    trig = w.function.trigger
    if trig.uses_queue:  # aws_lambda_event_source_mapping.queue
        mapping: dict[str, Any] = {
            "EventSourceArn": w.queue_arn,
            "FunctionName": w.arn,
            "BatchSize": trig.batch_size,
            "MaximumBatchingWindowInSeconds": trig.batching_window_seconds,
            "FunctionResponseTypes": FUNCTION_RESPONSE_TYPES,
        }
        if trig.maximum_concurrency is not None:
            mapping["ScalingConfig"] = {"MaximumConcurrency": trig.maximum_concurrency}
        return mapping
    if trig.type == "dynamodb_stream":  # aws_lambda_event_source_mapping.stream
        settings = stream_mapping_settings(trig)
        if not settings[
            "BisectBatchOnFunctionError"
        ]:  # the AWS provider sends it only when true (AWS's default: false)
            del settings["BisectBatchOnFunctionError"]
        return {
            "EventSourceArn": w.stream_arn,
            "FunctionName": w.arn,
            **settings,
            "DestinationConfig": {"OnFailure": {"Destination": w.dlq_arn}},
        }
    return None


# ----------------------------------------------------------------------------- moto patches


_moto_patched = False


def apply_moto_patches() -> None:
    """Patch the moto of this process (idempotent): mappings are records only, the archive is cheap.

    Event source mappings: moto runs an enabled mapping itself (SQS: on every SendMessage it
    receives a batch and invokes the function, in docker; DynamoDB: on every stream write it
    invokes the function and then drops the stream's records). The local runtime's pollers are
    Lambda, so each mapping is detached from its queue or table as soon as it is created; the
    Lambda API (List/GetEventSourceMapping) still shows it with every setting.

    Archive: moto delivers to the archive through its managed rule with an InputTransformer
    template, rendered with JSONPath lookups of eight default fields the template never uses
    (about 3 ms an event, on every PutEvents). A template without input paths only needs the two
    fields moto itself defines, substituted directly here (same result).

    Service models: moto loads each service's botocore model on its first request with a new
    loader, which lists every botocore service again (~18 ms a service); one loader serves all.
    With Lambda, IAM and Scheduler registered that keeps the runtime's startup near what it was.
    """
    global _moto_patched  # noqa: PLW0603 - patch once per process
    if _moto_patched:
        return
    _moto_patched = True
    from moto.awslambda.models import LambdaBackend
    from moto.core import utils as core_utils
    from moto.dynamodb.models import dynamodb_backends
    from moto.events import utils
    from moto.sqs.models import sqs_backends

    core_utils.create_loader = functools.cache(core_utils.create_loader)

    create_mapping = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        esm = create_mapping(self, spec)
        owners = [
            *sqs_backends[self.account_id][self.region_name].queues.values(),
            *dynamodb_backends[self.account_id][self.region_name].tables.values(),
        ]
        for owner in owners:
            mappings = owner.lambda_event_source_mappings
            for key, value in list(mappings.items()):
                if value is esm:
                    del mappings[key]
        return esm

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]

    parse = utils.EventTemplateParser.parse  # motoserver's patched one when it was applied first
    defaults = utils.EventTemplateParser.DEFAULT_EVENT_INPUT_PATHS_MAP
    stringify = utils.EventTemplateParser._stringify

    def parse_fast(input_template: str | None, input_paths_map: dict[str, Any], event: dict[str, Any]) -> Any:
        if input_template and not input_paths_map and not any(f"<{key}>" in input_template for key in defaults):
            text = input_template.replace("<aws.events.event.json>", stringify(event))
            if "<aws.events.event.ingestion-time>" in text:
                text = text.replace("<aws.events.event.ingestion-time>", stringify(event["ingestion-time"]))
            return json.loads(text)
        return parse(input_template, input_paths_map, event)

    utils.EventTemplateParser.parse = staticmethod(parse_fast)  # type: ignore[method-assign]


# ----------------------------------------------------------------------------- model


@dataclass
class FunctionWiring:
    """Where one function's events come from, with physical names and ARNs."""

    service: mf.Service
    function: mf.Function
    physical_name: str
    arn: str
    environment: dict[str, str]
    role_arn: str = ""
    queue_url: str | None = None
    queue_arn: str | None = None
    dlq_url: str | None = None
    dlq_arn: str | None = None
    stream_arn: str | None = None
    rules: list[str] = field(default_factory=list)  # EventBridge rule names (bus or default bus)
    # CreateEventSourceMapping's request (queue and stream functions) and the mapping's UUID.
    mapping: dict[str, Any] | None = None
    mapping_uuid: str | None = None
    schedule_arn: str | None = None

    @property
    def qualified_name(self) -> str:
        return self.function.qualified_name


@dataclass
class UserPoolWiring:
    """The region's user pool as provisioned: what the gateway's JWT authorizer trusts."""

    id: str
    name: str
    issuer: str
    clients: dict[str, str]  # client name (mobile, operations) -> client id
    domain: str

    @property
    def audience(self) -> list[str]:
        """aws_apigatewayv2_authorizer.jwt.jwt_configuration.audience: both clients."""
        return [self.clients[mf.MOBILE_CLIENT], self.clients[mf.OPERATIONS_CLIENT]]


@dataclass(frozen=True)
class RouteWiring:
    """One route of the HTTP API: its key, its function (qualified name) and its authorization."""

    route: mf.RouteAccess
    function: str

    @property
    def key(self) -> str:
        return self.route.key


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
    archive: str | None = None
    user_pool: UserPoolWiring | None = None  # `complete` provisioning only
    routes: list[RouteWiring] = field(default_factory=list)  # every manifest route, manifest order
    http_api_id: str | None = None  # `complete` provisioning only

    def function(self, name: str) -> FunctionWiring:
        """By qualified name (service.function) or physical name (env-service-function)."""
        if name in self.functions:
            return self.functions[name]
        for wiring in self.functions.values():
            if name == wiring.physical_name:
                return wiring
        raise KeyError(f"no function {name!r}; known: {', '.join(sorted(self.functions))}")


class Provisioner:
    def __init__(
        self, clients: Any, deployment: mf.Deployment, *, tap: bool = True, complete: bool | None = None
    ) -> None:
        """`complete`: also create what only the AWS APIs show, nothing local reads: the functions
        with their roles, event source mappings, schedules and invoke configurations, the alarm
        topic and the access-log bucket. By default yes against a moto server (the local runtime,
        a comparison with what Terraform applied), no in-process under mock_aws (clients on AWS's
        own endpoints): the test kit provisions a fresh moto for every test and invokes handlers
        itself, and ~0.2 s a test would buy it nothing."""
        self.c = clients
        self.d = deployment
        self.tap = tap
        self.complete = complete

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

    def _rule(self, name: str, bus: str | None, pattern: dict[str, Any], description: str, w: FunctionWiring) -> None:
        """aws_cloudwatch_event_rule + aws_cloudwatch_event_target (bus None: the default bus)."""
        on_bus = {"EventBusName": bus} if bus else {}
        self.c.events.put_rule(Name=name, EventPattern=_jsonencode(pattern), Description=description, **on_bus)
        target = {
            "Id": mf.RULE_TARGET_ID,
            "Arn": w.queue_arn,
            "DeadLetterConfig": {"Arn": w.dlq_arn},
            "RetryPolicy": TARGET_RETRY_POLICY,
        }
        self.c.events.put_targets(Rule=name, Targets=[target], **on_bus)

    # ------------------------------------------------------------------ provisioning

    def provision(self, services: list[mf.Service]) -> Topology:
        if "moto" in sys.modules:  # moto may be running in this process (the test kit's mock_aws)
            apply_moto_patches()
        d, env, c = self.d, self.d.env, self.c
        complete = self.complete
        if complete is None:
            complete = not c.sqs.meta.endpoint_url.endswith(".amazonaws.com")
        bus = mf.bus_name(env)
        archive = mf.archive_name(env)
        c.events.create_event_bus(Name=bus)
        c.events.create_archive(  # aws_cloudwatch_event_archive.this (no event_pattern: every event)
            ArchiveName=archive,
            EventSourceArn=d.arn("events", f"event-bus/{bus}"),
            Description=f"Every event on {bus}, kept for replay.",
            RetentionDays=ARCHIVE_RETENTION_DAYS,
        )
        idempotency = mf.idempotency_table_name(env)
        self._table(idempotency, {"name": "id", "type": "S"}, ttl="expiration")
        if complete:
            c.sns.create_topic(Name=mf.alarm_topic_name(env))  # aws_sns_topic.alarms (nothing subscribes locally)
            access_logs = mf.access_log_bucket_name(env, d.region, d.account_id)  # aws_s3_bucket.access_logs
            c.s3.create_bucket(Bucket=access_logs, CreateBucketConfiguration={"LocationConstraint": d.region})
            c.s3.put_bucket_versioning(Bucket=access_logs, VersioningConfiguration={"Status": "Enabled"})

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
                c.s3.create_bucket(Bucket=d.bucket(ref), CreateBucketConfiguration={"LocationConstraint": d.region})
                # Versioned, as Terraform makes them: notifications then carry a versionId.
                c.s3.put_bucket_versioning(Bucket=d.bucket(ref), VersioningConfiguration={"Status": "Enabled"})
            for name in svc.topics:
                ref = mf.Ref(svc.name, name)
                topics[str(ref)] = c.sns.create_topic(Name=mf.topic_name(env, svc.name, name))["TopicArn"]
            for name, spec in svc.secrets.items():
                ref = mf.Ref(svc.name, name)
                value = spec.get("local_value", f"local-{svc.name}-{name}")
                secrets[str(ref)] = c.secretsmanager.create_secret(Name=d.secret_name(ref), SecretString=value)["ARN"]

        functions: dict[str, FunctionWiring] = {}
        # aws_s3_bucket_notification.this: one per bucket, EventBridge enabled on every one.
        notifications: dict[str, dict[str, Any]] = {name: {"EventBridgeConfiguration": {}} for name in buckets.values()}
        purge_after: list[str] = []
        for svc in services:
            for fn in svc.functions:
                physical = mf.function_name(env, fn)
                w = FunctionWiring(
                    service=svc,
                    function=fn,
                    physical_name=physical,
                    arn=d.arn("lambda", f"function:{physical}"),
                    environment=d.function_environment(svc, fn, secrets),
                    role_arn=f"{d.partition_arn}:iam::{d.account_id}:role/{mf.role_name(env, fn)}",
                )
                functions[fn.qualified_name] = w
                trig = fn.trigger
                if trig.type != "http":
                    self._queues(w)
                if trig.type == "dynamodb_stream":
                    w.stream_arn = streams[f"{svc.name}:{trig.table}"]
                w.mapping = mapping_request(w)
                if complete:
                    self._function(w)
                if trig.type == "eventbridge":
                    for pattern in trig.event_patterns():  # local.event_rules: one rule per (function, source)
                        source = pattern["source"][0]
                        name = mf.rule_name(env, fn, source)
                        detail_types = ", ".join(pattern["detail-type"])
                        self._rule(name, bus, pattern, f"{fn.qualified_name} consumes {detail_types} from {source}", w)
                        w.rules.append(name)
                elif trig.type == "sns":  # aws_sns_topic_subscription.this
                    attributes = {
                        "RawMessageDelivery": "true",
                        "RedrivePolicy": _jsonencode({"deadLetterTargetArn": w.dlq_arn}),
                    }
                    if trig.raw.get("filter_policy") is not None:
                        attributes["FilterPolicy"] = _jsonencode(trig.raw["filter_policy"])
                        attributes["FilterPolicyScope"] = trig.raw.get("filter_policy_scope", "MessageAttributes")
                    c.sns.subscribe(
                        TopicArn=d.topic_arn(trig.topic), Protocol="sqs", Endpoint=w.queue_arn, Attributes=attributes
                    )
                elif trig.type == "s3":
                    bucket = d.bucket(trig.bucket)
                    prefix, suffix = trig.raw.get("prefix", ""), trig.raw.get("suffix", "")
                    if trig.raw.get("delivery", "sqs") == "eventbridge":  # aws_cloudwatch_event_rule/target.s3
                        name = mf.s3_rule_name(env, fn)
                        pattern = s3_event_pattern(bucket, prefix, suffix)
                        self._rule(name, None, pattern, f"{fn.qualified_name}: objects created in {bucket}", w)
                        w.rules.append(name)
                    else:  # a queue block of the owning service's aws_s3_bucket_notification.this
                        if trig.bucket.service != svc.name:
                            raise ValueError(
                                f"{fn.qualified_name}: S3 triggers on another service's bucket must use `delivery: "
                                "eventbridge` (a bucket has one notification configuration, owned by its service)."
                            )
                        entry: dict[str, Any] = {
                            "Id": mf.s3_notification_id(fn),
                            "QueueArn": w.queue_arn,
                            "Events": ["s3:ObjectCreated:*"],
                        }
                        rules = [{"Name": k, "Value": v} for k, v in (("prefix", prefix), ("suffix", suffix)) if v]
                        if rules:
                            entry["Filter"] = {"Key": {"FilterRules": rules}}
                        notifications[bucket].setdefault("QueueConfigurations", []).append(entry)
                        purge_after.append(w.queue_url or "")
        for bucket, config in notifications.items():
            c.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
        # S3 sends an s3:TestEvent when a queue notification is configured; it would reach the
        # handler before any real object. Terraform applies before the function exists; we drop it.
        for url in purge_after:
            c.sqs.purge_queue(QueueUrl=url)

        senders = sorted(
            {
                w.environment.get("MAIL_FROM") or DEFAULT_MAIL_FROM
                for w in functions.values()
                if w.function.access.get("ses_send")
            }
        )
        for sender in senders:
            c.ses.verify_email_identity(EmailAddress=sender)

        routes = [
            RouteWiring(route, w.qualified_name)
            for w in functions.values()
            for route in w.function.trigger.route_access
        ]
        user_pool = http_api_id = None
        if complete:
            user_pool = self._user_pool()
            http_api_id = self._http_api(user_pool, functions, routes)

        tap_url = None
        if self.tap:
            tap_url, tap_arn = self._queue(TAP_NAME, {"MessageRetentionPeriod": 3600})
            c.events.put_rule(Name=TAP_NAME, EventBusName=bus, EventPattern=json.dumps({"account": [d.account_id]}))
            c.events.put_targets(Rule=TAP_NAME, EventBusName=bus, Targets=[{"Id": "tap", "Arn": tap_arn}])
        return Topology(
            bus=bus,
            functions=functions,
            tables=tables,
            buckets=buckets,
            topics=topics,
            secrets=secrets,
            tap_queue_url=tap_url,
            idempotency_table=idempotency,
            ses_identities=senders,
            archive=archive,
            user_pool=user_pool,
            routes=routes,
            http_api_id=http_api_id,
        )

    # ------------------------------------------------------------------ identity and the HTTP API

    def _user_pool(self) -> UserPoolWiring:
        """cognito.tf: the pool (found by name when moto was restored), its domain, group, resource
        server and clients, each created when missing."""
        d, env = self.d, self.d.env
        idp = getattr(self.c, "cognito-idp")
        name = mf.user_pool_name(env)
        pools = [p for p in idp.list_user_pools(MaxResults=60).get("UserPools", []) if p["Name"] == name]
        if pools:
            pool_id = pools[0]["Id"]
        else:
            pool_id = idp.create_user_pool(PoolName=name, **USER_POOL)["UserPool"]["Id"]
            idp.set_user_pool_mfa_config(UserPoolId=pool_id, **USER_POOL_MFA)
        described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        domain = described.get("Domain") or mf.user_pool_domain(env, d.region, d.account_id)
        if not described.get("Domain"):  # aws_cognito_user_pool_domain.this
            idp.create_user_pool_domain(Domain=domain, UserPoolId=pool_id)
        groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id).get("Groups", [])}
        if mf.STAFF_GROUP not in groups:  # aws_cognito_user_group.staff
            idp.create_group(GroupName=mf.STAFF_GROUP, UserPoolId=pool_id, Description=STAFF_GROUP_DESCRIPTION)
        servers = {
            r["Identifier"] for r in idp.list_resource_servers(UserPoolId=pool_id, MaxResults=50)["ResourceServers"]
        }
        if mf.RESOURCE_SERVER not in servers:  # aws_cognito_resource_server.this
            idp.create_resource_server(
                UserPoolId=pool_id,
                Identifier=mf.RESOURCE_SERVER,
                Name=f"{mf.PROJECT}-{env} HTTP API",
                Scopes=[{"ScopeName": n, "ScopeDescription": t} for n, t in mf.RESOURCE_SERVER_SCOPES.items()],
            )
        clients = {
            c["ClientName"]: c["ClientId"]
            for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60).get("UserPoolClients", [])
        }
        wanted = {
            mf.MOBILE_CLIENT: MOBILE_CLIENT,
            mf.OPERATIONS_CLIENT: {**OPERATIONS_CLIENT, "AllowedOAuthScopes": list(mf.PLATFORM_SCOPES)},
        }
        for client, settings in wanted.items():
            if client not in clients:
                created = idp.create_user_pool_client(UserPoolId=pool_id, ClientName=client, **settings)
                clients[client] = created["UserPoolClient"]["ClientId"]
        issuer = f"https://cognito-idp.{d.region}.amazonaws.com/{pool_id}"  # local.issuer
        return UserPoolWiring(pool_id, name, issuer, {k: clients[k] for k in wanted}, domain)

    def _http_api(self, pool: UserPoolWiring, functions: dict[str, FunctionWiring], routes: list[RouteWiring]) -> str:
        """http_api.tf + the service module's integrations and routes (created anew on every start)."""
        d, env = self.d, self.d.env
        api = self.c.apigatewayv2
        name = mf.http_api_name(env)
        for existing in api.get_apis().get("Items", []):
            if existing["Name"] == name:
                api.delete_api(ApiId=existing["ApiId"])
        api_id = api.create_api(  # aws_apigatewayv2_api.this
            Name=name, ProtocolType="HTTP", Description=f"HTTP routes of every service in {env}/{d.region}"
        )["ApiId"]
        authorizer_id = api.create_authorizer(  # aws_apigatewayv2_authorizer.jwt
            ApiId=api_id,
            Name=mf.authorizer_name(env),
            AuthorizerType="JWT",
            IdentitySource=IDENTITY_SOURCES,
            JwtConfiguration={"Issuer": pool.issuer, "Audience": pool.audience},
        )["AuthorizerId"]
        integrations = {}
        for w in functions.values():
            if w.function.trigger.type != "http":
                continue
            invoke_arn = f"arn:aws:apigateway:{d.region}:lambda:path/2015-03-31/functions/{w.arn}/invocations"
            integrations[w.qualified_name] = api.create_integration(  # aws_apigatewayv2_integration.this
                ApiId=api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri=invoke_arn,
                PayloadFormatVersion=PAYLOAD_FORMAT_VERSION,
                TimeoutInMillis=min(30000, w.function.timeout * 1000),
            )["IntegrationId"]
        for r in routes:  # aws_apigatewayv2_route.this (JWT) / .public (NONE)
            authorization: dict[str, Any] = {"AuthorizationType": r.route.authorization_type}
            if r.route.authorization_type == "JWT":
                authorization["AuthorizerId"] = authorizer_id
                if r.route.scopes:
                    authorization["AuthorizationScopes"] = list(r.route.scopes)
            api.create_route(
                ApiId=api_id, RouteKey=r.key, Target=f"integrations/{integrations[r.function]}", **authorization
            )
        return api_id

    def _queues(self, w: FunctionWiring) -> None:
        """The DLQ of an asynchronously fed function, and the queue of one fed through SQS."""
        d, env, fn = self.d, self.d.env, w.function
        queue_arn = d.arn("sqs", mf.queue_name(env, fn))
        dlq: dict[str, Any] = {  # aws_sqs_queue.dlq + aws_sqs_queue_policy.dlq
            "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
            "Policy": dlq_policy(d.arn("sqs", mf.dlq_name(env, fn)), d.account_id),
        }
        if fn.trigger.uses_queue:  # aws_sqs_queue_redrive_allow_policy.dlq: only its own queue
            dlq["RedriveAllowPolicy"] = _jsonencode({"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn]})
        w.dlq_url, w.dlq_arn = self._queue(mf.dlq_name(env, fn), dlq)
        if fn.trigger.uses_queue:  # aws_sqs_queue.this + aws_sqs_queue_policy.this
            redrive = {"deadLetterTargetArn": w.dlq_arn, "maxReceiveCount": fn.trigger.max_receive_count}
            w.queue_url, w.queue_arn = self._queue(
                mf.queue_name(env, fn),
                {
                    "VisibilityTimeout": fn.queue_visibility_timeout,
                    "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS,
                    "RedrivePolicy": _jsonencode(redrive),
                    "Policy": queue_policy(fn, queue_arn, d.account_id),
                },
            )

    def _function(self, w: FunctionWiring) -> None:
        """The function and what invokes it: role, function, concurrency, mapping, schedule."""
        d, env, c, fn = self.d, self.d.env, self.c, w.function
        lam = getattr(c, "lambda")
        c.iam.create_role(  # aws_iam_role.function
            RoleName=mf.role_name(env, fn),
            AssumeRolePolicyDocument=_assume_role_policy("lambda.amazonaws.com", d.account_id),
        )
        lam.create_function(  # aws_lambda_function.this
            FunctionName=w.physical_name,
            Description=fn.description,
            Role=w.role_arn,
            Handler=fn.handler,
            Runtime=fn.runtime,
            Architectures=[fn.architecture],
            MemorySize=fn.memory,
            Timeout=fn.timeout,
            Code={"ZipFile": PLACEHOLDER_ZIP},
            Environment={"Variables": w.environment},
            TracingConfig={"Mode": TRACING_MODE},
            LoggingConfig={"LogFormat": LOG_FORMAT, "LogGroup": mf.log_group_name(env, fn)},
        )
        if fn.reserved_concurrency is not None:  # reserved_concurrent_executions
            lam.put_function_concurrency(
                FunctionName=w.physical_name, ReservedConcurrentExecutions=fn.reserved_concurrency
            )
        if w.mapping:  # aws_lambda_event_source_mapping.queue / .stream (moto keeps it as a record)
            w.mapping_uuid = lam.create_event_source_mapping(**w.mapping)["UUID"]
        if fn.trigger.type != "schedule":
            return
        lam.put_function_event_invoke_config(  # aws_lambda_function_event_invoke_config.schedule
            FunctionName=w.physical_name,
            **SCHEDULE_INVOKE_CONFIG,
            DestinationConfig={"OnFailure": {"Destination": w.dlq_arn}},
        )
        role = mf.scheduler_role_name(env, fn)
        c.iam.create_role(  # aws_iam_role.scheduler
            RoleName=role, AssumeRolePolicyDocument=_assume_role_policy("scheduler.amazonaws.com", d.account_id)
        )
        w.schedule_arn = c.scheduler.create_schedule(  # aws_scheduler_schedule.this
            Name=mf.schedule_name(env, fn),
            Description=fn.qualified_name,
            ScheduleExpression=fn.trigger.raw["expression"],
            ScheduleExpressionTimezone=fn.trigger.raw.get("timezone", SCHEDULE_TIMEZONE),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": w.arn,
                "RoleArn": f"{d.partition_arn}:iam::{d.account_id}:role/{role}",
                "DeadLetterConfig": {"Arn": w.dlq_arn},
                "RetryPolicy": SCHEDULE_RETRY_POLICY,
            },
        )["ScheduleArn"]
