"""Registry of event models keyed by (detail_type, version), with upcasters between versions.

    >>> @register_event
    ... class OrderPlaced(EventData):
    ...     detail_type: ClassVar[str] = "OrderPlaced"
    ...     version: ClassVar[int] = 2
    ...     order_id: str
    ...     currency: str
    >>> @register_upcaster("OrderPlaced", 1)
    ... def _v1_to_v2(data: dict) -> dict:
    ...     return {**data, "currency": "EUR"}

A reader that gets a v1 detail applies the upcasters 1->2->... in order and validates the
result with the newest model. Old model classes are optional: register them only if you
want their JSON Schema in the catalog. A version newer than the newest known model is an
error (a version bump is a breaking change; additive changes keep the version, since
readers ignore unknown fields).

The event modules of `shared.events.catalog` are imported on first lookup of one of their
events (`all_events()` imports them all): a function loads the models it uses.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from shared.events import catalog
from shared.events.base import EventData
from shared.events.errors import EventValidationError, UnknownEventError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
M = TypeVar("M", bound=type[EventData])


class EventInfo(tuple[str, int]):
    """`(detail_type, version)` (so it unpacks and sorts as a pair), with the model as attributes."""

    model: type[EventData]
    latest: bool

    def __new__(cls, detail_type: str, version: int, model: type[EventData], latest: bool) -> EventInfo:
        info = super().__new__(cls, (detail_type, version))
        info.model, info.latest = model, latest
        return info

    @property
    def detail_type(self) -> str:
        return self[0]

    @property
    def version(self) -> int:
        return self[1]

    @property
    def contains_personal_data(self) -> bool:
        return self.model.contains_personal_data


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[EventData]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._looked_up: set[str] = set()  # detail types whose catalog module is imported

    def _load(self, detail_type: str) -> None:
        """Import the catalog module of `detail_type` (once): its models and upcasters register."""
        if detail_type not in self._looked_up:
            self._looked_up.add(detail_type)
            catalog.load(detail_type)

    # ------------------------------------------------------------------ registration

    def register(self, model: M) -> M:
        """Class decorator: register an `EventData` subclass under (detail_type, version)."""
        if not (isinstance(model, type) and issubclass(model, EventData)):
            raise TypeError(f"{model!r} is not an EventData subclass")
        detail_type = getattr(model, "detail_type", None)
        version = getattr(model, "version", None)
        if not isinstance(detail_type, str) or not detail_type:
            raise TypeError(f"{model.__name__} must set `detail_type: ClassVar[str]`")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise TypeError(f"{model.__name__} must set `version: ClassVar[int]` >= 1")
        key = (detail_type, version)
        existing = self._models.get(key)
        # The same class imported twice (e.g. a test importing a module by path) is fine.
        if existing is not None and _qualified(existing) != _qualified(model):
            raise ValueError(f"{detail_type} v{version} is already registered by {_qualified(existing)}")
        self._models[key] = model
        return model

    def upcaster(self, detail_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: `fn(data: dict) -> dict` turns `data` of version N into version N+1."""

        def decorate(fn: Upcaster) -> Upcaster:
            key = (detail_type, from_version)
            if key in self._upcasters and _qualified(self._upcasters[key]) != _qualified(fn):
                raise ValueError(
                    f"an upcaster {detail_type} v{from_version}->v{from_version + 1} is already registered"
                )
            self._upcasters[key] = fn
            return fn

        return decorate

    def unregister(self, detail_type: str) -> None:
        """Forget every model and upcaster of a detail-type (for tests)."""
        self._load(detail_type)
        for key in [k for k in self._models if k[0] == detail_type]:
            del self._models[key]
        for key in [k for k in self._upcasters if k[0] == detail_type]:
            del self._upcasters[key]

    # ------------------------------------------------------------------ lookup

    def versions(self, detail_type: str) -> list[int]:
        self._load(detail_type)
        return sorted(v for (t, v) in self._models if t == detail_type)

    def latest_version(self, detail_type: str) -> int:
        versions = self.versions(detail_type)
        if not versions:
            catalog.load_all()  # to name every known type
            known = ", ".join(sorted({t for t, _ in self._models})) or "none"
            raise UnknownEventError(f"unknown detail-type (known: {known})", detail_type=detail_type)
        return versions[-1]

    def model(self, detail_type: str, version: int | None = None) -> type[EventData]:
        """The model of a version (default: the latest)."""
        self._load(detail_type)
        version = version or self.latest_version(detail_type)
        try:
            return self._models[(detail_type, version)]
        except KeyError:
            self.latest_version(detail_type)  # raises for an unknown type
            raise UnknownEventError(
                f"no model registered for version {version} (registered: {self.versions(detail_type)})",
                detail_type=detail_type,
                version=version,
            ) from None

    def upcast(self, detail_type: str, version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Bring `data` of `version` up to the latest version; returns (latest, data)."""
        latest = self.latest_version(detail_type)
        if version > latest:
            raise UnknownEventError(
                f"version {version} is newer than the newest known version {latest}; "
                "deploy the consumer with the new shared library, then redrive",
                detail_type=detail_type,
                version=version,
            )
        while version < latest:
            fn = self._upcasters.get((detail_type, version))
            if fn is None:
                raise UnknownEventError(
                    f"no upcaster from v{version} to v{version + 1} (latest is v{latest})",
                    detail_type=detail_type,
                    version=version,
                )
            try:
                data = fn(dict(data))
            except Exception as exc:
                raise EventValidationError(
                    f"upcasting v{version}->v{version + 1} failed: {type(exc).__name__}: {exc}",
                    detail_type=detail_type,
                    version=version,
                ) from exc
            if not isinstance(data, dict):
                raise TypeError(f"upcaster {detail_type} v{version}->v{version + 1} must return a dict")
            version += 1
        return version, data

    get = model

    def all_events(self) -> list[EventInfo]:
        """Every registered (detail_type, version), sorted; each also has .model, .latest,
        .contains_personal_data."""
        catalog.load_all()
        latest = {t: max(v for (t2, v) in self._models if t2 == t) for t, _ in self._models}
        return [EventInfo(t, v, m, v == latest[t]) for (t, v), m in sorted(self._models.items())]

    def json_schema(self, detail_type: str, version: int | None = None) -> dict[str, Any]:
        """JSON Schema (draft 2020-12) of the EventBridge `detail` ({metadata, data}) of one event.

        It is the producing contract: unknown fields are not allowed (readers are more lenient).
        """
        from pydantic import create_model

        from shared.events.base import EventMetadata, EventModel

        model = self.model(detail_type, version)
        detail_model = create_model(  # type: ignore[call-overload]
            f"{detail_type}V{model.version}Detail",
            __base__=EventModel,
            metadata=(EventMetadata, ...),
            data=(model, ...),
        )
        schema = detail_model.model_json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"{detail_type} v{model.version}"
        # cleandoc: Python 3.13 dedents docstrings at compile time, 3.12 does not; the schema must not differ.
        schema["description"] = inspect.cleandoc(model.__doc__ or "") or schema.get("description", "")
        # Pin the version: a v2 detail must not validate against the v1 schema.
        metadata_ref = schema["properties"]["metadata"]
        schema["properties"]["metadata"] = {
            "allOf": [metadata_ref, {"properties": {"event_version": {"const": model.version}}}]
        }
        schema["x-detail-type"] = detail_type
        schema["x-version"] = model.version
        schema["x-contains-personal-data"] = model.contains_personal_data
        return schema


def _qualified(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


registry = EventRegistry()

register_event = registry.register
register_upcaster = registry.upcaster
unregister_event = registry.unregister
model_for = registry.model
latest_version = registry.latest_version
all_events = registry.all_events
json_schema = registry.json_schema
