"""Lambda emulation: a pool of execution environments (worker subprocesses) per function.

    host = FunctionHost(spec, log_dir, base_env)
    outcome = host.invoke({"Records": [...]})   # -> Invocation (ok/error, result, timings)

Like Lambda, a function scales out by creating execution environments on demand, up to its
concurrency limit (`FunctionSpec.concurrency`): an invocation takes a warm idle environment if
there is one, otherwise starts a new one (a cold start: the handler module is imported again);
when the limit is reached it waits for an environment to become free. Each environment serves
one invocation at a time. A timeout kills the environment (the invocation fails with "Task timed
out"; the next invocation on a new environment is a cold start), as does exceeding the
function's memory. Handler output goes to <log_dir>/<name>.log with Lambda's START/END/REPORT lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("worker.py")
# How often a running invocation's resident memory is sampled against the function's memory.
MEMORY_SAMPLE_SECONDS = 0.05


def _rss_mb(pid: int) -> float | None:
    """Current resident memory of a process (VmRSS), in MB; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# Time the host grants beyond the function timeout before it kills the worker.
KILL_GRACE_SECONDS = 0.25
# How long a worker may take to import its handler (Lambda's init phase is capped at 10 s).
INIT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class FunctionSpec:
    """Everything needed to run one function, derived from its manifest."""

    qualified_name: str  # service.function
    physical_name: str  # dev-service-function
    arn: str
    handler: str
    path: tuple[str, ...]  # sys.path entries: service src, then the layer holding `shared`
    environment: dict[str, str]
    memory: int
    timeout: int
    trigger_type: str
    concurrency: int = 1  # most execution environments at once (see runtime.concurrency_limit)


@dataclass
class Invocation:
    """What one invocation did: the runtime's journal keeps these."""

    function: str
    request_id: str
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    cold: bool = False
    init_ms: float | None = None
    started: float = 0.0
    duration_ms: float = 0.0
    max_rss_mb: float | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    environment: int | None = None  # which execution environment of the function ran it (1, 2, ...)

    @property
    def error_text(self) -> str:
        if not self.error:
            return ""
        return f"{self.error.get('errorType')}: {self.error.get('errorMessage')}"

    @property
    def ended(self) -> float:
        return self.started + self.duration_ms / 1000


class ExecutionEnvironment:
    """One worker process: imports the handler once, then serves one invocation at a time."""

    def __init__(self, host: FunctionHost, number: int) -> None:
        self.host = host
        self.spec = host.spec
        self.number = number
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._eof = False
        self.init_ms: float | None = None
        self.killed_rss_mb: float | None = None  # set when read() stopped the worker for its memory
        # Lambda's log stream of this environment (UTC date): AWS_LAMBDA_LOG_STREAM_NAME, context.log_stream_name.
        self.log_stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"

    def start(self) -> tuple[bool, dict[str, Any], float]:
        """Start the worker and import the handler: (ready, error, max RSS MB)."""
        self._proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.host.process_environment(log_stream=self.log_stream),
            cwd=self.spec.path[0],
            start_new_session=True,  # Ctrl-C goes to the runtime, which stops workers itself
        )
        threading.Thread(target=self._pump_log, args=(self._proc,), daemon=True).start()
        self.send(
            {
                "init": {
                    "path": list(self.spec.path),
                    "handler": self.spec.handler,
                    "function_name": self.spec.physical_name,
                    "function_arn": self.spec.arn,
                    "memory": self.spec.memory,
                    "log_stream_name": self.log_stream,
                }
            }
        )
        reply = self.read(time.time() + INIT_TIMEOUT_SECONDS)
        if reply is None:
            exited = self._eof
            self.kill()
            if exited:
                return False, {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited during init"}, 0
            return (
                False,
                {
                    "errorType": "Runtime.InitTimeout",
                    "errorMessage": f"init did not finish in {INIT_TIMEOUT_SECONDS:.0f} s",
                },
                0,
            )
        rss = reply.get("max_rss_mb") or 0
        if not reply.get("ready"):
            self.kill()
            return False, reply["error"], rss
        self.init_ms = reply["init_ms"]
        return True, {}, rss

    def _pump_log(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                self.host.write_log(raw.decode("utf-8", "replace").rstrip("\n"))
        except (ValueError, OSError):  # the stream was closed: the worker was stopped
            pass

    def send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write((json.dumps(message) + "\n").encode())
        self._proc.stdin.flush()

    def read(self, deadline: float, memory_limit_mb: float | None = None) -> dict[str, Any] | None:
        """One reply line, or None if the deadline passes, the worker dies, or (with a limit) its
        resident memory exceeds `memory_limit_mb`: Lambda kills such an environment mid-invocation,
        so the worker's RSS is sampled while it runs (`self.killed_rss_mb` then says how much)."""
        self.killed_rss_mb = None
        proc = self._proc
        if proc is None or proc.stdout is None:
            self._eof = True
            return None
        try:
            fd = proc.stdout.fileno()
        except ValueError:  # closed: stopped
            self._eof = True
            return None
        while b"\n" not in self._buffer:
            remaining = deadline - time.time()
            if remaining <= 0:
                return None
            step = min(remaining, MEMORY_SAMPLE_SECONDS) if memory_limit_mb else remaining
            try:
                ready, _, _ = select.select([fd], [], [], step)
                chunk = os.read(fd, 1 << 16) if ready else None
            except (OSError, ValueError):  # stopped while waiting
                chunk = b""
            if chunk is None:
                rss = _rss_mb(proc.pid) if memory_limit_mb else None
                if rss is not None and memory_limit_mb is not None and rss > memory_limit_mb:
                    self.killed_rss_mb = rss
                    return None
                if step == remaining:
                    return None
                continue
            if not chunk:
                self._eof = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    @property
    def exited(self) -> bool:
        return self._eof

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.alive and self._proc else None


class FunctionHost:
    """A function's execution environments: created on demand up to `spec.concurrency`, reused warm."""

    def __init__(self, spec: FunctionSpec, log_dir: Path, base_env: dict[str, str]) -> None:
        self.spec = spec
        self.log_path = Path(log_dir) / f"{spec.qualified_name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._base_env = base_env
        self._cond = threading.Condition()
        self._idle: list[ExecutionEnvironment] = []  # most recently used last (reused first)
        self._busy: set[ExecutionEnvironment] = set()
        self._numbers = 0
        self._stopped = False
        self._log_lock = threading.Lock()
        self._log_file = self.log_path.open("a", buffering=1, encoding="utf-8")
        self.cold_starts = 0
        self.last_init_ms: float | None = None
        self.invocations = 0
        self.errors = 0
        self.max_rss_mb: float = 0.0
        self.peak_concurrency = 0
        self.throttled = 0  # invocations that had to wait for a free environment

    # ------------------------------------------------------------------ environments

    def process_environment(self, log_stream: str | None = None) -> dict[str, str]:
        """The worker's environment: the function's variables, then what the Lambda runtime sets
        (reserved: a function's configuration cannot override them). Not set: AWS_LAMBDA_RUNTIME_API
        and _X_AMZN_TRACE_ID (no Runtime API, no X-Ray here)."""
        env = dict(self._base_env)
        env.setdefault("LANG", "en_US.UTF-8")
        env.update(self.spec.environment)
        env.update(
            _HANDLER=self.spec.handler,
            AWS_LAMBDA_FUNCTION_NAME=self.spec.physical_name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(self.spec.memory),
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{self.spec.physical_name}",
            AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
            LAMBDA_TASK_ROOT=self.spec.path[0],
            LAMBDA_RUNTIME_DIR="/var/runtime",
            TZ=":UTC",
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        if log_stream:
            env["AWS_LAMBDA_LOG_STREAM_NAME"] = log_stream
        return env

    def write_log(self, line: str) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        with self._log_lock, contextlib.suppress(ValueError):  # closed during shutdown
            self._log_file.write(f"{stamp} {line}\n")

    def _acquire(self) -> tuple[ExecutionEnvironment | None, bool]:
        """A free environment (warm, or a new one to start: cold) -- waits while all are busy."""
        with self._cond:
            waited = False
            while True:
                if self._stopped:
                    return None, False
                while self._idle:
                    env = self._idle.pop()
                    if env.alive:
                        self._busy.add(env)
                        return env, False
                if len(self._busy) < self.spec.concurrency:
                    self._numbers += 1
                    env = ExecutionEnvironment(self, self._numbers)
                    self._busy.add(env)
                    return env, True
                if not waited:
                    self.throttled += 1
                    waited = True
                self._cond.wait(0.5)

    def _release(self, env: ExecutionEnvironment) -> None:
        with self._cond:
            self._busy.discard(env)
            if env.alive and not self._stopped:
                self._idle.append(env)
            self._cond.notify()

    @property
    def environments(self) -> list[ExecutionEnvironment]:
        with self._cond:
            return [e for e in [*self._idle, *self._busy] if e.alive]

    @property
    def warm(self) -> bool:
        return bool(self.environments)

    @property
    def pids(self) -> list[int]:
        return [pid for pid in (e.pid for e in self.environments) if pid]

    @property
    def pid(self) -> int | None:
        pids = self.pids
        return pids[0] if pids else None

    # ------------------------------------------------------------------ invoke

    def invoke(
        self, event: Any, *, latency_ms: float = 0, inject_failure: bool = False, request_id: str | None = None
    ) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        env, cold = self._acquire()
        if env is None:
            error = {"errorType": "Runtime.Stopped", "errorMessage": "the local runtime is stopping"}
            return Invocation(self.spec.qualified_name, request_id, False, error=error, started=time.time())
        try:
            with self._cond:
                self.invocations += 1
                self.peak_concurrency = max(self.peak_concurrency, len(self._busy))
            return self._invoke_on(env, cold, event, request_id, latency_ms, inject_failure)
        finally:
            self._release(env)

    def _invoke_on(  # noqa: PLR0917 - one invocation's parts
        self,
        env: ExecutionEnvironment,
        cold: bool,
        event: Any,
        request_id: str,
        latency_ms: float,
        inject_failure: bool,
    ) -> Invocation:
        name = self.spec.qualified_name
        init_ms = None
        if cold:
            ok, error, rss = env.start()
            with self._cond:
                self.max_rss_mb = max(self.max_rss_mb, rss)
                self.cold_starts += 1
                if ok:
                    self.last_init_ms = env.init_ms
                else:
                    self.errors += 1
            init_ms = env.init_ms
            if not ok:
                self.write_log(f"INIT_REPORT Status: error {error.get('errorType')}: {error.get('errorMessage')}")
                return Invocation(
                    name, request_id, False, error=error, cold=True, started=time.time(), environment=env.number
                )
        self.write_log(f"START RequestId: {request_id} Version: $LATEST")
        deadline = time.time() + self.spec.timeout
        try:
            env.send(
                {
                    "invoke": {
                        "request_id": request_id,
                        "event": event,
                        "deadline": deadline,
                        "latency_ms": latency_ms,
                        "inject_failure": inject_failure,
                    }
                }
            )
            reply = env.read(deadline + KILL_GRACE_SECONDS, memory_limit_mb=self.spec.memory)
        except (OSError, ValueError, AssertionError):  # the worker died (or was stopped) before the invoke
            reply = None
        if reply is None:
            out_of_memory = env.killed_rss_mb
            timed_out = not env.exited and out_of_memory is None
            env.kill()
            with self._cond:
                self.errors += 1
                if out_of_memory:
                    self.max_rss_mb = max(self.max_rss_mb, out_of_memory)
            if out_of_memory:
                error = {
                    "errorType": "Runtime.OutOfMemory",
                    "errorMessage": f"Runtime exited with error: signal: killed (memory used {out_of_memory:.0f} MB "
                    f"> {self.spec.memory} MB)",
                }
            elif timed_out:
                message = f"Task timed out after {self.spec.timeout:.2f} seconds"
                error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            else:
                error = {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited without providing a reason"}
            self.write_log(f"{request_id} {error['errorMessage']}")
            self.write_log(f"END RequestId: {request_id}")
            return Invocation(
                name,
                request_id,
                False,
                error=error,
                cold=cold,
                init_ms=init_ms,
                started=deadline - self.spec.timeout,
                duration_ms=(time.time() - deadline + self.spec.timeout) * 1000.0
                if out_of_memory
                else self.spec.timeout * 1000.0,
                max_rss_mb=out_of_memory or 0.0,
                environment=env.number,
            )
        rss = reply.get("max_rss_mb") or 0
        outcome = Invocation(
            function=name,
            request_id=request_id,
            ok=reply["ok"],
            result=reply.get("result"),
            error=reply.get("error"),
            cold=cold,
            init_ms=init_ms,
            started=reply["started"],
            duration_ms=reply["duration_ms"],
            max_rss_mb=rss,
            reasons=reply.get("reasons") or {},
            calls=reply.get("calls") or [],
            log=reply.get("log") or [],
            environment=env.number,
        )
        if rss > self.spec.memory:
            # Lambda kills an environment that exceeds its memory; the invocation fails.
            env.kill()
            outcome.ok = False
            outcome.error = {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"Runtime exited with error: signal: killed (max memory used {rss:.0f} MB "
                f"> {self.spec.memory} MB)",
            }
        with self._cond:
            self.max_rss_mb = max(self.max_rss_mb, rss)
            if not outcome.ok:
                self.errors += 1
        self.write_log(f"END RequestId: {request_id}")
        init = f"\tInit Duration: {init_ms:.2f} ms" if cold and init_ms is not None else ""
        self.write_log(
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
            f"Billed Duration: {int(outcome.duration_ms) + 1} ms\tMemory Size: {self.spec.memory} MB\t"
            f"Max Memory Used: {rss:.0f} MB{init}"
        )
        return outcome

    def stats(self) -> dict[str, Any]:
        envs = self.environments
        return {
            "function": self.spec.qualified_name,
            "physical_name": self.spec.physical_name,
            "trigger": self.spec.trigger_type,
            "memory_mb": self.spec.memory,
            "timeout_s": self.spec.timeout,
            "concurrency": self.spec.concurrency,
            "environments": len(envs),
            "peak_concurrency": self.peak_concurrency,
            "throttled": self.throttled,
            "warm": bool(envs),
            "pid": envs[0].pid if envs else None,
            "pids": [e.pid for e in envs if e.pid],
            "cold_starts": self.cold_starts,
            "init_ms": self.last_init_ms,
            "invocations": self.invocations,
            "errors": self.errors,
            "max_rss_mb": self.max_rss_mb or None,
            "log": str(self.log_path),
        }

    def stop(self) -> None:
        # Kill busy environments too: a hung invocation must not block shutdown.
        with self._cond:
            self._stopped = True
            envs = [*self._idle, *self._busy]
            self._idle.clear()
            self._cond.notify_all()
        for env in envs:
            env.kill()
        with self._log_lock:
            self._log_file.close()
