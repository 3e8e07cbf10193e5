"""The manifest loader: every real manifest loads; a bad one names its file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from devtools.manifest import (
    REPO_ROOT,
    Deployment,
    ManifestError,
    load_services,
    platform_environment_names,
)

WEBHOOKS = REPO_ROOT / "services" / "webhooks"


def test_every_manifest_in_the_repository_loads():
    services = load_services()
    assert {s.name for s in services} >= {"webhooks"}
    for svc in services:
        assert svc.functions, svc.name


@pytest.fixture
def services_dir(tmp_path: Path) -> Path:
    """A services/ folder holding a copy of the webhooks service, to break on purpose."""
    root = tmp_path / "services"
    shutil.copytree(WEBHOOKS, root / "webhooks", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    return root


def _edit(services_dir: Path, change) -> Path:
    path = services_dir / "webhooks" / "service.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))
    return path


def _fails(services_dir: Path, *fragments: str) -> str:
    with pytest.raises(ManifestError) as err:
        load_services(services_dir)
    message = str(err.value)
    assert "webhooks/service.yaml" in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_the_copy_loads_before_it_is_broken(services_dir):
    assert [s.name for s in load_services(services_dir)] == ["webhooks"]


def test_memory_below_the_lambda_minimum_names_the_field(services_dir):
    _edit(services_dir, lambda d: d["functions"]["receive"].update(memory=64))
    _fails(services_dir, "functions.receive.memory", "64 is less than the minimum of 128")


def test_a_misspelt_field_is_refused(services_dir):
    _edit(services_dir, lambda d: d["functions"]["receive"].update(memroy=512))
    _fails(services_dir, "functions.receive", "'memroy' was unexpected")


def test_a_wrong_type_names_the_field(services_dir):
    _edit(services_dir, lambda d: d["functions"]["record_delivery"].update(timeout="30s"))
    _fails(services_dir, "functions.record_delivery.timeout", "is not of type 'integer'")


def test_an_http_trigger_needs_routes(services_dir):
    _edit(services_dir, lambda d: d["functions"]["receive"]["trigger"].pop("routes"))
    _fails(services_dir, "functions.receive.trigger", "'routes' is a required property")


def test_a_bad_route_is_refused(services_dir):
    _edit(services_dir, lambda d: d["functions"]["receive"]["trigger"].update(routes={"FETCH /x": "customer"}))
    _fails(services_dir, "functions.receive.trigger.routes", "'FETCH /x' does not match")


# ------------------------------------------------------------------ who may call a route


def _routes(services_dir: Path, routes) -> None:
    _edit(services_dir, lambda d: d["functions"]["receive"]["trigger"].update(routes=routes))


def test_routes_listed_without_access_are_refused_naming_file_and_field(services_dir):
    _routes(services_dir, ["POST /webhooks/github", "POST /webhooks/slack"])
    _fails(services_dir, "webhooks/service.yaml: functions.receive.trigger.routes:", "declares no access")


def test_a_route_with_no_access_is_refused_naming_the_route(services_dir):
    _routes(services_dir, {"POST /webhooks/github": None})
    _fails(services_dir, "functions.receive.trigger.routes.POST /webhooks/github: no access declared")


def test_a_public_route_must_say_how_its_caller_is_verified(services_dir):
    _routes(services_dir, {"POST /webhooks/github": "public"})
    _fails(services_dir, "routes.POST /webhooks/github", "verified_by")
    _routes(services_dir, {"POST /webhooks/github": {"access": "public"}})
    _fails(services_dir, "functions.receive.trigger.routes.POST /webhooks/github")


def test_an_unknown_access_level_is_refused(services_dir):
    _routes(services_dir, {"POST /webhooks/github": "admin"})
    _fails(services_dir, "functions.receive.trigger.routes.POST /webhooks/github")


def test_scopes_are_the_user_pools_and_only_for_staff_routes(services_dir):
    _routes(services_dir, {"POST /webhooks/github": {"access": "staff", "scopes": ["eda/admin"]}})
    _fails(services_dir, "functions.receive.trigger.routes.POST /webhooks/github")
    _routes(services_dir, {"POST /webhooks/github": {"access": "customer", "scopes": ["eda/staff"]}})
    _fails(services_dir, "functions.receive.trigger.routes.POST /webhooks/github")
    _routes(services_dir, {"POST /webhooks/github": {"access": "staff", "scopes": ["eda/staff"]}})
    (receive,) = [f for f in load_services(services_dir)[0].functions if f.name == "receive"]
    (route,) = receive.trigger.route_access
    assert (route.access, route.scopes, route.authorization_type) == ("staff", ("eda/staff",), "JWT")


def test_every_http_route_of_every_manifest_declares_its_access():
    routes = [r for s in load_services() for f in s.functions for r in f.trigger.route_access]
    assert routes and all(r.access in ("public", "customer", "staff") for r in routes)
    public = {r.key for r in routes if r.access == "public"}
    assert public == {"POST /webhooks/github", "POST /webhooks/slack"}, "only webhooks skip the authorizer"
    assert all(r.verified_by == "hmac-signature" for r in routes if r.access == "public")


def test_an_unknown_trigger_type_is_refused(services_dir):
    _edit(services_dir, lambda d: d["functions"]["receive"]["trigger"].update(type="kinesis"))
    _fails(services_dir, "functions.receive.trigger.type", "'kinesis' is not one of")


def test_a_handler_whose_module_does_not_exist(services_dir):
    _edit(services_dir, lambda d: d["functions"]["receive"].update(handler="webhooks.nope.handler"))
    _fails(services_dir, "functions.receive.handler", "no module")


def test_access_to_an_undeclared_table(services_dir):
    _edit(services_dir, lambda d: d["functions"]["record_delivery"]["access"].update(tables={"audit": "read"}))
    _fails(services_dir, "functions.record_delivery.access.tables", "'audit' is not declared")


def test_a_reference_to_another_services_missing_resource(services_dir):
    _edit(services_dir, lambda d: d["functions"]["record_delivery"]["access"].update(tables={"orders:events": "read"}))
    _fails(services_dir, "functions.record_delivery.access.tables", "orders:events does not exist")


def test_sqs_batch_over_ten_needs_a_batching_window(services_dir):
    def change(d):
        d["functions"]["record_delivery"]["trigger"].update(batch_size=50, batching_window_seconds=0)

    _edit(services_dir, change)
    _fails(services_dir, "functions.record_delivery.trigger.batch_size", "batching_window_seconds")


def test_functions_of_one_service_share_an_architecture(services_dir):
    _edit(services_dir, lambda d: d["functions"]["receive"].update(architecture="x86_64"))
    _fails(services_dir, "runtime/architecture", "shares one zip")


def test_the_name_must_match_the_folder(services_dir):
    _edit(services_dir, lambda d: d.update(name="hooks"))
    _fails(services_dir, "name", "must equal its folder name")


def test_broken_yaml_names_the_file(services_dir):
    (services_dir / "webhooks" / "service.yaml").write_text("name: [unclosed\n")
    _fails(services_dir, "(yaml)")


def test_an_event_has_one_producer(services_dir):
    shutil.copytree(services_dir / "webhooks", services_dir / "webhooks_copy")
    copy = services_dir / "webhooks_copy"
    data = yaml.safe_load((copy / "service.yaml").read_text())
    data["name"] = "webhooks_copy"
    for fn in data["functions"].values():
        fn["handler"] = fn["handler"].replace("webhooks.", "webhooks_copy.", 1)
    data["functions"]["receive"]["trigger"]["routes"] = {"POST /other": "customer"}  # routes are unique too
    (copy / "src" / "webhooks").rename(copy / "src" / "webhooks_copy")
    (copy / "service.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ManifestError, match="already published by 'webhooks'"):
        load_services(services_dir)


def test_derived_wiring_of_the_webhooks_service():
    svc = next(s for s in load_services() if s.name == "webhooks")
    record = svc.function("record_delivery")
    assert record.trigger.uses_queue
    assert record.queue_visibility_timeout == 6 * 30 + 1
    assert record.trigger.event_patterns() == [{"source": ["webhooks"], "detail-type": ["WebhookReceived"]}]
    env = Deployment("dev", "eu-central-1").function_environment(svc, record)
    assert env["TABLE_DELIVERIES"] == "dev-webhooks-deliveries"
    assert env["DATA_RESIDENCY"] == "eu"
    assert sorted(env) == platform_environment_names(svc, record)
    receive = svc.function("receive")
    assert receive.trigger.routes == [("POST", "/webhooks/github"), ("POST", "/webhooks/slack")]
    assert Deployment("prod", "ap-southeast-1").function_environment(svc, receive)["DATA_RESIDENCY"] == "apac"
