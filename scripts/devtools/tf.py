"""Terraform, for real, from Python: plan every env/region, apply one to the local emulator.

    python -m devtools.tf plan  --env dev --region eu-west-1 [--endpoint URL]
    python -m devtools.tf cycle --env dev --region eu-west-1 [--endpoint URL]   # apply, re-plan, destroy

Everything goes through `scripts/terraform` (which points Terraform at a provider mirror when the
machine has one). Nothing is written into infra/: a `Workspace` is a copy of infra/ in a scratch
directory, next to links to services/ and dist/, plus two override files that only a test or the
emulator needs: a local backend instead of S3, and a provider aimed at the emulator's endpoint with
fake credentials. The root, the modules and the env/region variable files are used as they are.

Without --endpoint, `cycle` starts its own moto server (devtools.local.motoserver, with the
project's patches) on a free port and stops it at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
ROOT = INFRA / "root"
TERRAFORM = REPO / "scripts" / "terraform"
FAKE_ACCOUNT = "123456789012"  # moto's default account

# The AWS services our Terraform calls (provider `endpoints` block keys).
ENDPOINT_SERVICES = (
    "apigatewayv2",
    "cloudwatch",
    "cloudwatchlogs",
    "cognitoidp",
    "dynamodb",
    "events",
    "iam",
    "kms",
    "lambda",
    "s3",
    "scheduler",
    "secretsmanager",
    "ses",
    "sns",
    "sqs",
    "sts",
)


def available() -> bool:
    """True when a terraform binary is on PATH."""
    return shutil.which("terraform") is not None


NOT_INSTALLED = "terraform is not installed here: skipped (install Terraform >= 1.9 to run the real checks)"


def require() -> None:
    """In a test or fixture: skip, saying why, where terraform is not installed."""
    if not available():
        import pytest

        pytest.skip(NOT_INSTALLED)


def env_regions() -> list[tuple[str, str]]:
    """Every (env, region) that has a variable file: infra/envs/<env>/<region>.tfvars."""
    return sorted((p.parent.name, p.name.removesuffix(".tfvars")) for p in (INFRA / "envs").glob("*/*.tfvars"))


def var_file(env: str, region: str) -> Path:
    return INFRA / "envs" / env / f"{region}.tfvars"


def backend_file(env: str, region: str) -> Path:
    return INFRA / "envs" / env / f"{region}.s3.tfbackend"


class TerraformError(RuntimeError):
    pass


def run_terraform(
    args: list[str], cwd: Path, *, env: dict[str, str] | None = None, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """Run terraform (through scripts/terraform) and return the finished process, whatever its exit code."""
    return subprocess.run(
        [str(TERRAFORM), *args],
        cwd=cwd,
        env={**os.environ, "TF_INPUT": "0", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def terraform(args: list[str], cwd: Path, *, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
    """Run terraform; return stdout, or raise with the command and its output."""
    proc = run_terraform(args, cwd, env=env, timeout=timeout)
    if proc.returncode != 0:
        output = f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        raise TerraformError(f"terraform {' '.join(args)} (in {cwd}) exited {proc.returncode}\n{output}")
    return proc.stdout


def emulator_override(endpoint: str) -> str:
    """Provider + backend override: the emulator's endpoint for every service, fake credentials."""
    endpoints = "\n".join(f'    {s:<15}= "{endpoint}"' for s in ENDPOINT_SERVICES)
    return f"""# Written by devtools.tf for a run against the local emulator; never part of infra/.
terraform {{
  backend "local" {{}}
}}

provider "aws" {{
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}
"""


@dataclass
class Workspace:
    """A scratch copy of infra/ wired to one emulator endpoint (see the module docstring)."""

    path: Path
    endpoint: str

    @property
    def root(self) -> Path:
        return self.path / "infra" / "root"

    @classmethod
    @contextlib.contextmanager
    def create(
        cls, endpoint: str, *, dist: Path | None = None, services: Path | None = None, keep: bool = False
    ) -> Iterator[Workspace]:
        """dist: the packaged zips to deploy (default: stand-in zips, enough for plan and the emulator);
        services: the service manifests to read (default: the checkout's services/)."""
        base = Path(tempfile.mkdtemp(prefix="eda-tf-"))
        try:
            shutil.copytree(INFRA, base / "infra", ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*"))
            services = (services or REPO / "services").resolve()
            (base / "services").symlink_to(services)
            if dist is None:
                dist = base / "dist"
                dist.mkdir()
                for manifest in sorted(services.glob("*/service.yaml")):
                    write_fake_zip(dist, manifest.parent.name)
            else:
                (base / "dist").symlink_to(dist.resolve())
            ws = cls(base, endpoint)
            (ws.root / "zz_emulator_override.tf").write_text(emulator_override(endpoint))
            yield ws
        finally:
            if not keep:
                shutil.rmtree(base, ignore_errors=True)

    def init(self) -> None:
        terraform(["init", "-input=false", "-no-color", "-reconfigure"], self.root)

    def _vars(self, env: str, region: str) -> list[str]:
        return [f"-var-file={var_file(env, region)}"]

    def _state(self, env: str, region: str) -> list[str]:
        return [f"-state={self.path / f'{env}-{region}.tfstate'}"]

    def plan(self, env: str, region: str, *, destroy: bool = False, targets: list[str] | None = None) -> dict[str, Any]:
        """`terraform plan` for env/region; returns `terraform show -json` of the saved plan."""
        out = self.path / f"{env}-{region}{'-destroy' if destroy else ''}.tfplan"
        args = ["plan", "-input=false", "-no-color", "-lock=false", f"-out={out}", *self._vars(env, region)]
        args += self._state(env, region) + (["-destroy"] if destroy else [])
        args += [f"-target={t}" for t in targets or []]
        terraform(args, self.root)
        return json.loads(terraform(["show", "-json", str(out)], self.root))

    def apply(self, env: str, region: str, *, parallelism: int = 50) -> str:
        args = ["apply", "-input=false", "-no-color", "-auto-approve", f"-parallelism={parallelism}"]
        return terraform(args + self._vars(env, region) + self._state(env, region), self.root)

    def destroy(self, env: str, region: str, *, parallelism: int = 50) -> str:
        args = ["destroy", "-input=false", "-no-color", "-auto-approve", f"-parallelism={parallelism}"]
        return terraform(args + self._vars(env, region) + self._state(env, region), self.root)

    def state(self, env: str, region: str) -> dict[str, Any]:
        return json.loads(terraform(["show", "-json", str(self.path / f"{env}-{region}.tfstate")], self.root))


def write_fake_zip(dist: Path, service: str) -> None:
    """A stand-in for `make package` output: a valid zip and the hash file Terraform reads."""
    import base64
    import hashlib
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"{service}/__init__.py", date_time=(1980, 1, 1, 0, 0, 0)), "")
    data = buf.getvalue()
    (dist / f"{service}.zip").write_bytes(data)
    (dist / f"{service}.zip.base64sha256").write_text(base64.b64encode(hashlib.sha256(data).digest()).decode())


def planned_changes(plan: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(address, actions) of every resource the plan would change (no-op and read excluded)."""
    return [
        (rc["address"], rc["change"]["actions"])
        for rc in plan.get("resource_changes", [])
        if rc["change"]["actions"] not in (["no-op"], ["read"])
    ]


def planned_resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every managed resource in a plan's planned values (root and child modules), flattened."""
    out: list[dict[str, Any]] = []

    def walk(module: dict[str, Any]) -> None:
        out.extend(r for r in module.get("resources", []) if r.get("mode") == "managed")
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan.get("planned_values", {}).get("root_module", {}))
    return out


@contextlib.contextmanager
def emulator(endpoint: str | None = None) -> Iterator[str]:
    """The given endpoint, or a private moto server (with the project's patches) for the duration."""
    if endpoint:
        yield endpoint
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.local.motoserver", "--host", "127.0.0.1", "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'scripts'}"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the moto server did not start")
        url = json.loads(line)["url"]
        # Keep draining its event channel so the server never blocks on a full pipe.
        import threading

        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cycle(env: str, region: str, endpoint: str | None, dist: Path | None) -> int:
    """Apply, re-plan (must be empty), destroy (must leave nothing), printing the times."""
    with emulator(endpoint) as url, Workspace.create(url, dist=dist) as ws:
        print(f"emulator {url}; workspace {ws.path}")
        ws.init()
        t0 = time.monotonic()
        slowest(ws.apply(env, region))
        applied = len(planned_state(ws, env, region))
        t1 = time.monotonic()
        print(f"apply {env}/{region}: {applied} resources in {t1 - t0:.1f} s")
        changes = planned_changes(ws.plan(env, region))
        t2 = time.monotonic()
        print(f"re-plan: {len(changes)} changes in {t2 - t1:.1f} s")
        for address, actions in changes:
            print(f"  {'/'.join(actions)} {address}")
        slowest(ws.destroy(env, region))
        t3 = time.monotonic()
        left = len(planned_state(ws, env, region))
        print(f"destroy: {left} resources left in state, in {t3 - t2:.1f} s")
        from devtools import wiring

        remaining = {k: v for k, v in wiring.describe(wiring.Clients(url, region)).items() if v}
        print(f"emulator after destroy: {remaining or 'empty'}")
        return 0 if not changes and not left and not remaining else 1


def slowest(output: str, n: int = 5) -> None:
    """Print the n resources that took longest, from terraform's "complete after" lines."""
    import re

    took = []
    for address, spent in re.findall(
        r"^(\S+): (?:Creation|Destruction|Modifications) complete after (\S+)", output, re.M
    ):
        minutes = re.search(r"(\d+)m", spent)
        seconds = re.search(r"(\d+)s", spent)
        took.append(
            ((int(minutes.group(1)) * 60 if minutes else 0) + (int(seconds.group(1)) if seconds else 0), address)
        )
    for seconds, address in sorted(took, reverse=True)[:n]:
        print(f"  {seconds:4d} s  {address}")


def planned_state(ws: Workspace, env: str, region: str) -> list[dict[str, Any]]:
    state = ws.state(env, region)
    return planned_resources({"planned_values": state.get("values") or {}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["plan", "cycle"])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--endpoint", help="a running emulator (default: start a private moto server)")
    parser.add_argument("--dist", type=Path, help="packaged zips to deploy (default: stand-in zips)")
    args = parser.parse_args(argv)
    if not available():
        print("terraform is not installed here", file=sys.stderr)
        return 127
    if args.command == "cycle":
        return cycle(args.env, args.region, args.endpoint, args.dist)
    with emulator(args.endpoint) as url, Workspace.create(url, dist=args.dist) as ws:
        ws.init()
        t0 = time.monotonic()
        plan = ws.plan(args.env, args.region)
        print(f"plan {args.env}/{args.region}: {len(planned_changes(plan))} to change in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
