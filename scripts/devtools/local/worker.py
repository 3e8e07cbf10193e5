"""One Lambda execution environment: a subprocess that imports one handler and serves invocations.

Started by `devtools.local.functions.FunctionHost` as `python -I worker.py` (isolated mode: the
function sees neither PYTHONPATH nor the tooling under scripts/). The first line on stdin is
the init message; every further line is one invocation. Replies go to the protocol pipe (the
process's original stdout); everything the handler prints or logs goes to stderr, which the
host turns into the function's log. This file imports nothing from `devtools` on purpose.

Protocol (JSON lines):
    host -> worker  {"init": {"path": [...], "handler": "pkg.mod.fn", "function_name": ..., ...}}
    worker -> host  {"ready": true, "init_ms": 412.3, "max_rss_mb": 71.2}
                    | {"ready": false, "error": {"errorType": ..., "errorMessage": ...}}
    host -> worker  {"invoke": {"request_id": ..., "event": {...}, "deadline": <epoch s>, "latency_ms": 0}}
    worker -> host  {"ok": true, "result": ..., "started": <epoch s>, "duration_ms": ...,
                     "max_rss_mb": ..., "reasons": {record id: text}, "calls": [...]}
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
from typing import Any

_state = threading.local()


def _max_rss_mb() -> float:
    """Peak resident memory of this process, in MB.

    VmHWM is reset by exec; ru_maxrss is not (Linux carries the parent's high-water mark
    across fork and exec), so a worker started by a large parent (a pytest process full of
    moto) would report the parent's peak and be killed for memory it never used.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


class _Tee:
    """sys.stdout/sys.stderr replacement: writes to fd 2 and keeps the current invocation's lines."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        os.write(2, text.encode("utf-8", "replace"))
        data = self._partial + text
        *complete, self._partial = data.split("\n")
        self.lines.extend(complete)
        if len(self.lines) > 2000:
            del self.lines[:1000]
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 2

    def writable(self) -> bool:
        return True


class CognitoIdentity:
    """`context.identity`, as awslambdaric builds it: always an object, ids None unless a mobile SDK sent them."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: str | None = None, pool_id: str | None = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id


class LambdaContext:
    """The context object Lambda's Python runtime (awslambdaric's LambdaContext) passes.

    Like awslambdaric, the function's attributes come from the runtime's environment variables,
    so `memory_limit_in_mb` is a str ("256"); `identity` is an object whose Cognito ids are None;
    `client_context` is None (no mobile SDK caller); every invocation has its own request id.
    """

    def __init__(self, init: dict[str, Any], request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = init["function_arn"]
        self.tenant_id = None
        self.client_context = None
        self.identity = CognitoIdentity()
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:],
    }


def _record_id(record: Any) -> str | None:
    """messageId (SQS) or sequence number (streams) of a Powertools batch record, model or dict."""
    for attr in ("message_id", "messageId"):
        value = getattr(record, attr, None)
        if isinstance(value, str):
            return value
    dynamodb = getattr(record, "dynamodb", None)
    seq = getattr(dynamodb, "sequence_number", None) or getattr(dynamodb, "SequenceNumber", None)
    if isinstance(seq, str):
        return seq
    raw = getattr(record, "raw_event", record)
    if isinstance(raw, dict):
        return raw.get("messageId") or (raw.get("dynamodb") or {}).get("SequenceNumber")
    return None


def _hook_powertools_batch() -> None:
    """Remember why Powertools' BatchProcessor failed each record (for `dlq list`)."""
    module = sys.modules.get("aws_lambda_powertools.utilities.batch.base")
    if module is None or getattr(module, "_local_runtime_hooked", False):
        return
    base = module.BasePartialProcessor
    original = base.failure_handler

    def failure_handler(self, record, exception):
        reasons = getattr(_state, "reasons", None)
        record_id = _record_id(record)
        if reasons is not None and record_id:
            exc_type, exc_value = exception[0], exception[1]
            name = getattr(exc_type, "__name__", str(exc_type))
            reasons[record_id] = f"{name}: {exc_value}"
        return original(self, record, exception)

    base.failure_handler = failure_handler
    module._local_runtime_hooked = True


_ID_ATTRIBUTES = ("event_id", "eventId", "id")


def _summarize_call(service: str, operation: str, params: dict[str, Any], response: Any) -> dict[str, Any] | None:
    """What an AWS call emitted, for tracing: events, messages, objects, items."""
    if service in ("events", "eventbridge") and operation == "PutEvents":  # botocore names it "events"
        ids = [e.get("EventId") for e in (response or {}).get("Entries", [])]
        events = []
        for entry, event_id in zip(params.get("Entries", []), ids, strict=False):
            meta: dict[str, Any] = {}
            with contextlib.suppress(ValueError, AttributeError):
                meta = (json.loads(entry.get("Detail") or "{}") or {}).get("metadata") or {}
            events.append(
                {
                    "id": event_id,
                    "source": entry.get("Source"),
                    "detail_type": entry.get("DetailType"),
                    "event_id": meta.get("event_id"),
                    "causation_id": meta.get("causation_id"),
                }
            )
        return {"op": "events.PutEvents", "events": events}
    if service == "sns" and operation == "Publish":
        return {"op": "sns.Publish", "keys": [(response or {}).get("MessageId")], "topic": params.get("TopicArn")}
    if service == "s3" and operation == "PutObject":
        return {"op": "s3.PutObject", "keys": [f"s3://{params.get('Bucket')}/{params.get('Key')}"]}
    if service == "dynamodb" and operation in ("PutItem", "TransactWriteItems", "BatchWriteItem"):
        # Items that carry an id (outbox / event store rows) link this invocation to the stream record.
        items = [params.get("Item") or {}]
        items += [(w.get("Put") or {}).get("Item") or {} for w in params.get("TransactItems", [])]
        for writes in (params.get("RequestItems") or {}).values():
            items += [(w.get("PutRequest") or {}).get("Item") or {} for w in writes]
        keys = [item[a]["S"] for item in items for a in _ID_ATTRIBUTES if "S" in (item.get(a) or {})]
        return {"op": f"dynamodb.{operation}", "table": params.get("TableName"), "keys": keys} if keys else None
    return None


def _hook_botocore() -> None:
    """Record what each invocation emitted (PutEvents ids, ...) so `trace` can follow an event."""
    try:
        from botocore.client import BaseClient
    except ImportError:  # pragma: no cover - boto3 is part of the Lambda runtime
        return
    original = BaseClient._make_api_call

    def _make_api_call(self, operation_name, api_params):
        response = original(self, operation_name, api_params)
        calls = getattr(_state, "calls", None)
        if calls is not None:
            try:
                service = self.meta.service_model.service_name
                summary = _summarize_call(service, operation_name, api_params, response)
                if summary:
                    calls.append(summary)
            except Exception:
                pass
        return response

    BaseClient._make_api_call = _make_api_call


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything written to fd 1 (subprocesses, C code) lands in the log
    tee = _Tee()
    sys.stdout = sys.stderr = tee  # type: ignore[assignment]
    stdin = sys.stdin

    def reply(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message, default=str) + "\n")
        protocol.flush()

    init = json.loads(stdin.readline())["init"]
    for path in reversed(init["path"]):
        sys.path.insert(0, path)
    os.chdir(init["path"][0])
    _hook_botocore()
    started = time.perf_counter()
    try:
        module_name, _, function_name = init["handler"].rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise _InitError(exc, "Runtime.ImportModuleError") from exc
        handler = getattr(module, function_name, None)
        if not callable(handler):
            raise _InitError(
                AttributeError(f"Handler '{function_name}' missing on module '{module_name}'"),
                "Runtime.HandlerNotFound",
            )
    except _InitError as err:
        reply({"ready": False, "error": _error(err.exc, err.error_type), "max_rss_mb": _max_rss_mb()})
        return
    init_ms = (time.perf_counter() - started) * 1000
    _hook_powertools_batch()
    reply({"ready": True, "init_ms": round(init_ms, 1), "max_rss_mb": _max_rss_mb()})

    for line in stdin:
        if not line.strip():
            continue
        message = json.loads(line)["invoke"]
        _hook_powertools_batch()  # the handler may import Powertools lazily
        _state.reasons = {}
        _state.calls = []
        tee.lines = []
        if message.get("latency_ms"):
            time.sleep(message["latency_ms"] / 1000)
        context = LambdaContext(init, message["request_id"], message["deadline"])
        t0 = time.time()
        p0 = time.perf_counter()
        response: dict[str, Any]
        try:
            if message.get("inject_failure"):
                raise RuntimeError("fault injection: handler failure")
            result = handler(message["event"], context)
            json.dumps(result)  # Lambda serializes the result; an unserializable one is an error
            response = {"ok": True, "result": result}
        except Exception as exc:
            print(f"[ERROR] {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            response = {"ok": False, "error": _error(exc)}
        response.update(
            started=t0,
            duration_ms=round((time.perf_counter() - p0) * 1000, 2),
            max_rss_mb=_max_rss_mb(),
            reasons=_state.reasons,
            calls=_state.calls,
            log=tee.lines[-200:],
        )
        reply(response)


class _InitError(Exception):
    def __init__(self, exc: BaseException, error_type: str) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.error_type = error_type


if __name__ == "__main__":
    main()
