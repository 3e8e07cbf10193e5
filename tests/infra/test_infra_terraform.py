"""The real Terraform on infra/: fmt, validate, `terraform test`, and a plan of every env/region.

Plans go to a moto server (tests/infra/conftest.py): the provider makes the calls it would make
against AWS, so a manifest value the provider refuses (`type: N` read as false, say) fails here.
What each plan creates is compared with what the manifests demand, derived from
scripts/devtools/manifest.py alone: adding a function to a manifest changes both sides.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools import manifest as m
from devtools import tf

pytestmark = [pytest.mark.terraform, pytest.mark.slow, pytest.mark.xdist_group("terraform-plan")]

MODULES = sorted(p for p in (tf.INFRA / "modules").iterdir() if (p / "main.tf").exists())
ENV_REGIONS = tf.env_regions()
KINDS = (
    "functions",
    "queues",
    "rules",
    "subscriptions",
    "roles",
    "mappings",
    "routes",
    "tables",
    "buckets",
    "topics",
    "secrets",
    "schedules",
    "alarms",
    "dashboards",
)
# The attribute that names each resource type's physical resource.
NAME_ATTR = {
    "aws_lambda_function": ("functions", "function_name"),
    "aws_sqs_queue": ("queues", "name"),
    "aws_iam_role": ("roles", "name"),
    "aws_dynamodb_table": ("tables", "name"),
    "aws_s3_bucket": ("buckets", "bucket"),
    "aws_sns_topic": ("topics", "name"),
    "aws_secretsmanager_secret": ("secrets", "name"),
    "aws_scheduler_schedule": ("schedules", "name"),
    "aws_cloudwatch_metric_alarm": ("alarms", "alarm_name"),
    "aws_cloudwatch_dashboard": ("dashboards", "dashboard_name"),
}
REGION_RE = re.compile(
    r"\b(?:us|eu|ap|ca|sa|me|af|il|mx)-(?:north|south|east|west|central|northeast|southeast|southwest|northwest)-\d\b"
)


def _id(er: tuple[str, str]) -> str:
    return "/".join(er)


def service_key(address: str) -> str | None:
    found = re.match(r'module\.service\["([^"]+)"\]\.', address)
    return found.group(1) if found else None


def derive(plan: dict[str, Any]) -> dict[str, set]:
    """Physical things a plan creates in the service modules, per kind."""
    out: dict[str, set] = {k: set() for k in KINDS}
    for r in tf.planned_resources(plan):
        svc = service_key(r["address"])
        if svc is None:
            continue
        values, rtype = r.get("values", {}), r["type"]
        if rtype in NAME_ATTR:
            kind, attr = NAME_ATTR[rtype]
            out[kind].add(values[attr])
        elif rtype == "aws_cloudwatch_event_rule":
            out["rules"].add((values["name"], json.dumps(json.loads(values["event_pattern"]), sort_keys=True)))
        elif rtype == "aws_sns_topic_subscription":
            out["subscriptions"].add((svc, r["index"]))
        elif rtype == "aws_lambda_event_source_mapping":
            out["mappings"].add((r["name"], svc, r["index"]))
        elif rtype == "aws_apigatewayv2_route":
            out["routes"].add(values["route_key"])
    return out


def expected(services: list[m.Service], env: str, region: str) -> dict[str, set]:
    """What the manifests demand, from devtools.manifest alone."""
    dep = m.Deployment(env, region, account_id=tf.FAKE_ACCOUNT)
    out: dict[str, set] = {k: set() for k in KINDS}
    for svc in services:
        out["dashboards"].add(f"{env}-{svc.name.replace('_', '-')}")
        out["tables"] |= {m.table_name(env, svc.name, t) for t in svc.tables}
        out["buckets"] |= {m.bucket_name(env, region, svc.name, b, dep.account_id) for b in svc.buckets}
        out["topics"] |= {m.topic_name(env, svc.name, t) for t in svc.topics}
        out["secrets"] |= {m.secret_name(env, svc.name, s) for s in svc.secrets}
        for fn in svc.functions:
            name = m.function_name(env, fn)
            trig = fn.trigger
            out["functions"].add(name)
            out["roles"].add(name)
            out["alarms"] |= {f"{name}-errors", f"{name}-throttles"}
            if trig.type != "http":
                out["queues"].add(m.dlq_name(env, fn))
                out["alarms"].add(f"{name}-dlq-depth")
            if trig.uses_queue:
                out["queues"].add(m.queue_name(env, fn))
                out["mappings"].add(("queue", svc.name, fn.name))
            if trig.type == "dynamodb_stream":
                out["mappings"].add(("stream", svc.name, fn.name))
                out["alarms"].add(f"{name}-iterator-age")
            if trig.type == "schedule":
                out["schedules"].add(name)
                out["roles"].add(f"{name}-scheduler")
            for pattern in trig.event_patterns() if trig.type == "eventbridge" else []:
                source = pattern["source"][0]
                out["rules"].add((f"{name}-{source.replace('_', '-')}", json.dumps(pattern, sort_keys=True)))
            if trig.type == "s3" and trig.raw.get("delivery") == "eventbridge":
                key: dict[str, Any] = {"bucket": {"name": [dep.bucket(trig.bucket)]}}
                if trig.raw.get("prefix") or trig.raw.get("suffix"):
                    key["object"] = {
                        "key": [{"wildcard": f"{trig.raw.get('prefix', '')}*{trig.raw.get('suffix', '')}"}]
                    }
                pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": key}
                out["rules"].add((f"{name}-s3", json.dumps(pattern, sort_keys=True)))
            if trig.type == "sns":
                out["subscriptions"].add((svc.name, fn.name))
            out["routes"] |= {f"{method} {path}" for method, path in trig.routes}
    return out


@pytest.fixture(scope="module")
def services() -> list[m.Service]:
    return m.load_services()


# ------------------------------------------------------------------ fmt, validate, test


def test_fmt_check_recursive():
    proc = tf.run_terraform(["fmt", "-check", "-recursive", "-no-color", str(tf.INFRA)], tf.REPO)
    assert proc.returncode == 0, f"not formatted (run `terraform fmt -recursive infra`):\n{proc.stdout}"


@pytest.mark.parametrize("where", [*MODULES, tf.ROOT], ids=lambda p: p.relative_to(tf.INFRA).as_posix())
def test_init_and_validate(where: Path, tmp_path: Path):
    data_dir = {"TF_DATA_DIR": str(tmp_path / ".terraform")}
    tf.terraform(["init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"], where, env=data_dir)
    out = tf.terraform(["validate", "-no-color"], where, env=data_dir)
    assert "Success! The configuration is valid." in out


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_tests_pass(module: Path, tmp_path: Path, record_property):
    """`terraform test` with a mocked provider: each module's tests/*.tftest.hcl."""
    tests = sorted((module / "tests").glob("*.tftest.hcl"))
    assert tests, f"{module.name} has no terraform tests"
    data_dir = {"TF_DATA_DIR": str(tmp_path / ".terraform")}
    tf.terraform(["init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"], module, env=data_dir)
    out = tf.terraform(["test", "-no-color"], module, env=data_dir)
    passed = re.search(r"Success! (\d+) passed, 0 failed", out)
    assert passed and int(passed.group(1)) >= len(tests), out
    record_property("figure", f"{passed.group(1)} runs passed")


def test_every_dependency_lock_pins_the_same_provider():
    locks = sorted(tf.INFRA.glob("**/.terraform.lock.hcl"))
    assert {p.parent for p in locks} == {*MODULES, tf.ROOT}
    versions = {re.search(r'version\s*=\s*"([^"]+)"', p.read_text()).group(1) for p in locks}  # type: ignore[union-attr]
    assert len(versions) == 1, versions


# ------------------------------------------------------------------ plan every env/region


@pytest.mark.parametrize("er", ENV_REGIONS, ids=_id)
def test_plan_creates_exactly_what_the_manifests_demand(er: tuple[str, str], plans, services, record_property):
    plan = plans[er]
    changes = tf.planned_changes(plan)
    assert changes and all(actions == ["create"] for _, actions in changes)
    derived = derive(plan)
    demanded = expected(services, *er)
    for kind in KINDS:
        missing, extra = demanded[kind] - derived[kind], derived[kind] - demanded[kind]
        assert not missing and not extra, f"{kind}: missing {sorted(missing)}, extra {sorted(extra)}"
    assert derived["functions"], "the plan has no functions at all"
    record_property("figure", f"{len(changes)} resources to create, as the manifests demand")


def test_every_env_region_plans_the_same_resources(plans):
    """One root: env/regions differ in names and settings, never in what exists (forwarding aside)."""
    shapes = {}
    for er in ENV_REGIONS:
        plan = plans[er]
        shapes[er] = sorted(
            re.sub(r"^module\.forwarding\[0\]\..*", "forwarding", a) for a, _ in tf.planned_changes(plan)
        )
    reference = shapes[ENV_REGIONS[0]]
    for er, shape in shapes.items():
        if not any(a == "forwarding" for a in shape):
            assert shape == reference, f"{_id(er)} plans other resources than {_id(ENV_REGIONS[0])}"


@pytest.mark.parametrize("er", ENV_REGIONS, ids=_id)
def test_function_settings_follow_the_manifest(er: tuple[str, str], plans, services):
    env, region = er
    by_address = {r["address"]: r.get("values", {}) for r in tf.planned_resources(plans[er])}
    dep = m.Deployment(env, region, account_id=tf.FAKE_ACCOUNT)
    checked = 0
    for svc in services:
        for fn in svc.functions:
            values = by_address[f'module.service["{svc.name}"].aws_lambda_function.this["{fn.name}"]']
            assert values["function_name"] == m.function_name(env, fn)
            assert values["memory_size"] == fn.memory and values["timeout"] == fn.timeout
            assert values["runtime"] == fn.runtime and values["handler"] == fn.handler
            assert values["architectures"] == [fn.architecture]
            assert values["reserved_concurrent_executions"] == (
                fn.reserved_concurrency if fn.reserved_concurrency is not None else -1
            )
            assert values["tracing_config"] == [{"mode": "Active"}]
            planned_env = (values.get("environment") or [{}])[0].get("variables")
            if planned_env is None:  # unknown until apply: it holds a secret's ARN (checked after apply)
                assert list(fn.refs("secrets")), f"{fn.qualified_name}: environment unknown at plan time"
            else:
                assert planned_env == dep.function_environment(svc, fn, {})
            if fn.trigger.uses_queue:
                queue = by_address[f'module.service["{svc.name}"].aws_sqs_queue.this["{fn.name}"]']
                assert queue["visibility_timeout_seconds"] == fn.queue_visibility_timeout
                esm = by_address[f'module.service["{svc.name}"].aws_lambda_event_source_mapping.queue["{fn.name}"]']
                assert esm["batch_size"] == fn.trigger.batch_size
                assert esm["maximum_batching_window_in_seconds"] == fn.trigger.batching_window_seconds
                assert esm["function_response_types"] == ["ReportBatchItemFailures"]
            checked += 1
    assert checked == sum(len(s.functions) for s in services)


@pytest.mark.parametrize("er", ENV_REGIONS, ids=_id)
def test_routes_are_authorized_as_their_manifests_declare(er: tuple[str, str], plans, services):
    """customer/staff routes behind the JWT authorizer (with the manifest's scopes), public ones in the
    one resource whose CKV_AWS_309 skip names them; one user pool with its clients, group and scope."""
    env, _ = er
    planned = tf.planned_resources(plans[er])
    routes = {
        r["values"]["route_key"]: (
            r["name"],
            r["values"]["authorization_type"],
            sorted(r["values"].get("authorization_scopes") or []),
        )
        for r in planned
        if r["type"] == "aws_apigatewayv2_route"
    }
    declared = {
        route.key: ("public" if route.access == "public" else "this", route.authorization_type, sorted(route.scopes))
        for svc in services
        for fn in svc.functions
        for route in fn.trigger.route_access
    }
    assert routes == declared
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in planned:
        by_type.setdefault(r["type"], []).append(r.get("values") or {})
    (pool,) = by_type["aws_cognito_user_pool"]
    assert pool["name"] == m.user_pool_name(env) and pool["username_attributes"] == ["email"]
    assert pool["deletion_protection"] == ("ACTIVE" if env == "prod" else "INACTIVE")
    clients = {c["name"]: c for c in by_type["aws_cognito_user_pool_client"]}
    assert set(clients) == {m.MOBILE_CLIENT, m.OPERATIONS_CLIENT}
    assert clients[m.MOBILE_CLIENT]["generate_secret"] is False and clients[m.MOBILE_CLIENT]["allowed_oauth_flows"] == [
        "code"
    ]
    assert [g["name"] for g in by_type["aws_cognito_user_group"]] == [m.STAFF_GROUP]
    (server,) = by_type["aws_cognito_resource_server"]
    assert [f"{server['identifier']}/{s['scope_name']}" for s in server["scope"]] == list(m.PLATFORM_SCOPES)
    (authorizer,) = by_type["aws_apigatewayv2_authorizer"]
    assert authorizer["authorizer_type"] == "JWT" and authorizer["name"] == m.authorizer_name(env)


@pytest.mark.parametrize("er", [er for er in ENV_REGIONS if er[1].startswith("eu-")], ids=_id)
def test_eu_plans_name_only_eu_regions(er: tuple[str, str], plans):
    """Residency: nothing an EU env/region plans (names, ARNs, patterns, backend) points outside the EU."""
    text = json.dumps(plans[er]["planned_values"]) + json.dumps(plans[er].get("variables", {}))
    text += tf.backend_file(*er).read_text() + tf.var_file(*er).read_text()
    assert {r for r in REGION_RE.findall(text) if not r.startswith("eu-")} == set()
    assert plans[er]["variables"]["region"]["value"] == er[1]


def test_mutated_manifest_changes_what_terraform_plans(tmp_path: Path, plan_workspace: tf.Workspace, plans):
    """A manifest edit, and no HCL edit, changes the plan: functions, queues, schedules, roles, rules."""
    copy = tmp_path / "services"
    shutil.copytree(tf.REPO / "services", copy, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    path = copy / "webhooks" / "service.yaml"
    data = yaml.safe_load(path.read_text())
    del data["functions"]["record_delivery"]
    data["functions"]["audit_replay"] = {
        "handler": "webhooks.record_delivery.handler",
        "memory": 512,
        "timeout": 60,
        "trigger": {
            "type": "eventbridge",
            "events": [{"source": "webhooks", "detail_type": "WebhookReceived"}],
            "batch_size": 50,
            "batching_window_seconds": 5,
            "max_receive_count": 7,
        },
    }
    data["functions"]["nightly"] = {
        "handler": "webhooks.record_delivery.handler",
        "memory": 128,
        "timeout": 5,
        "trigger": {"type": "schedule", "expression": "cron(0 3 * * ? *)"},
    }
    path.write_text(yaml.safe_dump(data))
    before = derive(plans[("dev", "eu-west-1")])
    with tf.Workspace.create(plan_workspace.endpoint, services=copy) as ws:
        ws.init()
        plan = ws.plan("dev", "eu-west-1")
    after = derive(plan)
    assert after == expected(m.load_services(copy), "dev", "eu-west-1")
    assert after["functions"] - before["functions"] == {"dev-webhooks-audit-replay", "dev-webhooks-nightly"}
    assert before["functions"] - after["functions"] == {"dev-webhooks-record-delivery"}
    assert after["queues"] - before["queues"] == {
        "dev-webhooks-audit-replay",
        "dev-webhooks-audit-replay-dlq",
        "dev-webhooks-nightly-dlq",
    }
    assert after["schedules"] - before["schedules"] == {"dev-webhooks-nightly"}
    assert after["roles"] - before["roles"] == {
        "dev-webhooks-audit-replay",
        "dev-webhooks-nightly",
        "dev-webhooks-nightly-scheduler",
    }
    by_address = {r["address"]: r.get("values", {}) for r in tf.planned_resources(plan)}
    queue = by_address['module.service["webhooks"].aws_sqs_queue.this["audit_replay"]']
    assert queue["visibility_timeout_seconds"] == 6 * 60 + 5
