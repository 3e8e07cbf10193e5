"""The event envelope: `EventData` (payload base), `EventMetadata` and `Envelope`.

On the bus an event is `detail = {"metadata": {...}, "data": {...}}` with `source` = the
producing service and `detail-type` = the event name (`EventData.detail_type`).

Producing is strict, consuming is tolerant, with one model class per event:

* Constructing a model (`WebhookReceived(...)`, `new_envelope(...)`) validates with the
  class config: `extra="forbid"` (a misspelt field is an error, not silently dropped) and
  `strict=True` (no coercion: `"5"` is not an int, a str is not a datetime). Models are frozen.
* Reading (`parse_detail`, `parse_eventbridge_event`, `Envelope.consume`) validates the
  same classes with `model_validate(..., strict=False, extra="ignore")`: fields added by a
  newer producer are ignored, and JSON types are converted (ISO strings to datetimes).
  Pydantic applies both overrides to nested models too.

ClassVars `detail_type`, `version` and `contains_personal_data` describe the event, so
they cannot also be payload field names.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, model_validator


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An aware datetime, converted to UTC; serialised as ISO 8601 with a trailing `Z`."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventModel(BaseModel):
    """Base of every model that travels inside an event, payloads and their nested parts.

    The config is the *producing* contract; consumers relax it per call (see module doc).
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        json_schema_serialization_defaults_required=True,
        defer_build=True,  # schemas are built on first use: importing the whole catalog stays cheap
    )


class EventData(EventModel):
    """Base class of event payloads. Subclass, set the ClassVars, and `@register_event` it.

    >>> @register_event
    ... class OrderPlaced(EventData):
    ...     detail_type: ClassVar[str] = "OrderPlaced"
    ...     version: ClassVar[int] = 1
    ...     order_id: str
    """

    detail_type: ClassVar[str]
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = True


class EventMetadata(EventModel):
    """Facts about one event occurrence; the same for every event type."""

    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    event_version: int = Field(ge=1)
    occurred_at: UtcDatetime = Field(default_factory=utc_now)
    correlation_id: str = Field(min_length=1)
    causation_id: str | None = None
    producer: str = Field(min_length=1)
    region: str = Field(min_length=1)
    data_residency: str = Field(min_length=1, description="Region family the data must stay in: eu, us, apac, ...")


DataT = TypeVar("DataT", bound=EventData)


class Envelope(EventModel, Generic[DataT]):
    """One event: where it comes from, what it is, its metadata and its payload."""

    source: str = Field(min_length=1)
    detail_type: str = Field(min_length=1)
    metadata: EventMetadata
    data: DataT
    # Version the event had on the wire before upcasting (None when it was already the latest).
    _received_version: int | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Envelope[DataT]:
        data_type = type(self.data)
        if getattr(data_type, "detail_type", None) not in (None, self.detail_type):
            raise ValueError(f"detail_type {self.detail_type!r} does not match the data model {data_type.__name__}")
        if getattr(data_type, "version", None) not in (None, self.metadata.event_version):
            raise ValueError(
                f"metadata.event_version {self.metadata.event_version} does not match "
                f"{data_type.__name__} version {data_type.version}"
            )
        return self

    @classmethod
    def consume(cls, obj: dict[str, Any]) -> Envelope[DataT]:
        """Tolerant validation (unknown fields ignored, JSON types converted), for readers."""
        return cls.model_validate(obj, strict=False, extra="ignore")

    @property
    def received_version(self) -> int:
        """The version this event was published with (before any upcasting)."""
        return self._received_version or self.metadata.event_version

    def detail(self) -> dict[str, Any]:
        """The EventBridge `detail` as JSON-compatible Python: `{"metadata": ..., "data": ...}`."""
        return self.model_dump(mode="json", include={"metadata", "data"})

    def detail_json(self) -> str:
        return self.model_dump_json(include={"metadata", "data"})

    def to_put_events_entry(self, bus_name: str) -> dict[str, Any]:
        """A `PutEventsRequestEntry` for `events.put_events(Entries=[...])`."""
        return {
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": self.detail_json(),
            "EventBusName": bus_name,
            "Time": self.metadata.occurred_at,
        }

    def __repr__(self) -> str:  # payloads may hold personal data: keep reprs to the identifiers
        m = self.metadata
        return f"Envelope({self.source}/{self.detail_type} v{m.event_version} event_id={m.event_id})"

    __str__ = __repr__


def dumps(obj: Any) -> str:
    """Compact JSON, as events are sent."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
