"""What is wired in one account and region, read back through the AWS APIs.

    describe(clients) -> {"queues": {...}, "rules": {...}, "mappings": {...}, ...}

One description for any AWS-shaped endpoint: a moto server that Terraform applied to, or one the
local runtime's provisioner filled from the same manifests. Comparing the two is how
tests/infra proves that local and deployed wiring are one and the same. Only what decides how an
event travels is described (names, patterns, targets, batch and retry settings, keys, streams,
notifications, function configuration); tags, KMS keys and policies are Terraform's alone.

Values that AWS generates differently per creation (mapping UUIDs, the random suffix of a secret
ARN, queue URLs' host) are normalised so that two faithful creations describe the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SECRET_SUFFIX = re.compile(r"(:secret:[^:\"]+)-[A-Za-z0-9]{6}\b")
_STREAM_LABEL = re.compile(r"(:table/[^/\"]+/stream/)[^\"/]+")


def _norm(value: Any) -> Any:
    """Secrets Manager ARNs end in 6 random characters, stream ARNs in their creation time: compare without."""
    if isinstance(value, str):
        return _STREAM_LABEL.sub(r"\1*", _SECRET_SUFFIX.sub(r"\1-??????", value))
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    out: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out += page.get(key, [])
    return out


def queues(sqs: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        out[url.rsplit("/", 1)[-1]] = {
            "visibility_timeout": int(attrs["VisibilityTimeout"]),
            "retention": int(attrs["MessageRetentionPeriod"]),
            "redrive": _json(attrs.get("RedrivePolicy")),
        }
    return out


def rules(events: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for bus in events.list_event_buses()["EventBuses"]:
        for rule in events.list_rules(EventBusName=bus["Name"]).get("Rules", []):
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])["Targets"]
            out[rule["Name"]] = {
                "bus": bus["Name"],
                "pattern": _json(rule.get("EventPattern")),
                "targets": sorted(
                    (
                        {
                            "id": t["Id"],
                            "arn": t["Arn"],
                            "dead_letter": (t.get("DeadLetterConfig") or {}).get("Arn"),
                            "retry": t.get("RetryPolicy"),
                        }
                        for t in targets
                    ),
                    key=lambda t: t["id"],
                ),
            }
    return out


def archives(events: Any) -> dict[str, str]:
    return {a["ArchiveName"]: a["EventSourceArn"] for a in events.list_archives().get("Archives", [])}


def mappings(lam: Any) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for m in _paginate(lam, "list_event_source_mappings", "EventSourceMappings"):
        function = m["FunctionArn"].rsplit(":", 1)[-1]
        source = m["EventSourceArn"].split(":")[2]  # sqs or dynamodb
        entry = {
            "source": m["EventSourceArn"],
            "batch_size": m.get("BatchSize"),
            "batching_window": m.get("MaximumBatchingWindowInSeconds", 0),
            "response_types": sorted(m.get("FunctionResponseTypes") or []),
            "maximum_concurrency": (m.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        }
        if source == "dynamodb":
            entry |= {
                "starting_position": m.get("StartingPosition"),
                "bisect": bool(m.get("BisectBatchOnFunctionError")),  # AWS's default: false
                "retries": m.get("MaximumRetryAttempts"),
                "on_failure": ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
            }
        out[(function, source)] = entry
    return out


def functions(lam: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for f in _paginate(lam, "list_functions", "Functions"):
        out[f["FunctionName"]] = {
            "runtime": f.get("Runtime"),
            "handler": f.get("Handler"),
            "memory": f.get("MemorySize"),
            "timeout": f.get("Timeout"),
            "architectures": f.get("Architectures"),
            "environment": (f.get("Environment") or {}).get("Variables") or {},
        }
    return out


def subscriptions(sns: Any) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for sub in _paginate(sns, "list_subscriptions", "Subscriptions"):
        attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
        out[(sub["TopicArn"], sub["Endpoint"])] = {
            "protocol": sub["Protocol"],
            "raw": attrs.get("RawMessageDelivery") == "true",
            "filter_policy": _json(attrs.get("FilterPolicy")),
            "filter_policy_scope": attrs.get("FilterPolicyScope") if attrs.get("FilterPolicy") else None,
        }
    return out


def tables(ddb: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for name in _paginate(ddb, "list_tables", "TableNames"):
        t = ddb.describe_table(TableName=name)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]}
        stream = t.get("StreamSpecification") or {}
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        out[name] = {
            "keys": [(k["AttributeName"], k["KeyType"], types[k["AttributeName"]]) for k in t["KeySchema"]],
            "stream": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
            "ttl": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None,
        }
    return out


def buckets(s3: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for b in s3.list_buckets().get("Buckets", []):
        config = s3.get_bucket_notification_configuration(Bucket=b["Name"])
        config.pop("ResponseMetadata", None)
        queue_configs = []
        for q in config.get("QueueConfigurations", []):
            rules = (q.get("Filter") or {}).get("Key", {}).get("FilterRules", [])
            queue_configs.append(
                {
                    "id": q.get("Id"),
                    "queue": q["QueueArn"],
                    "events": sorted(q["Events"]),
                    "filter": sorted((r["Name"].lower(), r["Value"]) for r in rules),
                }
            )
        versioning = s3.get_bucket_versioning(Bucket=b["Name"]).get("Status")
        out[b["Name"]] = {
            "versioning": versioning,
            "eventbridge": "EventBridgeConfiguration" in config,
            "queues": sorted(queue_configs, key=lambda q: q["id"] or ""),
        }
    return out


def topics(sns: Any) -> list[str]:
    return sorted(t["TopicArn"] for t in _paginate(sns, "list_topics", "Topics"))


def secrets(sm: Any) -> list[str]:
    return sorted(s["Name"] for s in _paginate(sm, "list_secrets", "SecretList"))


def schedules(scheduler: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for s in _paginate(scheduler, "list_schedules", "Schedules"):
        full = scheduler.get_schedule(Name=s["Name"], GroupName=s.get("GroupName", "default"))
        target = full.get("Target") or {}
        out[s["Name"]] = {
            "expression": full.get("ScheduleExpression"),
            "timezone": full.get("ScheduleExpressionTimezone") or "UTC",
            "target": target.get("Arn"),
            "dead_letter": (target.get("DeadLetterConfig") or {}).get("Arn"),
        }
    return out


def user_pools(idp: Any) -> dict[str, dict[str, Any]]:
    """Cognito user pools by name: sign-in settings, domain, groups, resource server scopes, and each
    app client's OAuth settings (by client name; secrets and ids are per creation)."""
    out = {}
    for summary in _paginate(idp, "list_user_pools", "UserPools", MaxResults=60):
        pool_id = summary["Id"]
        pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        mfa = idp.get_user_pool_mfa_config(UserPoolId=pool_id)
        clients = {}
        for c in _paginate(idp, "list_user_pool_clients", "UserPoolClients", UserPoolId=pool_id, MaxResults=60):
            client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
            clients[client["ClientName"]] = {
                "secret": bool(client.get("ClientSecret")),
                "oauth": bool(client.get("AllowedOAuthFlowsUserPoolClient")),
                "flows": sorted(client.get("AllowedOAuthFlows") or []),
                "scopes": sorted(client.get("AllowedOAuthScopes") or []),
                "callback_urls": sorted(client.get("CallbackURLs") or []),
                "logout_urls": sorted(client.get("LogoutURLs") or []),
                "auth_flows": sorted(client.get("ExplicitAuthFlows") or []),
                "identity_providers": sorted(client.get("SupportedIdentityProviders") or []),
                "token_validity": {
                    "access": client.get("AccessTokenValidity"),
                    "id": client.get("IdTokenValidity"),
                    "refresh": client.get("RefreshTokenValidity"),
                    "units": client.get("TokenValidityUnits"),
                },
                "prevent_user_existence_errors": client.get("PreventUserExistenceErrors"),
                "token_revocation": client.get("EnableTokenRevocation"),
            }
        groups = _paginate(idp, "list_groups", "Groups", UserPoolId=pool_id)
        servers = _paginate(idp, "list_resource_servers", "ResourceServers", UserPoolId=pool_id, MaxResults=50)
        out[pool["Name"]] = {
            "username_attributes": sorted(pool.get("UsernameAttributes") or []),
            "auto_verified": sorted(pool.get("AutoVerifiedAttributes") or []),
            "password_policy": _password_policy((pool.get("Policies") or {}).get("PasswordPolicy") or {}),
            "mfa": mfa.get("MfaConfiguration"),
            "totp": bool((mfa.get("SoftwareTokenMfaConfiguration") or {}).get("Enabled")),
            "domain": pool.get("Domain"),
            "groups": sorted(g["GroupName"] for g in groups),
            "resource_servers": {
                r["Identifier"]: sorted(f"{r['Identifier']}/{s['ScopeName']}" for s in r.get("Scopes") or [])
                for r in servers
            },
            "clients": clients,
        }
    return out


def _password_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """As AWS describes it (every field; a requirement not sent is off): moto echoes what was sent, and
    Terraform sends PasswordHistorySize 0 where it leaves RequireSymbols false out."""
    requirements = ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    return {
        "MinimumLength": policy.get("MinimumLength", 8),
        **{name: bool(policy.get(name)) for name in requirements},
        "TemporaryPasswordValidityDays": policy.get("TemporaryPasswordValidityDays", 7),
        "PasswordHistorySize": policy.get("PasswordHistorySize") or 0,
    }


def _issuer_names(idp: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Pool id -> pool name and client id -> client name: an authorizer is described by names."""
    pools, clients = {}, {}
    for summary in _paginate(idp, "list_user_pools", "UserPools", MaxResults=60):
        pools[summary["Id"]] = summary["Name"]
        for c in _paginate(idp, "list_user_pool_clients", "UserPoolClients", UserPoolId=summary["Id"], MaxResults=60):
            clients[c["ClientId"]] = f"{summary['Name']}/{c['ClientName']}"
    return pools, clients


def routes(apigw: Any, idp: Any | None = None) -> dict[str, dict[str, Any]]:
    """HTTP API route key -> the function it invokes (by name) and its authorization: none, or the
    JWT authorizer (its issuer and audience named by user pool and client) with the route's scopes."""
    pools, clients = _issuer_names(idp) if idp is not None else ({}, {})
    out = {}
    for api in apigw.get_apis().get("Items", []):
        integrations = {i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api["ApiId"]).get("Items", [])}
        authorizers: dict[str, Any] = {}  # by id (moto has GetAuthorizer, not GetAuthorizers)
        for route in apigw.get_routes(ApiId=api["ApiId"]).get("Items", []):
            integration = integrations.get((route.get("Target") or "").removeprefix("integrations/"), {})
            uri = integration.get("IntegrationUri", "")
            found = re.search(r"function:([^/:]+)", uri)
            entry: dict[str, Any] = {
                "function": found.group(1) if found else uri,
                "payload_format": integration.get("PayloadFormatVersion"),
                "authorization": route.get("AuthorizationType") or "NONE",
                "scopes": sorted(route.get("AuthorizationScopes") or []),
            }
            authorizer_id = route.get("AuthorizerId")
            if authorizer_id and authorizer_id not in authorizers:
                authorizers[authorizer_id] = apigw.get_authorizer(ApiId=api["ApiId"], AuthorizerId=authorizer_id)
            authorizer = authorizers.get(authorizer_id or "")
            if authorizer is not None:
                jwt = authorizer.get("JwtConfiguration") or {}
                issuer = jwt.get("Issuer", "")
                pool = pools.get(issuer.rsplit("/", 1)[-1])
                entry["authorizer"] = {
                    "name": authorizer.get("Name"),
                    "type": authorizer.get("AuthorizerType"),
                    "identity_source": authorizer.get("IdentitySource"),
                    "issuer": f"user pool {pool}" if pool else issuer,
                    "audience": sorted(clients.get(a, a) for a in jwt.get("Audience") or []),
                }
            out[route["RouteKey"]] = entry
    return out


def describe(clients: Any) -> dict[str, Any]:
    """Everything above, from one set of boto3 clients named by service (see Clients)."""
    lam = getattr(clients, "lambda")
    return _norm(
        {
            "queues": queues(clients.sqs),
            "rules": rules(clients.events),
            "archives": archives(clients.events),
            "mappings": mappings(lam),
            "functions": functions(lam),
            "subscriptions": subscriptions(clients.sns),
            "tables": tables(clients.dynamodb),
            "buckets": buckets(clients.s3),
            "topics": topics(clients.sns),
            "secrets": secrets(clients.secretsmanager),
            "schedules": schedules(clients.scheduler),
            "user_pools": user_pools(getattr(clients, "cognito-idp")),
            "routes": routes(clients.apigatewayv2, getattr(clients, "cognito-idp")),
        }
    )


class Clients:
    """Lazy boto3 clients for one endpoint and region, with fake credentials: `clients.sqs`,
    `getattr(clients, "lambda")` (the local runtime's Clients has the same shape)."""

    def __init__(self, endpoint: str, region: str) -> None:
        import boto3

        self._session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=region
        )
        self._endpoint = endpoint
        self._clients: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._clients:
            self._clients[name] = self._session.client(name, endpoint_url=self._endpoint)
        return self._clients[name]
