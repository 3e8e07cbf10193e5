"""The local runtime: moto + provisioning + functions + event sources + HTTP gateway + control API.

    from devtools.local.runtime import Runtime, RuntimeConfig

    with Runtime(RuntimeConfig(state_dir=tmp)) as rt:
        event_id = rt.publish("orders", "OrderPlaced", {"metadata": {...}, "data": {...}})
        rt.wait_for(lambda j: ..., timeout=10)
        print(rt.trace(event_id))

Everything it starts (the moto process, the functions' worker processes, threads, servers) is
stopped by `stop()`; `state_dir/runtime.json` tells other processes (the CLI) where it listens.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from devtools import manifest as mf
from devtools.local import events
from devtools.local.control import ControlServer
from devtools.local.functions import FunctionHost, FunctionSpec, Invocation
from devtools.local.gateway import Gateway
from devtools.local.journal import Journal, RecordOutcome
from devtools.local.provision import CLIENTS as PROVISION_CLIENTS
from devtools.local.provision import Provisioner, Topology
from devtools.local.schedules import ScheduleClock
from devtools.local.sources import Faults, ScheduleSource, SqsSource, StreamSource
from devtools.local.state import DEFAULT_SNAPSHOT_SECONDS, IdempotentClients, RuntimeState, snapshot_path

STATE_FILE = "runtime.json"
# Execution environments per function at most, whatever the manifest allows (2 cores here).
DEFAULT_MAX_WORKERS = 4
# motoserver.py's server, with the patches provisioning needs (provision.apply_moto_patches: moto keeps
# the event source mappings as records and never runs a function; the runtime's pollers do).
MOTO_SERVER = (
    "import sys; from devtools.local.provision import apply_moto_patches; apply_moto_patches(); "
    "from devtools.local.motoserver import main; main(sys.argv[1:])"
)
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@dataclass
class RuntimeConfig:
    services_roots: list[Path] = field(default_factory=lambda: [mf.SERVICES_DIR])
    env: str = "local"
    region: str = "eu-west-1"
    account_id: str = "123456789012"  # moto's default account: ARNs agree with what moto returns
    host: str = "127.0.0.1"
    moto_port: int = 0  # 0 = any free port
    gateway_port: int = 0
    control_port: int = 0
    state_dir: Path = mf.REPO_ROOT / ".local"
    # Seconds after which a failed SQS record is visible again. None = the queue's own visibility
    # timeout (6 x function timeout, as on AWS); a small value makes retries quick locally.
    retry_after: float | None = None
    poll_wait_seconds: int = 1  # long-poll wait of the pollers (AWS uses 20; short = quick shutdown)
    faults: Faults = field(default_factory=Faults)
    max_workers: int = DEFAULT_MAX_WORKERS  # runtime-wide cap on each function's concurrency
    schedule_speed: float = 1.0  # 60 = a minute of schedule time passes in a second
    # Persistence (state.py): start empty instead of bringing back what the last run left in
    # state_dir; save the state every `snapshot_seconds` (0: only when stopping) and on stop.
    fresh: bool = False
    snapshot_seconds: float = DEFAULT_SNAPSHOT_SECONDS
    persist: bool = False  # True (`up`): the state is saved in state_dir and brought back on the next start
    # {"service.function": {"NAME": "value"}}: environment variables set over the manifest's, as
    # `aws lambda update-function-configuration` would (e.g. the carrier's transit time).
    function_environment: dict[str, dict[str, str]] = field(default_factory=dict)


def concurrency_limit(fn: mf.Function, max_workers: int = DEFAULT_MAX_WORKERS) -> int:
    """How many execution environments a function may run at once, as on AWS, capped locally.

    reserved_concurrency caps the function; an SQS trigger's maximum_concurrency caps how many
    the event source mapping invokes at once; without either the function may scale to the
    account's (unreserved) limit, here `max_workers`.
    """
    limits = [max_workers, fn.reserved_concurrency, fn.trigger.maximum_concurrency]
    return max(1, min(int(x) for x in limits if x))


def load_all_services(roots: list[Path]) -> list[mf.Service]:
    services: list[mf.Service] = []
    for root in roots:
        services.extend(mf.load_manifest(p) for p in sorted(Path(root).resolve().glob("*/service.yaml")))
    mf.check_cross_service(services)
    return services


class Clients:
    """boto3 clients against the moto server, created lazily (one per service name per thread)."""

    def __init__(self, endpoint: str, region: str) -> None:  # endpoint may be set later, before a first client
        self._session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        self.endpoint = endpoint
        self._config = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=20)
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def new(self, name: str) -> Any:
        with self._lock:  # boto3 sessions are not thread safe while creating clients
            return self._session.client(name, endpoint_url=self.endpoint, config=self._config)

    def warm(self, names: tuple[str, ...]) -> None:
        """Load these services' models into the session (a first client costs ~25 ms, later ones ~3 ms)."""
        with self._lock:
            for name in names:
                self._session.client(name, endpoint_url="http://127.0.0.1:9", config=self._config)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._clients:
            self._clients[name] = self.new(name)
        return self._clients[name]


class Runtime:
    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self.config = config or RuntimeConfig()
        self.deployment = mf.Deployment(self.config.env, self.config.region, self.config.account_id)
        self.journal = Journal()
        self.faults = self.config.faults
        self.stopping = threading.Event()
        self.hosts: dict[str, FunctionHost] = {}
        self.services: list[mf.Service] = []
        self.topology: Topology
        self.moto_url = ""
        self._moto: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self.gateway: Gateway | None = None
        self.control: ControlServer | None = None
        self.started_at = 0.0
        self.schedule_clock = ScheduleClock(self.config.schedule_speed)
        self.state: RuntimeState | None = None  # persistence (config.persist)
        self.restored = ""  # what a restart brought back, in words ("" when it started empty)
        self.restore_stats: dict[str, Any] = {}  # moto's figures for the restore
        self.final_snapshot: dict[str, Any] = {}  # figures of the snapshot taken by stop()

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, name: str) -> Any:
        return self.clients.new(name)

    def start(self) -> Runtime:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        cfg = self.config
        t0 = time.perf_counter()
        cfg.state_dir = Path(cfg.state_dir).resolve()
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        restoring = False
        if cfg.persist:
            self.state = RuntimeState(self)
            if cfg.fresh:
                self.state.discard()
            restoring = self.state.load()  # the journal and stream checkpoints; moto reads its own part
        self._spawn_moto()  # boots (and restores) while the manifests and the boto3 models load
        self.services = load_all_services(cfg.services_roots)
        self.clients = Clients("", cfg.region)
        self.clients.warm((*PROVISION_CLIENTS, "dynamodbstreams"))
        self._wait_for_moto()
        self.clients.endpoint = self.moto_url
        # Over restored resources, provisioning keeps what exists and creates what the manifests added.
        clients = IdempotentClients(self.clients) if restoring else self.clients
        self.topology = Provisioner(clients, self.deployment, tap=False).provision(self.services)
        self._override_environment()
        layer = self._layer()
        base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_REGION": cfg.region,
            "AWS_DEFAULT_REGION": cfg.region,
            # X-Ray is not emulated: Powertools Tracer would look for a daemon and a trace header.
            "POWERTOOLS_TRACE_DISABLED": "true",
            **FAKE_CREDENTIALS,
        }
        for name, wiring in self.topology.functions.items():
            fn = wiring.function
            spec = FunctionSpec(
                qualified_name=name,
                physical_name=wiring.physical_name,
                arn=wiring.arn,
                handler=fn.handler,
                path=(str(wiring.service.src_dir), str(layer)),
                environment=wiring.environment,
                memory=fn.memory,
                timeout=fn.timeout,
                trigger_type=fn.trigger.type,
                concurrency=concurrency_limit(fn, cfg.max_workers),
            )
            self.hosts[name] = FunctionHost(spec, cfg.state_dir / "logs", base_env)
        for name, wiring in self.topology.functions.items():
            kind = wiring.function.trigger.type
            source_cls = {"dynamodb_stream": StreamSource, "schedule": ScheduleSource}.get(
                kind, SqsSource if wiring.function.trigger.uses_queue else None
            )
            if source_cls:
                source = source_cls(self, wiring, self.hosts[name])
                if self.state is not None and isinstance(source, StreamSource):
                    source.resume = dict(self.state.checkpoints.get(name, {}))
                self._threads.append(source)
        self.schedule_clock = ScheduleClock(cfg.schedule_speed)
        for thread in self._threads:
            thread.start()
        self.gateway = Gateway(self, cfg.host, cfg.gateway_port)
        self.gateway.start()
        self.control = ControlServer(self, cfg.host, cfg.control_port)
        self.control.start()
        self.started_at = time.time()
        if restoring:
            self.restored = self._describe_restore()
        if self.state is not None:
            self.state.start(cfg.snapshot_seconds)
        self.startup_ms = (time.perf_counter() - t0) * 1000
        (cfg.state_dir / STATE_FILE).write_text(json.dumps(self.endpoints(), indent=2))

    def _describe_restore(self) -> str:
        stats = self.restore_stats
        resumed = sum(1 for t in self._threads if getattr(t, "resume", None))
        return (
            f"restored {snapshot_path(self.config.state_dir)} ({stats.get('bytes', 0) / 2**20:.1f} MiB in "
            f"{stats.get('seconds', 0):.2f} s): {len(self.topology.tables)} tables, {len(self.topology.buckets)} "
            f"buckets, {stats.get('in_flight', 0)} SQS messages in flight made visible again, {resumed} stream "
            f"mapping(s) resumed from their checkpoint, {len(self.journal.invocations)} journal entries"
        )

    def _override_environment(self) -> None:
        """`function_environment` over the manifests' variables, in moto's function configuration too."""
        for name, variables in self.config.function_environment.items():
            wiring = self.topology.function(name)
            wiring.environment.update(variables)
            with contextlib.suppress(Exception):  # moto knows the function only when provisioned complete
                getattr(self.clients, "lambda").update_function_configuration(
                    FunctionName=wiring.physical_name, Environment={"Variables": wiring.environment}
                )

    def _layer(self) -> Path:
        """A folder holding only `shared` (like the zip's top level): functions see nothing else of the repo."""
        layer = self.config.state_dir / "layer"
        layer.mkdir(parents=True, exist_ok=True)
        link = layer / "shared"
        target = mf.REPO_ROOT / "shared"
        if target.is_dir() and not link.exists():
            with contextlib.suppress(FileExistsError):
                link.symlink_to(target, target_is_directory=True)
        return layer

    def _spawn_moto(self) -> None:
        env = dict(os.environ)
        scripts = str(mf.REPO_ROOT / "scripts")
        env["PYTHONPATH"] = os.pathsep.join([str(mf.REPO_ROOT), scripts])
        persistence = []
        if self.state is not None:
            persistence = ["--state-file", str(self.state.path)]
            if self.config.retry_after is not None:
                persistence += ["--visible-within", str(self.config.retry_after)]
        self._moto = subprocess.Popen(
            [
                sys.executable,
                "-c",
                MOTO_SERVER,
                "--host",
                self.config.host,
                "--port",
                str(self.config.moto_port),
                *persistence,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )

    def _wait_for_moto(self) -> None:
        assert self._moto is not None and self._moto.stdout is not None
        line = self._moto.stdout.readline()
        if not line:
            raise RuntimeError(f"moto server did not start (exit code {self._moto.wait()})")
        ready = json.loads(line)
        self.moto_url = ready["url"]
        self.restore_stats = ready.get("restored", {})
        # Started now: provisioning may already publish (S3 -> EventBridge), the journal must see it.
        threading.Thread(target=self._read_moto, args=(self._moto.stdout,), name="moto-events", daemon=True).start()

    def _read_moto(self, stream: Any) -> None:
        """Every event EventBridge accepted, as moto reports it (see motoserver.py), into the journal."""
        try:
            for line in stream:
                message = json.loads(line)
                if "published" in message:
                    self.journal.add_publish(message["published"], message["at"])
        except (ValueError, OSError):  # closed at shutdown
            pass

    def stop(self) -> None:
        self.stopping.set()
        for server in (self.gateway, self.control):
            if server is not None:
                server.stop()
        if self.state is not None:
            self.state.stop()  # no periodic snapshot from here on
        for host in self.hosts.values():
            host.stop()
        if self.state is not None and self._moto is not None and self._moto.poll() is None and self.moto_url:
            # The pollers first (their checkpoints are final once they stopped), then the last snapshot.
            for thread in self._threads:
                thread.join(timeout=self.config.poll_wait_seconds + 2)
            try:
                self.final_snapshot = self.state.snapshot(final=True)
            except Exception as exc:  # moto saves at its exit anyway (with the previous checkpoints)
                print(f"final state snapshot failed: {exc}", file=sys.stderr)
        if self._moto is not None:
            if self._moto.poll() is None:
                self._moto.terminate()
                try:
                    self._moto.wait(5)
                except subprocess.TimeoutExpired:
                    self._moto.kill()
                    self._moto.wait()
            for stream in (self._moto.stdin, self._moto.stdout):
                if stream is not None:
                    stream.close()
            self._moto = None
        for thread in self._threads:
            thread.join(timeout=self.config.poll_wait_seconds + 2)
        state = self.config.state_dir / STATE_FILE
        if state.exists():
            try:
                if json.loads(state.read_text()).get("pid") == os.getpid():
                    state.unlink()
            except (ValueError, OSError):
                pass

    def child_pids(self) -> list[int]:
        pids = [pid for h in self.hosts.values() for pid in h.pids]
        if self._moto is not None and self._moto.poll() is None:
            pids.append(self._moto.pid)
        return pids

    # ------------------------------------------------------------------ info

    def endpoints(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "moto": self.moto_url,
            "gateway": self.gateway.url if self.gateway else None,
            "control": self.control.url if self.control else None,
            "env": self.config.env,
            "region": self.config.region,
            "account_id": self.config.account_id,
            "logs": str(self.config.state_dir / "logs"),
        }

    def status(self) -> dict[str, Any]:
        functions = []
        for name, host in self.hosts.items():
            wiring = self.topology.functions[name]
            item = host.stats()
            item["queue"] = wiring.queue_url
            item["routes"] = [" ".join(r) for r in wiring.function.trigger.routes]
            functions.append(item)
        return {
            **self.endpoints(),
            "bus": self.topology.bus,
            "tables": self.topology.tables,
            "buckets": self.topology.buckets,
            "topics": self.topology.topics,
            "faults": self.faults.to_dict(),
            "retry_after": self.config.retry_after,
            "max_workers": self.config.max_workers,
            "schedule_speed": self.config.schedule_speed,
            "ses_identities": self.topology.ses_identities,
            "functions": functions,
        }

    # ------------------------------------------------------------------ operations

    def publish(self, source: str, detail_type: str, detail: dict[str, Any], bus: str | None = None) -> str:
        """Put one event on the bus; returns the EventBridge event id."""
        resp = self.clients.events.put_events(
            Entries=[
                {
                    "EventBusName": bus or self.topology.bus,
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                }
            ]
        )
        entry = resp["Entries"][0]
        if "EventId" not in entry:
            raise RuntimeError(f"put_events failed: {entry}")
        return entry["EventId"]

    def invoke(self, function: str, event: Any) -> Invocation:
        """Invoke a function directly (RequestResponse), as `aws lambda invoke` would."""
        wiring = self.topology.function(function)
        invocation = self.hosts[wiring.qualified_name].invoke(event)
        self.journal.add_invocation(
            wiring.qualified_name,
            "direct",
            invocation,
            [RecordOutcome(invocation.request_id, [invocation.request_id], invocation.ok, invocation.error_text)],
        )
        return invocation

    def tick(self, function: str, at: float | None = None) -> Invocation:
        """Invoke a scheduled function now, with the event its schedule sends (`at`: the scheduled time)."""
        wiring = self.topology.function(function)
        if wiring.function.trigger.type != "schedule":
            raise KeyError(f"{wiring.qualified_name} has no schedule (its trigger is {wiring.function.trigger.type})")
        cfg = self.config
        event = events.scheduled_event(
            wiring.schedule_arn or self.schedule_arn(mf.schedule_name(cfg.env, wiring.function)),
            cfg.account_id,
            cfg.region,
            at=at or self.schedule_clock.now(),
        )
        faults = self.faults
        applies = faults.applies(wiring.qualified_name)
        invocation = self.hosts[wiring.qualified_name].invoke(
            event,
            latency_ms=faults.latency_ms if applies else 0,
            inject_failure=applies and faults.roll(faults.failure_rate),
        )
        self.journal.add_invocation(
            wiring.qualified_name,
            "schedule",
            invocation,
            [RecordOutcome(event["id"], [event["id"]], invocation.ok, invocation.error_text)],
            note=wiring.function.trigger.raw.get("expression", ""),
        )
        return invocation

    def schedule_arn(self, name: str) -> str:
        """The EventBridge Scheduler schedule Terraform creates for a function (default group)."""
        return self.deployment.arn("scheduler", f"schedule/default/{name}")

    def emails(self) -> list[dict[str, Any]]:
        """Emails SES (moto) accepted, oldest first: from, to, subject, text/html, sent_at (motoserver.py)."""
        with urllib.request.urlopen(f"{self.moto_url}/_local/ses/sent-messages", timeout=10) as resp:
            return json.loads(resp.read())

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        return self.journal.wait(predicate, timeout)

    def trace(self, key: str) -> list[dict[str, Any]]:
        return self.journal.trace(key)

    def _queue_functions(self, function: str | None) -> list[Any]:
        if function:
            return [self.topology.function(function)]
        return [w for w in self.topology.functions.values() if w.dlq_url]

    def _drain(self, url: str, hold_seconds: int = 30) -> list[dict[str, Any]]:
        sqs = self.clients.sqs
        messages: dict[str, dict[str, Any]] = {}
        while True:
            got = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold_seconds,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                return list(messages.values())
            for m in got:
                messages[m["MessageId"]] = m

    def dlq_list(self, function: str | None = None) -> list[dict[str, Any]]:
        """Messages in the DLQs (left in place), with the reason their last attempt failed."""
        sqs = self.clients.sqs
        out = []
        for wiring in self._queue_functions(function):
            if not wiring.dlq_url:
                continue
            messages = self._drain(wiring.dlq_url)
            for m in messages:
                failure = self.journal.failure_reason(m["MessageId"])
                out.append(
                    {
                        "function": wiring.qualified_name,
                        "dlq": wiring.dlq_url.rsplit("/", 1)[-1],
                        "message_id": m["MessageId"],
                        "sent": int(m["Attributes"].get("SentTimestamp", 0)) / 1000,
                        "receive_count": failure.receive_count if failure else None,
                        "reason": failure.reason if failure else "(no failure recorded by this runtime)",
                        "body": m["Body"],
                    }
                )
            for start in range(0, len(messages), 10):
                chunk = messages[start : start + 10]
                sqs.change_message_visibility_batch(
                    QueueUrl=wiring.dlq_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                        for i, m in enumerate(chunk)
                    ],
                )
        return out

    def redrive(self, function: str | None = None) -> dict[str, int]:
        """Move every DLQ message back to its source queue (like SQS's DLQ redrive)."""
        sqs = self.clients.sqs
        moved: dict[str, int] = {}
        for wiring in self._queue_functions(function):
            if not wiring.dlq_url or not wiring.queue_url:  # stream and schedule DLQs have no source queue
                continue
            messages = self._drain(wiring.dlq_url)
            for m in messages:
                sent = sqs.send_message(
                    QueueUrl=wiring.queue_url,
                    MessageBody=m["Body"],
                    **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}),
                )
                self.journal.add_redrive(m["MessageId"], sent["MessageId"])
                sqs.delete_message(QueueUrl=wiring.dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved[wiring.qualified_name] = len(messages)
        return moved

    def set_enabled(self, function: str, enabled: bool) -> None:
        """Enable or disable a function's event source mapping (like `aws lambda update-event-source-mapping`)."""
        name = self.topology.function(function).qualified_name
        for thread in self._threads:
            if getattr(thread, "name_", None) == name:
                thread.enabled = enabled  # type: ignore[attr-defined]
                return
        raise KeyError(f"{name} has no event source mapping")

    def set_faults(self, **changes: Any) -> Faults:
        current = self.faults.to_dict()
        current.update({k: v for k, v in changes.items() if v is not None})
        self.faults = Faults(**current)
        return self.faults


def envelope(
    data: dict[str, Any],
    *,
    producer: str,
    event_version: int = 1,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    region: str = "eu-west-1",
) -> dict[str, Any]:
    """The `detail` the architecture prescribes: {"metadata": {...}, "data": {...}} (for CLI, demo, tests)."""
    event_id = str(uuid.uuid4())
    return {
        "metadata": {
            "event_id": event_id,
            "event_version": event_version,
            "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "correlation_id": correlation_id or event_id,
            "causation_id": causation_id,
            "producer": producer,
            "region": region,
            "data_residency": mf.region_family(region),
        },
        "data": data,
    }
