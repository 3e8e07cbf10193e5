"""What a cold start's INIT imports: each handler module, imported alone in a fresh interpreter with
its function's Lambda environment, leaves the heavy modules to the first invocation.

Budgets are modules, not milliseconds: `make bench-coldstart` measures the time (DECISIONS.md #12).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devtools.manifest import REPO_ROOT, Deployment, load_services

# Module -> why INIT must not import it (and how to keep it out).
DEFERRED = {
    "boto3": "clients and tables are created on first use: shared.lazy.aws_client / dynamodb_table",
    "asyncio": "pulled in by Powertools' batch utility or its AppSync resolvers: see below",
    "aws_lambda_powertools.event_handler.appsync": (
        "Powertools' event_handler/__init__ imports every resolver unless `shared` (its import hook) is "
        "imported first: the service package's __init__ imports it"
    ),
    "aws_lambda_powertools.utilities.parser": "Powertools' batch types import its models if pydantic is loaded first",
    "aws_lambda_powertools.utilities.batch.base": "shared.batch imports Powertools' batch utility on the first batch",
    "aws_lambda_powertools.utilities.idempotency": "shared.idempotency builds its persistence layer on first use",
    "aws_lambda_powertools.utilities.parameters": "import it where the secret is read",
}

FUNCTIONS = [(svc, fn) for svc in load_services() for fn in svc.functions]


def _imported(svc, fn) -> set[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        **Deployment("test", "eu-west-1").function_environment(svc, fn),
        "PYTHONPATH": os.pathsep.join([str(svc.src_dir), str(REPO_ROOT)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    code = (
        "import importlib, json, sys; "
        f"importlib.import_module({fn.handler_module!r}); print(json.dumps([*sys.modules]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.splitlines()[-1]))


@pytest.mark.parametrize(("svc", "fn"), FUNCTIONS, ids=[fn.qualified_name for _, fn in FUNCTIONS])
def test_init_leaves_heavy_modules_to_the_first_invocation(svc, fn):
    imported = _imported(svc, fn)
    found = {
        heavy: why
        for heavy, why in DEFERRED.items()
        if heavy in imported or any(m.startswith(heavy + ".") for m in imported)
    }
    assert not found, f"importing {fn.handler_module} imports " + "; ".join(f"{m} ({why})" for m, why in found.items())
