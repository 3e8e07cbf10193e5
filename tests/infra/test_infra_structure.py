"""What each env/region root creates, derived from the HCL itself, versus what the manifests demand.

The module's for_each filters are evaluated from the parsed HCL (infra_hcl.py), never restated
here: the expected side comes from scripts/devtools/manifest.py, the actual side from the
Terraform. Adding a function to a manifest makes the derived set grow with no HCL change;
test_mutated_manifest_changes_what_terraform_creates proves it on a copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from infra_hcl import REPO_ROOT, Module, Unknown

from devtools import manifest as m

ROOTS = sorted(p.parent for p in (REPO_ROOT / "infra" / "envs").glob("*/*/main.tf"))


def _root_id(root: Path) -> str:
    return f"{root.parent.name}/{root.name}"


def _plain(v):
    return str(v) if isinstance(v, Unknown) else v


def derive(root: Module) -> dict[str, set]:
    """Physical things the root creates, per kind, as Terraform would plan them."""
    out: dict[str, set] = {
        k: set()
        for k in (
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
    }
    name_attr = {
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
    for key in root.module_instances("service"):
        svc = root.child("service", key)
        for (rtype, rname), _body in svc.resources.items():
            for inst in svc.instances(rtype, rname):
                if rtype in name_attr:
                    kind, attr = name_attr[rtype]
                    out[kind].add(svc.attr(rtype, rname, inst, attr))
                elif rtype == "aws_cloudwatch_event_rule":
                    pattern = json.loads(svc.attr(rtype, rname, inst, "event_pattern"))
                    out["rules"].add((svc.attr(rtype, rname, inst, "name"), json.dumps(pattern, sort_keys=True)))
                elif rtype == "aws_sns_topic_subscription":
                    target = _plain(svc.attr(rtype, rname, inst, "endpoint"))
                    out["subscriptions"].add((svc.attr(rtype, rname, inst, "topic_arn"), target))
                elif rtype == "aws_lambda_event_source_mapping":
                    out["mappings"].add((rname, _plain(svc.attr(rtype, rname, inst, "function_name"))))
                elif rtype == "aws_apigatewayv2_route":
                    out["routes"].add(svc.attr(rtype, rname, inst, "route_key"))
    return out


def expected(services: list[m.Service], env: str, region: str) -> dict[str, set]:
    """What the manifests demand, from devtools.manifest alone."""
    dep = m.Deployment(env, region)
    out: dict[str, set] = {
        k: set()
        for k in (
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
    }
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
                out["mappings"].add(("queue", f'${{aws_lambda_function.this["{fn.name}"].arn}}'))
            if trig.type == "dynamodb_stream":
                out["mappings"].add(("stream", f'${{aws_lambda_function.this["{fn.name}"].arn}}'))
                out["alarms"].add(f"{name}-iterator-age")
            if trig.type == "schedule":
                out["schedules"].add(name)
                out["roles"].add(f"{name}-scheduler")
            for pattern in trig.event_patterns() if trig.type == "eventbridge" else []:
                source = pattern["source"][0]
                out["rules"].add((f"{name}-{source.replace('_', '-')}", json.dumps(pattern, sort_keys=True)))
            if trig.type == "s3" and trig.raw.get("delivery") == "eventbridge":
                key = {"bucket": {"name": [dep.bucket(trig.bucket)]}}
                if trig.raw.get("prefix") or trig.raw.get("suffix"):
                    key["object"] = {
                        "key": [{"wildcard": f"{trig.raw.get('prefix', '')}*{trig.raw.get('suffix', '')}"}]
                    }
                pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": key}
                out["rules"].add((f"{name}-s3", json.dumps(pattern, sort_keys=True)))
            if trig.type == "sns":
                out["subscriptions"].add((dep.topic_arn(trig.topic), f'${{aws_sqs_queue.this["{fn.name}"].arn}}'))
            out["routes"] |= {f"{method} {path}" for method, path in trig.routes}
    return out


@pytest.fixture(scope="module")
def services() -> list[m.Service]:
    return m.load_services()


def test_every_env_region_root_is_found():
    assert len(ROOTS) == 6


@pytest.mark.parametrize("root", ROOTS, ids=_root_id)
def test_root_creates_exactly_what_the_manifests_demand(root: Path, services):
    env, region = root.parent.name, root.name
    derived = derive(Module.load(root))
    demanded = expected(services, env, region)
    for kind in demanded:
        missing = demanded[kind] - derived[kind]
        extra = derived[kind] - demanded[kind]
        assert not missing and not extra, f"{kind}: missing {sorted(missing)}, extra {sorted(extra)}"
    assert derived["functions"], "the derivation found no functions at all"


@pytest.mark.parametrize("root", ROOTS, ids=_root_id)
def test_names_and_environment_agree_with_the_manifest_loader(root: Path, services):
    """Every function: the same physical name and environment as Deployment.function_environment."""
    env, region = root.parent.name, root.name
    tf = Module.load(root)
    dep = m.Deployment(env, region)
    checked = 0
    for svc in services:
        mod = tf.child("service", svc.name)
        for fn in svc.functions:
            assert mod.attr("aws_lambda_function", "this", fn.name, "function_name") == m.function_name(env, fn)
            tf_env = mod.attr("aws_lambda_function", "this", fn.name, "environment", "variables")
            own = {str(m.Ref(svc.name, s)): f'${{aws_secretsmanager_secret.this["{s}"].arn}}' for s in svc.secrets}
            assert {k: _plain(v) for k, v in tf_env.items()} == dep.function_environment(svc, fn, own)
            for attr, value in (
                ("memory_size", fn.memory),
                ("timeout", fn.timeout),
                ("runtime", fn.runtime),
                ("handler", fn.handler),
                ("architectures", [fn.architecture]),
                ("reserved_concurrent_executions", fn.reserved_concurrency),
            ):
                assert mod.attr("aws_lambda_function", "this", fn.name, attr) == value, attr
            assert mod.attr("aws_lambda_function", "this", fn.name, "tracing_config", "mode") == "Active"
            if fn.trigger.uses_queue:
                assert (
                    mod.attr("aws_sqs_queue", "this", fn.name, "visibility_timeout_seconds")
                    == fn.queue_visibility_timeout
                )
                redrive = mod.attr("aws_sqs_queue", "this", fn.name, "redrive_policy")
                assert f"'maxReceiveCount': {fn.trigger.max_receive_count}" in str(redrive)
                esm = ("aws_lambda_event_source_mapping", "queue", fn.name)
                assert mod.attr(*esm, "batch_size") == fn.trigger.batch_size
                assert mod.attr(*esm, "maximum_batching_window_in_seconds") == fn.trigger.batching_window_seconds
                assert mod.attr(*esm, "function_response_types") == ["ReportBatchItemFailures"]
            checked += 1
    assert checked == sum(len(s.functions) for s in services)


def _iam_statements(root: Module) -> list[dict]:
    statements = []
    for key in root.module_instances("service"):
        svc = root.child("service", key)
        for fn_statements in svc.local("function_statements").values():
            statements += fn_statements
    return statements


@pytest.mark.parametrize("root", ROOTS, ids=_root_id)
def test_function_policies_grant_only_named_actions(root: Path, services):
    statements = _iam_statements(Module.load(root))
    assert statements
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert all("*" not in a for a in actions), st
        if "*" in st["Resource"]:
            assert all(a.startswith("xray:") for a in actions), f"only X-Ray may use Resource *: {st}"
    publish = [st for st in statements if "events:PutEvents" in st["Action"]]
    publishers = [fn for s in services for fn in s.functions if fn.publishes]
    assert len(publish) == len(publishers)
    for st in publish:
        assert set(st["Condition"]["StringEquals"]) == {"events:source", "events:detail-type"}


def _mutated_services(tmp_path: Path) -> Path:
    copy = tmp_path / "services"
    shutil.copytree(REPO_ROOT / "services", copy, ignore=shutil.ignore_patterns("tests", "__pycache__"))
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
    return copy


def test_mutated_manifest_changes_what_terraform_creates(tmp_path: Path):
    root = REPO_ROOT / "infra" / "envs" / "dev" / "eu-west-1"
    before = derive(Module.load(root))
    copy = _mutated_services(tmp_path)
    after = derive(Module.load(root, services_dir=copy))

    assert after == expected(m.load_services(copy), "dev", "eu-west-1")
    assert after["functions"] - before["functions"] == {"dev-webhooks-audit-replay", "dev-webhooks-nightly"}
    assert before["functions"] - after["functions"] == {"dev-webhooks-record-delivery"}
    assert after["queues"] - before["queues"] == {
        "dev-webhooks-audit-replay",
        "dev-webhooks-audit-replay-dlq",
        "dev-webhooks-nightly-dlq",
    }
    assert "dev-webhooks-record-delivery" not in after["queues"]
    assert after["schedules"] - before["schedules"] == {"dev-webhooks-nightly"}
    assert after["roles"] - before["roles"] == {
        "dev-webhooks-audit-replay",
        "dev-webhooks-nightly",
        "dev-webhooks-nightly-scheduler",
    }
    webhooks_rules = {name for name, _ in after["rules"] if name.startswith("dev-webhooks-")}
    assert webhooks_rules == {"dev-webhooks-audit-replay-webhooks"}
    svc = Module.load(root, services_dir=copy).child("service", "webhooks")
    assert svc.attr("aws_sqs_queue", "this", "audit_replay", "visibility_timeout_seconds") == 6 * 60 + 5


def test_module_validations_reject_what_aws_rejects(tmp_path: Path):
    root = REPO_ROOT / "infra" / "envs" / "dev" / "eu-west-1"
    assert Module.load(root).child("service", "webhooks").validation_errors() == []
    copy = tmp_path / "services"
    shutil.copytree(REPO_ROOT / "services", copy, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    path = copy / "webhooks" / "service.yaml"
    data = yaml.safe_load(path.read_text())
    data["functions"]["receive"]["memory"] = 64
    data["functions"]["record_delivery"]["trigger"].update(batch_size=50, batching_window_seconds=0)
    path.write_text(yaml.safe_dump(data))
    errors = Module.load(root, services_dir=copy).child("service", "webhooks").validation_errors()
    assert any("memory" in e for e in errors), errors
    assert any("batch_size > 10" in e for e in errors), errors
