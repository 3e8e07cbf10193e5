"""One error shape for every HTTP route: RFC 9457 problem details (`application/problem+json`).

    from shared.problems import Problem, install, invalid, strict_json

    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
    install(app)  # request validation -> 400, content type -> 415, Powertools' errors, Problem -> problems

    @app.post("/orders/<order_id>/cancel")
    def cancel(order_id: str, request: Annotated[CancelRequest, Body()]) -> Response:
        ...
        raise Problem(409, "the order can no longer be cancelled", kind="order-not-cancellable",
                      title="Order cannot be cancelled", order_status="Shipped")
        raise invalid([{"in": "body", "field": "currency", "reason": "no exchange rate ..."}])

Every error answer has this body (extension members after the five standard ones):

    {"type": "https://eda.example/problems/validation", "title": "Invalid request", "status": 400,
     "detail": "1 invalid field: see errors", "instance": "urn:request:<API Gateway request id>",
     "errors": [{"in": "body", "field": "lines.0.quantity", "reason": "Input should be a valid integer"}]}

* `type` names the kind of problem (clients switch on it); `about:blank` when the HTTP status
  says it all (404, 405, 502...), and then `title` is the status phrase.
* `instance` is the request id API Gateway logged, never the path (the path is caller input).
* `errors` (validation only): where (`in`: body, query, path, header), which field (a dotted
  path, `""` for the body itself, list indexes as numbers) and the rule it breaks.
* Nothing the caller sent is echoed: not values, not unknown field names, not the path. Reasons
  name the field and the rule. That keeps attacker-controlled text out of responses and logs
  (reflection, log injection) and personal or card data out of both.

`problem_body` is the one builder (the local gateway uses it for its own errors too);
`Problem.response()` / `problem_result()` wrap it for a Powertools resolver or a raw handler.
Only the standard library is imported at module level; Powertools on first use.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://eda.example/problems/"  # `.example` is reserved: a name, not a page to fetch
VALIDATION = "validation"
MAX_NUMBER_DIGITS = 100  # a JSON number longer than this is refused before int() spends time on it

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")  # field names we declare; anything else is input
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LOCATIONS = ("body", "query", "path", "header", "cookie")


def problem_body(
    status: int,
    detail: str | None = None,
    *,
    kind: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """The problem document. `kind` (a slug) makes the type URI; without it `about:blank`
    and the HTTP status phrase as title."""
    phrase = _phrase(status)
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind if kind else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    body.update(extensions)
    return body


def request_instance(request_id: str | None) -> str | None:
    return f"urn:request:{request_id}" if request_id else None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Problem(Exception):
    """An answer that is an error: raise it from a route (with `install(app)`) or build a result.

    Extension members (e.g. `order_status="Shipped"`) are added to the body as they are: only
    pass values that are ours, never the caller's input.
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        kind: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or _phrase(status))
        self.status, self.detail, self.kind, self.title = status, detail, kind, title
        self.errors, self.headers, self.extensions = errors, dict(headers or {}), extensions

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        return problem_body(
            self.status,
            self.detail,
            kind=self.kind,
            title=self.title,
            instance=request_instance(request_id),
            errors=self.errors,
            **self.extensions,
        )

    def result(self, request_id: str | None = None, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """An API Gateway proxy result (for answers given outside a resolver)."""
        return {
            "statusCode": self.status,
            "headers": {**(headers or {}), **self.headers, "Content-Type": CONTENT_TYPE},
            "body": json.dumps(self.body(request_id)),
            "isBase64Encoded": False,
        }

    def response(self, request_id: str | None = None, headers: Mapping[str, str] | None = None) -> Response:
        """A Powertools `Response`."""
        from aws_lambda_powertools.event_handler import Response

        return Response(
            self.status,
            CONTENT_TYPE,
            json.dumps(self.body(request_id)),
            headers={**(headers or {}), **self.headers},
        )


def invalid(errors: list[dict[str, Any]], detail: str | None = None) -> Problem:
    """The 400 of a request that breaks validation rules; `errors` as `field_errors` makes them."""
    count = len(errors)
    return Problem(
        400,
        detail or f"{count} invalid field{'s' if count != 1 else ''}: see errors",
        kind=VALIDATION,
        title="Invalid request",
        errors=errors,
    )


def unsupported_media_type() -> Problem:
    return Problem(
        415, "send the body as application/json", kind="unsupported-media-type", title="Unsupported media type"
    )


def _json_media_type(content_type: str | None) -> bool:
    """No Content-Type (read as JSON, as Powertools does) or application/json[; params]."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type in ("", "application/json")


def problem_result(
    status: int, detail: str | None = None, *, request_id: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """`Problem(status, detail, ...).result(request_id)`: a proxy result in one call."""
    return Problem(status, detail, **kwargs).result(request_id)


# ------------------------------------------------------------------ validation errors


def field_errors(errors: Iterable[Mapping[str, Any]], *, location: str = "body") -> list[dict[str, str]]:
    """pydantic (or Powertools request validation) errors as `{"in", "field", "reason"}`, one per
    field, without the input. A `loc` that starts with body/query/path/header says where;
    otherwise it is `location`. Unknown fields are reported on their parent, unnamed."""
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for error in errors:
        loc = list(error.get("loc") or ())
        where = location
        if loc and loc[0] in _LOCATIONS:
            where = str(loc.pop(0))
        kind = error.get("type", "")
        if kind == "json_invalid":
            ctx = error.get("ctx") or {}
            field, reason = "", f"not valid JSON: {ctx.get('error') or 'cannot be parsed'}"
        elif kind == "extra_forbidden":
            field, reason = _dotted(loc[:-1]), "unexpected field (only the documented fields are accepted)"
        elif kind in ("model_attributes_type", "model_type", "dict_type") and not loc and where == "body":
            field, reason = "", "must be a JSON object"
        elif kind == "missing" and not loc and where == "body":
            field, reason = "", "a JSON object is required"
        else:
            field, reason = _dotted(loc), _reason(error)
        if (where, field) not in seen:  # the first reason per field: one thing to fix at a time
            seen.add((where, field))
            out.append({"in": where, "field": field, "reason": reason})
    return out


def _dotted(loc: list[Any]) -> str:
    parts = []
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int) or (isinstance(part, str) and _NAME.match(part)):
            parts.append(str(part))
        else:
            parts.append("*")  # a dict key or a name we did not declare: input, not echoed
    return ".".join(parts)


def _reason(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg") or "is invalid")
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


# ------------------------------------------------------------------ JSON bodies


class _Refused(ValueError):
    pass


def strict_json(text: str | bytes) -> Any:
    """`json.loads` for request bodies, refusing what would otherwise pass and break later:
    NaN/Infinity, numbers beyond float range or longer than MAX_NUMBER_DIGITS digits, a member
    name twice in one object (parsers disagree on which wins), lone UTF-16 surrogates (not
    encodable as UTF-8), and nesting deeper than the parser's stack. Every refusal is a
    `json.JSONDecodeError`, so Powertools reports it as `json_invalid` (a 400 from `install`)."""
    doc = text.decode("utf-8") if isinstance(text, bytes) else text
    try:
        value = json.loads(
            doc,
            object_pairs_hook=_unique_members,
            parse_constant=_no_constant,
            parse_int=_integer,
            parse_float=_finite_float,
        )
        _refuse_lone_surrogates(value)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", doc, 0) from None
    except _Refused as exc:
        raise json.JSONDecodeError(str(exc), doc, 0) from None
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("a member name appears twice in one object")
    return result


def _no_constant(name: str) -> Any:
    raise _Refused("NaN and Infinity are not JSON numbers")


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number is out of range")
    return value


def _refuse_lone_surrogates(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                raise _Refused("a string holds a lone UTF-16 surrogate (not Unicode text)")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def body_problem(event: Mapping[str, Any]) -> Problem | None:
    """The problem with the event's body, else None: 415 if it is not declared JSON, 400 if it
    is not readable JSON text (not UTF-8, or refused by `strict_json`). The same verdicts as
    `install`, for checks that must run before a resolver (idempotency)."""
    import base64
    import binascii

    body = event.get("body")
    if not body:
        return None
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if not _json_media_type(headers.get("content-type")):
        return unsupported_media_type()
    try:
        text = base64.b64decode(body, validate=True).decode("utf-8") if event.get("isBase64Encoded") else body
    except (binascii.Error, UnicodeDecodeError):
        return invalid([{"in": "body", "field": "", "reason": "the body is not UTF-8 text"}])
    try:
        strict_json(text)
    except json.JSONDecodeError as exc:
        return invalid([{"in": "body", "field": "", "reason": f"not valid JSON: {exc.msg}"}])
    return None


# ------------------------------------------------------------------ Powertools


def _json_bodies_only() -> Any:
    """Powertools' request validation, reading only JSON bodies (415 for any other media type)."""
    from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
        OpenAPIRequestValidationMiddleware,
    )
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType

    class JsonBodiesOnly(OpenAPIRequestValidationMiddleware):
        def _get_body(self, app: Any) -> Any:
            if not _json_media_type(app.current_event.headers.get("content-type")):
                error = {"type": "unsupported_content_type", "loc": ("body",), "msg": "not JSON", "input": {}}
                raise RequestUnsupportedContentType("Unsupported content type", errors=[error])
            return super()._get_body(app)

    return JsonBodiesOnly()


def install(app: APIGatewayHttpResolver, *, headers: Mapping[str, str] | None = None) -> Callable[[Problem], Response]:
    """Answer every refusal of `app` with a problem (`headers` added to each, e.g. no-store):

    * request validation (`enable_validation=True`): 400 with `errors`; a body that is not
      UTF-8: 400; a Content-Type other than application/json (or none): 415. Powertools would
      also read form and multipart bodies; our APIs are JSON only, and an HTML form must not be
      able to post to them (CSRF: a form post needs no CORS preflight);
    * `Problem` raised by a route: as built;
    * Powertools' `ServiceError`s (`NotFoundError`, `BadRequestError`, ... and no matching
      route): their status, their message as detail (write it without the caller's input).

    Other exceptions are not caught: the invocation fails (the Errors metric and its alarm see
    it) and API Gateway answers 502. Returns the function that turns a `Problem` into the
    response (logged, with `headers`), for a service's own exception handlers:

        respond = install(app)

        @app.exception_handler(SignatureError)
        def _unauthorized(exc):
            return respond(Problem(401, str(exc), kind="invalid-signature"))
    """
    from aws_lambda_powertools.event_handler.exceptions import ServiceError
    from aws_lambda_powertools.event_handler.openapi.exceptions import (
        RequestUnsupportedContentType,
        RequestValidationError,
    )

    extra = dict(headers or {})
    if getattr(app, "_request_validation_middleware", None) is not None:
        app._request_validation_middleware = _json_bodies_only()  # tested: shared/tests/test_shared_problems.py

    def request_id() -> str | None:
        return (app.current_event.get("requestContext") or {}).get("requestId")

    def answer(problem: Problem) -> Response:
        from shared.observability import logger

        fields = [f"{e['in']}:{e['field']}" for e in problem.errors or []]
        logger.info(
            "request refused",
            extra={"status": problem.status, "problem": problem.kind or "about:blank", "fields": fields},
        )
        return problem.response(request_id(), extra)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        return answer(invalid(field_errors(exc.errors())))

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(exc: RequestUnsupportedContentType) -> Response:
        return answer(unsupported_media_type())

    @app.exception_handler(UnicodeDecodeError)
    def _undecodable(exc: UnicodeDecodeError) -> Response:
        problem = body_problem(app.current_event.raw_event)
        if problem is None:
            raise exc  # not the request body: a bug, let the invocation fail
        return answer(problem)

    @app.exception_handler(Problem)
    def _problem(exc: Problem) -> Response:
        return answer(exc)

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        detail = exc.msg if isinstance(exc.msg, str) and exc.msg else None
        return answer(Problem(int(exc.status_code), detail))

    return answer
