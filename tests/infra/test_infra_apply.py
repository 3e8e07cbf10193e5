"""Apply dev/eu-west-1 for real to a moto server, then: nothing left to change, the same wiring as
the local runtime's provisioner builds, least-privilege policies, and a destroy that leaves nothing.

The apply uses stand-in zips (moto stores code, it never runs it); `make apply-local` does the same
cycle with the zips `make package` builds. The tests of this module share one apply and run in
file order on one worker (xdist group), the destroy last.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devtools import manifest as m
from devtools import tf, wiring

pytestmark = [pytest.mark.terraform, pytest.mark.slow, pytest.mark.xdist_group("terraform-apply")]

ENV, REGION = "dev", "eu-west-1"


@dataclass
class Applied:
    ws: tf.Workspace
    clients: wiring.Clients
    seconds: float


@pytest.fixture(scope="module")
def applied() -> Iterator[Applied]:
    tf.require()
    with tf.emulator() as url, tf.Workspace.create(url) as ws:
        ws.init()
        started = time.monotonic()
        ws.apply(ENV, REGION)
        seconds = time.monotonic() - started
        print(f"apply {ENV}/{REGION}: {len(tf.planned_state(ws, ENV, REGION))} resources in {seconds:.0f} s")
        yield Applied(ws, wiring.Clients(url, REGION), seconds)


@pytest.fixture(scope="module")
def replan(applied: Applied) -> dict[str, Any]:
    return applied.ws.plan(ENV, REGION)


@pytest.fixture(scope="module")
def state_values(applied: Applied) -> dict[str, dict[str, Any]]:
    return {r["address"]: r["values"] for r in tf.planned_state(applied.ws, ENV, REGION)}


@pytest.fixture(scope="module")
def provisioned() -> Iterator[dict[str, Any]]:
    """What the local runtime's provisioner builds from the same manifests, described the same way."""
    from devtools.local.provision import Provisioner

    tf.require()

    services = m.load_services()
    with tf.emulator() as url:
        clients = wiring.Clients(url, REGION)
        Provisioner(clients, m.Deployment(ENV, REGION, tf.FAKE_ACCOUNT), tap=False).provision(services)
        yield wiring.describe(clients)


@pytest.fixture(scope="module")
def deployed(applied: Applied) -> dict[str, Any]:
    return wiring.describe(applied.clients)


def test_a_second_plan_after_apply_has_no_changes(applied: Applied, replan, record_property):
    assert tf.planned_changes(replan) == []
    count = len(tf.planned_state(applied.ws, ENV, REGION))
    record_property("figure", f"applied {count} resources in {applied.seconds:.0f} s; second plan: no changes")


WIRING_KINDS = (
    "queues",
    "rules",
    "archives",
    "mappings",
    "functions",
    "subscriptions",
    "tables",
    "buckets",
    "topics",
    "secrets",
    "schedules",
    "user_pools",
    "routes",
)


@pytest.mark.parametrize("kind", WIRING_KINDS)
def test_local_runtime_wires_what_terraform_deploys(kind: str, deployed, provisioned):
    """Local and deployed wiring are one and the same, read back through the AWS APIs."""
    tf_side, local_side = deployed[kind], provisioned[kind]
    triggers = {fn.trigger.type for svc in m.load_services() for fn in svc.functions}
    assert tf_side or (kind == "subscriptions" and "sns" not in triggers), f"Terraform created no {kind}"
    if isinstance(tf_side, dict):
        only_tf = sorted(set(tf_side) - set(local_side), key=str)
        only_local = sorted(set(local_side) - set(tf_side), key=str)
        assert not only_tf and not only_local, f"{kind}: only in Terraform {only_tf}; only local {only_local}"
        differ = {
            str(k): {"terraform": tf_side[k], "local": local_side[k]} for k in tf_side if tf_side[k] != local_side[k]
        }
        assert not differ, f"{kind} differ:\n{json.dumps(differ, indent=1, default=str)[:6000]}"
    else:
        assert tf_side == local_side


def test_http_routes_invoke_the_functions_the_local_gateway_serves(deployed):
    served = {
        route.key: m.function_name(ENV, fn)
        for svc in m.load_services()
        for fn in svc.functions
        for route in fn.trigger.route_access
    }
    assert {key: r["function"] for key, r in deployed["routes"].items()} == served


def test_every_route_is_authorized_as_its_manifest_declares(deployed):
    """customer and staff routes: the JWT authorizer on the region's pool, both clients as audience,
    the manifest's scopes; public ones (the webhooks, and only they) have no authorizer."""
    pool = m.user_pool_name(ENV)
    routes = {r.key: r for svc in m.load_services() for fn in svc.functions for r in fn.trigger.route_access}
    for key, got in deployed["routes"].items():
        declared = routes[key]
        assert got["authorization"] == declared.authorization_type, key
        assert got["scopes"] == sorted(declared.scopes), key
        if declared.access == "public":
            assert "authorizer" not in got and declared.verified_by == "hmac-signature", key
            continue
        assert got["authorizer"] == {
            "name": m.authorizer_name(ENV),
            "type": "JWT",
            "identity_source": ["$request.header.Authorization"],
            "issuer": f"user pool {pool}",
            "audience": [f"{pool}/{m.MOBILE_CLIENT}", f"{pool}/{m.OPERATIONS_CLIENT}"],
        }, key
    assert {k for k, r in routes.items() if r.access == "public"} == {"POST /webhooks/github", "POST /webhooks/slack"}


def test_the_user_pool_serves_the_app_and_keeps_the_staff_scope_from_users(deployed):
    (pool,) = deployed["user_pools"].values()
    assert pool["groups"] == [m.STAFF_GROUP]
    assert pool["resource_servers"] == {m.RESOURCE_SERVER: list(m.PLATFORM_SCOPES)}
    app, tool = pool["clients"][m.MOBILE_CLIENT], pool["clients"][m.OPERATIONS_CLIENT]
    assert (app["secret"], app["flows"], app["oauth"]) == (False, ["code"], True)  # public client, PKCE
    assert "ALLOW_REFRESH_TOKEN_AUTH" in app["auth_flows"] and not set(app["scopes"]) & set(m.PLATFORM_SCOPES)
    assert (tool["secret"], tool["flows"], tool["scopes"]) == (True, ["client_credentials"], list(m.PLATFORM_SCOPES))


def test_the_stage_throttles_every_route_by_its_access(state_values):
    (stage,) = [v for a, v in state_values.items() if a.endswith("aws_apigatewayv2_stage.default")]
    limits = {s["route_key"]: s["throttling_rate_limit"] for s in stage["route_settings"]}
    routes = {r.key: r.access for svc in m.load_services() for fn in svc.functions for r in fn.trigger.route_access}
    assert set(limits) == set(routes)
    assert {limits[k] for k, a in routes.items() if a == "public"} == {20}
    assert {limits[k] for k, a in routes.items() if a == "customer"} == {100}
    assert {limits[k] for k, a in routes.items() if a == "staff"} == {10}


def test_function_environment_follows_the_manifest_loader(state_values):
    """Secret ARNs are known only after apply: the whole environment, as Deployment derives it."""
    dep = m.Deployment(ENV, REGION, tf.FAKE_ACCOUNT)
    checked = 0
    for svc in m.load_services():
        secret_arns = {
            str(m.Ref(svc.name, s)): state_values[
                f'module.service["{svc.name}"].aws_secretsmanager_secret.this["{s}"]'
            ]["arn"]
            for s in svc.secrets
        }
        for fn in svc.functions:
            values = state_values[f'module.service["{svc.name}"].aws_lambda_function.this["{fn.name}"]']
            assert values["environment"][0]["variables"] == dep.function_environment(svc, fn, secret_arns)
            checked += 1
    assert checked == sum(len(s.functions) for s in m.load_services())


def test_function_policies_grant_only_named_actions(state_values):
    statements = []
    for address, values in state_values.items():
        if ".aws_iam_role_policy.function[" in address:
            statements += json.loads(values["policy"])["Statement"]
    assert statements
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert all("*" not in a for a in actions), st
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if "*" in resources:
            assert all(a.startswith("xray:") for a in actions), f"only X-Ray may use Resource *: {st}"
    publish = [st for st in statements if "events:PutEvents" in st["Action"]]
    publishers = [fn for s in m.load_services() for fn in s.functions if fn.publishes]
    assert len(publish) == len(publishers)
    for st in publish:
        assert set(st["Condition"]["StringEquals"]) == {"events:source", "events:detail-type"}


@pytest.mark.slow
def test_checkov_on_the_applied_plan_reports_no_failed_checks(replan, tmp_path):
    """checkov's terraform_plan framework on a plan whose values are all known (the re-plan after apply)."""
    checkov = os.environ.get("CHECKOV")
    if not checkov:
        pytest.skip("CHECKOV is not set (make test sets it to .venv-checkov/bin/checkov)")
    plan_file = tmp_path / "tfplan.json"
    plan_file.write_text(json.dumps(replan))
    proc = subprocess.run(
        [
            checkov,
            "-f",
            str(plan_file),
            "--framework",
            "terraform_plan",
            "--repo-root-for-plan-enrichment",
            str(tf.INFRA),
            "-o",
            "json",
            "--quiet",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    reports = json.loads(proc.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert failed == [], failed
    assert passed > 300, f"checkov scanned too little of the plan ({passed} passed): {proc.stderr[-2000:]}"


def test_destroy_leaves_the_emulator_empty(applied: Applied, record_property):
    started = time.monotonic()
    applied.ws.destroy(ENV, REGION)
    record_property("figure", f"destroyed in {time.monotonic() - started:.0f} s, nothing left")
    assert tf.planned_state(applied.ws, ENV, REGION) == []
    left = wiring.describe(applied.clients)
    assert {k: v for k, v in left.items() if v} == {}
    c = applied.clients
    assert [b["Name"] for b in c.events.list_event_buses()["EventBuses"]] == ["default"]
    assert c.iam.list_roles()["Roles"] == []
    assert c.logs.describe_log_groups()["logGroups"] == []
    assert c.cloudwatch.describe_alarms()["MetricAlarms"] == []
    # AWS-managed keys (alias/aws/<service>, which moto marks CUSTOMER) belong to AWS, not to the root.
    aws_managed = {
        a.get("TargetKeyId") for a in c.kms.list_aliases()["Aliases"] if a["AliasName"].startswith("alias/aws/")
    }
    keys = [c.kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in c.kms.list_keys()["Keys"]]
    ours = [k for k in keys if k["KeyManager"] == "CUSTOMER" and k["KeyId"] not in aws_managed]
    assert ours and {k["KeyState"] for k in ours} == {"PendingDeletion"}, "a key cannot go at once: it waits"
