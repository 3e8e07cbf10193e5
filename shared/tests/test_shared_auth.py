"""shared.auth: the caller as API Gateway's JWT authorizer hands it over, and the two refusals."""

from __future__ import annotations

import json

import pytest

from devtools import manifest
from devtools.aws_events import api_gateway_http
from shared.auth import STAFF_GROUP, STAFF_SCOPE, caller, claim_list, customer_id, require_staff
from shared.problems import Problem

SUB = "6418b458-d091-705e-122e-04bf2945fcdf"
CLIENT = "5kek0i61pgkokoob4fsm9fo9it"


def access_token_claims(**extra):
    return {"sub": SUB, "client_id": CLIENT, "token_use": "access", "username": SUB, "scope": "openid", **extra}


def event(claims=None, scopes=None):
    return api_gateway_http("GET", "/orders/ord_1", claims=claims, scopes=scopes)


def refused(call, status: int) -> dict:
    with pytest.raises(Problem) as err:
        call()
    assert err.value.status == status
    body = err.value.body("req-1")
    assert body["status"] == status and body["type"].startswith("https://")
    json.dumps(body)
    return body


def test_the_customer_is_the_tokens_sub_for_access_and_id_tokens():
    assert customer_id(event(access_token_claims())) == SUB
    id_token = {"sub": SUB, "aud": CLIENT, "token_use": "id", "cognito:username": SUB, "email": "a@b.example"}
    who = caller(event(id_token))
    assert (who.sub, who.client_id, who.token_use, who.is_user) == (SUB, CLIENT, "id", True)
    assert customer_id(event(id_token)) == SUB


def test_groups_arrive_as_api_gateway_renders_them():
    who = caller(event(access_token_claims(**{"cognito:groups": ["staff", "admins"]})))
    assert who.claims["cognito:groups"] == "[staff admins]"  # the wire format
    assert who.groups == {"staff", "admins"} and who.is_staff
    assert require_staff(event(access_token_claims(**{"cognito:groups": ["staff"]}))).sub == SUB
    assert claim_list("[a b]") == ["a", "b"] and claim_list(["a"]) == ["a"] and claim_list(None) == []


def test_a_customer_on_a_staff_route_is_a_403_problem():
    body = refused(lambda: require_staff(event(access_token_claims(**{"cognito:groups": ["vip"]}))), 403)
    assert body["type"].endswith("/forbidden") and "staff" in body["detail"]
    refused(lambda: require_staff(event(access_token_claims())), 403)


def test_an_operations_client_is_staff_by_scope_but_no_customer():
    machine = {"sub": CLIENT, "client_id": CLIENT, "token_use": "access", "scope": STAFF_SCOPE}
    who = require_staff(event(machine, scopes=[STAFF_SCOPE]))
    assert who.is_staff and not who.is_user
    assert caller(event(machine)).is_staff  # a route without scopes: the scope claim is read
    refused(lambda: customer_id(event(machine)), 403)


def test_no_verified_token_is_a_401_problem():
    body = refused(lambda: customer_id(event()), 401)
    assert body["type"].endswith("/unauthenticated")
    refused(lambda: customer_id(event({"token_use": "access"})), 401)  # no sub
    refused(lambda: customer_id(event({"sub": SUB, "token_use": "refresh"})), 401)
    refused(lambda: caller({"requestContext": {"authorizer": {"lambda": {"sub": SUB}}}}), 401)


def test_powertools_event_objects_are_read_too():
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    assert customer_id(APIGatewayProxyEventV2(event(access_token_claims()))) == SUB


def test_names_agree_with_the_manifest_loader_and_terraform():
    assert STAFF_GROUP == manifest.STAFF_GROUP
    assert (STAFF_SCOPE,) == manifest.PLATFORM_SCOPES
    cognito = (manifest.REPO_ROOT / "infra" / "modules" / "region" / "cognito.tf").read_text()
    assert f'staff_group      = "{STAFF_GROUP}"' in cognito
    resource_server, scope = STAFF_SCOPE.split("/")
    assert f'resource_server  = "{resource_server}"' in cognito and f'staff_scope_name = "{scope}"' in cognito
