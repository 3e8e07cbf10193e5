"""A DynamoDB event store with optimistic concurrency and snapshots, and a plain-Python fold.

    from shared.eventstore import EventStore, ConcurrencyError

    store = EventStore(os.environ["TABLE_EVENTS"], source="orders")   # boto3 client on first use
    snapshot, events = store.load("ord_123")                        # snapshot or None, events after it
    store.append("ord_123", expected_version=3, events=[envelope], snapshot_state=order.to_snapshot)

One table per service, the manifest's `events` table: hash key `stream_id` (S), range key
`version` (N), stream NEW_IMAGE (the outbox relay reads it). Two kinds of items:

* **event** (`kind = "event"`): `stream_id`, `version` 1..n, `event_id`, `detail_type`,
  `event_version`, `source`, `occurred_at` (ISO 8601 UTC), `metadata` and `data` (the JSON
  of the envelope's parts, exactly what goes on the bus).
* **snapshot** (`kind = "snapshot"`): `stream_id = "<stream>#snapshot"`, `version` = the
  last event it folds, `occurred_at` of that event, `state` (JSON). A separate partition, so
  loading reads the newest snapshot (one Query, `Limit=1`, newest first) and the events after it
  (one Query page while fewer than `snapshot_every` events follow it): the same cost however
  long the stream. The relay tells the kinds apart by `kind` and never publishes snapshots.

`append` writes the new versions in one TransactWriteItems: a `Put` per version with
`attribute_not_exists(stream_id)` and a `ConditionCheck` that `expected_version` exists, so
two writers that loaded the same version cannot both append (`ConcurrencyError`), and no
gap can appear. The snapshot, when due, is written in the same transaction. Every DynamoDB
call is counted in `store.calls` (by operation) for benchmarks.

Temporal queries: `load(stream_id, as_of=t)` ignores snapshots newer than `t` and stops at
the first event that occurred after `t`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from shared.events.base import Envelope, EventData, dumps
from shared.events.errors import EventValidationError

SNAPSHOT_SUFFIX = "#snapshot"
KIND_EVENT = "event"
KIND_SNAPSHOT = "snapshot"
MAX_TRANSACTION_ITEMS = 100  # TransactWriteItems limit (items per request)


class EventStoreError(RuntimeError):
    """Base of the event store's errors."""


class ConcurrencyError(EventStoreError):
    """Someone else appended to the stream since it was loaded: reload, re-decide, retry."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        super().__init__(f"stream {stream_id!r} is no longer at version {expected_version}")


class StreamNotFoundError(EventStoreError, LookupError):
    """The stream has no events (before `as_of`, when given)."""


# --------------------------------------------------------------------------- records


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(value: str | datetime) -> datetime:
    """An aware UTC datetime from ISO 8601 (a trailing Z accepted); naive input is refused."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("the time needs an offset or Z (UTC)")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class StoredEvent:
    """One event item as stored: what the relay publishes and the fold reads."""

    stream_id: str
    version: int
    event_id: str
    detail_type: str
    event_version: int
    source: str
    occurred_at: datetime
    metadata: dict[str, Any]
    data: dict[str, Any]

    def payload(self) -> EventData:
        """The payload as the latest model version (upcast when stored as an older one)."""
        from shared.events.registry import registry

        model = registry.model(self.detail_type)
        data = self.data
        if self.event_version != model.version:
            _, data = registry.upcast(self.detail_type, self.event_version, data)
        return model.model_validate(data, strict=False, extra="ignore")

    def envelope(self) -> Envelope:
        """The envelope exactly as stored (same event_id and version): what goes on the bus.

        Uses the stored version's model when it is still registered, else the upcast payload."""
        from pydantic import ValidationError

        from shared.events.registry import registry

        try:
            model = registry.model(self.detail_type, self.event_version)
            data: dict[str, Any] = self.data
            metadata = self.metadata
        except EventValidationError:
            model = registry.model(self.detail_type)
            _, data = registry.upcast(self.detail_type, self.event_version, self.data)
            metadata = {**self.metadata, "event_version": model.version}
        try:
            return Envelope[model].consume(
                {"source": self.source, "detail_type": self.detail_type, "metadata": metadata, "data": data}
            )
        except ValidationError as exc:
            raise EventValidationError.from_pydantic(
                exc, detail_type=self.detail_type, version=self.event_version
            ) from None

    def detail(self) -> dict[str, Any]:
        return {"metadata": self.metadata, "data": self.data}


@dataclass(frozen=True)
class Snapshot:
    stream_id: str
    version: int
    occurred_at: datetime
    state: dict[str, Any]


# --------------------------------------------------------------------------- item codec
# Items hold only strings and numbers, so the low-level client is used with a tiny codec
# (no boto3.dynamodb import at cold start, and the stream handlers read images the same way).


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def from_attribute(attr: dict[str, Any]) -> Any:
    """A DynamoDB JSON attribute value -> Python (S, N, BOOL, NULL, M, L)."""
    (kind, value), *_ = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else number
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "L":
        return [from_attribute(v) for v in value]
    raise ValueError(f"unsupported attribute type {kind}")


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: from_attribute(v) for k, v in item.items()}


def is_snapshot_item(item: dict[str, Any]) -> bool:
    """True for a snapshot item (plain or DynamoDB JSON, e.g. a stream record's NewImage)."""
    kind = item.get("kind")
    if isinstance(kind, dict):
        kind = kind.get("S")
    stream_id = item.get("stream_id")
    if isinstance(stream_id, dict):
        stream_id = stream_id.get("S")
    return kind == KIND_SNAPSHOT or (isinstance(stream_id, str) and stream_id.endswith(SNAPSHOT_SUFFIX))


def event_from_item(item: dict[str, Any]) -> StoredEvent:
    """A stored event from its item: DynamoDB JSON (Query results, a stream's NewImage) or plain."""
    plain = from_item(item) if isinstance(item.get("stream_id"), dict) else item
    if is_snapshot_item(plain):
        raise ValueError(f"{plain.get('stream_id')} v{plain.get('version')} is a snapshot, not an event")
    return StoredEvent(
        stream_id=plain["stream_id"],
        version=int(plain["version"]),
        event_id=plain["event_id"],
        detail_type=plain["detail_type"],
        event_version=int(plain["event_version"]),
        source=plain["source"],
        occurred_at=parse_time(plain["occurred_at"]),
        metadata=json.loads(plain["metadata"]),
        data=json.loads(plain["data"]),
    )


def _snapshot_from_item(item: dict[str, Any]) -> Snapshot:
    plain = from_item(item)
    return Snapshot(
        stream_id=plain["stream_id"][: -len(SNAPSHOT_SUFFIX)],
        version=int(plain["version"]),
        occurred_at=parse_time(plain["occurred_at"]),
        state=json.loads(plain["state"]),
    )


def _event_item(stream_id: str, version: int, envelope: Envelope) -> dict[str, Any]:
    detail = envelope.detail()  # JSON-compatible; the same text the publisher sends
    return {
        "stream_id": _s(stream_id),
        "version": _n(version),
        "kind": _s(KIND_EVENT),
        "event_id": _s(envelope.metadata.event_id),
        "detail_type": _s(envelope.detail_type),
        "event_version": _n(envelope.metadata.event_version),
        "source": _s(envelope.source),
        "occurred_at": _s(_iso(envelope.metadata.occurred_at)),
        "metadata": _s(dumps(detail["metadata"])),
        "data": _s(dumps(detail["data"])),
    }


def _snapshot_item(stream_id: str, version: int, occurred_at: datetime, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "stream_id": _s(stream_id + SNAPSHOT_SUFFIX),
        "version": _n(version),
        "kind": _s(KIND_SNAPSHOT),
        "occurred_at": _s(_iso(occurred_at)),
        "state": _s(dumps(state)),
    }


# --------------------------------------------------------------------------- the store


class EventStore:
    """Event streams in one DynamoDB table (see the module doc for the item layout).

    `client`: a boto3 DynamoDB client (default: created on first use). `source`: the
    producing service, used to wrap bare `EventData` passed to `append`.
    `snapshot_every`: a snapshot is written when an append crosses a multiple of it.
    `page_size`: items per Query page (default: DynamoDB's 1 MB pages).
    """

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        *,
        snapshot_every: int = 100,
        source: str | None = None,
        page_size: int | None = None,
    ) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be >= 1")
        self.table_name = table_name
        self._client = client
        self.snapshot_every = snapshot_every
        self.source = source
        self.page_size = page_size
        self.calls: Counter[str] = Counter()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        self.calls[operation] += 1
        return getattr(self.client, operation)(**kwargs)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    # ------------------------------------------------------------------ writing

    def snapshot_due(self, expected_version: int, new_version: int) -> bool:
        """Whether an append from `expected_version` to `new_version` crosses a snapshot boundary."""
        return new_version // self.snapshot_every > expected_version // self.snapshot_every

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[Envelope | EventData],
        snapshot_state: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    ) -> int:
        """Append `events` as versions expected_version+1.. atomically; returns the new version.

        `snapshot_state`: the state after these events (or a function returning it, called only
        when a snapshot is due). Raises `ConcurrencyError` when the stream is not at
        `expected_version` any more (or not yet: a version that does not exist).
        """
        _check_stream_id(stream_id)
        if expected_version < 0:
            raise ValueError("expected_version must be >= 0")
        envelopes = [self._envelope(e) for e in events]
        if not envelopes:
            return expected_version
        new_version = expected_version + len(envelopes)
        items: list[dict[str, Any]] = []
        if expected_version > 0:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": {"stream_id": _s(stream_id), "version": _n(expected_version)},
                        "ConditionExpression": "attribute_exists(stream_id)",
                    }
                }
            )
        for offset, envelope in enumerate(envelopes, start=1):
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": _event_item(stream_id, expected_version + offset, envelope),
                        "ConditionExpression": "attribute_not_exists(stream_id)",
                    }
                }
            )
        if snapshot_state is not None and self.snapshot_due(expected_version, new_version):
            state = snapshot_state() if callable(snapshot_state) else snapshot_state
            last = envelopes[-1].metadata.occurred_at
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": _snapshot_item(stream_id, new_version, last, state),
                    }
                }
            )
        if len(items) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"one append holds at most {MAX_TRANSACTION_ITEMS} items (events + check + snapshot)")
        # Same request on a retry (e.g. botocore after a lost response) -> DynamoDB treats it as
        # already done instead of failing the conditions against our own write.
        token = hashlib.sha256(
            "|".join([stream_id, str(expected_version), *(e.metadata.event_id for e in envelopes)]).encode()
        ).hexdigest()[:36]
        from botocore.exceptions import ClientError

        try:
            self._call("transact_write_items", TransactItems=items, ClientRequestToken=token)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons or not reasons:
                raise ConcurrencyError(stream_id, expected_version) from None
            raise
        return new_version

    def save_snapshot(self, stream_id: str, version: int, occurred_at: datetime, state: dict[str, Any]) -> None:
        """Write a snapshot outside an append (e.g. after a rebuild); idempotent."""
        _check_stream_id(stream_id)
        self._call("put_item", TableName=self.table_name, Item=_snapshot_item(stream_id, version, occurred_at, state))

    def _envelope(self, event: Envelope | EventData) -> Envelope:
        if isinstance(event, Envelope):
            return event
        if isinstance(event, EventData):
            if not self.source:
                raise ValueError("pass envelopes, or give the store a source= to wrap bare events")
            from shared.events.codec import new_envelope

            return new_envelope(event, source=self.source)
        raise TypeError(f"expected an Envelope or EventData, not {type(event).__name__}")

    # ------------------------------------------------------------------ reading

    def load(self, stream_id: str, as_of: datetime | str | None = None) -> tuple[Snapshot | None, list[StoredEvent]]:
        """The newest snapshot (None if there is none) and the events after it, in version order.

        With `as_of`: the state as it was then: snapshots of later events are ignored and the
        events stop before the first that occurred after `as_of`.
        """
        _check_stream_id(stream_id)
        cutoff = parse_time(as_of) if as_of is not None else None
        snapshot = self._latest_snapshot(stream_id, cutoff)
        after = snapshot.version if snapshot else 0
        events = []
        for event in self._events(stream_id, after):
            if cutoff is not None and event.occurred_at > cutoff:
                break
            events.append(event)
        return snapshot, events

    def history(self, stream_id: str) -> list[StoredEvent]:
        """Every event of the stream, oldest first."""
        _check_stream_id(stream_id)
        return list(self._events(stream_id, 0))

    def current_version(self, stream_id: str) -> int:
        """The stream's last version (0 when it has none): one Query."""
        page = self._call(
            "query",
            TableName=self.table_name,
            KeyConditionExpression="stream_id = :s",
            ExpressionAttributeValues={":s": _s(stream_id)},
            ProjectionExpression="version",
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = page.get("Items", [])
        return int(items[0]["version"]["N"]) if items else 0

    def _latest_snapshot(self, stream_id: str, cutoff: datetime | None) -> Snapshot | None:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "stream_id = :s",
            "ExpressionAttributeValues": {":s": _s(stream_id + SNAPSHOT_SUFFIX)},
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        if cutoff is None:
            request["Limit"] = 1
        else:  # newest first, skipping snapshots of events after the cutoff (Limit would apply before the filter)
            request["FilterExpression"] = "occurred_at <= :t"
            request["ExpressionAttributeValues"][":t"] = _s(_iso(cutoff))
        for item in self._pages(request, stop_after_first=cutoff is None):
            return _snapshot_from_item(item)
        return None

    def _events(self, stream_id: str, after_version: int) -> Iterator[StoredEvent]:
        request = {
            "TableName": self.table_name,
            "KeyConditionExpression": "stream_id = :s AND version > :v",
            "ExpressionAttributeValues": {":s": _s(stream_id), ":v": _n(after_version)},
            "ConsistentRead": True,
        }
        if self.page_size:
            request["Limit"] = self.page_size
        for item in self._pages(request):
            yield event_from_item(item)

    def _pages(self, request: dict[str, Any], *, stop_after_first: bool = False) -> Iterator[dict[str, Any]]:
        while True:
            page = self._call("query", **request)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last or stop_after_first:
                return
            request = {**request, "ExclusiveStartKey": last}


def _check_stream_id(stream_id: str) -> None:
    if not stream_id or "#" in stream_id:
        raise ValueError(f"invalid stream id {stream_id!r}: non-empty, without '#'")


def table_name_from_env(variable: str = "TABLE_EVENTS") -> str:
    name = os.environ.get(variable)
    if not name:
        raise RuntimeError(f"{variable} is not set: declare the events table in the function's access in service.yaml")
    return name


# --------------------------------------------------------------------------- aggregates


A = TypeVar("A", bound="Aggregate")


class Aggregate:
    """Base of event-sourced aggregates: plain Python, no AWS.

    A subclass handles each event type in `on_<DetailType>(self, event)` (the payload model),
    serialises its state with `to_snapshot()` / `from_snapshot()`, and records new events with
    `self.record(event)` (which applies them). `version` counts the applied events.

        class Order(Aggregate):
            def on_OrderPlaced(self, e): self.status = "Placed"
    """

    snapshot_schema: ClassVar[int] = 1  # bump when to_snapshot's shape changes: old snapshots are ignored

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self.version = 0
        self.pending: list[EventData] = []

    # -- folding
    def apply(self, event: EventData) -> None:
        handler = getattr(self, f"on_{event.detail_type}", None)
        if handler is None:
            raise TypeError(f"{type(self).__name__} does not handle {event.detail_type}")
        handler(event)
        self.version += 1

    def record(self, event: EventData) -> None:
        """A new event decided by a command: applied now, appended by `save`."""
        self.apply(event)
        self.pending.append(event)

    @property
    def loaded_version(self) -> int:
        """The version the stream had when loaded (the expected version of the next append)."""
        return self.version - len(self.pending)

    # -- snapshots
    def to_snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_snapshot(cls: type[A], stream_id: str, state: dict[str, Any], version: int) -> A:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        return {"schema": self.snapshot_schema, "state": self.to_snapshot()}

    @classmethod
    def replay(cls: type[A], stream_id: str, snapshot: Snapshot | None, events: Iterable[StoredEvent]) -> A:
        """Fold a loaded stream: start from the snapshot (if its schema is current), apply the rest."""
        if snapshot is not None:
            if snapshot.state.get("schema") != cls.snapshot_schema:
                raise EventStoreError(f"{stream_id}: snapshot schema {snapshot.state.get('schema')} is not current")
            aggregate = cls.from_snapshot(stream_id, snapshot.state["state"], snapshot.version)
        else:
            aggregate = cls(stream_id)
        for event in events:
            if event.version <= aggregate.version:
                continue  # already in the snapshot
            if event.version != aggregate.version + 1:
                raise EventStoreError(f"{stream_id}: gap before version {event.version} (at {aggregate.version})")
            aggregate.apply(event.payload())
        return aggregate


@dataclass
class Repository:
    """Load and save aggregates of one type in an `EventStore`.

    `envelope_for(event, aggregate)` wraps each new payload (source, causation, correlation).
    """

    store: EventStore
    aggregate_type: type[Aggregate]
    envelope_for: Callable[[EventData, Aggregate], Envelope] | None = None

    def load(self, stream_id: str, as_of: datetime | str | None = None) -> Aggregate:
        """The aggregate; `StreamNotFoundError` when the stream has no events (before `as_of`)."""
        snapshot, events = self.store.load(stream_id, as_of)
        if snapshot is not None and snapshot.state.get("schema") != self.aggregate_type.snapshot_schema:
            # A snapshot of an older state shape: fold the whole (as_of) history instead.
            snapshot = None
            events = self.store.history(stream_id)
            if as_of is not None:
                cutoff = parse_time(as_of)
                events = list(itertools.takewhile(lambda e: e.occurred_at <= cutoff, events))
        if snapshot is None and not events:
            raise StreamNotFoundError(stream_id)
        return self.aggregate_type.replay(stream_id, snapshot, events)

    def save(self, aggregate: Aggregate, envelopes: Sequence[Envelope] | None = None) -> list[Envelope]:
        """Append the aggregate's pending events (conditional on its loaded version); returns the envelopes."""
        if envelopes is None:
            if self.envelope_for is None:
                envelopes = [self.store._envelope(e) for e in aggregate.pending]
            else:
                envelopes = [self.envelope_for(e, aggregate) for e in aggregate.pending]
        if not envelopes:
            return []
        self.store.append(aggregate.stream_id, aggregate.loaded_version, envelopes, snapshot_state=aggregate.snapshot)
        aggregate.pending.clear()
        return list(envelopes)


def retry_on_conflict(attempts: int = 5) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: re-run a load-decide-append function when the append hits a `ConcurrencyError`."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(attempts):
                try:
                    return fn(*args, **kwargs)
                except ConcurrencyError:
                    if attempt == attempts - 1:
                        raise
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper

    return decorate
