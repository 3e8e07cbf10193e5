"""Every .tf parses; the env/region matrix; thin, alike roots; backends; data residency."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
from infra_hcl import REPO_ROOT, Module, Scope, parse_file

INFRA = REPO_ROOT / "infra"
MATRIX = {
    ("dev", "eu-west-1"),
    ("dev", "us-east-1"),
    ("prod", "eu-west-1"),
    ("prod", "eu-central-1"),
    ("prod", "us-east-1"),
    ("prod", "ap-southeast-1"),
}
ROOT_FILES = {"terraform.tf", "backend.tf", "providers.tf", "main.tf", "variables.tf", "outputs.tf", "terraform.tfvars"}
ROOTS = sorted(INFRA / "envs" / env / region for env, region in MATRIX)
REGION_RE = re.compile(
    r"\b(?:us|eu|ap|ca|sa|me|af|il|mx)-(?:north|south|east|west|central|northeast|southeast|southwest|northwest)-\d\b"
)


def test_every_hcl_file_parses():
    files = [*INFRA.rglob("*.tf"), *INFRA.rglob("*.tftest.hcl"), *INFRA.rglob("*.tfvars")]
    assert len(files) > 40
    for path in files:
        hcl2.loads(path.read_text())  # raises with the line on a syntax error


def test_env_region_matrix():
    found = {(p.parent.name, p.name) for p in (INFRA / "envs").glob("*/*") if p.is_dir()}
    assert found == MATRIX


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_root_has_the_usual_files_and_matching_tfvars(root: Path):
    assert {p.name for p in root.iterdir() if p.is_file()} >= ROOT_FILES
    tf = Module.load(root)
    assert (tf.var("env"), tf.var("region")) == (root.parent.name, root.name)
    providers = parse_file(root / "terraform.tf").block("terraform").block("required_providers")
    aws = tf.scope.eval(providers.attributes["aws"])
    assert aws == {"source": "hashicorp/aws", "version": "~> 6.0"}


def test_roots_are_alike():
    """Roots differ only in terraform.tfvars and the backend key: everything else is identical."""
    reference = ROOTS[0]
    for root in ROOTS[1:]:
        for name in ROOT_FILES - {"terraform.tfvars", "backend.tf"}:
            assert (root / name).read_text() == (reference / name).read_text(), f"{root}/{name} differs"
        strip = lambda p: re.sub(r'key\s*=\s*"[^"]*"', "", p.read_text())  # noqa: E731
        assert strip(root / "backend.tf") == strip(reference / "backend.tf")


def test_backend_keys_unique_and_locking():
    keys = set()
    for root in ROOTS:
        ((labels, body),) = parse_file(root / "backend.tf").block("terraform").blocks_of("backend")
        assert labels == ["s3"]
        backend = {k: Scope(Module.load(root)).eval(v) for k, v in body.attributes.items()}
        assert backend["use_lockfile"] is True and backend["encrypt"] is True
        assert backend["key"] == f"{root.parent.name}/{root.name}/terraform.tfstate"
        keys.add(backend["key"])
    assert len(keys) == len(ROOTS)


@pytest.mark.parametrize(
    "root", [r for r in ROOTS if r.name.startswith("eu-")], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_eu_roots_reference_only_eu_regions(root: Path):
    """The provider, the state backend and any forwarding target of an EU root are all in the EU."""
    tf = Module.load(root)
    ((_, provider),) = parse_file(root / "providers.tf").blocks_of("provider")
    assert tf.scope.eval(provider.attributes["region"]).startswith("eu-")
    ((_, backend),) = parse_file(root / "backend.tf").block("terraform").blocks_of("backend")
    assert tf.scope.eval(backend.attributes["region"]).startswith("eu-")
    text = (root / "terraform.tfvars").read_text() + (root / "backend.tf").read_text()
    assert {r for r in REGION_RE.findall(text) if not r.startswith("eu-")} == set()
    forwarding = tf.var("forwarding")
    if forwarding is not None:
        assert forwarding["target_region"].startswith("eu-"), "EU events never leave EU regions"


def _personal_data_free_events() -> set[str]:
    """detail-types whose every registered version is marked free of personal data (none if unavailable)."""
    try:
        from shared.events.registry import registry
    except ImportError:
        return set()
    infos = registry.all_events()
    personal = {i.detail_type for i in infos if i.contains_personal_data}
    return {i.detail_type for i in infos} - personal


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_forwarding_only_personal_data_free_events(root: Path):
    forwarding = Module.load(root).var("forwarding")
    if forwarding is None:
        return
    allowed = _personal_data_free_events()
    listed = {e["detail_type"] for e in forwarding["events"]}
    assert listed <= allowed, f"forwarding events carrying personal data: {sorted(listed - allowed)}"


def test_forwarding_module_refuses_to_leave_the_eu():
    fwd = INFRA / "modules" / "forwarding"
    inputs = {
        "env": "prod",
        "bus_name": "eda-prod",
        "kms_key_arn": "k",
        "alarm_topic_arn": "t",
        "events": [{"source": "orders", "detail_type": "OrderShipped"}],
    }
    ok = Module(fwd, {**inputs, "source_region": "eu-west-1", "target_region": "eu-central-1"}, fwd)
    assert ok.validation_errors() == []
    bad = Module(fwd, {**inputs, "source_region": "eu-west-1", "target_region": "us-east-1"}, fwd)
    assert any("residency" in e for e in bad.validation_errors())
    us = Module(fwd, {**inputs, "source_region": "us-east-1", "target_region": "ap-southeast-1"}, fwd)
    assert us.validation_errors() == []
    rule = us.attr("aws_cloudwatch_event_rule", "forward", "orders", "event_pattern")
    assert '"region":["us-east-1"]' in rule  # only events produced here, so copies are not forwarded again


def test_module_files_and_readmes():
    for module in ("region", "service", "forwarding"):
        d = INFRA / "modules" / module
        assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= {p.name for p in d.iterdir()}
        readme = (d / "README.md").read_text()
        mod = Module(d, {}, d)
        for name in mod.variables:
            assert f"`{name}`" in readme, f"{module}/README.md does not document input {name}"
        for name in mod.outputs:
            assert f"`{name}`" in readme, f"{module}/README.md does not document output {name}"
        for name, body in mod.variables.items():
            assert "description" in body.attributes and "type" in body.attributes, f"{module}: var.{name}"
