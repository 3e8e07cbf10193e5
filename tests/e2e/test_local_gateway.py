"""The local HTTP gateway's own answers (devtools.local.gateway): no runtime started, a fake function host.

Every error the gateway produces itself (no route, wrong method, too large, too long, the
function failed) is an RFC 9457 problem (application/problem+json), like the services' errors.
"""

from __future__ import annotations

import http.client
import json
from types import SimpleNamespace

import pytest

from devtools.local.gateway import Gateway
from devtools.local.provision import RouteWiring
from devtools.manifest import RouteAccess

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit (10 MB)


class _Journal:
    def add_invocation(self, *args, **kwargs) -> None:
        pass


class _Host:
    def __init__(self, result=None, ok: bool = True) -> None:
        self.result, self.ok = result, ok
        self.events: list[dict] = []

    def invoke(self, event, request_id):
        self.events.append(event)
        return SimpleNamespace(ok=self.ok, result=self.result, error_text=None if self.ok else "boom")


def _runtime(hosts: dict[str, tuple[list[tuple[str, str]], _Host]]):
    public = [  # these routes declare no authorizer: the gateway's own answers are what is tested here
        RouteWiring(RouteAccess(method, path, "public", verified_by="hmac-signature"), name)
        for name, (routes, _) in hosts.items()
        for method, path in routes
    ]
    return SimpleNamespace(
        topology=SimpleNamespace(routes=public, user_pool=None),
        hosts={name: host for name, (_, host) in hosts.items()},
        journal=_Journal(),
        config=SimpleNamespace(account_id="123456789012"),
    )


@pytest.fixture
def gateway():
    ok = _Host({"statusCode": 200, "body": '{"ok": true}', "headers": {"content-type": "application/json"}})
    failing, garbled = _Host(ok=False), _Host(result={"statusCode": "teapot"})
    runtime = _runtime(
        {
            "svc.ok": ([("GET", "/things/{id}"), ("PUT", "/things/{id}")], ok),
            "svc.failing": ([("POST", "/fail")], failing),
            "svc.garbled": ([("POST", "/garbled")], garbled),
        }
    )
    gw = Gateway(runtime, "127.0.0.1", 0)
    gw.start()
    yield gw
    gw.stop()


def request(gw: Gateway, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    host, port = gw.server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def assert_problem(status_and_headers_and_body, status: int) -> dict:
    got, headers, data = status_and_headers_and_body
    assert got == status, data[:300]
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(data)
    assert problem["status"] == status and problem["title"] and problem["type"] == "about:blank"
    assert problem["instance"] == "urn:request:" + headers["apigw-requestid"]
    return problem


def test_a_route_answers_as_the_function_does(gateway):
    status, _, data = request(gateway, "GET", "/things/1")
    assert (status, json.loads(data)) == (200, {"ok": True})


def test_no_route_is_a_404_problem(gateway):
    assert_problem(request(gateway, "GET", "/nowhere"), 404)


def test_a_known_path_with_another_method_is_405_with_allow(gateway):
    response = request(gateway, "DELETE", "/things/1")
    assert_problem(response, 405)
    assert response[1]["Allow"] == "GET, PUT"


def test_a_failing_function_is_a_502_problem_without_its_error(gateway):
    problem = assert_problem(request(gateway, "POST", "/fail", b"{}"), 502)
    assert "boom" not in json.dumps(problem)
    problem = assert_problem(request(gateway, "POST", "/garbled", b"{}"), 502)
    assert "teapot" not in json.dumps(problem)


def test_a_path_too_long_is_a_414_problem_not_an_html_page(gateway):
    response = request(gateway, "GET", "/things/" + "x" * 100_000)
    assert_problem(response, 414)
    assert "/things/xxx" not in response[2].decode()


def test_a_body_too_large_is_a_413_problem_and_the_function_is_not_called(gateway):
    host = gateway.runtime.hosts["svc.ok"]
    response = request(gateway, "PUT", "/things/1", headers={"Content-Length": str(MAX_BODY_BYTES + 1)})
    assert_problem(response, 413)
    assert host.events == []


def test_a_bad_content_length_is_a_400_problem(gateway):
    assert_problem(request(gateway, "PUT", "/things/1", headers={"Content-Length": "ten"}), 400)
