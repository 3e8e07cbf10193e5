"""Idempotent event handlers and HTTP commands, on Powertools idempotency + DynamoDB.

    from shared.idempotency import idempotent_event, idempotent_http_command, register_context

    @idempotent_event                       # keyed on envelope.metadata.event_id
    def record_delivery(envelope, record):
        ...
        return {"stored": envelope.data.delivery_id}   # JSON-serialisable; replayed on duplicates

    @idempotent_http_command                # keyed on the Idempotency-Key header
    def handler(event, context):
        return app.resolve(event, context)  # a dict, as API Gateway wants it

The table is `IDEMPOTENCY_TABLE` (hash key "id", TTL on "expiration": Powertools' schema),
read on first use, so importing is cheap and tests can set the environment first.

Call `register_context(context)` at the start of every handler that uses these (the batch
helpers and `idempotent_http_command` do it for you): Powertools then stores the
invocation's deadline on the INPROGRESS record, so a timed-out invocation does not block
its retries until the record expires.

Errors callers map to responses: `IdempotencyValidationError` (same key, different body:
422), `IdempotencyAlreadyInProgressError` (same key still running: 409),
`InvalidIdempotencyKeyError` (header missing or too long: 400).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import inspect
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig

F = TypeVar("F", bound=Callable[..., Any])

TABLE_ENV = "IDEMPOTENCY_TABLE"
HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
EVENT_EXPIRY_SECONDS = 24 * 3600
HTTP_EXPIRY_SECONDS = 24 * 3600  # the IETF Idempotency-Key draft suggests at least 24 h

_configs: dict[str, IdempotencyConfig] = {}
_stores: dict[tuple[str, str], BasePersistenceLayer] = {}
_context: Any = None


class InvalidIdempotencyKeyError(ValueError):
    """The Idempotency-Key header is missing, empty or too long (map to 400)."""


def __getattr__(name: str) -> Any:
    # Re-export Powertools' errors without importing them (and boto3) at import time.
    if name in ("IdempotencyValidationError", "IdempotencyAlreadyInProgressError", "IdempotencyKeyError"):
        from aws_lambda_powertools.utilities.idempotency import exceptions

        return getattr(exceptions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------ configuration


def event_idempotency_config() -> IdempotencyConfig:
    """Config of `idempotent_event`: the key is the envelope's metadata.event_id."""
    return _config("event", event_key_jmespath="metadata.event_id", expires_after_seconds=EVENT_EXPIRY_SECONDS)


def http_idempotency_config() -> IdempotencyConfig:
    """Config of `idempotent_http_command`, applied to the normalised request it builds:
    `{"method", "path", "caller", "idempotency_key", "body"}`. The key is (method, path, caller,
    header value): another caller's same key is another request, never a replay of a response that
    was not theirs. The body is hashed for payload validation (same key + different body -> 422).

    For Powertools' `@idempotent` on a raw HTTP API v2 event use
    `event_key_jmespath='headers."idempotency-key"'` instead (v2 lowercases header names).
    """
    return _config(
        "http",
        event_key_jmespath="[method, path, caller, idempotency_key]",
        payload_validation_jmespath="body",
        expires_after_seconds=HTTP_EXPIRY_SECONDS,
    )


def _config(kind: str, **kwargs: Any) -> IdempotencyConfig:
    config = _configs.get(kind)
    if config is None:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        config = _configs[kind] = IdempotencyConfig(raise_on_no_idempotency_key=True, **kwargs)
        if _context is not None:
            config.register_lambda_context(_context)
    return config


def persistence_layer(kind: str = "event") -> BasePersistenceLayer:
    """The DynamoDB persistence layer on IDEMPOTENCY_TABLE (one per config kind: Powertools
    binds a layer to the first config it is used with)."""
    table = os.environ.get(TABLE_ENV)
    if not table:
        raise RuntimeError(f"{TABLE_ENV} is not set: enable `idempotency: true` for this function in service.yaml")
    store = _stores.get((kind, table))
    if store is None:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        store = _stores[(kind, table)] = DynamoDBPersistenceLayer(table_name=table)
    return store


def register_context(context: Any) -> None:
    """Register the Lambda context on every config (call at the start of the handler)."""
    global _context  # noqa: PLW0603 - one invocation at a time per execution environment
    _context = context
    for config in _configs.values():
        config.register_lambda_context(context)


def reset() -> None:
    """Forget layers, configs and context (tests that switch tables or moto mocks)."""
    global _context  # noqa: PLW0603
    _configs.clear()
    _stores.clear()
    _context = None


# ------------------------------------------------------------------ natural keys


def idempotent_on(key_jmespath: str, *, expires_after_seconds: int = EVENT_EXPIRY_SECONDS) -> Callable[[F], F]:
    """Run `func(data, ...)` once per key, where the key is `key_jmespath` over `data`.

    For work whose identity is not an event id: a provider's delivery id, an S3 object
    version. `data` is the function's first argument (a dict, dataclass or pydantic model);
    the stored result (JSON) is returned for a repeated key without calling `func`.

        @idempotent_on("[bucket, key, version_id || etag]")
        def thumbnail_once(source: SourceObject) -> dict: ...

    The table comes from IDEMPOTENCY_TABLE on first call; `register_context` (or the batch
    helpers) give Powertools the invocation's deadline.
    """
    kind = f"on:{key_jmespath}:{expires_after_seconds}"

    def decorate(func: F) -> F:
        data_argument = next(iter(inspect.signature(func).parameters))
        guarded: Callable[..., Any] | None = None

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal guarded
            from aws_lambda_powertools.utilities.idempotency import idempotent_function

            if data_argument in kwargs:  # func(data=...) or func(data, ...)
                data = kwargs.pop(data_argument)
            else:
                data, *args = args  # type: ignore[assignment]

            store = persistence_layer(kind)
            if guarded is None or getattr(guarded, "_store", None) is not store:
                config = _config(kind, event_key_jmespath=key_jmespath, expires_after_seconds=expires_after_seconds)
                guarded = idempotent_function(
                    func, data_keyword_argument=data_argument, persistence_store=store, config=config
                )
                guarded._store = store  # type: ignore[attr-defined]
            return guarded(*args, **{data_argument: data}, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# ------------------------------------------------------------------ events


def idempotent_event(func: F) -> F:
    """Run `func(envelope, *args, **kwargs)` once per envelope.metadata.event_id.

    A repeated event id returns the stored result (JSON) without calling `func`; if `func`
    raises, nothing is stored and the next delivery runs it again.
    """

    @functools.wraps(func)
    def run(*args: Any, envelope: Any, **kwargs: Any) -> Any:
        return func(envelope, *args, **kwargs)

    guarded: Callable[..., Any] | None = None

    @functools.wraps(func)
    def wrapper(envelope: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal guarded
        from aws_lambda_powertools.utilities.idempotency import idempotent_function

        store = persistence_layer("event")
        # Rebuilt if the table changed (tests); cheap otherwise.
        if guarded is None or getattr(guarded, "_store", None) is not store:
            guarded = idempotent_function(
                run, data_keyword_argument="envelope", persistence_store=store, config=event_idempotency_config()
            )
            guarded._store = store  # type: ignore[attr-defined]
        return guarded(*args, envelope=envelope, **kwargs)

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------ HTTP


def http_request_key(event: dict[str, Any]) -> dict[str, Any]:
    """Normalise an API Gateway event (HTTP API v2 or REST v1) to what is hashed:
    method, path, the caller (the verified token's `sub`, None on a public route), the
    Idempotency-Key header (any case) and the body (parsed if JSON)."""
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    key = headers.get(HEADER)
    if key is None:
        multi = {str(k).lower(): v for k, v in (event.get("multiValueHeaders") or {}).items()}
        key = (multi.get(HEADER) or [None])[0]
    if not key or not str(key).strip():
        raise InvalidIdempotencyKeyError("the Idempotency-Key header is required")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKeyError(f"the Idempotency-Key header is longer than {MAX_KEY_LENGTH} characters")
    body: Any = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    if isinstance(body, str):
        with contextlib.suppress(ValueError):  # hash the JSON value: whitespace or key order is the same request
            body = json.loads(body)
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    return {
        "method": http.get("method") or event.get("httpMethod"),
        "path": event.get("rawPath") or event.get("path"),
        "caller": claims.get("sub"),
        "idempotency_key": str(key).strip(),
        "body": body,
    }


def idempotent_http_command(func: F | None = None, *, required: bool = True) -> Any:
    """Decorate `func(event, *args)` whose first argument is the API Gateway event (a dict
    or a Powertools event data class). The first response per Idempotency-Key is stored and
    replayed to retries; it must be JSON-serialisable (an API Gateway response dict).

    With `required=False` a request without the header simply runs `func`.
    A LambdaContext among the arguments is registered automatically.
    """
    if func is None:
        return functools.partial(idempotent_http_command, required=required)

    @functools.wraps(func)
    def run(*args: Any, request: dict[str, Any], **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    guarded: Callable[..., Any] | None = None

    @functools.wraps(func)
    def wrapper(event: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal guarded
        for arg in args:
            if callable(getattr(arg, "get_remaining_time_in_millis", None)):
                register_context(arg)
        raw = getattr(event, "raw_event", event)
        try:
            request = http_request_key(raw)
        except InvalidIdempotencyKeyError:
            if required:
                raise
            return func(event, *args, **kwargs)
        from aws_lambda_powertools.utilities.idempotency import idempotent_function

        store = persistence_layer("http")
        if guarded is None or getattr(guarded, "_store", None) is not store:
            guarded = idempotent_function(
                run, data_keyword_argument="request", persistence_store=store, config=http_idempotency_config()
            )
            guarded._store = store  # type: ignore[attr-defined]
        return guarded(event, *args, request=request, **kwargs)

    return wrapper
