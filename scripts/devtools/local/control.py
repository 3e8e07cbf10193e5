"""A small JSON control API on 127.0.0.1 so the CLI can inspect and drive a running runtime.

GET  /status                 endpoints, resources, per-function cold start / invocations / memory
GET  /trace?id=KEY           timeline of what an event (or message id, s3://bucket/key) reached
GET  /invocations?function=  recent invocations
GET  /dlq?function=          DLQ messages with their failure reason
POST /dlq/redrive            {"function": optional} -> {"function": moved}
POST /invoke                 {"function": ..., "event": {...}} -> invocation
POST /mappings               {"function": ..., "enabled": false} pause/resume an event source mapping
POST /faults                 {"duplicate_rate": .., "failure_rate": .., "latency_ms": .., "functions": [..]}
POST /tick                   {"function": ...} run a scheduled function now -> invocation
GET  /emails                 emails SES (moto) accepted, oldest first
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from devtools.local.runtime import Runtime


class ControlServer:
    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        self.runtime = runtime
        control = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                control.handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                control.handle(self, body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, req: BaseHTTPRequestHandler, body: dict[str, Any] | None) -> None:
        url = urlsplit(req.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        rt = self.runtime
        try:
            route = (req.command, url.path)
            if route == ("GET", "/status"):
                result: Any = rt.status()
            elif route == ("GET", "/trace"):
                result = rt.trace(query["id"])
            elif route == ("GET", "/invocations"):
                limit = int(query.get("limit", 50))
                result = [e.to_dict() for e in rt.journal.entries(query.get("function"))][-limit:]
            elif route == ("GET", "/dlq"):
                result = rt.dlq_list(query.get("function"))
            elif route == ("POST", "/dlq/redrive"):
                result = rt.redrive((body or {}).get("function"))
            elif route in (("POST", "/invoke"), ("POST", "/tick")):
                if url.path == "/tick":
                    inv = rt.tick(body["function"])  # type: ignore[index]
                else:
                    inv = rt.invoke(body["function"], body.get("event", {}))  # type: ignore[index]
                result = {
                    "ok": inv.ok,
                    "result": inv.result,
                    "error": inv.error,
                    "cold": inv.cold,
                    "init_ms": inv.init_ms,
                    "duration_ms": inv.duration_ms,
                    "request_id": inv.request_id,
                    "environment": inv.environment,
                    "log": inv.log,
                }
            elif route == ("GET", "/emails"):
                result = rt.emails()
            elif route == ("POST", "/mappings"):
                rt.set_enabled(body["function"], bool(body["enabled"]))  # type: ignore[index]
                result = {"function": body["function"], "enabled": bool(body["enabled"])}  # type: ignore[index]
            elif route == ("POST", "/faults"):
                result = rt.set_faults(**(body or {})).to_dict()
            else:
                self._send(req, 404, {"error": f"no such endpoint {req.command} {url.path}"})
                return
            self._send(req, 200, result)
        except KeyError as exc:
            self._send(req, 400, {"error": f"missing or unknown: {exc.args[0] if exc.args else exc}"})
        except Exception as exc:
            self._send(req, 500, {"error": f"{type(exc).__name__}: {exc}"})

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload, default=str).encode()
        req.send_response(status)
        req.send_header("content-type", "application/json")
        req.send_header("content-length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


class ControlClient:
    """Talks to a running runtime's control API (the CLI's side)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None, timeout: float = 120) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:
            detail = json.loads(err.read() or b"{}").get("error", err.reason)
            raise SystemExit(f"runtime: {detail}") from None
        except urllib.error.URLError as err:
            raise SystemExit(
                f"cannot reach the runtime at {self.url} ({err.reason}); is `make local` running?"
            ) from None
