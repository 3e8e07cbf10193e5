"""checkov on infra/ and on a real plan: zero failed checks, and every skip is inline with a reason.

The HCL scan sees the configuration as written; the plan scan (framework terraform_plan) sees the
resources Terraform will create from the manifests, with every for_each expanded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from devtools import tf

INFRA = tf.INFRA
SKIP_RE = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def test_every_checkov_skip_has_a_reason():
    skips = []
    for path in INFRA.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = SKIP_RE.search(line)
                assert match, f"{path}: malformed skip: {line.strip()}"
                assert match.group(2) and len(match.group(2).strip()) >= 20, f"{path}: skip without a reason: {line}"
                skips.append(match.group(1))
    assert skips  # the README lists them; a silent global skip list is not used


def _checkov() -> str:
    checkov = os.environ.get("CHECKOV")
    if not checkov:
        pytest.skip("CHECKOV is not set (make test sets it to .venv-checkov/bin/checkov)")
    return checkov


def _failed_checks(proc: subprocess.CompletedProcess[str]) -> tuple[list[tuple[str, str, str]], int]:
    reports = json.loads(proc.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        (c["check_id"], c["resource"], c["file_path"])
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    return failed, sum(r.get("summary", {}).get("passed", 0) for r in reports)


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.xdist_group("terraform-plan")
def test_checkov_on_the_plan_reports_no_failed_checks(plans, tmp_path):
    """The plan of dev/eu-west-1 as checkov's terraform_plan framework reads it (skips stay inline in HCL)."""
    checkov = _checkov()
    plan_file = tmp_path / "tfplan.json"
    plan_file.write_text(json.dumps(plans[("dev", "eu-west-1")]))
    proc = subprocess.run(
        [
            checkov,
            "-f",
            str(plan_file),
            "--framework",
            "terraform_plan",
            "--repo-root-for-plan-enrichment",
            str(INFRA),
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
    failed, passed = _failed_checks(proc)
    assert failed == [], failed
    assert passed > 300, f"checkov scanned too little of the plan ({passed} passed): {proc.stderr[-2000:]}"


@pytest.mark.slow
def test_checkov_reports_no_failed_checks():
    checkov = _checkov()
    proc = subprocess.run(
        [checkov, "-d", str(INFRA), "--framework", "terraform", "-o", "json", "--quiet", "--compact"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    failed, passed = _failed_checks(proc)
    assert failed == [], failed
    assert passed > 50, f"checkov scanned too little ({passed} passed): {proc.stderr[-2000:]}"
