"""Terraform's own yamldecode reads every manifest exactly as the Python loader does.

infra/modules/service reads services/<name>/service.yaml with `yamldecode(file(...))`; Python reads it
with PyYAML through devtools.manifest. Each test runs the real `terraform console` in a scratch folder
holding an empty main.tf: no providers, so no init and no registry. Without terraform on PATH they are
skipped, with the reason in the summary (`-ra`).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devtools.manifest import SERVICES_DIR, TERRAFORM_BOOLEANS, parse_yaml

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(
    TERRAFORM is None,
    reason="terraform is not on PATH: Terraform's yamldecode cannot be compared with the Python loader here",
)
MANIFESTS = sorted(SERVICES_DIR.glob("*/service.yaml"))


@pytest.fixture(scope="module")
def yamldecode(tmp_path_factory):
    """Terraform's reading of YAML files: [jsondecode(jsonencode(yamldecode(file(p)))) for p in paths]."""
    workdir = tmp_path_factory.mktemp("terraform-console")
    (workdir / "main.tf").write_text("")
    env = {
        **os.environ,
        "CHECKPOINT_DISABLE": "1",  # no version check over the network
        "TF_IN_AUTOMATION": "1",
        "TF_CLI_CONFIG_FILE": os.devnull,  # no providers needed; ignore the machine's CLI config
        "TF_DATA_DIR": str(workdir / ".terraform"),
    }

    def decode(paths: list[Path]) -> list[Any]:
        files = ", ".join(f"yamldecode(file({json.dumps(str(p))}))" for p in paths)
        # base64 around the JSON: the console prints strings HCL-escaped (${ and %{ doubled).
        expression = f"base64encode(jsonencode([{files}]))\n"
        run = subprocess.run(
            [TERRAFORM, "console"],
            check=False,
            input=expression,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, f"terraform console failed:\n{run.stderr}\n{run.stdout}"
        return json.loads(base64.b64decode(json.loads(run.stdout.strip())))

    return decode


def _python(path: Path) -> Any:
    """The loader's raw reading of a manifest, normalised through JSON as Terraform's side is."""
    data, _ = parse_yaml(path.read_text())
    return json.loads(json.dumps(data, default=str))


def _differences(terraform: Any, python: Any, at: str = "") -> list[str]:
    if isinstance(terraform, dict) and isinstance(python, dict):
        return [
            line
            for key in sorted(set(terraform) | set(python))
            for line in (
                _differences(terraform.get(key, "<absent>"), python.get(key, "<absent>"), f"{at}.{key}".lstrip("."))
            )
        ]
    if isinstance(terraform, list) and isinstance(python, list) and len(terraform) == len(python):
        return [
            line
            for i, (t, p) in enumerate(zip(terraform, python, strict=True))
            for line in _differences(t, p, f"{at}.{i}")
        ]
    if terraform == python and (type(terraform) is type(python) or {type(terraform), type(python)} <= {int, float}):
        return []  # 1000 and 1000.0 are one JSON number; true and 1 are not
    return [f"{at or '(top level)'}: terraform {json.dumps(terraform)}, python {json.dumps(python)}"]


def test_terraform_reads_every_manifest_as_the_python_loader_does(yamldecode):
    assert MANIFESTS, "no services/*/service.yaml found"
    for path, terraform in zip(MANIFESTS, yamldecode(MANIFESTS), strict=True):
        python = _python(path)
        assert _differences(terraform, python) == [], f"{path.relative_to(SERVICES_DIR.parent)} reads differently"
        assert terraform == python


def test_the_comparison_catches_an_unquoted_n(yamldecode, tmp_path):
    """The bug this guards against: `type: N` is false to Terraform and "N" to Python."""
    orders = SERVICES_DIR / "orders" / "service.yaml"
    mutated = tmp_path / "service.yaml"
    mutated.write_text(orders.read_text().replace('type: "N"', "type: N"))
    (terraform,) = yamldecode([mutated])
    assert _differences(terraform, _python(mutated)) == [
        'resources.tables.events.range_key.type: terraform false, python "N"'
    ]


def test_terraform_booleans_are_the_loaders_table(yamldecode, tmp_path):
    """devtools.manifest.TERRAFORM_BOOLEANS is what Terraform reads as booleans, as values and as keys;
    other case mixes stay strings."""
    strings = ["yEs", "nO", "oN", "oFF", "tRue", "fAlse", "yes!", "Nope", "ja"]
    values = tmp_path / "values.yaml"
    values.write_text("".join(f"- {token}\n" for token in [*TERRAFORM_BOOLEANS, *strings]))
    keys = tmp_path / "keys.yaml"
    keys.write_text("".join(f"{token}: {i}\n" for i, token in enumerate(TERRAFORM_BOOLEANS)))
    read_values, read_keys = yamldecode([values, keys])
    assert read_values == [*TERRAFORM_BOOLEANS.values(), *strings]
    # Keys become "true"/"false" strings; the last duplicate wins, silently.
    assert read_keys == {
        "true": max(i for i, t in enumerate(TERRAFORM_BOOLEANS) if TERRAFORM_BOOLEANS[t]),
        "false": max(i for i, t in enumerate(TERRAFORM_BOOLEANS) if not TERRAFORM_BOOLEANS[t]),
    }
