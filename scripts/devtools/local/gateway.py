"""HTTP API gateway on 127.0.0.1: routes `METHOD /path/{param}` from the manifests to functions.

Requests become API Gateway HTTP API payload v2.0 events; results are mapped back the way
HTTP API does (statusCode/headers/cookies/body, or a bare value as a 200 JSON body). A function
error or an unreadable result answers 502, as HTTP API does. The gateway's own answers are
problem details (shared.problems, application/problem+json) like the services' errors: 404 no
route, 405 another method's route (with Allow), 413 a body over HTTP API's 10 MB, 414 a request
line too long, 400 a bad Content-Length, 502. (HTTP API itself answers these with
{"message": ...}, which cannot be reshaped without a $default route.)

Routes declared `customer` or `staff` go through the JWT authorizer first, as on AWS
(devtools.local.authorizer: the provisioned user pool's issuer, its two clients as audience, the
pool's keys from moto): a refused token is API Gateway's own 401 `{"message":"Unauthorized"}` (or
403 `{"message":"Forbidden"}` for a missing scope) with its `www-authenticate` header, and the
function is not invoked; an accepted one reaches it as `requestContext.authorizer.jwt`.
`gateway.authorizer.clock` is the time tokens are checked against (tests move it).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from devtools import manifest as mf
from devtools.local import events
from devtools.local.authorizer import Decision, JwtAuthorizer, unauthorized
from devtools.local.journal import RecordOutcome
from shared.problems import CONTENT_TYPE, problem_body, request_instance

if TYPE_CHECKING:
    from devtools.local.runtime import Runtime

API_ID = "local"
MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit


class Route:
    def __init__(self, method: str, template: str, function: str, access: mf.RouteAccess | None = None) -> None:
        self.method = method
        self.template = template
        self.function = function
        self.key = f"{method} {template}"
        self.access = access or mf.RouteAccess(method, template, "customer")  # undeclared: authorized
        pattern = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", template)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self.regex = re.compile(f"^{pattern}$")
        self.specificity = (template.count("{") == 0, -template.count("{"), len(template))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        m = self.regex.match(path)
        return m.groupdict() if m else None


def build_routes(runtime: Runtime) -> list[Route]:
    """The provisioned routes (Topology.routes: every manifest route with its access)."""
    routes = [Route(r.route.method, r.route.path, r.function, r.route) for r in runtime.topology.routes]
    return sorted(routes, key=lambda r: r.specificity, reverse=True)


def build_authorizer(runtime: Runtime) -> JwtAuthorizer | None:
    """The region's JWT authorizer on the provisioned user pool; its keys come from the moto server."""
    pool = getattr(runtime.topology, "user_pool", None)
    if pool is None:
        return None
    return JwtAuthorizer(pool.issuer, pool.audience, f"{runtime.moto_url}/{pool.id}/.well-known/jwks.json")


class Gateway:
    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        self.runtime = runtime
        self.routes = build_routes(runtime)
        self.authorizer = build_authorizer(runtime)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                gateway.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # http.server's own refusals (414 URI too long, 431, 400 bad request line, 501):
                # a problem instead of its HTML page, which would also echo the request.
                self.close_connection = True
                gateway._problem(self, code, _new_request_id())

        # A listen backlog of 5 (socketserver's default) resets concurrent clients; API Gateway
        # takes them all (throttling is a 429, never a reset).
        server_class = type("GatewayServer", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self.server = server_class((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        raw_path, _, raw_query = req.path.partition("?")
        request_id = _new_request_id()
        try:
            length = int(req.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            req.close_connection = True  # the body is left unread
            self._problem(req, 400 if length < 0 else 413, request_id)
            return
        body = req.rfile.read(length) if length else b""
        for route in self.routes:
            params = route.match(req.command, raw_path)
            if params is not None:
                break
        else:
            allowed = sorted({r.method for r in self.routes if r.regex.match(raw_path)})
            if allowed:
                self._problem(req, 405, request_id, {"Allow": ", ".join(allowed)})
            else:
                self._problem(req, 404, request_id)
            return
        authorized: Decision | None = None
        if route.access.authorization_type == "JWT":
            authorized = self._authorize(req, route)
            if not authorized.allowed:
                self._refuse(req, authorized, request_id)
                return
        port = self.server.server_address[1]
        event = events.http_api_event(
            method=req.command,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=list(req.headers.items()),
            body=body,
            route_key=route.key,
            path_parameters=params,
            account_id=self.runtime.config.account_id,
            api_id=API_ID,
            request_id=request_id,
            source_ip=req.client_address[0],
            domain_name=f"127.0.0.1:{port}",
            authorizer=authorized.authorizer if authorized is not None else None,
        )
        host = self.runtime.hosts[route.function]
        # Lambda gives every invocation its own request id (context.aws_request_id); API Gateway's
        # requestContext.requestId (the apigw-requestid header) is another id.
        invocation = host.invoke(event, request_id=str(uuid.uuid4()))
        self.runtime.journal.add_invocation(
            route.function,
            "http",
            invocation,
            [RecordOutcome(request_id, [request_id], invocation.ok, invocation.error_text)],
            note=route.key,
        )
        if not invocation.ok:
            self._problem(req, 502, request_id)  # the function's error is in the journal, not the answer
            return
        try:
            status, headers, cookies, data = events.http_api_response(invocation.result)
        except (ValueError, TypeError):
            self._problem(req, 502, request_id)  # HTTP API: a malformed function result is a 502
            return
        self._reply(req, status, headers, cookies, data, request_id)

    def _authorize(self, req: BaseHTTPRequestHandler, route: Route) -> Decision:
        if self.authorizer is None:  # no user pool provisioned: nothing can be verified
            return unauthorized("no authorizer is configured")
        return self.authorizer.authorize(dict(req.headers.items()), route.access.scopes)

    def _refuse(self, req: BaseHTTPRequestHandler, decision: Decision, request_id: str) -> None:
        """API Gateway's own answer to a refused token (not a problem: its body, its header)."""
        data = json.dumps(decision.body, separators=(",", ":")).encode()  # {"message":"Unauthorized"}, 26 bytes
        headers = {"Content-Type": "application/json", **decision.headers}
        self._reply(req, decision.status, headers, [], data, request_id)

    def _problem(
        self, req: BaseHTTPRequestHandler, status: int, request_id: str, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(problem_body(status, instance=request_instance(request_id))).encode()
        self._reply(req, status, {"Content-Type": CONTENT_TYPE, **(headers or {})}, [], data, request_id)

    @staticmethod
    def _reply(  # noqa: PLR0917 - mirrors an HTTP response's parts
        req: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        cookies: list[str],
        data: bytes,
        request_id: str,
    ) -> None:
        req.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                req.send_header(name, value)
        for cookie in cookies:
            req.send_header("Set-Cookie", cookie)
        req.send_header("apigw-requestid", request_id)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


def _new_request_id() -> str:
    return uuid.uuid4().hex[:16] + "="
