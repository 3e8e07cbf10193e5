"""shared.problems: the RFC 9457 error shape, validation reasons without input, strict JSON bodies."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Annotated

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from devtools.aws_events import api_gateway_http
from shared.problems import CONTENT_TYPE, Problem, body_problem, field_errors, install, problem_body, strict_json


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(pattern=r"^[A-Z0-9-]{2,40}$")
    quantity: StrictInt = Field(ge=1, le=1000)


class Place(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[Line] = Field(min_length=1)
    prices: dict[str, StrictInt] = Field(default_factory=dict)
    zone: str = "UTC"

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if "/" not in value and value != "UTC":
            raise ValueError("must be an IANA time zone, e.g. Europe/Berlin")
        return value


def make_app(**headers: str) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
    install(app, headers=headers)

    @app.post("/orders")
    def place(order: Annotated[Place, Body()]) -> dict:
        return {"lines": len(order.lines)}

    @app.get("/orders/<order_id>")
    def get(order_id: str, as_of: Annotated[str | None, Query()] = None) -> dict:
        if order_id == "gone":
            raise NotFoundError("order not found")
        if order_id == "conflict":
            raise Problem(409, "cannot", kind="conflict", title="Conflict", order_status="Shipped")
        return {"id": order_id}

    return app


def call(app, method: str, path: str, body=None, content_type: str | None = "application/json", **kwargs):
    headers = {"content-type": content_type} if content_type else {}
    response = app.resolve(api_gateway_http(method, path, body=body, headers=headers, **kwargs), {})
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def test_problem_body_has_the_rfc_9457_members_and_extensions_after_them():
    assert problem_body(404) == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "Not Found"}
    body = problem_body(
        409, "cannot", kind="conflict", title="Conflict", instance="urn:request:r1", order_status="Paid"
    )
    assert body == {
        "type": "https://eda.example/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "cannot",
        "instance": "urn:request:r1",
        "order_status": "Paid",
    }
    result = Problem(502).result("r2", headers={"Cache-Control": "no-store"})
    assert result["headers"] == {"Cache-Control": "no-store", "Content-Type": CONTENT_TYPE}
    assert json.loads(result["body"])["instance"] == "urn:request:r2"


def test_validation_errors_name_location_field_and_rule_never_the_input():
    app = make_app()
    body = {
        "lines": [{"sku": "ok-lower", "quantity": True}, {"sku": "MUG-1", "quantity": "2", "4111111111111111": 1}],
        "prices": {"<script>": "x"},
        "zone": "Mars",
        "surprise": "4111111111111111",
    }
    status, problem, headers = call(app, "POST", "/orders", json.dumps(body))
    assert status == 400 and headers["Content-Type"] == CONTENT_TYPE
    assert problem["type"] == "https://eda.example/problems/validation" and problem["title"] == "Invalid request"
    assert problem["detail"] == "7 invalid fields: see errors"
    assert problem["instance"].startswith("urn:request:")
    assert problem["errors"] == [
        {"in": "body", "field": "lines.0.sku", "reason": "String should match pattern '^[A-Z0-9-]{2,40}$'"},
        {"in": "body", "field": "lines.0.quantity", "reason": "Input should be a valid integer"},
        {"in": "body", "field": "lines.1.quantity", "reason": "Input should be a valid integer"},
        {"in": "body", "field": "lines.1", "reason": "unexpected field (only the documented fields are accepted)"},
        {"in": "body", "field": "prices.*", "reason": "Input should be a valid integer"},
        {"in": "body", "field": "zone", "reason": "must be an IANA time zone, e.g. Europe/Berlin"},
        {"in": "body", "field": "", "reason": "unexpected field (only the documented fields are accepted)"},
    ]
    text = json.dumps(problem)
    for echoed in ("4111", "<script>", "Mars", "surprise", "ok-lower"):
        assert echoed not in text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "a JSON object is required"),
        ("null", "a JSON object is required"),
        ("[]", "must be a JSON object"),
        ('"lines"', "must be a JSON object"),
        ("{", "not valid JSON: Expecting property name enclosed in double quotes"),
        ("[" * 100_000, "not valid JSON: nested too deeply"),
        ('{"a": 1' + "0" * 5000 + "}", "not valid JSON: a number has more than 100 digits"),
        ('{"a": 1e400}', "not valid JSON: a number is out of range"),
        ('{"a": NaN}', "not valid JSON: NaN and Infinity are not JSON numbers"),
        ('{"a": -Infinity}', "not valid JSON: NaN and Infinity are not JSON numbers"),
        ('{"a": 1, "a": 2}', "not valid JSON: a member name appears twice in one object"),
        ('{"a": "\\ud800"}', "not valid JSON: a string holds a lone UTF-16 surrogate (not Unicode text)"),
        (b"\xff\xfe{}", "the body is not UTF-8 text"),
    ],
)
def test_unreadable_bodies_are_400_on_the_body_itself(raw, reason):
    status, problem, _ = call(make_app(), "POST", "/orders", raw)
    assert (status, problem["errors"]) == (400, [{"in": "body", "field": "", "reason": reason}])
    event = api_gateway_http("POST", "/orders", body=raw, headers={"content-type": "application/json"})
    if reason.startswith(("not valid JSON", "the body")):  # the same verdict before a resolver runs
        assert body_problem(event).errors == problem["errors"]


def test_a_surrogate_pair_is_text_and_is_accepted():
    assert strict_json('{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}
    assert body_problem(api_gateway_http("POST", "/x", body='{"a": "\U0001f600"}')) is None


def test_another_content_type_is_415_and_other_errors_keep_their_status():
    app = make_app(**{"Cache-Control": "no-store"})
    status, problem, headers = call(app, "POST", "/orders", "lines=1", content_type="text/plain")
    assert (status, problem["type"]) == (415, "https://eda.example/problems/unsupported-media-type")
    assert headers["Cache-Control"] == "no-store"
    status, problem, _ = call(app, "GET", "/orders/gone")
    assert (status, problem["type"], problem["detail"]) == (404, "about:blank", "order not found")
    status, problem, _ = call(app, "GET", "/orders/conflict")
    assert (status, problem["order_status"], problem["title"]) == (409, "Shipped", "Conflict")
    status, problem, _ = call(app, "DELETE", "/nowhere")
    assert (status, problem["type"], problem["title"]) == (404, "about:blank", "Not Found")


def test_a_unicode_error_that_is_not_about_the_body_is_not_turned_into_a_400():
    app = make_app()

    @app.get("/broken")
    def broken() -> dict:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "a bug")

    with pytest.raises(UnicodeDecodeError):
        app.resolve(api_gateway_http("GET", "/broken"), {})


def test_a_base64_body_is_decoded_before_it_is_judged():
    good = api_gateway_http("POST", "/orders", body=b'{"lines": [{"sku": "MUG-1", "quantity": 1}]}')
    assert good["isBase64Encoded"] and body_problem(good) is None
    assert make_app().resolve(good, {})["statusCode"] == 200
    bad = {**good, "body": base64.b64encode(b'{"lines": NaN}').decode()}
    assert body_problem(bad).errors[0]["reason"].startswith("not valid JSON")


def test_field_errors_takes_plain_pydantic_errors_too():
    try:
        Line.model_validate({"sku": "x", "quantity": 1.5})
    except Exception as exc:
        errors = field_errors(exc.errors(), location="query")
    assert [(e["in"], e["field"]) for e in errors] == [("query", "sku"), ("query", "quantity")]


def test_importing_it_imports_neither_powertools_nor_pydantic():
    heavy = "('aws_lambda_powertools', 'pydantic')"
    code = f"import sys, shared.problems; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=".")
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ("lines=x", "application/x-www-form-urlencoded"),  # what an HTML form (CSRF) sends
        ('{"lines": [{"sku": "MUG-1", "quantity": 1}]}', "multipart/form-data"),  # no boundary
        ('{"lines": "\u202e😀"}', "multipart/form-data; boundary=x"),  # not latin-1
        ('{"lines": [{"sku": "MUG-1", "quantity": 1}]}', "text/plain"),
    ],
)
def test_only_json_bodies_are_read_anything_else_is_415(raw, content_type):
    status, problem, _ = call(make_app(), "POST", "/orders", raw, content_type=content_type)
    assert (status, problem["type"]) == (415, "https://eda.example/problems/unsupported-media-type")
    event = api_gateway_http("POST", "/orders", body=raw, headers={"Content-Type": content_type})
    assert body_problem(event).status == 415  # the same verdict before a resolver runs


def test_a_form_body_that_would_validate_is_still_415():
    app = make_app()

    @app.post("/notes")
    def note(body: Annotated[Line, Body()]) -> dict:
        return {"ok": True}

    status, _, _ = call(app, "POST", "/notes", "sku=MUG-1&quantity=1", content_type="application/x-www-form-urlencoded")
    assert status == 415
