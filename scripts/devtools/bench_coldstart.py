"""Cold start of every Lambda function, from its package, as Lambda runs it: `make bench-coldstart`.

    python -m devtools.bench_coldstart [--runs 5] [--python 3.12] [--service orders] [--function orders.api]
                                       [--no-bytecode]     # the same packages without their .pyc
    make bench-coldstart BENCH_ARGS="--runs 7"

One sample is one fresh interpreter of the target version (3.12 and 3.13, found by
scripts/find-python; a version not found here is skipped, said so), set up as Lambda's runtime
sets up an execution environment:

- Task root: the service's zip as `devtools.package` builds it, unzipped and made read-only, first on
  sys.path; PYTHONDONTWRITEBYTECODE=1 (Lambda's /var/task is read-only: nothing is compiled to disk).
  The zip is dist/<service>.zip when the manifest's runtime and architecture are this machine's;
  otherwise the same packager builds the service for the target version and this machine's CPU
  into build/bench-coldstart/ (incremental, like `make package`): native wheels must load here.
- boto3/botocore are not in the zip, Lambda's runtime has them, with bytecode: a directory after the
  task root on sys.path (build/bench-coldstart/runtime-pyX.Y: requirements/dev.txt's pins, compiled
  by that interpreter). The interpreter runs with -S: nothing else of this machine is on the path.
- Before the handler, the modules Lambda's bootstrap (awslambdaric) has imported are imported, untimed:
  importlib, json, logging (with its root handler), os, sys, time, traceback, decimal, math.
- Environment: the function's as Terraform sets it (devtools.manifest Deployment.function_environment,
  with the names provisioned below), what Lambda adds (AWS_REGION, AWS_LAMBDA_FUNCTION_NAME, memory,
  log group, AWS_EXECUTION_ENV...), fake credentials, and AWS_ENDPOINT_URL to a moto server started for
  the bench (devtools.local.motoserver) with every service's tables, buckets, queues, secrets and SES
  identities provisioned (devtools.local.provision). No call reaches AWS.

`init` is importing the handler module and looking up the handler (Lambda's INIT phase);
`invoke` is one call, the first of that process, on a representative event (built with the
test kit: devtools.aws_events, devtools.commerce_fixtures), plus marshalling its result.
Events take the function's main path with state in place: before each sample, an already
running helper process of the same package seeds what the event needs (a projected order, a
tokenised card, an upload), through the services' own handlers. What the first call answered
(HTTP status, failed batch records, exception) is printed beside its time: a refusal is
measured the same way as a success, and shown. Every sample uses new ids, so no idempotency
record or ledger entry of an earlier sample shortens it.

The baseline is `import boto3` from the runtime directory in the same kind of process, measured in
the same rounds. Samples are interleaved: a round takes, per target, the baseline then each
function of a service, for every service; --runs rounds; medians. Each phase is timed twice:
wall clock and the process's CPU time. Ratios use CPU time: this 2-core machine is shared, and
wall time also counts the time a process waits for a core, which is not its code's (an import is
CPU work once its files are in the page cache). The last line is the worst ratio of a function's
init to `import boto3`: `ratio N`.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import inspect
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from devtools import aws_events
from devtools.manifest import REPO_ROOT, Deployment, Function, Service, load_services
from devtools.package import DIST_DIR, PIP_ARCH, PackagingError, build_service, find_python

TARGETS = ("3.12", "3.13")
RUNS = 5
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
ENV = "bench"
WORK = REPO_ROOT / "build" / "bench-coldstart"
CONSTRAINTS = REPO_ROOT / "requirements" / "dev.txt"
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower()
)
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench"}
MARK = "@@bench "

# Run in the target interpreter (python -S -c CHILD spec.json). Prints one MARK line per result.
CHILD = r"""
import importlib, json, logging, os, sys, time, traceback, decimal, math  # awslambdaric's own imports
spec = json.load(open(sys.argv[1]))
sys.path[:] = [spec["task"]] + [p for p in sys.path if p not in ("", os.getcwd())] + [spec["runtime"]]
logging.Formatter.converter = time.gmtime  # awslambdaric's _setup_logging: a root handler on stdout
_root = logging.StreamHandler(sys.stdout)
_root.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(message)s\n"))
logging.getLogger().addHandler(_root)

class Identity:
    cognito_identity_id = None
    cognito_identity_pool_id = None

class Context:
    def __init__(self, c):
        self.function_name = c["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = c["arn"]
        self.memory_limit_in_mb = c["memory"]
        self.aws_request_id = c["request_id"]
        self.log_group_name = "/aws/lambda/" + c["function_name"]
        self.log_stream_name = c["log_stream"]
        self.identity = Identity()
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.time() * 1000 + c["timeout"] * 1000
    def get_remaining_time_in_millis(self):
        return int(max(self._deadline - time.time() * 1000, 0))

def outcome(result, error):
    if error is not None:
        return "raised " + type(error).__name__
    if isinstance(result, dict) and "statusCode" in result:
        return "HTTP %s" % result["statusCode"]
    if isinstance(result, dict) and "batchItemFailures" in result:
        failed = len(result["batchItemFailures"])
        return "%d record(s) failed" % failed if failed else "ok"
    return "ok"

def call(handler, event, context):
    result = error = None
    try:
        result = handler(event, context)
        json.dumps(result, default=str)  # the runtime marshals the result
    except Exception as exc:
        error = exc
        traceback.print_exc()
    return result, error

def report(**values):
    sys.stdout.write("\n" + MARK + json.dumps(values, default=str) + "\n")
    sys.stdout.flush()

mode = spec["mode"]
clock, cpu = time.perf_counter, time.process_time
if mode == "boto3":
    t0, c0 = clock(), cpu()
    import boto3
    report(init_ms=(clock() - t0) * 1000, init_cpu_ms=(cpu() - c0) * 1000)
elif mode == "once":
    event = json.load(open(spec["event"]))
    module_name, function_name = spec["handler"].rsplit(".", 1)
    t0, c0 = clock(), cpu()
    handler = getattr(importlib.import_module(module_name), function_name)
    t1, c1 = clock(), cpu()
    result, error = call(handler, event, Context(spec["context"]))
    t2, c2 = clock(), cpu()
    report(init_ms=(t1 - t0) * 1000, init_cpu_ms=(c1 - c0) * 1000, invoke_ms=(t2 - t1) * 1000,
           invoke_cpu_ms=(c2 - c1) * 1000, outcome=outcome(result, error))
else:  # serve: a warm helper that seeds state through the handler (one JSON event a line on stdin)
    module_name, function_name = spec["handler"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    for line in sys.stdin:
        request = json.loads(line)
        result, error = call(handler, request["event"], Context(request["context"]))
        report(result=result, outcome=outcome(result, error))
""".replace("MARK", repr(MARK))


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------- targets, packages, runtime


@dataclasses.dataclass
class Target:
    version: str
    python: str
    runtime_dir: Path
    tasks: dict[str, Path] = dataclasses.field(default_factory=dict)  # service -> unzipped package
    sizes: dict[str, str] = dataclasses.field(default_factory=dict)


def _pins(names: tuple[str, ...]) -> list[str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    missing = [n for n in names if n not in pins]
    if missing:
        raise SystemExit(f"error: {CONSTRAINTS} pins no {', '.join(missing)}")
    return [f"{n}=={pins[n]}" for n in names]


def runtime_dir(version: str, python: str) -> Path:
    """boto3 and its dependencies, as the Lambda runtime has them: with bytecode of that version."""
    pins = _pins(RUNTIME_PACKAGES)
    stamp_text = json.dumps({"pins": pins, "python": python}, sort_keys=True)
    dest = WORK / f"runtime-py{version}"
    stamp = dest / ".bench-stamp"
    if stamp.is_file() and stamp.read_text() == stamp_text:
        return dest
    if dest.exists():
        subprocess.run(["rm", "-rf", str(dest)], check=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(dest),
           "--no-deps", "--only-binary=:all:", "--no-compile", "--implementation", "cp", "--python-version", version,
           *pins]  # fmt: skip
    for step in (cmd, [python, "-m", "compileall", "-q", "-j", "0", str(dest)]):
        proc = subprocess.run(step, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"error: {' '.join(step[:4])}...: {(proc.stdout + proc.stderr).strip()[-1500:]}")
    stamp.write_text(stamp_text)
    return dest


def _variant(svc: Service, version: str) -> tuple[Service, Path]:
    """The service as Lambda would package it for this target, built for this machine's CPU."""
    runtime = f"python{version}"
    if (svc.runtime, svc.architecture) == (runtime, HOST_ARCH):
        return svc, DIST_DIR  # exactly what `make package` ships
    fns = tuple(dataclasses.replace(fn, runtime=runtime, architecture=HOST_ARCH) for fn in svc.functions)
    return dataclasses.replace(svc, functions=fns), WORK / f"dist-{runtime}-{HOST_ARCH}"


def _unzip_read_only(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    for path in sorted(dest.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    dest.chmod(0o555)
    return dest


def prepare_targets(services: list[Service], versions: list[str], tmp: Path, bytecode: bool) -> list[Target]:
    targets = []
    for version in versions:
        python = find_python(version)
        if python is None:
            print(f"python{version}: not found here (scripts/find-python {version}): skipped")
            continue
        target = Target(version, python, runtime_dir(version, python))
        for svc in services:
            variant, dist = _variant(svc, version)
            if not bytecode:
                dist = WORK / f"{dist.name}-no-bytecode"
            try:
                result = build_service(variant, dist, bytecode=bytecode)
            except PackagingError as exc:
                raise SystemExit(f"error: {exc}") from None
            where = "dist/" if dist == DIST_DIR else f"{dist.relative_to(REPO_ROOT)}/"
            print(f"  python{version} {where}{result.line()}", flush=True)
            target.sizes[svc.name] = f"{result.zip_bytes / 1e6:.1f}/{result.unzipped_bytes / 1e6:.1f} MB"
            target.tasks[svc.name] = _unzip_read_only(result.zip_path, tmp / f"task-py{version}-{svc.name}")
        targets.append(target)
    return targets


# --------------------------------------------------------------------------- moto


class Clients:
    def __init__(self, endpoint: str) -> None:
        self._session = boto3.session.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION
        )
        self._endpoint = endpoint
        self._clients: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._clients:
            self._clients[name] = self._session.client(name, endpoint_url=self._endpoint)
        return self._clients[name]


class MotoServer:
    def __init__(self, log: Path) -> None:
        env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'scripts'}"}
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.local.motoserver", "--host", "127.0.0.1", "--port", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )  # fmt: skip  (it exits when its stdin closes: with us)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if not first:
            raise SystemExit(f"error: the moto server did not start (see {log})")
        self.url = json.loads(first)["url"]
        # It then prints one line per published event: keep reading, so it never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


# --------------------------------------------------------------------------- processes


def _lambda_environment(target: Target, wiring: Any, endpoint: str) -> dict[str, str]:
    fn: Function = wiring.function
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(target.tasks[wiring.service.name]),
        "LAMBDA_RUNTIME_DIR": str(target.runtime_dir),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{target.version}",
        "AWS_LAMBDA_FUNCTION_NAME": wiring.physical_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{wiring.physical_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": aws_events.log_stream_name(),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "PYTHONDONTWRITEBYTECODE": "1",
        **FAKE_CREDENTIALS,
        **wiring.environment,
    }


def _context(wiring: Any) -> dict[str, Any]:
    return {
        "function_name": wiring.physical_name,
        "arn": wiring.arn,
        "memory": str(wiring.function.memory),
        "timeout": wiring.function.timeout,
        "request_id": str(uuid.uuid4()),
        "log_stream": aws_events.log_stream_name(),
    }


def _read_mark(stream: io.TextIOBase, what: str) -> dict[str, Any]:
    for line in stream:
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise RuntimeError(f"{what}: the process ended without a result")


class Helper:
    """A warm process of one function that seeds state through its handler."""

    def __init__(self, target: Target, wiring: Any, endpoint: str, tmp: Path) -> None:
        self.wiring = wiring
        spec = tmp / f"helper-{wiring.qualified_name}.json"
        spec.write_text(
            json.dumps(
                {
                    "mode": "serve",
                    "task": str(target.tasks[wiring.service.name]),
                    "runtime": str(target.runtime_dir),
                    "handler": wiring.function.handler,
                }
            )
        )
        self._stderr = (tmp / f"helper-{wiring.qualified_name}.log").open("w")
        self.proc = subprocess.Popen(
            [target.python, "-S", "-c", CHILD, str(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, text=True, env=_lambda_environment(target, wiring, endpoint),
            cwd=target.tasks[wiring.service.name],
        )  # fmt: skip

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"event": event, "context": _context(self.wiring)}) + "\n")
        self.proc.stdin.flush()
        return _read_mark(self.proc.stdout, f"helper {self.wiring.qualified_name}")

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._stderr.close()


def measure_once(target: Target, wiring: Any, event: dict[str, Any], endpoint: str, tmp: Path) -> dict[str, Any]:
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(event))
    spec = tmp / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "mode": "once",
                "task": str(target.tasks[wiring.service.name]),
                "runtime": str(target.runtime_dir),
                "handler": wiring.function.handler,
                "event": str(event_path),
                "context": _context(wiring),
            }
        )
    )
    return _run_child(target, spec, _lambda_environment(target, wiring, endpoint), target.tasks[wiring.service.name])


def measure_boto3(target: Target, tmp: Path) -> dict[str, Any]:
    spec = tmp / "spec-boto3.json"
    empty = tmp / "empty-task-root"
    empty.mkdir(exist_ok=True)
    spec.write_text(json.dumps({"mode": "boto3", "task": str(empty), "runtime": str(target.runtime_dir)}))
    env = {"PATH": "/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC", "PYTHONDONTWRITEBYTECODE": "1",
           "AWS_REGION": REGION, **FAKE_CREDENTIALS}  # fmt: skip
    return _run_child(target, spec, env, empty)


def _run_child(target: Target, spec: Path, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [target.python, "-S", "-c", CHILD, str(spec)], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"exit {proc.returncode}: {tail}")


# --------------------------------------------------------------------------- events


def _jpeg(width: int = 1600, height: int = 1200) -> bytes:
    """A photo-like JPEG (gradients and noise) for the thumbnails function."""
    from PIL import Image

    image = Image.radial_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    out = io.BytesIO()
    Image.blend(image, noise, 0.3).save(out, "JPEG", quality=85)
    return out.getvalue()


class Scenarios:
    """A representative event per function, with the state its main path needs seeded first."""

    SKU = "BENCH-MUG"

    def __init__(self, services: list[Service], topology: Any, helper: Callable[[str], Helper], clients: Clients):
        self.services = {s.name: s for s in services}
        self.topology = topology
        self.helper = helper
        self.clients = clients
        self.counter = 0
        self.sub = str(uuid.uuid4())  # the signed-in customer (a JWT's `sub`): owns the orders and cards
        self._photo: bytes | None = None
        self._stream_iterators: dict[str, str] = {}

    # ------------------------------------------------------------------ helpers

    def _new(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{uuid.uuid4().hex[:10]}"

    def _http(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        route: str | None = None,
    ) -> dict[str, Any]:
        """An HTTP API request; signed in (a JWT authorizer's claims: a staff user) unless it is a webhook."""
        text = None if body is None else (body if isinstance(body, (str, bytes)) else json.dumps(body))
        hdrs = {"content-type": "application/json", **(headers or {})} if text is not None else dict(headers or {})
        signed_in: dict[str, Any] = {}
        if not path.startswith("/webhooks/") and "claims" in inspect.signature(aws_events.api_gateway_http).parameters:
            claims = {"sub": self.sub, "token_use": "access", "username": "bench", "client_id": "bench",
                      "cognito:groups": ["staff"], "scope": "eda/staff"}  # fmt: skip
            signed_in = {"claims": claims, "scopes": ["eda/staff"]}
        return aws_events.api_gateway_http(method, path, body=text, headers=hdrs, route_key=route, region=REGION,
                                           **signed_in)  # fmt: skip

    def _queue_event(self, fn: str, body: Any) -> dict[str, Any]:
        wiring = self.topology.functions[fn]
        return aws_events.sqs_event(aws_events.sqs_record(body, queue_arn=wiring.queue_arn or ""))

    def _bus(self, fn: str, payload: Any) -> dict[str, Any]:
        from devtools import commerce_fixtures as commerce

        return self._queue_event(fn, commerce.bus_event(payload, region=REGION))

    def _seed(self, fn: str, event: dict[str, Any]) -> dict[str, Any]:
        answer = self.helper(fn).invoke(event)
        if answer["outcome"] not in ("ok", "HTTP 200", "HTTP 201", "HTTP 202"):
            raise RuntimeError(f"seeding through {fn} failed: {answer['outcome']}")
        return answer

    def _order(self, pm: str = "pm_bench0001"):
        from devtools import commerce_fixtures as commerce

        return commerce.order_placed(
            self._new("ord_"), [(self.SKU, 1, "12.50")], payment_method_id=pm, customer_id=self.sub
        )

    def _order_body(self, pm: str = "pm_bench0001") -> dict[str, Any]:
        return {
            "customer": {"email": f"{self._new('c')}@customer.example", "name": "Jonas Becker", "locale": "de-DE",
                         "time_zone": "Europe/Berlin", "region": "eu-central-1"},
            "currency": "EUR",
            "lines": [{"sku": self.SKU, "quantity": 1}],
            "shipping_address": {"name": "Jonas Becker", "line1": "Hauptstr. 1", "city": "Berlin",
                                 "postal_code": "10115", "country": "DE"},
            "payment_method_id": pm,
        }  # fmt: skip

    def _place_order(self) -> str:
        event = self._http("POST", "/orders", self._order_body(), {"idempotency-key": str(uuid.uuid4())})
        return json.loads(self._seed("orders.api", event)["result"]["body"])["order_id"]

    def _stream_record(self, table: str, order_id: str) -> dict[str, Any]:
        """The newest INSERT of the order in the table's stream, as Lambda passes it."""
        c = self.clients
        arn = c.dynamodb.describe_table(TableName=self.topology.tables[table])["Table"]["LatestStreamArn"]
        iterator = self._stream_iterators.get(table)
        if iterator is None:
            shard = c.dynamodbstreams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            iterator = c.dynamodbstreams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        found = None
        while True:
            response = c.dynamodbstreams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = response.get("NextShardIterator") or iterator
            for raw in response.get("Records", []):
                if raw["eventName"] == "INSERT" and order_id in json.dumps(raw["dynamodb"].get("Keys"), default=str):
                    found = raw
            if not response.get("Records"):
                break
        self._stream_iterators[table] = iterator
        if found is None:
            raise RuntimeError(f"no stream record of {order_id} in {table}")
        return aws_events.dynamodb_stream_record_from_api(found, arn, REGION)

    # ------------------------------------------------------------------ once

    def seed_once(self) -> None:
        """Rates, one SKU with plenty of stock and its listings: what every order needs."""
        from devtools import commerce_fixtures as commerce

        rates = {"rates": {"USD": "1.0850", "GBP": "0.8500", "JPY": "161.20"}}
        self._seed("inventory.api", self._http("PUT", "/rates/EUR", rates, route="PUT /rates/{base}"))
        stock = {"name": "Bench mug", "quantity": 9_000_000, "base_price": {"amount": "12.50", "currency": "EUR"}}
        path = f"/inventory/{self.SKU}"
        self._seed("inventory.api", self._http("PUT", path, stock, route="PUT /inventory/{sku}"))
        level = commerce.inventory_level_changed(
            self.SKU, available=9_000_000, reserved=0, change=9_000_000, reason="restocked", stock_version=None,
            low_stock_threshold=None,
        )  # fmt: skip
        self._seed("inventory.listings", self._bus("inventory.listings", level))

    # ------------------------------------------------------------------ per sample

    def event(self, fn: str) -> dict[str, Any]:
        builder = getattr(self, "_" + fn.replace(".", "__"), None)
        if builder is not None:
            return builder()
        return self._generic(self.topology.functions[fn].function)

    def _generic(self, fn: Function) -> dict[str, Any]:
        """A function without a scenario here: its first trigger, with a minimal event."""
        trigger = fn.trigger
        if trigger.type == "http":
            method, path = trigger.routes[0]
            return self._http(method, path.replace("{", "").replace("}", ""))
        if trigger.type == "schedule":
            return aws_events.scheduled_event(self.topology.functions[fn.qualified_name].schedule_arn or "", ACCOUNT)
        if trigger.type == "eventbridge":
            source, detail_type = trigger.events[0]
            return self._queue_event(fn.qualified_name, aws_events.eventbridge_event(source, detail_type, {}))
        return self._queue_event(fn.qualified_name, {"Records": []})

    def _inventory__api(self) -> dict[str, Any]:
        stock = {"name": "Bench lamp", "quantity": 5, "base_price": {"amount": "89.90", "currency": "EUR"}}
        path = f"/inventory/{self._new('BENCH-').upper()}"
        return self._http("PUT", path, stock, route="PUT /inventory/{sku}")

    def _inventory__listings(self) -> dict[str, Any]:
        from devtools import commerce_fixtures as commerce

        level = commerce.inventory_level_changed(self.SKU, available=9_000_000, reserved=0, change=-1,
                                                 stock_version=1_000 + self.counter, low_stock_threshold=0)  # fmt: skip
        self.counter += 1
        return self._bus("inventory.listings", level)

    def _inventory__reservations(self) -> dict[str, Any]:
        return self._bus("inventory.reservations", self._order())

    def _notifications__alert_operations(self) -> dict[str, Any]:
        from devtools import commerce_fixtures as commerce

        return self._bus("notifications.alert_operations", commerce.low_stock_detected(self.SKU))

    def _notifications__project_orders(self) -> dict[str, Any]:
        return self._bus("notifications.project_orders", self._order())

    def _notifications__send_confirmation(self) -> dict[str, Any]:
        from devtools import commerce_fixtures as commerce

        order = self._order()
        self._seed("notifications.project_orders", self._bus("notifications.project_orders", order))
        return self._bus("notifications.send_confirmation", commerce.payment_succeeded(order))

    def _orders__api(self) -> dict[str, Any]:
        headers = {"idempotency-key": str(uuid.uuid4())}
        return self._http("POST", "/orders", self._order_body(), headers, route="POST /orders")

    def _orders__process(self) -> dict[str, Any]:
        from devtools import commerce_fixtures as commerce

        order_id = self._place_order()
        failed = commerce.stock_reservation_failed(order_id, [(self.SKU, 1, 0)])
        return self._bus("orders.process", failed)

    def _orders__projection(self) -> dict[str, Any]:
        return {"Records": [self._stream_record("orders:events", self._place_order())]}

    def _orders__relay(self) -> dict[str, Any]:
        return {"Records": [self._stream_record("orders:events", self._place_order())]}

    def _payments__api(self) -> dict[str, Any]:
        card = {"card_number": "4242424242424242", "expiry_month": 12, "expiry_year": 2031, "cvc": "123"}
        return self._http("POST", "/payment-methods", card, route="POST /payment-methods")

    def _payments__process(self) -> dict[str, Any]:
        from devtools import commerce_fixtures as commerce

        tokenised = self._seed("payments.api", self._payments__api())
        order = self._order(json.loads(tokenised["result"]["body"])["payment_method_id"])
        self._seed("payments.process", self._bus("payments.process", order))
        return self._bus("payments.process", commerce.stock_reserved(order))

    def _shipping__carrier_deliveries(self) -> dict[str, Any]:
        wiring = self.topology.functions["shipping.carrier_deliveries"]
        return aws_events.scheduled_event(wiring.schedule_arn or "", ACCOUNT, REGION)

    def _shipping__carrier_handover(self) -> dict[str, Any]:
        from devtools import commerce_fixtures as commerce

        order = self._order()
        self._seed("shipping.project_orders", self._bus("shipping.project_orders", order))
        self._seed(
            "shipping.request_shipment", self._bus("shipping.request_shipment", commerce.payment_succeeded(order))
        )
        return self._bus("shipping.carrier_handover", commerce.shipment_requested(order))

    def _shipping__project_orders(self) -> dict[str, Any]:
        return self._bus("shipping.project_orders", self._order())

    def _shipping__request_shipment(self) -> dict[str, Any]:
        from devtools import commerce_fixtures as commerce

        order = self._order()
        self._seed("shipping.project_orders", self._bus("shipping.project_orders", order))
        return self._bus("shipping.request_shipment", commerce.payment_succeeded(order))

    def _thumbnails__create(self) -> dict[str, Any]:
        if self._photo is None:
            self._photo = _jpeg()
        bucket = self.topology.buckets["thumbnails:uploads"]
        key = f"uploads/{self._new('photo-')}.jpg"
        put = self.clients.s3.put_object(Bucket=bucket, Key=key, Body=self._photo, ContentType="image/jpeg")
        notification = aws_events.s3_object_created(
            bucket, key, size=len(self._photo), etag=put["ETag"].strip('"'), version_id=put.get("VersionId")
        )
        return self._queue_event("thumbnails.create", notification)

    def _webhooks__receive(self) -> dict[str, Any]:
        secret = self.services["webhooks"].secrets["github-webhook"]["local_value"]
        body = json.dumps({"ref": "refs/heads/main", "commits": [{"id": "a1"}, {"id": "b2"}],
                           "repository": {"full_name": "acme/shop"}, "sender": {"login": "octocat"}})  # fmt: skip
        signature = "sha256=" + hmac_sha256(secret.encode(), body.encode())
        headers = {"x-github-event": "push", "x-github-delivery": str(uuid.uuid4()), "x-hub-signature-256": signature}
        return self._http("POST", "/webhooks/github", body, headers, route="POST /webhooks/github")

    def _webhooks__record_delivery(self) -> dict[str, Any]:
        from datetime import UTC, datetime

        from shared.events.webhooks import WebhookReceived

        data = WebhookReceived(provider="github", delivery_id=str(uuid.uuid4()), event_type="push",
                               received_at=datetime.now(UTC), repository="acme/shop", sender="octocat",
                               summary="push to main: 2 commits")  # fmt: skip
        return self._bus("webhooks.record_delivery", data)


def hmac_sha256(key: bytes, data: bytes) -> str:
    import hmac

    return hmac.new(key, data, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- report


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(_row(header, widths))
    for row in rows:
        print(_row(row, widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_coldstart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"rounds (default {RUNS}); medians are printed")
    parser.add_argument("--python", action="append", choices=TARGETS, help="target version (default: all found)")
    parser.add_argument("--service", action="append", help="only these services")
    parser.add_argument("--function", action="append", help="only these functions (service.function)")
    parser.add_argument("--no-bytecode", action="store_true", help="packages without .pyc (what they cost)")
    args = parser.parse_args(argv)
    if HOST_ARCH not in PIP_ARCH:
        print(f"error: no Lambda architecture for this CPU ({platform.machine()})", file=sys.stderr)
        return 2
    started = time.monotonic()
    all_services = load_services()
    services = [s for s in all_services if not args.service or s.name in args.service]
    functions = [
        fn.qualified_name
        for s in services
        for fn in s.functions
        if not args.function or fn.qualified_name in args.function
    ]
    WORK.mkdir(parents=True, exist_ok=True)
    helpers: dict[str, Helper] = {}
    moto: MotoServer | None = None
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (version, function or "boto3") -> samples
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            bytecode = "without .pyc" if args.no_bytecode else "with .pyc"
            print(f"Packages (devtools.package, {bytecode}, for {HOST_ARCH} so they load here):", flush=True)
            targets = prepare_targets(all_services, args.python or list(TARGETS), tmp, not args.no_bytecode)
            if not targets:
                print("error: no target Python found", file=sys.stderr)
                return 2
            moto = MotoServer(tmp / "moto.log")
            from devtools.local.provision import Provisioner

            clients = Clients(moto.url)
            # complete=False: no functions or event source mappings in moto (moto would consume the streams).
            provisioner = Provisioner(clients, Deployment(ENV, REGION, ACCOUNT), tap=False, complete=False)
            topology = provisioner.provision(all_services)

            def helper(fn: str) -> Helper:
                if fn not in helpers:
                    helpers[fn] = Helper(targets[0], topology.functions[fn], moto.url, tmp)
                return helpers[fn]

            scenarios = Scenarios(all_services, topology, helper, clients)
            scenarios.seed_once()
            print(
                f"\nMeasuring {len(functions)} function(s) on python {', '.join(t.version for t in targets)}: "
                f"{args.runs} interleaved rounds, a fresh process per sample (moto at {moto.url})",
                flush=True,
            )
            for round_ in range(args.runs):
                for target in targets:
                    for svc in services:
                        samples.setdefault((target.version, "boto3"), []).append(measure_boto3(target, tmp))
                        for fn in svc.functions:
                            if fn.qualified_name not in functions:
                                continue
                            event = scenarios.event(fn.qualified_name)
                            sample = measure_once(target, topology.functions[fn.qualified_name], event, moto.url, tmp)
                            samples.setdefault((target.version, fn.qualified_name), []).append(sample)
                print(f"  round {round_ + 1}/{args.runs} done ({time.monotonic() - started:.0f} s)", flush=True)
        finally:
            for h in helpers.values():
                h.stop()
            if moto is not None:
                moto.stop()
            for path in tmp.rglob("*"):  # read-only trees must be writable to be removed
                if path.is_dir():
                    path.chmod(0o755)
    worst = report(targets, functions, samples)
    print(f"\n(bench took {time.monotonic() - started:.0f} s; {platform.machine()}, {args.runs} rounds, {bytecode})")
    print(f"worst: {worst[1]}")
    print(f"ratio {worst[0]:.2f}")
    return 0


def report(targets: list[Target], functions: list[str], samples: dict) -> tuple[float, str]:
    """Per target: a row per function (medians); returns the worst init ratio and where."""

    def med(key: tuple[str, str], field: str) -> float:
        return _median([s[field] for s in samples[key]])

    worst = (0.0, "")
    for target in targets:
        base_key = (target.version, "boto3")
        boto3_cpu = med(base_key, "init_cpu_ms")
        print(
            f"\npython{target.version} ({target.python}): import boto3 {med(base_key, 'init_ms'):.0f} ms, "
            f"CPU {boto3_cpu:.0f} ms (median of {len(samples[base_key])}, precompiled)"
        )
        rows = []
        for name in functions:
            key = (target.version, name)
            ratio = med(key, "init_cpu_ms") / boto3_cpu
            worst = max(worst, (ratio, f"{name} on python{target.version}"))
            answered = sorted({s["outcome"] for s in samples[key]})
            both = _median([s["init_cpu_ms"] + s["invoke_cpu_ms"] for s in samples[key]])
            rows.append([
                name, f"{med(key, 'init_ms'):.0f}", f"{med(key, 'init_cpu_ms'):.0f}", f"{ratio:.2f}x",
                f"{med(key, 'invoke_ms'):.0f}", f"{med(key, 'invoke_cpu_ms'):.0f}", f"{both:.0f}", ", ".join(answered),
            ])  # fmt: skip
        header = ["function", "init ms", "CPU ms", "/ boto3", "1st call ms", "CPU ms", "both CPU", "1st call answered"]
        print_table(rows, header)
        print("zip/unzipped: " + ", ".join(f"{s} {size}" for s, size in target.sizes.items()))
    print(
        "\n/ boto3: the init's CPU time over `import boto3`'s in the same rounds (CPU time: this machine is"
        "\nshared, and waiting for a core is not the code's cost). 1st call: wall time includes moto's answers."
        "\nboth CPU: init + first call, what a cold request costs the function (work moved out of INIT shows here)."
    )
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
