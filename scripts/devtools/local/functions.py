"""Lambda emulation: one worker subprocess per function, cold start once, warm afterwards.

    host = FunctionHost(spec, log_dir)
    outcome = host.invoke({"Records": [...]})   # -> Invocation (ok/error, result, timings)

A timeout kills the worker (the invocation fails with "Task timed out"; the next one is a cold
start), as does exceeding the function's memory. Handler output goes to <log_dir>/<name>.log
with Lambda's START/END/REPORT lines.
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

    @property
    def error_text(self) -> str:
        if not self.error:
            return ""
        return f"{self.error.get('errorType')}: {self.error.get('errorMessage')}"


class FunctionHost:
    """Runs one function's worker process; one invocation at a time (one execution environment)."""

    def __init__(self, spec: FunctionSpec, log_dir: Path, base_env: dict[str, str]) -> None:
        self.spec = spec
        self.log_path = Path(log_dir) / f"{spec.qualified_name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._base_env = base_env
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._log_file = self.log_path.open("a", buffering=1, encoding="utf-8")
        self.cold_starts = 0
        self.last_init_ms: float | None = None
        self.invocations = 0
        self.errors = 0
        self.max_rss_mb: float = 0.0
        self._eof = False

    # ------------------------------------------------------------------ process

    def _environment(self) -> dict[str, str]:
        env = dict(self._base_env)
        env.update(self.spec.environment)
        env.update(
            AWS_LAMBDA_FUNCTION_NAME=self.spec.physical_name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(self.spec.memory),
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{self.spec.physical_name}",
            AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
            LAMBDA_TASK_ROOT=self.spec.path[0],
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def _start(self) -> tuple[bool, dict[str, Any]]:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._environment(),
            cwd=self.spec.path[0],
            start_new_session=True,  # Ctrl-C goes to the runtime, which stops workers itself
        )
        self._buffer = b""
        self._eof = False
        threading.Thread(target=self._pump_log, args=(self._proc,), daemon=True).start()
        stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._send(
            {
                "init": {
                    "path": list(self.spec.path),
                    "handler": self.spec.handler,
                    "function_name": self.spec.physical_name,
                    "function_arn": self.spec.arn,
                    "memory": self.spec.memory,
                    "log_stream_name": stream,
                }
            }
        )
        reply = self._read(time.time() + INIT_TIMEOUT_SECONDS)
        if reply is None:
            exited = self._eof
            self._kill()
            if exited:
                return False, {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited during init"}
            return False, {
                "errorType": "Runtime.InitTimeout",
                "errorMessage": f"init did not finish in {INIT_TIMEOUT_SECONDS:.0f} s",
            }
        self.cold_starts += 1
        self.max_rss_mb = max(self.max_rss_mb, reply.get("max_rss_mb") or 0)
        if not reply.get("ready"):
            self._kill()
            return False, reply["error"]
        self.last_init_ms = reply["init_ms"]
        return True, {}

    def _pump_log(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                self._write_log(raw.decode("utf-8", "replace").rstrip("\n"))
        except (ValueError, OSError):  # the stream was closed: the worker was stopped
            pass

    def _write_log(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
        with contextlib.suppress(ValueError):  # closed during shutdown
            self._log_file.write(f"{stamp} {line}\n")

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write((json.dumps(message) + "\n").encode())
        self._proc.stdin.flush()

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """One reply line, or None if the deadline passes or the worker dies."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.time()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self._eof = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def _kill(self) -> None:
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
    def warm(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.warm and self._proc else None

    # ------------------------------------------------------------------ invoke

    def invoke(
        self, event: Any, *, latency_ms: float = 0, inject_failure: bool = False, request_id: str | None = None
    ) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        with self._lock:
            return self._invoke_locked(event, request_id, latency_ms, inject_failure)

    def _invoke_locked(self, event: Any, request_id: str, latency_ms: float, inject_failure: bool) -> Invocation:
        name = self.spec.qualified_name
        cold = False
        init_ms = None
        self.invocations += 1
        if not self.warm:
            cold = True
            ok, error = self._start()
            init_ms = self.last_init_ms
            if not ok:
                self.errors += 1
                self._write_log(f"INIT_REPORT Status: error {error.get('errorType')}: {error.get('errorMessage')}")
                return Invocation(name, request_id, False, error=error, cold=True, started=time.time())
        self._write_log(f"START RequestId: {request_id} Version: $LATEST")
        deadline = time.time() + self.spec.timeout
        self._send(
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
        reply = self._read(deadline + KILL_GRACE_SECONDS)
        if reply is None:
            timed_out = not self._eof
            self._kill()
            self.errors += 1
            if timed_out:
                message = f"Task timed out after {self.spec.timeout:.2f} seconds"
                error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            else:
                error = {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited without providing a reason"}
            self._write_log(f"{request_id} {error['errorMessage']}")
            self._write_log(f"END RequestId: {request_id}")
            return Invocation(
                name,
                request_id,
                False,
                error=error,
                cold=cold,
                init_ms=init_ms,
                started=deadline - self.spec.timeout,
                duration_ms=self.spec.timeout * 1000.0,
            )
        rss = reply.get("max_rss_mb") or 0
        self.max_rss_mb = max(self.max_rss_mb, rss)
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
        )
        if rss > self.spec.memory:
            # Lambda kills an environment that exceeds its memory; the invocation fails.
            self._kill()
            outcome.ok = False
            outcome.error = {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"Runtime exited with error: signal: killed (max memory used {rss:.0f} MB "
                f"> {self.spec.memory} MB)",
            }
        if not outcome.ok:
            self.errors += 1
        self._write_log(f"END RequestId: {request_id}")
        init = f"\tInit Duration: {init_ms:.2f} ms" if cold and init_ms is not None else ""
        self._write_log(
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
            f"Billed Duration: {int(outcome.duration_ms) + 1} ms\tMemory Size: {self.spec.memory} MB\t"
            f"Max Memory Used: {rss:.0f} MB{init}"
        )
        return outcome

    def stats(self) -> dict[str, Any]:
        return {
            "function": self.spec.qualified_name,
            "physical_name": self.spec.physical_name,
            "trigger": self.spec.trigger_type,
            "memory_mb": self.spec.memory,
            "timeout_s": self.spec.timeout,
            "warm": self.warm,
            "pid": self.pid,
            "cold_starts": self.cold_starts,
            "init_ms": self.last_init_ms,
            "invocations": self.invocations,
            "errors": self.errors,
            "max_rss_mb": self.max_rss_mb or None,
            "log": str(self.log_path),
        }

    def stop(self) -> None:
        # Do not take the lock: a hung invocation must not block shutdown.
        self._kill()
        self._log_file.close()
