"""Who may call each HTTP route, for every route of every manifest, on the local runtime with real
moto Cognito tokens: a new route is covered as soon as its manifest declares it.

For every route behind the JWT authorizer (`customer`, `staff`): no token, an expired token, a token
for another app client (wrong audience), a tampered one and one from another user pool are each
API Gateway's 401 `{"message":"Unauthorized"}` (the function never runs). Every `staff` route
refuses a customer with 403. Every route whose path names a customer's resource answers another
customer 404, exactly as for a resource that does not exist. Every `public` route reaches its
function without a token (which then verifies the caller itself).

Path parameters are classified below (OWNED or SHARED): a route with a parameter in neither fails
`test_every_path_parameter_is_classified`, so a new kind of resource cannot go untested.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from devtools import manifest as mf
from devtools.local.identity import Users, decode
from devtools.local.provision import UserPoolWiring

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-auth")]

ROUTES = [route for svc in mf.load_services() for fn in svc.functions for route in fn.trigger.route_access]
AUTHORIZED = [r for r in ROUTES if r.access != "public"]
STAFF = [r for r in ROUTES if r.access == "staff"]
PUBLIC = [r for r in ROUTES if r.access == "public"]
# Path parameters naming a resource that belongs to one customer: another customer gets a 404.
OWNED = {"order_id"}
# Path parameters naming shared data (the catalogue, currencies): the same for every caller.
SHARED = {"sku": "AUTH-SKU-1", "market": "eu", "base": "EUR"}
WITH_OWNED = [r for r in AUTHORIZED if OWNED & set(r.path_parameters)]


def _id(route: mf.RouteAccess) -> str:
    return route.key


def _load_support():
    name = "commerce_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("commerce_support.py"))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    from devtools.local.runtime import Runtime, RuntimeConfig

    config = RuntimeConfig(
        services_roots=[mf.SERVICES_DIR], state_dir=tmp_path_factory.mktemp("e2e-auth"), retry_after=0
    )
    with Runtime(config) as rt:
        yield rt


@pytest.fixture(scope="module")
def users(runtime) -> Users:
    return Users(runtime.client("cognito-idp"), runtime.topology.user_pool)


@pytest.fixture(scope="module")
def anna(users):
    return users.token("anna-" + uuid.uuid4().hex[:6])


@pytest.fixture(scope="module")
def ben(users):
    return users.token("ben-" + uuid.uuid4().hex[:6])


def call(runtime, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None):
    data = json.dumps(body).encode() if body is not None else (b"{}" if method in ("POST", "PUT") else None)
    req = urllib.request.Request(
        runtime.gateway.url + path,
        data=data,
        method=method,
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, hdrs, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, dict(err.headers), err.read()
    try:
        answer = json.loads(raw or b"null")
    except ValueError:
        answer = raw.decode(errors="replace")
    return status, {k.lower(): v for k, v in hdrs.items()}, answer


def concrete(route: mf.RouteAccess, owned: dict[str, str] | None = None) -> str:
    path = route.path
    for name in route.path_parameters:
        value = (owned or {}).get(name) or SHARED.get(name) or f"ord_{'0' * 32}"
        path = path.replace("{" + name + "}", value).replace("{" + name + "+}", value)
    return path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_gateway_refused(answer, status: int, expected: int = 401, description: str | None = None) -> None:
    got, headers, body = answer
    assert got == expected, answer
    assert body == {"message": "Unauthorized" if expected == 401 else "Forbidden"}, body
    assert headers["content-type"] == "application/json"
    if description is not None:
        assert f'error_description="{description}"' in headers["www-authenticate"], headers


# ------------------------------------------------------------------ the routes themselves


def test_every_path_parameter_is_classified():
    unknown = {(r.key, p) for r in ROUTES for p in r.path_parameters if p not in OWNED and p not in SHARED}
    assert not unknown, f"classify these path parameters as OWNED or SHARED in {__file__}: {sorted(unknown)}"
    assert AUTHORIZED and STAFF and PUBLIC and WITH_OWNED, "the generated matrix would prove nothing"


def test_the_gateway_serves_exactly_the_manifests_routes_with_their_access(runtime):
    served = {r.key: (r.route.access, r.route.scopes) for r in runtime.topology.routes}
    assert served == {r.key: (r.access, r.scopes) for r in ROUTES}


# ------------------------------------------------------------------ 401: the JWT authorizer


@pytest.mark.parametrize("route", AUTHORIZED, ids=_id)
def test_no_token_is_401(runtime, route):
    status, headers, body = call(runtime, route.method, concrete(route))
    assert (status, body) == (401, {"message": "Unauthorized"})
    assert headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("route", AUTHORIZED, ids=_id)
def test_an_expired_token_is_401(runtime, anna, route):
    authorizer = runtime.gateway.authorizer
    assert decode(anna.access_token)["exp"] - time.time() < 2 * 3600
    authorizer.clock = lambda: time.time() + 2 * 3600  # the same real token, two hours later
    try:
        answer = call(runtime, route.method, concrete(route), bearer(anna.access_token))
    finally:
        authorizer.clock = time.time
    assert_gateway_refused(answer, 401, description="the token has expired")


@pytest.fixture(scope="module")
def other_client_token(runtime, users, anna):
    """A real token of the same pool and user, issued to an app client the authorizer does not list."""
    idp, pool = runtime.client("cognito-idp"), runtime.topology.user_pool
    client = idp.create_user_pool_client(UserPoolId=pool.id, ClientName="not-the-app")["UserPoolClient"]
    other = UserPoolWiring(pool.id, pool.name, pool.issuer, {**pool.clients, "other": client["ClientId"]}, pool.domain)
    return Users(idp, other, client="other").sign_in(anna.user)


@pytest.mark.parametrize("route", AUTHORIZED, ids=_id)
@pytest.mark.parametrize("kind", ["access", "id"])
def test_a_token_for_another_app_client_is_401(runtime, other_client_token, route, kind):
    token = other_client_token.access_token if kind == "access" else other_client_token.id_token
    answer = call(runtime, route.method, concrete(route), bearer(token))
    assert_gateway_refused(answer, 401, description="the token does not have a valid audience")


@pytest.mark.parametrize("route", AUTHORIZED, ids=_id)
def test_a_tampered_token_is_401(runtime, anna, ben, route):
    """Anna's signed token with Ben's sub in its payload: the signature no longer matches."""
    header, _, signature = anna.access_token.split(".")
    claims = {**decode(anna.access_token), "sub": ben.sub, "username": ben.sub}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    answer = call(runtime, route.method, concrete(route), bearer(f"{header}.{payload}.{signature}"))
    assert_gateway_refused(answer, 401, description="the token's signature is invalid")


@pytest.fixture(scope="module")
def other_pool_token(runtime):
    """A real token of another user pool (another env's, say): signed by a key the issuer serves, by
    the wrong issuer. (moto signs every pool with one key, so only the issuer check can refuse it.)"""
    idp = runtime.client("cognito-idp")
    pool_id = idp.create_user_pool(PoolName="eda-elsewhere-customers", UsernameAttributes=["email"])["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool_id, ClientName=mf.MOBILE_CLIENT)["UserPoolClient"]
    region = runtime.config.region
    pool = UserPoolWiring(
        pool_id,
        "eda-elsewhere-customers",
        f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        {mf.MOBILE_CLIENT: client["ClientId"]},
        "",
    )
    try:
        yield Users(idp, pool).token("mallory")
    finally:
        idp.delete_user_pool(UserPoolId=pool_id)


@pytest.mark.parametrize("route", AUTHORIZED, ids=_id)
def test_a_token_from_another_user_pool_is_401(runtime, other_pool_token, route):
    answer = call(runtime, route.method, concrete(route), bearer(other_pool_token.access_token))
    assert_gateway_refused(answer, 401, description="the token does not have a valid issuer")


# ------------------------------------------------------------------ 403: staff only


@pytest.mark.parametrize("route", STAFF, ids=_id)
def test_a_customer_on_a_staff_route_is_403(runtime, anna, route):
    status, headers, body = call(runtime, route.method, concrete(route), bearer(anna.access_token))
    assert status == 403, body
    if route.scopes:  # the authorizer refuses: the token has none of the route's scopes
        assert body == {"message": "Forbidden"} and 'error="insufficient_scope"' in headers["www-authenticate"]
    else:  # the function checks the group (shared.auth.require_staff)
        assert headers["content-type"] == "application/problem+json"
        assert body["type"] == "https://eda.example/problems/forbidden", body


@pytest.mark.parametrize("route", STAFF, ids=_id)
def test_staff_pass_the_authorizer_and_the_group_check(runtime, users, route):
    olga = users.token("olga-staff", staff=True)
    status, _, body = call(runtime, route.method, concrete(route), bearer(olga.access_token))
    assert status not in (401, 403), body  # the function ran as staff: its own answer (200, 400, 404...)


# ------------------------------------------------------------------ 404: another customer's resource


@pytest.fixture(scope="module")
def annas_order(runtime, anna) -> dict[str, str]:
    """An order Anna placed (through the saga's public routes), readable by her."""
    shop = support.Shop(runtime)
    sku = "AUTH-" + uuid.uuid4().hex[:6].upper()
    shop.seed_rates()
    shop.put_stock(sku, 5, "10.00")
    shop.wait_listed([sku], markets=("eu",))
    who = {**support.customer("de-DE"), "user": anna.user}
    status, order = shop.place(who, "EUR", [(sku, 1)], support.CARD_OK)
    assert status == 201, order
    order_id = order["order_id"]
    support.eventually(lambda: shop.order(order_id)[0] == 200, "the order's view")
    return {"order_id": order_id}


@pytest.mark.parametrize("route", WITH_OWNED, ids=_id)
def test_another_customers_resource_is_404_like_a_missing_one(runtime, anna, ben, annas_order, route):
    theirs = call(runtime, route.method, concrete(route, annas_order), bearer(ben.access_token))
    missing = call(runtime, route.method, concrete(route), bearer(ben.access_token))
    assert theirs[0] == missing[0] == 404, (theirs, missing)
    assert {k: v for k, v in theirs[2].items() if k != "instance"} == {
        k: v for k, v in missing[2].items() if k != "instance"
    }, "another customer's resource must look exactly like a missing one"
    mine = call(runtime, "GET", concrete(route, annas_order).removesuffix("/cancel"), bearer(anna.access_token))
    assert mine[0] == 200 and mine[2].get("status") != "Cancelled", mine  # Ben changed nothing


# ------------------------------------------------------------------ public routes


@pytest.mark.parametrize("route", PUBLIC, ids=_id)
def test_a_public_route_reaches_its_function_without_a_token(runtime, route):
    status, headers, body = call(runtime, route.method, concrete(route))
    assert body != {"message": "Unauthorized"}, "a public route has no authorizer"
    assert headers.get("content-type") == "application/problem+json" and status == 401, body  # its own check
    assert route.verified_by == "hmac-signature" and "signature" in body["type"]
