"""The env/region matrix of the one root: variable files, backends, residency, forwarding, module docs.

These read the env/region data files and the modules' declarations; what Terraform plans from them
is checked by the real tool in test_infra_terraform.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from devtools import tf

INFRA = tf.INFRA
MATRIX = {
    ("dev", "eu-west-1"),
    ("dev", "us-east-1"),
    ("prod", "eu-west-1"),
    ("prod", "eu-central-1"),
    ("prod", "us-east-1"),
    ("prod", "ap-southeast-1"),
}
ROOT_FILES = {
    "terraform.tf",
    "backend.tf",
    "providers.tf",
    "main.tf",
    "variables.tf",
    "outputs.tf",
    ".terraform.lock.hcl",
}
REGION_RE = re.compile(
    r"\b(?:us|eu|ap|ca|sa|me|af|il|mx)-(?:north|south|east|west|central|northeast|southeast|southwest|northwest)-\d\b"
)


def _id(er: tuple[str, str]) -> str:
    return "/".join(er)


def plain(value: Any) -> Any:
    """python-hcl2's output as plain data: string literals unquoted, its bookkeeping keys dropped."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k not in ("__comments__", "__is_block__")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:  # an HCL string JSON cannot read (a template, an HCL-only escape)
            return value[1:-1]
    return value


def hcl(text: str) -> dict[str, Any]:
    return plain(hcl2.loads(text))


def tfvars(env: str, region: str, text: str | None = None) -> dict[str, Any]:
    return hcl(text if text is not None else tf.var_file(env, region).read_text())


def backend(env: str, region: str) -> dict[str, Any]:
    return hcl(tf.backend_file(env, region).read_text())


def test_env_region_matrix():
    assert set(tf.env_regions()) == MATRIX
    backends = {(p.parent.name, p.name.removesuffix(".s3.tfbackend")) for p in INFRA.glob("envs/*/*.s3.tfbackend")}
    assert backends == MATRIX, "every env/region has a variable file and a backend file, and nothing else"


def test_one_root_with_the_usual_files():
    assert {p.name for p in tf.ROOT.iterdir() if p.is_file()} >= ROOT_FILES
    assert not list(INFRA.glob("envs/**/*.tf")), "env/regions hold data (tfvars, backend), never configuration"
    assert 'backend "s3" {}' in (tf.ROOT / "backend.tf").read_text(), "the backend is configured per env/region"


@pytest.mark.parametrize("er", sorted(MATRIX), ids=_id)
def test_variable_file_names_its_env_and_region(er: tuple[str, str]):
    values = tfvars(*er)
    assert (values["env"], values["region"]) == er
    assert values.get("force_destroy", False) is (er[0] == "dev"), "only dev may empty buckets on destroy"


def test_backend_keys_unique_encrypted_and_locked():
    keys = set()
    for er in MATRIX:
        b = backend(*er)
        assert b["use_lockfile"] is True and b["encrypt"] is True
        assert b["key"] == f"{er[0]}/{er[1]}/terraform.tfstate"
        assert b["region"] == er[1], "state stays in the region it describes"
        keys.add(b["key"])
    assert len(keys) == len(MATRIX)


@pytest.mark.parametrize("er", sorted(er for er in MATRIX if er[1].startswith("eu-")), ids=_id)
def test_eu_env_regions_reference_only_eu_regions(er: tuple[str, str]):
    """The state backend and any forwarding target of an EU env/region are in the EU."""
    text = tf.var_file(*er).read_text() + tf.backend_file(*er).read_text()
    assert {r for r in REGION_RE.findall(text) if not r.startswith("eu-")} == set()
    assert residency_problems(er[1], tfvars(*er).get("forwarding")) == []


def _personal_data_free_events() -> set[str]:
    """detail-types whose every registered version is marked free of personal data."""
    from shared.events.registry import registry

    infos = registry.all_events()
    personal = {i.detail_type for i in infos if i.contains_personal_data}
    return {i.detail_type for i in infos} - personal


def residency_problems(region: str, forwarding: dict[str, Any] | None) -> list[str]:
    """Why a forwarding setting would break residency (empty: it is fine)."""
    if forwarding is None:
        return []
    problems = []
    if region.startswith("eu-") and not forwarding["target_region"].startswith("eu-"):
        problems.append(f"EU events never leave EU regions: {region} -> {forwarding['target_region']}")
    listed = {e["detail_type"] for e in forwarding["events"]}
    personal = sorted(listed - _personal_data_free_events())
    if personal:
        problems.append(f"forwarding events carrying personal data: {personal}")
    return problems


@pytest.mark.parametrize("er", sorted(MATRIX), ids=_id)
def test_forwarding_only_personal_data_free_events(er: tuple[str, str]):
    assert residency_problems(er[1], tfvars(*er).get("forwarding")) == []


def test_the_residency_check_refuses_what_it_must():
    """The check above runs on every variable file, which forward nothing today: prove it can fail."""
    free = sorted(_personal_data_free_events())
    assert free, "no event is marked free of personal data"
    ok = tfvars(
        "dev",
        "eu-west-1",
        f'forwarding = {{ target_region = "eu-central-1", events = [{{ source = "x", detail_type = "{free[0]}" }}] }}',
    )["forwarding"]
    assert residency_problems("eu-west-1", ok) == []
    assert residency_problems("eu-west-1", {**ok, "target_region": "us-east-1"})
    personal = {**ok, "events": [{"source": "orders", "detail_type": "OrderPlaced"}]}
    assert any("personal data" in p for p in residency_problems("us-east-1", personal))


def _declared(module: Path, kind: str) -> list[str]:
    names = []
    for path in module.glob("*.tf"):
        for block in hcl(path.read_text()).get(kind, []):
            names += list(block)
    return names


def test_module_files_and_readmes():
    for module in ("region", "service", "forwarding"):
        d = INFRA / "modules" / module
        assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= {p.name for p in d.iterdir()}
        readme = (d / "README.md").read_text()
        variables, outputs = _declared(d, "variable"), _declared(d, "output")
        assert variables and outputs
        for name in variables:
            assert f"`{name}`" in readme, f"{module}/README.md does not document input {name}"
        for name in outputs:
            assert f"`{name}`" in readme, f"{module}/README.md does not document output {name}"
        for path in d.glob("*.tf"):
            for block in hcl(path.read_text()).get("variable", []):
                for name, body in block.items():
                    assert "description" in body and "type" in body, (
                        f"{module}: var.{name} needs a type and a description"
                    )
